"""Hessian-vector products and Hessians by forward mode through the gradient formula.

∇²f(θ)·v is the tangent of ∇f evaluated at Dual(θ, v) (see :mod:`numerics.duals`). The full Hessian
is the HVP on every basis vector: batched in one pass on numpy backends (float, mp), one sparse
basis direction at a time on exact flint rationals, where a zero tangent skips untouched work.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from theory.arrays import common_kind

from .backends import Backend
from .duals import Dual, primal_memo
from .gradients import check_objective, evaluate, from_backend, precision, prepare, primal_masks, to_backend


def hvp(obj: Any, theta: Sequence[Any], v: Sequence[Any], dps: int | None = None) -> list[np.ndarray]:
    """∇²f(θ)·v, shaped like θ, in θ's arithmetic (``v`` must have θ's shapes and entry kind)."""
    obj = check_objective(obj)
    kind = obj.kind(theta)
    vkind = common_kind(obj.check_theta(v, "v"), "v")  # errors name v, not theta
    if vkind != kind:
        raise TypeError(f"v has {vkind} entries but theta has {kind} entries; use one kind for both")
    with precision(kind, dps):
        obj, b, Ws = prepare(obj, theta)
        Vs = to_backend(obj, obj.check_theta(v, "v"), b)
        _, g = evaluate(obj, [Dual(w, t) for w, t in zip(Ws, Vs)], b, want_value=False)
        return from_backend(obj, [gi.tan for gi in g], b)


def hessian(obj: Any, theta: Sequence[Any], dps: int | None = None, masks: Sequence[Any] | None = None) -> np.ndarray:
    """∇²f(θ) as a (P, P) array in θ's arithmetic, rows/columns in ``obj.flatten`` order.

    float and mp results are symmetrised, (H + Hᵀ)/2, which only moves rounding errors; exact
    results are returned as computed (they are symmetric exactly, which the tests check). ``masks`` (one
    (d_l, n) array per hidden layer, entries in [α, 1]): the Hessian with these masks fixed instead of the
    activation pattern at θ (a Filippov sliding mode's, whose weights are fractional); float64 θ only.
    """
    obj = check_objective(obj)
    # prepare() validates θ; its kind is needed before that only to set an mp precision (dps given)
    with precision(obj.kind(theta) if dps is not None else "", dps):
        obj, b, Ws = prepare(obj, theta)
        if masks is not None:
            if b.kind != "float":
                raise ValueError("hessian(..., masks=...) takes a float64 θ")
            masks = fixed_masks(obj, masks)
        H = _hessian_batched(obj, Ws, b, masks) if b.batched else _hessian_by_basis(obj, Ws, b)
        if b.kind != "exact":
            H = H + H.T
            H *= b.scalar(0.5)  # in place: one P×P temporary less
        return H


def fixed_masks(obj: Any, masks: Sequence[Any]) -> list[np.ndarray]:
    """``masks`` as float64 arrays, one (d_l, n) per hidden layer of a network objective with inputs (the
    ``masks`` argument of :func:`hessian` and :func:`numerics.spectra.hvp_operator`); ValueError otherwise."""
    inputs = getattr(getattr(obj, "loss", None), "inputs", None)
    if inputs is None or not hasattr(obj, "widths"):
        raise ValueError("masks apply to a network objective with explicit inputs")
    want = [(d, obj.loss.num_samples) for d in obj.widths[1:-1]]
    out = [np.asarray(m, dtype=np.float64) for m in masks]
    if [m.shape for m in out] != want:
        raise ValueError(f"masks must be one (units, samples) array per hidden layer, shapes {want}; "
                         f"got {[m.shape for m in out]}")
    return out


def _shapes(obj) -> list[tuple[int, int]]:
    """Backend shapes of θ's blocks: 1-D blocks (a quadratic's θ, biases) are columns."""
    return [(s[0], 1) if len(s) == 1 else tuple(s) for s in obj.shapes]


def _hessian_batched(obj, Ws, b: Backend, masks: Sequence[Any] | None = None) -> np.ndarray:
    P = obj.num_params
    if b.kind == "float":
        # not eye(P).astype(float64): that copy touches all P² fresh entries (page faults), measured
        # 0.36 ms of a 0.9 ms Hessian at P = 200
        eye = np.eye(P)
    else:
        eye = np.where(np.eye(P, dtype=bool), b.scalar(1), b.scalar(0))
    seeds, off = [], 0
    for s in _shapes(obj):
        n = s[0] * s[1]
        seeds.append(eye[:, off : off + n].reshape((P,) + s))
        off += n
    _, g = evaluate(obj, [Dual(w, e) for w, e in zip(Ws, seeds)], b, want_value=False, masks=masks)
    # row p of each block is ∂(∇_{W_j} f)/∂θ_p; side by side the blocks give row p of the Hessian.
    # Written into H's column block viewed as (P,) + shape: one copy (reshaping a transposed tangent
    # to (P, n) first would copy it once more)
    H = np.empty((P, P), dtype=eye.dtype)
    off = 0
    for gi, s in zip(g, _shapes(obj)):
        n = s[0] * s[1]
        H[:, off : off + n].reshape((P,) + s)[...] = gi.tan
        off += n
    return H


def _hessian_by_basis(obj, Ws, b: Backend) -> np.ndarray:
    """Exact path: one HVP per basis direction E_p (a single 1 in one layer, other tangents zero)."""
    from .backends import QMat, flint

    P = obj.num_params
    shapes = _shapes(obj)
    zero = flint.fmpq(0)
    rows = []
    # P dual passes at one θ: the value parts once (numerics.duals.primal_memo), the tangents per direction
    memo: dict = {}
    masks = primal_masks(obj, Ws, b)
    for layer, (r, c) in enumerate(shapes):
        for idx in range(r * c):
            e = flint.fmpq_mat(r, c)
            e[idx // c, idx % c] = 1
            tans = [None] * len(Ws)
            tans[layer] = QMat(e)
            with primal_memo(memo):
                _, g = evaluate(obj, [Dual(w, t) for w, t in zip(Ws, tans)], b, want_value=False, masks=masks)
            row = []
            for gi, (ri, ci) in zip(g, shapes):
                row.extend([zero] * (ri * ci) if gi.tan is None else gi.tan.m.entries())
            rows.append(row)
    return QMat(flint.fmpq_mat(P, P, [x for row in rows for x in row])).to_numpy()
