"""SymPy reference for losses that leave ℚ (the softmax cross-entropy, docs/theory.md E3).

The loss is built as a SymPy expression from its definition (:func:`theory.symbolic.loss_expr`,
f = (1/n)Σ_i [log Σ_k e^{h_k(x_i)} − h_{c_i}(x_i)], h the network), differentiated by SymPy
(``sympy.diff``, no gradient formula of numerics involved) and evaluated at θ — whose entries are
taken exactly (floats are binary rationals) — with mpmath at ``dps + 20`` digits, then rounded to
``dps``. The 20 guard digits cover the rounding of the evaluation: each derivative entry is a sum of a
few hundred terms of moderate size on the tiny nets this is meant for, so the accumulated relative
rounding is far below 10^{−dps} (the tests compare at 50 digits against a bound of 10^{−45}).

Leaky-ReLU nets: the expression of θ's activation region (ValueError at a kink), as for the
square losses.
"""

from __future__ import annotations

from typing import Any, Sequence

import mpmath
import numpy as np
import sympy

from .arrays import to_kind

GUARD_DIGITS = 20


def _evaluate(exprs: list, syms: list, theta_flat: np.ndarray, dps: int) -> np.ndarray:
    with mpmath.workdps(dps + GUARD_DIGITS):
        fn = sympy.lambdify(syms, exprs, modules="mpmath", cse=True)
        args = list(to_kind(theta_flat, "mp"))  # exact for float θ (53 bits < working precision)
        out = fn(*args)
    with mpmath.workdps(dps):
        return np.array([+mpmath.mpf(x) for x in out], dtype=object)


def _prepare(obj: Any, theta: Sequence[Any], dps: int):
    from .symbolic import loss_expr  # late import: symbolic imports this module at its end

    if isinstance(dps, bool) or int(dps) != dps or dps < 15:
        raise ValueError(f"dps must be an integer >= 15, got {dps!r}")
    f, syms = loss_expr(obj, theta)
    return f, syms, np.asarray(obj.flatten(theta))


def gradient_mp(obj: Any, theta: Sequence[Any], dps: int = 50) -> np.ndarray:
    """∇f(θ) as a 1-D object array of mpf (``obj.flatten`` order), from ``sympy.diff`` of the loss
    expression, correct to about ``dps`` digits (module docstring). Any loss; meant for cross-entropy."""
    f, syms, flat = _prepare(obj, theta, dps)
    return _evaluate([sympy.diff(f, s) for s in syms], syms, flat, int(dps))


def hessian_mp(obj: Any, theta: Sequence[Any], dps: int = 50) -> np.ndarray:
    """∇²f(θ) as a (P, P) object array of mpf from second ``sympy.diff`` derivatives of the loss
    expression (upper triangle differentiated, mirrored), at about ``dps`` digits."""
    f, syms, flat = _prepare(obj, theta, dps)
    P = len(syms)
    grads = [sympy.diff(f, s) for s in syms]
    pairs = [(i, j) for i in range(P) for j in range(i, P)]
    vals = _evaluate([sympy.diff(grads[i], syms[j]) for i, j in pairs], syms, flat, int(dps))
    H = np.empty((P, P), dtype=object)
    for (i, j), v in zip(pairs, vals):
        H[i, j] = H[j, i] = v
    return H
