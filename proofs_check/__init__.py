"""proofs_check: the checking engine -- claims, instance strategies, profiles, reports, CLI.

Validation of other implementations: ``proofs_check.validate(kind, impl)`` (kinds and signatures in
:mod:`proofs_check.protocols`), golden reference vectors in :mod:`proofs_check.golden`, PyTorch
adapters in :mod:`proofs_check.torch_adapter` (needs the ``torch`` extra; not imported here).
"""

from . import golden, profiles, protocols, strategies, validation_strategies
from .claims import Claim, ClaimResult, Measurement, claims, register
from .validate import ValidationReport, check_instance, float64_implementation, validate

__all__ = [
    "Claim",
    "ClaimResult",
    "Measurement",
    "ValidationReport",
    "check_instance",
    "claims",
    "float64_implementation",
    "golden",
    "profiles",
    "protocols",
    "register",
    "strategies",
    "validate",
    "validation_strategies",
]
