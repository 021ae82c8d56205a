"""The arb tier's near touches checked against the run's error (docs/theory.md E3, "Dips within the run's error").

The event locator (:func:`numerics.kink_events.first_root`) decides that a watched pre-activation has no root on a
step from the computed series, so it decides on the computed state, not the exact one. The exact flow's z differs
from the computed z by at most ‖∇_θ z‖₁·e to first order, e the run's max-norm error at that time (the estimate's
norm). So a dip of σz (σ the entry's side) that stays positive but comes within that bar of 0 may be a touch of the
exact flow, and at a touch the event sequence changes discontinuously with θ(0): if the other side's field pushes z
on, the exact flow crosses and stays across, and no estimate built on the computed events covers that.

The float tier checks this after each step (F, "Near touches within the error bar"). The arb tier's error is known
only after the dps + 10 rerun, so the run records, for every step, the smallest *margin* over its watched entries,
min σz / ‖∇z‖₁ (a max-norm distance in parameter space), and :meth:`NearTouches._check_dips` compares it with the
error once that is known: a margin ≤ e is refused (UnsupportedKinkError, "raise dps").

Per step and entry, with q(u) = σz(uh) the step's series in u ∈ [0, 1]:

* the lower bound of q on each of 64 cells of [0, 1] from its Taylor coefficients about the cell's centre, less
  their float rounding (the float tier's certificate, :mod:`numerics.float_events`); its minimum over the cells
  is the entry's margin where it exceeds 1e-9·Σ_k|q_k|;
* where it does not (q comes within float resolution of 0, or close to it, somewhere), the interior minima
  in mp: the real parts of the roots of q' in (0, 1), each refined by Newton on q' at the working precision, and q
  evaluated there from the series' exact midpoints; and u = 1 at the horizon.

A minimum exactly at a step boundary is not examined, as in the float tier. (The step's start was, at first: it
refused correct runs on entries whose exact z is 0 there by structure, and their computed z rounding — above a
column the instant zeroed, or moving off an identically zero series, which E1 decides from their side α.) Not
examined either, since the decisions check them (:mod:`numerics.kink_margins`):

* the entries the step starts with at their kink (``skip``: switched at this instant, z = 0 at u = 0);
* an entry at its kink at the step's end (the step's event and the switches of the same instant) below the
  value it has there: a minimum there is that event (a grazing touch taken back is one of the decisions);
* sliding and pinned entries (held at 0) and identically zero ones (held at 0 exactly, as in the exact flow);
* on a bias-free ReLU net, the entries above a sample's column that is zero (:meth:`NearTouches._above_zero_columns`).

‖∇_θ z‖₁ over the step: z_j = W_j a_{j−1} + b_j with a_j = σ(z_j), |σ(z) − σ(z')| ≤ s|z − z'|, s = max(1, |α|), so
G_1 = ‖x_i‖₁ (+ 1 with biases) and G_j = ‖A_{j−1,i}‖₁ (+ 1) + s·|W_j|·G_{j−1}, with |W_j| the entrywise bound of
the weights over the step (Σ_k |c_k|h^k) and A_j = s(|W_j|A_{j−1} + |b_j|) ≥ |a_j|. At the computed state: first
order in e (the ball of radius e moves these bounds by O(e), as the float tier's bars are first order in their own
way).

:class:`NearTouches` is a mixin of :class:`numerics.kink_flows._KinkFlow`. It reads the flow's ``masks``, ``skip``,
``obj``, ``p``, ``record_decisions`` and ``check_role``, and its ``_z``.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Callable

import mpmath
import numpy as np

from .error_growth import coefficient_floats
from .float_events import GRID, _grid_shift, _shift_margin
from .kink_events import UnsupportedKinkError, _dip_bottom, _mpf


def _input_abs(obj: Any) -> np.ndarray:
    """|x_i| per sample, as columns (d_0, n): the data's, or e_i for WhitenedSquare (no inputs)."""
    X = obj.loss.inputs
    if X is None:
        return np.eye(obj.widths[0])
    return np.abs(np.asarray(X, dtype=np.float64))


class NearTouches:
    """The record of each step's smallest dip margin and its check against the run's error (module docstring)."""

    def _z_sensitivity(self, cs: list, hf: float) -> list[np.ndarray]:
        """Per hidden layer, (units, samples): an upper bound of ‖∇_θ z‖₁ over the step (module docstring). The 1-norm,
        entry by entry, since the arb tier's error is a max norm; the float tier's bars use layer norms of the
        2-norm (:func:`numerics.hessian_lipschitz.derivative_factors`), which would cost a factor up to √P here."""
        bias = self.obj.model.bias
        s = max(1.0, abs(float(self.obj.model.alpha)))
        F = coefficient_floats(cs)
        hk = hf ** np.arange(F[0].shape[0])
        shapes = [(c[0].nrows(), c[0].ncols()) for c in cs]
        absb = [(np.abs(Fi) * hk[:, None]).sum(0).reshape(sh) * (1 + 1e-12) for Fi, sh in zip(F, shapes)]
        Ws = absb[0::2] if bias else absb
        bs = absb[1::2] if bias else [None] * len(Ws)
        A = _input_abs(self.obj)
        one = 1.0 if bias else 0.0
        out, G = [], None
        for j in range(len(self.masks)):
            W = Ws[j]
            g = np.broadcast_to(A.sum(0) + one, (W.shape[0], A.shape[1]))
            G = g + s * (W @ G) if G is not None else np.array(g)
            out.append(G)
            A = s * (W @ A + (bs[j] if bs[j] is not None else 0.0))
        return out

    def _above_zero_columns(self) -> dict[int, int]:
        """sample → the lowest hidden layer (0-based) whose column on it is zero (every unit off, sliding or pinned:
        side −1), on a bias-free ReLU net (α = 0) only. Every pre-activation above such a column is 0 in the exact
        flow for as long as the column stays so, and its mask either does not enter the field or is the Filippov one
        the column's sliding unit gives it (docs/theory.md E1, "A column zeroed over a sliding unit"); the computed
        one is rounding (a sliding unit's output μ·z with z at its rounding: 3.5e-60 at 40 digits, cross-entropy seed
        85 of the (3,6,6,2) soak), so it is not examined."""
        if self.obj.model.bias or self.obj.model.alpha != 0:
            return {}
        out: dict[int, int] = {}
        for j, m in enumerate(self.masks[:-1]):
            sides = m.side.reshape(m.rows, m.cols)
            for i in np.nonzero((sides < 0).all(axis=0))[0]:
                out.setdefault(int(i), j)
        return out

    def _record_dips(self, watched: dict, cs: list, h: Fraction, t: Fraction, last: bool, bits: int) -> None:
        """Record the step [t, t + h]'s smallest margin min σz/‖∇z‖₁ over its watched entries (module docstring),
        as (margin, t, h, layer, entry, value, u) in ``self._dips``. Only on a flow whose decisions are checked."""
        if not self.record_decisions or h == 0 or not self.masks:
            return
        if not hasattr(self, "_dips"):
            self._dips = []
        hf = float(h)
        L = self._z_sensitivity(cs, hf)
        above = self._above_zero_columns()
        H = len(self.masks)
        worst = None
        for j, m in enumerate(self.masks):
            z = self._z(watched, j)
            Zf = coefficient_floats([z])[0]  # (K, rows·cols)
            K = Zf.shape[0]
            sig = m.side.astype(np.float64).reshape(-1)
            C = Zf * (hf ** np.arange(K))[:, None] * sig[None, :]
            keep = [idx for idx in range(m.rows * m.cols)
                    if not m.dead[idx] and idx not in m.sliding and idx not in m.pinned
                    and not self.skip.get((j, idx), 0) and np.any(Zf[:, idx] != 0)
                    and not above.get(idx % m.cols, H) < j]
            if not keep:
                continue
            Ck = C[:, keep]
            D = (_grid_shift(K).reshape(GRID * K, K) @ Ck).reshape(GRID, K, len(keep))
            lb = (D[:, 0] - np.abs(D[:, 1:]).sum(1)).min(0) - _shift_margin(Ck)
            # where the cells' bound comes within 1e-9 of q's scale, the minimum is taken in mp (the bound would
            # be rounding-limited there, and it would read a value at the step's ends, which are not examined)
            near = lb <= 1e-9 * np.abs(Ck).sum(0)
            # (coefficients past the float range, as in the locator's float screen: not examined)
            finite = np.isfinite(Ck).all(0)
            Lj = L[j].reshape(-1)
            E = None
            for col, idx in enumerate(keep):
                if not finite[col]:
                    continue
                if not near[col]:
                    val, u = float(lb[col]), math.nan
                else:
                    E = E if E is not None else [zk.entries() for zk in z]
                    val, u = self._dip_minimum([Ek[idx] for Ek in E], int(m.side[idx]), h, Ck[:, col], last, bits)
                    if val is None:
                        continue
                ratio = val / Lj[idx]
                if worst is None or ratio < worst[0]:
                    worst = (ratio, t, h, j, idx, val, u)
        if worst is not None:
            self._dips.append(worst)

    @staticmethod
    def _dip_minimum(coefs: list, sigma: int, h: Fraction, c: np.ndarray, last: bool, bits: int
                     ) -> tuple[float | None, float]:
        """(min of σq over the examined points, u there) for one entry whose cell bounds reach 0: the interior
        minima (module docstring) and u = 1 at the horizon; (None, nan) when none is examined. An entry at
        its kink at u = 1 (σq(1) within the evaluation's rounding) keeps only the minima above its value there."""
        with mpmath.workprec(bits + 20):
            hm = mpmath.mpf(h.numerator) / h.denominator
            b = [_mpf(x) * sigma * hm**k for k, x in enumerate(coefs)]

            def q(u):
                return mpmath.polyval(b[::-1], u)

            scale = sum(abs(x) for x in b)
            # the rounding of q(1): the series' coefficients carry ~2^-bits of their size from the pass, and their
            # evaluation here at bits + 20 adds p·2^-(bits+20) of Σ|b_k|; 2^-(bits-8) of Σ|b_k| covers both
            tol = scale * mpmath.ldexp(1, -(bits - 8))
            end = q(mpmath.mpf(1))
            at_kink = end <= tol  # (its root is the step's end: the event, or a switch of the same instant)
            pts = []
            if last and not at_kink:
                pts.append((end, 1.0))
            nz = np.nonzero(c)[0]
            top = int(nz[-1]) if len(nz) else 0
            if top >= 2:
                dc = np.polynomial.polynomial.polyder(c[: top + 1])
                for r in np.roots(dc[::-1]):
                    if not 0 < r.real < 1:
                        continue
                    m = _dip_bottom(b, mpmath.mpf(1), float(r.real), bits)  # (the locator's Newton on q', in u)
                    x = m if m is not None else mpmath.mpf(float(r.real))
                    v = q(x)
                    if at_kink and v <= end + tol:
                        continue
                    pts.append((v, float(x)))
            if not pts:
                return None, math.nan
            v, u = min(pts, key=lambda p: p[0])
            return float(v), u

    def _check_dips(self, error_at: Callable[[Fraction], float]) -> int:
        """Each recorded step's margin against the error e = ``error_at``(its end) (a bound that covers the step:
        estimates are carried forward); a margin ≤ e raises UnsupportedKinkError. Returns how many steps were
        checked."""
        n = 0
        for ratio, t, h, j, idx, val, u in getattr(self, "_dips", []):
            e = float(error_at(t + h))
            if not math.isfinite(e) or e <= 0:
                continue
            n += 1
            if ratio > e:
                continue
            m = self.masks[j]
            unit, i = divmod(idx, m.cols)
            at = float(t) if math.isnan(u) else float(t + Fraction(u) * h)
            what = (f"dips to {val:.3g} ≤ 0, a second root the event locator does not separate from the first"
                    if val <= 0 else f"comes within {val:.3g} of its kink")
            bar = val / ratio * e if ratio != 0 else math.inf
            hint = "raise dps"
            if 0 < val < 10.0 ** -self.dps * (val / ratio):
                # z at its kink to the working precision, on a step that starts at a cluster of switches (seen:
                # cross-entropy seed 85 of the (3,6,6,2) soak, where a sliding constraint takes a sample's two active
                # units of layer 1 to 0 at one instant with the column above them): an instant the decisions do not
                # resolve for this entry, whatever the precision
                hint = ("raise dps, though z is at its kink to the working precision there, which more digits may "
                        "not change (several switches meet at one instant: docs/theory.md E3, \"Dips within the run's "
                        "error\")")
            raise UnsupportedKinkError(
                f"t = {at:.17g}: unit {unit} of layer {j + 1} on sample {i}{self.check_role} {what} on the step from "
                f"t = {float(t):.17g}, with no event, inside the error bar of the computed state there (‖∇z‖₁·e = "
                f"{bar:.3g}, error {e:.3g}): whether the exact flow touches the kink (and crosses) is not decided at "
                f"this precision; {hint}")
        return n
