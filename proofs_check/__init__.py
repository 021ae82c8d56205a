"""proofs_check: the checking engine and what runs on it.

* :mod:`proofs_check.engine` -- claim and verdict machinery, instances, strategies, profiles,
  the registry (:func:`claims`, :func:`register`);
* :mod:`proofs_check.claims` -- the claims, one module per section of docs/theory.md;
* :mod:`proofs_check.validation` -- validation of other implementations (:func:`validate`), golden
  reference vectors, the PyTorch adapter (``torch`` extra);
* :mod:`proofs_check.reports` -- the experiments ``gfgd report`` runs;
* :mod:`proofs_check.cli` -- the ``gfgd`` command.

Submodules load on first use, so that ``import proofs_check`` and ``gfgd --help`` stay fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import claims  # a callable package: proofs_check.claims() is the registry
from .engine.registry import register

_LAZY = {
    "Claim": ("engine.claim", "Claim"),
    "ClaimResult": ("engine.claim", "ClaimResult"),
    "Measurement": ("engine.claim", "Measurement"),
    "ValidationReport": ("validation.report", "ValidationReport"),
    "check_instance": ("validation.runner", "check_instance"),
    "float64_implementation": ("validation.implementations", "float64_implementation"),
    "validate": ("validation.runner", "validate"),
    "golden": ("validation.golden", None),
    "protocols": ("validation.protocols", None),
    "profiles": ("engine.profiles", None),
    "strategies": ("strategies", None),
    "validation_strategies": ("validation.strategies", None),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'proofs_check' has no attribute {name!r}")
    module, attr = _LAZY[name]
    value = importlib.import_module(f"proofs_check.{module}")
    if attr is not None:
        value = getattr(value, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["claims", "register", *_LAZY]
