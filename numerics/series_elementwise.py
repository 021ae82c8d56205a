"""Entrywise operations on the Taylor tape: exp, product ⊙ and quotient ÷ of power series.

They extend :mod:`numerics.series` (matrix products, sums, transposes) to fields that are analytic
but not polynomial — the softmax cross-entropy head (docs/theory.md E3). For truncated series
u(s) = Σ u_k s^k of matrices, entry by entry (Knuth, TAOCP vol. 2 §4.7; Jorba & Zou 2005 §3):

* product  w = a ⊙ b:   w_k = Σ_{j=0}^{k} a_j ⊙ b_{k−j};
* exp      u = e^{v}:   u_0 = e^{v_0},   k·u_k = Σ_{j=1}^{k} j·v_j ⊙ u_{k−j}   (from u' = v'u);
* quotient q = a ÷ s:   q_0 = a_0 ÷ s_0, q_k = (a_k − Σ_{j=1}^{k} s_j ⊙ q_{k−j}) ÷ s_0   (from qs = a).

Each coefficient k needs operands up to order k and the node's own coefficients below k, which is
what the order-by-order evaluation of the tape provides. Entries are python-flint ``arb`` balls in
numpy object arrays (one vectorised multiply per term), so rounding is tracked like everywhere else on
the tape. The softmax is then P = e^{Z} ÷ (1·1ᵀe^{Z}) column by column, with the column sums and the
broadcast as products with constant ones matrices (ordinary tape matmuls). No max is subtracted: arb
has an unbounded exponent range, so e^{Z} cannot overflow, and the quotient is relatively accurate.
"""

from __future__ import annotations

from typing import Any

import flint
import numpy as np

from .series import EXTRA_OPS, Tracer, to_arb_mat

_exp = np.frompyfunc(lambda x: x.exp(), 1, 1)


def _arr(coef: list, ent: list, x: int, j: int) -> np.ndarray | None:
    """Coefficient j of node x as a flat object array of arb (cached in ``ent``); None for zero."""
    if j >= len(coef[x]) or coef[x][j] is None:
        return None
    cache = ent[x]
    while len(cache) <= j:
        c = coef[x][len(cache)]
        cache.append(None if c is None else np.array(c.entries(), dtype=object))
    e = cache[j]
    if isinstance(e, list):  # filled by series._Cauchy as a plain list
        e = cache[j] = np.array(e, dtype=object)
    return e


def _shape(coef: list, x: int) -> tuple[int, int]:
    m = coef[x][0]
    return m.nrows(), m.ncols()


def _mat(shape: tuple[int, int], arr: np.ndarray) -> flint.arb_mat:
    return flint.arb_mat(shape[0], shape[1], list(arr))


def _emul_rule(k, coef, ent, i, a, b, payload):
    acc = None
    for j in range(k + 1):
        x, y = _arr(coef, ent, a, j), _arr(coef, ent, b, k - j)
        if x is not None and y is not None:
            acc = x * y if acc is None else acc + x * y
    shape = _shape(coef, a)
    return _mat(shape, acc) if acc is not None else flint.arb_mat(*shape)


def _exp_rule(k, coef, ent, i, a, b, payload):
    shape = _shape(coef, a)
    if k == 0:
        return _mat(shape, _exp(_arr(coef, ent, a, 0)))
    acc = None
    for j in range(1, k + 1):
        v, u = _arr(coef, ent, a, j), _arr(coef, ent, i, k - j)
        if v is not None:
            t = v * u * j
            acc = t if acc is None else acc + t
    if acc is None:
        return flint.arb_mat(*shape)
    return _mat(shape, acc * (flint.arb(1) / k))


def _div_rule(k, coef, ent, i, a, b, payload):
    shape = _shape(coef, a)
    s0 = _arr(coef, ent, b, 0)
    num = _arr(coef, ent, a, k)
    for j in range(1, k + 1):
        s, q = _arr(coef, ent, b, j), _arr(coef, ent, i, k - j)
        if s is not None:
            num = -(s * q) if num is None else num - s * q
    if num is None:
        return flint.arb_mat(*shape)
    return _mat(shape, num / s0)


EXTRA_OPS.update({"emul": _emul_rule, "exp": _exp_rule, "div": _div_rule})


def _node(t: Tracer, o: Any) -> int:
    return o.i if isinstance(o, Tracer) else t.tape.const(to_arb_mat(o)).i


def emul(a: Any, b: Any) -> Tracer:
    """a ⊙ b on the tape (one operand may be a constant array)."""
    t = a if isinstance(a, Tracer) else b
    return t.tape.add("emul", _node(t, a), _node(t, b))


def exp(v: Tracer) -> Tracer:
    """e^{v} entrywise on the tape."""
    return v.tape.add("exp", v.i)


def div(a: Any, s: Any) -> Tracer:
    """a ÷ s entrywise on the tape (s must have no zero entry at the expansion point)."""
    t = a if isinstance(a, Tracer) else s
    return t.tape.add("div", _node(t, a), _node(t, s))


def colsum_broadcast(A: Tracer, rows: int) -> Tracer:
    """1·(1ᵀA) for A with ``rows`` rows: each entry replaced by the sum of its column (two products
    with constant ones matrices)."""
    ones = flint.arb_mat(rows, 1, [1] * rows)
    return A.tape.const(ones) @ (A.tape.const(ones.transpose()) @ A)


def softmax(Z: Tracer, rows: int) -> Tracer:
    """Column-wise softmax e^{Z} ÷ 1·(1ᵀe^{Z}) on the tape, Z with ``rows`` rows (module docstring)."""
    E = exp(Z)
    return div(E, colsum_broadcast(E, rows))
