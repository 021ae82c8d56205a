"""The registry of claims: label (A1 … D5, docs/theory.md) -> :class:`~proofs_check.engine.Claim`.

Claims live in :mod:`proofs_check.claims`, one module per section of docs/theory.md: ``euler`` (A,
GD as Euler's method), ``curvature`` (B1, B2, B6), ``conservation`` (B3–B5), ``convergence`` (C) and
``momentum`` (D, momentum in the NTK regime). They are imported on the first call of
:func:`claims`, so that ``import proofs_check`` (and ``gfgd --help``) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from .claim import Claim

SECTIONS = ("euler", "curvature", "conservation", "convergence", "gd_convergence", "gd_parts", "momentum", "momentum_flows")

_REGISTRY: dict[str, Claim] = {}
_LOADED = False


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    found: dict[str, Claim] = {}
    for section in SECTIONS:
        module = importlib.import_module(f"proofs_check.claims.{section}")
        for value in vars(module).values():
            # a claim module may import another's helper functions, never its claims
            if isinstance(value, Claim) and value.label not in found:
                found[value.label] = value
    for label in sorted(found):
        _REGISTRY.setdefault(label, found[label])
    _LOADED = True


class UnknownClaim(KeyError):
    """A label that is not registered; the message lists the known ones."""

    def __str__(self) -> str:  # KeyError's own str() would show only the repr of the key
        return str(self.args[0]) if self.args else "unknown claim"


class ClaimRegistry(dict):
    """``dict`` of label -> :class:`Claim` whose missing-key error names the known labels."""

    def __missing__(self, key: Any) -> Claim:
        raise UnknownClaim(f"no claim {key!r}; known claims: {', '.join(sorted(self))} (docs/theory.md labels)")


def claims() -> ClaimRegistry:
    """The registry: label -> :class:`Claim` (a copy; add your own with :func:`register`)."""
    _load()
    return ClaimRegistry(_REGISTRY)


def register(claim: Claim) -> None:
    """Add (or replace) a claim in the registry, e.g. a user's own statement."""
    if not isinstance(claim, Claim):
        raise TypeError(f"expected a proofs_check.Claim, got {type(claim).__name__}")
    _load()
    _REGISTRY[claim.label] = claim


__all__ = ["SECTIONS", "ClaimRegistry", "UnknownClaim", "claims", "register"]
