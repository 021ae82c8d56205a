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
* **one root in the bracket** — the grid interval of the first sign change holds an odd number of
  roots; where q' is not certified nonzero on it (the same certificate, on q'), the refinement below
  finds its first root (two close roots in one interval would otherwise leave the later one found);
* **refinement** — for a polynomial whose certificate leaves a gap open, the real parts of its
  complex roots near the open range (companion-matrix eigenvalues, |Im| ≤ 0.25), their neighbours
  ± 1e-9 and ± 1e-6 of the range and the midpoints between consecutive ones are added as sample
  points, as in the arb tier's locator
  (:func:`numerics.kink_events.first_root`); the first sample with q ≤ 0 brackets the first root. A
  near-double root at which q stays positive, but within the rounding margin of zero, means q grazes
  zero within the float resolution of this step: whether the exact flow touches the kink there is not
  decidable in float64, and :class:`~numerics.kink_events.UnsupportedKinkError` says so (the arb tier
  can decide it). Limitation (as in the arb tier): a dip narrower than the root finder separates and
  deeper than the rounding margin is possible only for a polynomial badly conditioned at that root.
"""

from __future__ import annotations

from functools import lru_cache
from math import comb
from typing import Any

import numpy as np

EPS = float(np.finfo(float).eps)
GRID = 64
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


def _shift_margin(C: np.ndarray) -> np.ndarray:
    """The rounding margin of the shifted coefficients of each column of C (p, m): 2p²ε·Σ_k 2^k|C_k|
    (module docstring, "certificate")."""
    p = C.shape[0]
    return 2 * p * p * EPS * (np.abs(C) * 2.0 ** np.arange(p)[:, None]).sum(0)


def _certified(D: np.ndarray, margin: np.ndarray) -> np.ndarray:
    """q > 0 on the interval from its scaled Taylor coefficients D[..., j] (module docstring)."""
    return D[..., 0] > np.abs(D[..., 1:]).sum(-1) * (1 + 1e-9) + margin


def _refine(c: np.ndarray, a: float, b: float, margin: float, state: float = 0.0,
            rounding_check: bool = True) -> tuple[float, float] | None:
    """The first bracket (lo, hi), q(lo) > 0 ≥ q(hi), in [a, b] for one polynomial c (ascending) with
    q(a) > 0, or None: the sample points are b and the real parts of the polynomial's complex roots
    near [a, b] (companion-matrix eigenvalues; |Im| ≤ 0.25), each with neighbours ± 1e-9·(b − a) and
    ± 1e-6·(b − a), and the midpoints between consecutive ones, as in the arb tier's locator; a root pair that leaves q positive at all of them but within the rounding
    margin of zero is a graze within float resolution: UnsupportedKinkError (module docstring)."""
    from .kink_events import UnsupportedKinkError

    nz = np.nonzero(c)[0]
    top = int(nz[-1]) if len(nz) else 0
    pts = [b]
    near = []
    if top >= 1:
        for r in np.roots(c[: top + 1][::-1]):
            if a - 1e-6 < r.real < b + 1e-6 and abs(r.imag) <= 0.25:
                x = min(max(r.real, a), b)
                near.append(x)
                pts += [y for d in (0.0, 1e-9 * (b - a), 1e-6 * (b - a)) for y in (x - d, x + d) if a < y < b]
    near.sort()
    pts += [(x + y) / 2 for x, y in zip(near, near[1:])]  # inside a dip between two close roots
    pts = sorted(set(pts))
    vals = np.polynomial.polynomial.polyval(np.array(pts), c)
    prev = a
    for u, v in zip(pts, vals):
        if v <= 0:
            return (prev, u)
        prev = u
    for x in (near if rounding_check else []):  # positive everywhere sampled: by more than rounding there?
        q = np.polynomial.polynomial.polyval(x, c)
        if q <= margin:
            raise UnsupportedKinkError(
                f"a pre-activation grazes its kink within float resolution at u = {x:.17g} of the step "
                "(q is within rounding of 0 there); use the arb tier (dps=...)")
    if state > 0 and top >= 2:
        # interior minima of q within the state's error: q's minimum on [a, b] is at an end or at a real root of
        # q'; the companion matrix returns such a root with rounding, possibly off the real axis, so the real
        # part of every root of q' inside (a, b) is examined (whatever its imaginary part: a point where q is
        # within the bar is a touch risk wherever it lies), with one Newton step on q' where q'' > 0
        d = np.polynomial.polynomial.polyder(c[: top + 1])
        d2 = np.polynomial.polynomial.polyder(d)
        for r in np.roots(d[::-1]):
            if not a < r.real < b:
                continue
            xs = [float(r.real)]
            g2 = float(np.polynomial.polynomial.polyval(xs[0], d2))
            if g2 > 0:
                xn = xs[0] - float(np.polynomial.polynomial.polyval(xs[0], d)) / g2
                if a < xn < b:
                    xs.append(xn)
            for x in xs:
                q = float(np.polynomial.polynomial.polyval(x, c))
                if q <= margin + state:
                    raise UnsupportedKinkError(
                        f"a pre-activation comes within {q:.3g} of its kink at u = {x:.17g} of the step, inside "
                        f"the error bar of the computed state there ({state:.3g} on this pre-activation): whether "
                        "the exact flow touches the kink (and crosses) is not decided by this run; use the arb "
                        "tier (dps=...)")
    return None


def first_brackets(C: np.ndarray, state: np.ndarray | None = None, after: bool = False
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For polynomials C[:, c] (ascending in u, C[0] > 0): the columns that have a root in (0, 1] and,
    for each, a bracket (lo, hi) of its first one with q(lo) > 0 ≥ q(hi) (module docstring).

    ``state`` (per column, ≥ 0): a bound on |q_exact − q| from the error of the computed state (the
    carried error estimate times ‖∇_θ z‖). It joins the certificate's margin, and a dip that stays
    positive but within it raises UnsupportedKinkError: the exact flow may touch the kink there. ``after``:
    the check after a step, on the step as cut by its event; the rounding graze test (already made on the
    uncut step) is skipped there, since another entry whose root coincides with the event's to rounding
    (a simultaneous switch, recorded by the next, zero-length step) would look like one."""
    p, m = C.shape
    us = np.arange(1, GRID + 1) / GRID
    vals = np.polynomial.polynomial.polyval(us, C)  # (m, GRID)
    neg = vals <= 0
    g = np.where(neg.any(axis=1), np.argmax(neg, axis=1), GRID)  # first grid sample with q ≤ 0
    margin = _shift_margin(C)  # (m,)
    state = np.zeros(m) if state is None else np.asarray(state, dtype=float)
    D = (_grid_shift(p).reshape(GRID * p, p) @ C).reshape(GRID, p, m)  # D[i, j, c]
    ok = (D[:, 0] > np.abs(D[:, 1:]).sum(1) * (1 + 1e-9) + margin + state).T  # (m, GRID): _certified
    bad = (np.arange(GRID)[None, :] < g[:, None]) & ~ok
    lo = np.where(g == 0, 0.0, us[np.maximum(g - 1, 0)])
    hi = np.where(g < GRID, us[np.minimum(g, GRID - 1)], np.inf)
    refined = np.zeros(m, dtype=bool)
    for col in np.nonzero(bad.any(axis=1))[0]:
        i0 = int(np.argmax(bad[col]))  # the first interval the grid's certificate leaves open
        stop = lo[col] if g[col] < GRID else 1.0
        got = _refine(C[:, col], i0 / GRID, stop, float(margin[col]), float(state[col]), rounding_check=not after)
        if got is not None:
            lo[col], hi[col] = got
            refined[col] = True
    # the grid interval of the first sign change holds an odd number of roots: one where q is certified
    # monotone on it (q' ≠ 0: the certificate above on q'), else its first root is bracketed by the
    # refinement's sample points (two close roots in one interval: the refinement would find the later)
    cells = np.nonzero((g < GRID) & ~refined)[0]
    if len(cells) and p > 2:
        dC = C[1:, cells] * np.arange(1, p)[:, None]  # q' coefficients (p − 1, k)
        centres = (g[cells] + 0.5) / GRID  # the interval (us[g − 1], us[g]] = (g/G, (g + 1)/G]
        Md = _shift(centres, 0.5 / GRID, p - 1)  # (k, p − 1, p − 1)
        Dd = np.einsum("ijk,ki->ij", Md, dC)
        # q' keeps one sign on the interval: the root-free certificate on σ·q', σ the sign of q' at the centre
        mono = _certified(Dd * np.sign(Dd[:, :1]), _shift_margin(dC))
        for col in cells[~mono]:
            got = _refine(C[:, col], float(lo[col]), float(hi[col]), float(margin[col]), float(state[col]),
                          rounding_check=False)
            if got is not None:
                lo[col], hi[col] = got
    cols = np.nonzero(np.isfinite(hi))[0]
    return cols, lo[cols], hi[cols]


def _horner(c: list[float], x: float) -> float:
    """q(x) for ascending c, in the operation order of numpy's polyval (the same float result)."""
    acc = c[-1]
    for a in c[-2::-1]:
        acc = a + acc * x
    return acc


def _one_root(c: list[float], lo: float, hi: float, qlo: float, qhi: float, tol: float, moved: int,
              start: int) -> float:
    """:func:`earliest_root`'s iterations from iteration ``start`` for one bracket, on Python floats (the
    same operations, so the same result as the vectorised loop)."""
    for it in range(start, 160):
        mid = 0.5 * (lo + hi)
        if not (hi - lo > tol and lo < mid < hi and qhi != 0):
            break
        x = mid
        if it % 3 != 2:
            den = qlo - qhi
            if den != 0:
                s = lo + qlo * (hi - lo) / den
                if lo < s < hi:
                    x = s
        q = _horner(c, x)
        if q > 0:
            if moved > 0:
                qhi *= 0.5
            lo, qlo, moved = x, q, 1
        else:
            if moved < 0:
                qlo *= 0.5
            hi, qhi, moved = x, q, -1
    return hi


def earliest_root(C: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[int, float]:
    """(column, u): the earliest of the roots bracketed by (lo, hi) (q(lo) > 0 ≥ q(hi), from
    :func:`first_brackets`), as the right end of its bracket narrowed to at most 2^{−52} of its initial
    width — the resolution of 52 bisections, reached in ~10 evaluations instead of 52 — or to an exact
    zero of the computed q at its right end.

    Vectorised regula falsi with the Illinois modification (the value kept at an end that stays twice in
    a row is halved, so both ends converge), safeguarded: every third step, and whenever the secant
    point is not strictly inside, the midpoint is taken, so the width at least halves every three steps
    (≤ 156 steps in all). The bracket invariant q(lo) > 0 ≥ q(hi) holds after every step, as in
    bisection. Brackets whose left end is at or after the smallest right end cannot hold the earliest
    root (each bracket holds a root) and are dropped as soon as that is so."""
    lo, hi = lo.astype(float), hi.astype(float)
    cols = np.arange(len(lo))
    tol = (hi - lo) * 2.0 ** -52
    polyval = np.polynomial.polynomial.polyval
    qlo = polyval(lo, C, tensor=False)
    qhi = polyval(hi, C, tensor=False)
    moved = np.zeros(len(lo), dtype=np.int8)  # +1: lo moved last, −1: hi moved last
    for it in range(160):
        keep = lo < hi.min()
        if not keep.all():
            C, lo, hi, qlo, qhi, tol, moved, cols = (C[:, keep], lo[keep], hi[keep], qlo[keep], qhi[keep],
                                                     tol[keep], moved[keep], cols[keep])
        if len(lo) == 1:  # the usual case from here on: the same iterations on Python floats (~10× faster)
            return int(cols[0]), _one_root(C[:, 0].tolist(), float(lo[0]), float(hi[0]), float(qlo[0]),
                                           float(qhi[0]), float(tol[0]), int(moved[0]), it)
        mid = 0.5 * (lo + hi)
        # open: wider than the target, not yet two adjacent floats (where no point lies strictly inside),
        # and hi not an exact zero of the computed q (a root at float resolution; the secant point would be
        # hi itself from then on, and only bisection would narrow a bracket that has nothing left to find)
        act = (hi - lo > tol) & (lo < mid) & (mid < hi) & (qhi != 0)
        if not act.any():
            break
        if it % 3 == 2:
            x = mid
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                x = lo + qlo * (hi - lo) / (qlo - qhi)
            x = np.where((x > lo) & (x < hi), x, mid)
        x = np.where(act, x, hi)  # a closed bracket stays as it is (x = hi moves neither end)
        q = polyval(x, C, tensor=False)
        pos = (q > 0) & (x < hi)
        neg = ~pos & (x < hi)
        # Illinois: an end kept while the same other end moved again carries half its value
        qhi = np.where(pos & (moved > 0), qhi * 0.5, qhi)
        qlo = np.where(neg & (moved < 0), qlo * 0.5, qlo)
        lo, qlo = np.where(pos, x, lo), np.where(pos, q, qlo)
        hi, qhi = np.where(neg, x, hi), np.where(neg, q, qhi)
        moved = np.where(pos, 1, np.where(neg, -1, moved)).astype(np.int8)
    c = int(np.argmin(hi))
    return int(cols[c]), float(hi[c])


def screen_after_step(kept: tuple, Z: np.ndarray, pw: np.ndarray, extra: Any) -> np.ndarray:
    """The screen of the float tier's check after a step (:meth:`numerics.float_taylor._FloatFlow._locate`),
    from the margins B_0 − (1 + 1e-9)·T(h₀) its search computed on the same series at the uncut step h₀ ≥ h (T(h) = Σ_{k≥1}|z_k|h^k): the exact
    T(h) ≤ T(h₀), and the computed T(h₀) raised by 1 + 1e-9 is above the exact one, so an entry whose
    kept margin exceeds ``extra`` has no root within the error bar on [0, h] either. Only the others
    (a few of the step's 10⁴–10⁵ entries) are screened again at h; one pass over the full arrays instead
    of five (~4 % of a research run's CPU, the check running once per step)."""
    B0, margin = kept
    pre = margin <= extra
    idx = np.flatnonzero(pre)
    if len(idx):
        p = Z.shape[0]
        flat = Z.reshape(p, -1)
        tail = pw[1:] @ np.abs(flat[1:, idx])
        ex = extra if np.ndim(extra) == 0 else np.ravel(extra)[idx]
        pre.ravel()[idx] = B0.ravel()[idx] <= tail * (1 + 1e-9) + ex
    return pre
