"""proofs_check: the checking engine -- claims, instance strategies, profiles, reports, CLI."""

from . import profiles, strategies
from .claims import Claim, ClaimResult, Measurement, claims, register

__all__ = ["Claim", "ClaimResult", "Measurement", "claims", "profiles", "register", "strategies"]
