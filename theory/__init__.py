"""theory: what is true -- models, losses, objectives, closed forms and the SymPy reference.

Imports nothing from ``numerics`` or ``proofs_check`` (DESIGN.md: imports point one way).
The submodules that pull heavy libraries (``symbolic``: sympy; ``momentum``: scipy.special; ``ntk``;
``bounds``) load on first use through the module ``__getattr__`` below, so ``import theory`` stays
cheap (issue 9: the import budget is 0.4 s for theory, numerics and proofs_check together).
"""

from __future__ import annotations

import importlib
from typing import Any

from .arrays import common_kind, entry_kind, to_kind
from .losses import CrossEntropy, SquareLoss, WhitenedSquare
from .models import DeepLinear, LayeredNet, ReLUNet
from .objective import Objective, ParamSpace
from .quadratic import Quadratic

_LAZY_MODULES = ("bounds", "data", "symbolic", "momentum", "ntk")
_LAZY_ATTRS = {"TwoLayerReLU": "ntk"}

__all__ = [
    "bounds",
    "data",
    "CrossEntropy",
    "symbolic",
    "DeepLinear",
    "LayeredNet",
    "Objective",
    "ParamSpace",
    "Quadratic",
    "ReLUNet",
    "SquareLoss",
    "WhitenedSquare",
    "common_kind",
    "entry_kind",
    "to_kind",
    "momentum",
    "ntk",
    "TwoLayerReLU",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY_ATTRS:
        value = getattr(importlib.import_module(f".{_LAZY_ATTRS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
