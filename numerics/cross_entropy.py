"""The softmax cross-entropy head of the generic formula, in every arithmetic (docs/theory.md E3).

For the output matrix Z (d_N × n, columns are samples), labels c_i and weight c = 1/n:

    f = c Σ_i [log Σ_k e^{Z_ki} − Z_{c_i i}],        ∇_Z f = c (P − E),   P = softmax(Z) column-wise,

with E the one-hot matrix of the labels. Backpropagation from ∇_Z f is the same as for the square
losses (:mod:`numerics.gradients`); only this head differs. Its forward-mode derivative (for
Hessian-vector products on :class:`~numerics.duals.Dual` matrices) is the softmax Jacobian applied
column by column, J_i = diag(p_i) − p_i p_iᵀ:

    d(∇_Z f)[Ż] = c (P ⊙ Ż − P ⊙ 1·(1ᵀ(P ⊙ Ż))),

so a Dual never needs a product of two tangents. The same three primitives (exp, the entrywise
product ⊙, the entrywise quotient) run on

* float64 arrays: the max of each column is subtracted before exp (P and log-sum-exp then never
  overflow; P is exact up to a few ulps, log Σ e^{z} = m + log Σ e^{z−m} with every term ≤ 1);
* object arrays of mpf: the same, at the caller's mpmath precision;
* Taylor-tape tracers (:mod:`numerics.series_elementwise`): exp and division series;
* exact rationals: refused — e^{z} of a rational z ≠ 0 is irrational, so there is no exact answer.
"""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np

from .duals import Dual, primal_value

_mp_exp = np.frompyfunc(mpmath.exp, 1, 1)
_mp_log = np.frompyfunc(mpmath.log, 1, 1)

EXACT_REFUSAL = (
    "cross-entropy needs exp and log, which have no exact rational values; evaluate it with "
    "mpmath.mpf entries instead (e.g. numerics.gradient(obj, theory.to_kind(theta, 'mp'), dps=50))"
)


def _is_tracer(x: Any) -> bool:
    return type(x).__name__ == "Tracer"


def softmax(Z: Any, rows: int | None = None) -> Any:
    """Column-wise softmax P_ki = e^{Z_ki} / Σ_l e^{Z_li} of a float, mp or tape matrix (a tape
    matrix does not know its shape: pass its number of ``rows``)."""
    if _is_tracer(Z):
        from . import series_elementwise as se
        return se.softmax(Z, rows)
    if not isinstance(Z, np.ndarray):
        raise TypeError(EXACT_REFUSAL if type(Z).__name__ == "QMat" else
                        f"softmax: unsupported matrix type {type(Z).__name__}")
    m = Z.max(axis=0, keepdims=True)
    e = np.exp(Z - m) if Z.dtype != object else _mp_exp(Z - m)
    return e / e.sum(axis=0, keepdims=True)


def value(Z: np.ndarray, labels: np.ndarray, c: Any) -> Any:
    """f = c Σ_i [log Σ_k e^{Z_ki} − Z_{c_i i}] with a stable log-sum-exp (module docstring)."""
    if not isinstance(Z, np.ndarray):
        raise TypeError(EXACT_REFUSAL if type(Z).__name__ == "QMat" else
                        f"cross-entropy value: unsupported matrix type {type(Z).__name__}")
    n = Z.shape[1]
    m = Z.max(axis=0)
    if Z.dtype == object:
        lse = m + _mp_log(_mp_exp(Z - m).sum(axis=0))
    else:
        lse = m + np.log(np.exp(Z - m).sum(axis=0))
    picked = Z[labels, np.arange(n)]
    return (lse - picked).sum() * c


def _emul(a: Any, b: Any) -> Any:
    if _is_tracer(a) or _is_tracer(b):
        from . import series_elementwise as se
        return se.emul(a, b)
    return a * b


def _rows(E: Any) -> int:
    if _is_tracer(E):  # the one-hot matrix is a tape constant: its payload has the shape
        return E.tape.ops[E.i][3].nrows()
    return E.shape[0]


def _colsum_broadcast(A: Any, rows: int) -> Any:
    """1·(1ᵀA): every entry replaced by its column's sum (a leading batch axis is kept)."""
    if _is_tracer(A):
        from . import series_elementwise as se
        return se.colsum_broadcast(A, rows)
    return A.sum(axis=-2, keepdims=True)


def output_gradient(Z: Any, E: Any, c: Any) -> Any:
    """∇_Z f = c (softmax(Z) − E), and its tangent when Z is a Dual (module docstring)."""
    d = _rows(E)
    if isinstance(Z, Dual):
        # the value parts through the primal memo (numerics.duals.primal_memo): repeated HVPs at one θ
        # compute them once (c belongs to the objective E does)
        P = primal_value("softmax", Z.val, E, lambda: softmax(Z.val, d))
        val = primal_value("xent-grad", P, E, lambda: (P - E) * c)
        if Z.tan is None:
            return Dual(val, None)
        PT = _emul(P, Z.tan)
        return Dual(val, (PT - _emul(P, _colsum_broadcast(PT, d))) * c)
    return (softmax(Z, d) - E) * c
