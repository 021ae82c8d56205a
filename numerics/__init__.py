"""numerics: how it is computed -- one generic formula per quantity, run in exact, mp and float64."""

from .gradients import gradient, value, value_and_gradient
from .hessians import hessian, hvp

__all__ = ["gradient", "hessian", "hvp", "value", "value_and_gradient"]
