"""Event location for the float Taylor tier: the first root on [0, 1] of many polynomials at once.

The watched pre-activations σ·z(s) of one step, scaled to u = s/h, are polynomials q(u) = Σ_k C_k u^k
with q(0) > 0. The step must end at the first u* ∈ (0, 1] with q(u*) ≤ 0 — including a short dip
below zero and back between sample points (a unit that crosses and crosses back inside one step),
which a grid of samples alone can miss. So:

* **grid** — q at u_i = i/G, i = 1 … G (G = 64): the first sample with q ≤ 0 brackets a root;
* **certificate** — every grid interval [u_{i−1}, u_i] before that bracket is shown root-free by the
  Taylor expansion about its centre c with radius r = 1/(2G): q(c + v) = Σ_j d_j v^j, and
  d_0 > Σ_{j≥1}|d_j| r^j (plus a rounding margin) means q > 0 on the whole interval. d = M·C with
  M_{jk} = binom(k, j) c^{k−j} r^j, one product for all intervals and polynomials. Rounding: each d_j
  is a sum of p terms |M_{jk} C_k| ≤ 2^k |C_k| (|c| ≤ 1, Σ_j binom(k, j) = 2^k), so the computed d differ
  from the exact ones by at most p·ε·Σ_k 2^k|C_k| each (Higham's γ_p); the margin is twice the sum of
  that over the p coefficients;
* **refinement** — an interval that is not certified is halved (the same test on each half, left
  half first) down to width 2^{−REFINE}/G, where a piece with q ≤ 0 at its right end is a bracket
  (the root the grid missed) and a piece that touches the grid's bracket (or the step's end) belongs
  to that root (or to the next step's). Any other piece that is neither certified nor negative means
  q grazes zero within the float resolution of this step: whether the exact flow
  touches the kink there is not decidable in float64, and :class:`~numerics.kink_events.UnsupportedKinkError`
  says so (the arb tier can decide it).
"""

from __future__ import annotations

from functools import lru_cache
from math import comb

import numpy as np

EPS = float(np.finfo(float).eps)
GRID = 64
REFINE = 36
_SHIFT: dict[tuple[int, int], np.ndarray] = {}


@lru_cache(maxsize=64)
def _binom(p: int) -> tuple[np.ndarray, np.ndarray]:
    B = np.array([[comb(k, j) if k >= j else 0 for k in range(p)] for j in range(p)], dtype=float)
    return B, np.arange(p)[None, :] - np.arange(p)[:, None]  # binom(k, j) and k − j


def _shift(centres: np.ndarray, r: float, p: int) -> np.ndarray:
    """M[i, j, k] = binom(k, j)·c_i^{k−j}·r^j: Taylor coefficients about c_i, scaled to radius r."""
    B, e = _binom(p)
    pw = np.where(e >= 0, centres[:, None, None] ** np.maximum(e, 0)[None], 0.0)
    return B[None] * pw * (r ** np.arange(p))[None, :, None]


def _grid_shift(p: int) -> np.ndarray:
    key = (GRID, p)
    if key not in _SHIFT:
        _SHIFT[key] = _shift((np.arange(GRID) + 0.5) / GRID, 0.5 / GRID, p)
    return _SHIFT[key]


def _certified(D: np.ndarray, margin: np.ndarray) -> np.ndarray:
    """q > 0 on the interval from its scaled Taylor coefficients D[..., j] (module docstring)."""
    return D[..., 0] > np.abs(D[..., 1:]).sum(-1) * (1 + 1e-9) + margin


def _refine(c: np.ndarray, a: float, b: float, margin: float) -> tuple[float, float] | float | None:
    """The first bracket (lo, hi), q(lo) > 0 ≥ q(hi), in [a, b] for one polynomial c (ascending) with
    q(a) > 0; None when [a, b] is root-free; a float u when a run of unresolved finest pieces starting
    at u reaches b (the caller's next bracket or the step's end holds that root). Pieces are halved left
    first down to width 2^{−REFINE}/G; a run of finest pieces that are neither certified nor negative is
    a root's neighbourhood when it ends in a negative piece or at b, and a graze within float resolution
    when a certified piece follows it: :class:`~numerics.kink_events.UnsupportedKinkError`."""
    from .kink_events import UnsupportedKinkError

    p = len(c)
    pending: list[float] = []

    def scan(lo: float, hi: float, depth: int) -> tuple[float, float] | None:
        D = _shift(np.array([(lo + hi) / 2]), (hi - lo) / 2, p)[0] @ c
        if _certified(D, margin):
            if pending:
                raise UnsupportedKinkError(
                    f"a pre-activation grazes its kink within float resolution at u = {pending[0]:.17g} of "
                    "the step (neither a crossing nor a certified miss); use the arb tier (dps=...)")
            return None
        if depth >= REFINE + 6:  # a piece of width ≤ 2^{−REFINE}/G (the range spans ≤ G intervals)
            if np.polynomial.polynomial.polyval(hi, c) <= 0:
                return (pending[0] if pending else lo, hi)
            if not pending:
                pending.append(lo)
            return None
        m = (lo + hi) / 2
        return scan(lo, m, depth + 1) or scan(m, hi, depth + 1)

    got = scan(a, b, 0)
    if got is None and pending:
        return pending[0]
    return got


def first_brackets(C: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For polynomials C[:, c] (ascending in u, C[0] > 0): the columns that have a root in (0, 1] and,
    for each, a bracket (lo, hi) of its first one with q(lo) > 0 ≥ q(hi) (module docstring)."""
    p, m = C.shape
    us = np.arange(1, GRID + 1) / GRID
    vals = np.polynomial.polynomial.polyval(us, C)  # (m, GRID)
    neg = vals <= 0
    g = np.where(neg.any(axis=1), np.argmax(neg, axis=1), GRID)  # first grid sample with q ≤ 0
    margin = 2 * p * p * EPS * (np.abs(C) * 2.0 ** np.arange(p)[:, None]).sum(0)  # (m,)
    D = (_grid_shift(p).reshape(GRID * p, p) @ C).reshape(GRID, p, m)  # D[i, j, c]
    ok = (D[:, 0] > np.abs(D[:, 1:]).sum(1) * (1 + 1e-9) + margin).T  # (m, GRID): _certified
    bad = (np.arange(GRID)[None, :] < g[:, None]) & ~ok
    lo = np.where(g == 0, 0.0, us[np.maximum(g - 1, 0)])
    hi = np.where(g < GRID, us[np.minimum(g, GRID - 1)], np.inf)
    for col in np.nonzero(bad.any(axis=1))[0]:
        i0 = int(np.argmax(bad[col]))  # the first interval the grid's certificate leaves open
        stop = lo[col] if g[col] < GRID else 1.0
        got = _refine(C[:, col], i0 / GRID, stop, float(margin[col]))
        if isinstance(got, tuple):
            lo[col], hi[col] = got
        elif got is not None and g[col] < GRID:
            lo[col] = got  # the run reaches the grid's bracket: one root, bracketed from the run's start
    cols = np.nonzero(np.isfinite(hi))[0]
    return cols, lo[cols], hi[cols]
