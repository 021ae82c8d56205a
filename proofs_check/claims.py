"""The registry of claims: THEORY.md label -> :class:`~proofs_check.engine.Claim`.

Claims live in modules named after what they are about: :mod:`proofs_check.euler` (A1–A4, GD as
Euler's method), :mod:`proofs_check.curvature` (B1, B2, B6), :mod:`proofs_check.conservation` (B3–B5), :mod:`proofs_check.convergence` (C1, C2),
:mod:`proofs_check.momentum` (D1–D5, momentum in the NTK regime). The engine is :mod:`proofs_check.engine`.
"""

from __future__ import annotations

from .conservation import B3, B4, B5
from .convergence import C1, C2
from .curvature import B1, B2, B6
from .engine import Claim, ClaimResult, Measurement
from .euler import A1, A2, A3, A4
from .momentum import D1, D2, D3, D4, D5

_REGISTRY: dict[str, Claim] = {c.label: c for c in (A1, A2, A3, A4, B1, B2, B3, B4, B5, B6, C1, C2, D1, D2, D3, D4, D5)}


def claims() -> dict[str, Claim]:
    """The registry: THEORY.md label -> :class:`Claim` (a copy; register with :func:`register`)."""
    return dict(_REGISTRY)


def register(claim: Claim) -> None:
    """Add (or replace) a claim in the registry, e.g. a user's own statement."""
    if not isinstance(claim, Claim):
        raise TypeError(f"expected a proofs_check.Claim, got {type(claim).__name__}")
    _REGISTRY[claim.label] = claim


__all__ = ["Claim", "ClaimResult", "Measurement", "claims", "register"]
