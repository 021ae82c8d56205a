"""theory: what is true -- models, losses, objectives, closed forms and the SymPy reference.

Imports nothing from ``numerics`` or ``proofs_check`` (DESIGN.md: imports point one way).
"""

from . import bounds, data, symbolic
from .arrays import common_kind, entry_kind, to_kind
from .losses import CrossEntropy, SquareLoss, WhitenedSquare
from .models import DeepLinear, LayeredNet, ReLUNet
from .objective import Objective, ParamSpace
from .quadratic import Quadratic
from . import momentum, ntk
from .ntk import TwoLayerReLU

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
