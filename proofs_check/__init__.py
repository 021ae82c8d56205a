"""proofs_check: the checking engine -- claims, instance strategies, profiles, reports, CLI."""

from . import profiles, strategies
from .claims import Claim, ClaimResult, claims

__all__ = ["Claim", "ClaimResult", "claims", "profiles", "strategies"]
