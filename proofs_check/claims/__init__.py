"""The claims, one module per section of docs/theory.md: :mod:`.euler` (A1–A4, GD as Euler's
method), :mod:`.curvature` (B1, B2, B6), :mod:`.conservation` (B3–B5), :mod:`.convergence` (C1, C2),
:mod:`.momentum` (D1–D5, momentum in the NTK regime).

The package is also the registry: ``proofs_check.claims()`` returns label -> Claim (see
:func:`proofs_check.engine.registry.claims`). The package is callable so that both the public call
``proofs_check.claims()`` and the module paths ``proofs_check.claims.euler`` keep working; it
imports no claim module until the registry is first asked for.
"""

from __future__ import annotations

import sys
import types


class _Registry(types.ModuleType):
    def __call__(self) -> dict:
        from ..engine.registry import claims

        return claims()


sys.modules[__name__].__class__ = _Registry
