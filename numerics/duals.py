"""Dual matrices (value, tangent) for forward-mode derivatives of the generic formulas.

Evaluating the gradient formula on ``Dual(θ, Δ)`` gives ``Dual(∇f(θ), ∇²f(θ)·Δ)``: the tangent
part of a product obeys (AB)' = A'B + AB', and the formula only multiplies, adds and transposes.
That is the Hessian-vector product with no second formula to keep in sync (DESIGN.md).

A tangent may carry a leading batch axis (numpy backends): ``Dual(θ_j, E_j)`` with E_j of shape
``(P, d_j, d_{j-1})`` pushes P directions at once, so one pass gives the whole Hessian. ``None`` is a
zero tangent, which lets a basis direction skip the work of the layers it does not touch.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _T(x: Any) -> Any:
    # Transpose the matrix axes only, so a batch axis stays in front.
    if isinstance(x, np.ndarray):
        return np.swapaxes(x, -1, -2)
    return x.T


def _add(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return a + b


class Dual:
    """A matrix with a tangent: ``val`` + ε·``tan`` with ε² = 0."""

    __slots__ = ("val", "tan")
    __array_priority__ = 200  # numpy defers `ndarray @ Dual` and `mask * Dual` to Dual

    def __init__(self, val: Any, tan: Any = None) -> None:
        self.val = val
        self.tan = tan

    @property
    def T(self) -> "Dual":
        return Dual(_T(self.val), None if self.tan is None else _T(self.tan))

    def __matmul__(self, o: Any) -> "Dual":
        if isinstance(o, Dual):
            t1 = None if self.tan is None else self.tan @ o.val
            t2 = None if o.tan is None else self.val @ o.tan
            return Dual(self.val @ o.val, _add(t1, t2))
        return Dual(self.val @ o, None if self.tan is None else self.tan @ o)

    def __rmatmul__(self, o: Any) -> "Dual":
        return Dual(o @ self.val, None if self.tan is None else o @ self.tan)

    def __add__(self, o: Any) -> "Dual":
        if isinstance(o, Dual):
            return Dual(self.val + o.val, _add(self.tan, o.tan))
        return Dual(self.val + o, self.tan)

    __radd__ = __add__

    def __sub__(self, o: Any) -> "Dual":
        if isinstance(o, Dual):
            return Dual(self.val - o.val, _add(self.tan, None if o.tan is None else -o.tan))
        return Dual(self.val - o, self.tan)

    def __rsub__(self, o: Any) -> "Dual":
        return Dual(o - self.val, None if self.tan is None else -self.tan)

    def __neg__(self) -> "Dual":
        return Dual(-self.val, None if self.tan is None else -self.tan)

    def __mul__(self, s: Any) -> "Dual":
        # s is a constant: a scalar or an activation mask (never a Dual in these formulas)
        if isinstance(s, Dual):
            raise TypeError("Dual * Dual (entrywise) is not used by the formulas and not supported")
        return Dual(self.val * s, None if self.tan is None else self.tan * s)

    __rmul__ = __mul__


def primal(x: Any) -> Any:
    """The value part (activation patterns are decided at the primal point)."""
    while isinstance(x, Dual):
        x = x.val
    return x
