"""Lone kink crossings of the float tier without passes of their own (docs/theory.md F, "Lone crossings
from the next step's pass").

At a crossing of z_{j}[u, i] = 0 reached from a side, with no entry sliding, the two candidate fields
(mask α and mask 1 at that entry) differ only in sample i's term of the gradient, f = c·Σ_n ℓ_n:

    F_other − F_from = sign·c·(∇ℓ_i(pattern with the entry flipped) − ∇ℓ_i(pattern as it is)),

two one-sample passes (:func:`numerics.gradients.sample_gradient`, O(P) work). The general path
(:meth:`numerics.float_taylor._FloatFlow._kink`) computes both fields by full order-1 passes over the
data, ~3 ms of the ~25 ms an event costs at research size. Here the entry is flipped to the other side
*speculatively* and the next step's series pass is run at once: its order-1 coefficients are F_other at
the event point, F_from = F_other − ΔF, and the rates are ż = ∇_θz·F (z depends on θ through sample i's
forward pass only, whose masks below the entry are the same under both candidates, so ∇_θz is one
vector). When the rates say "crossing" (both of the other side's sign, neither tangential), the pass is
the next step's pass and the event cost no pass of its own; otherwise (sliding, a repelling or
tangential kink, float noise) the entry is flipped back and the general path decides from scratch.

The quantities are the general path's up to rounding (ΔF here is a difference of one sample's
gradients, not of two full fields, so it carries less of it); the test
``tests/test_float_crossings.py`` runs both paths on nets with many crossings and compares events,
saltation factors and states.

It also holds the checks around the kink decisions: the rates against the run's error bar and the event search's
preference for a sample's last active lower unit (:meth:`FloatCrossings._zeroing_first`). The held entries (pinned,
the weights a kink sets to 0 exactly, the entries such a weight holds at 0) are in :mod:`numerics.float_pins`.

:class:`FloatCrossings` is a mixin of :class:`numerics.float_taylor._FloatFlow`; it reads the flow's
``obj``, ``y``, ``lo``, ``side``, ``maskv``, ``alpha``, ``series``, ``masks``, ``bias``, ``skip``, ``dead``, ``pinned``
and ``watch``.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from .saltation import saltation_inputs_error, saltation_norm
from .float_steps import EPS
from .error_windows import lone_saltation
from .gradients import sample_gradient_columns
from .kink_events import last_active_unit, sole_feeding_unit


def _norm(blocks: list[np.ndarray]) -> float:
    """‖(blocks)‖₂ (BLAS dot products: no squared temporaries; asked several times per step and event)."""
    return math.sqrt(sum(float(np.vdot(x, x)) for x in blocks))


class FloatCrossings:
    """∇_θz of one pre-activation and the lone-crossing path (module docstring)."""

    # off: every kink takes the general path (two order-1 passes); for the test that compares the paths
    FAST_LONE: ClassVar[bool] = True

    def _grad_z(self, j: int, u: int, i: int) -> list[np.ndarray]:
        """∇_θ z_{j}[u, i] at the current state and masks, in the blocks of the state (W_l, and b_l as a
        column): a backward pass for one sample."""
        Ws = self.y[0::2] if self.bias else self.y
        X = self.obj.loss.inputs
        a = [X[:, i].astype(float)]
        for l in range(j - 1):
            z = Ws[l] @ a[-1] + (self.y[2 * l + 1][:, 0] if self.bias else 0)
            a.append(z * self.maskv[l + 1][:, i])
        g = np.zeros(Ws[j - 1].shape[0])
        g[u] = 1.0
        out = [np.zeros_like(y) for y in self.y]
        for l in range(j - 1, -1, -1):
            out[2 * l if self.bias else l] = np.outer(g, a[l])
            if self.bias:
                out[2 * l + 1] = g[:, None].copy()
            if l > 0:
                g = (Ws[l].T @ g) * self.maskv[l][:, i]
        return out

    def _once_per_instant(self, j: int, u: int, i: int, t: float) -> None:
        """Refuse a second decision of an entry at the instant its state changed (docs/theory.md F, "An entry
        decided twice at one instant"). Entries whose kinks coincide in time (collinear samples make a
        unit's pre-activations proportional, so they reach 0 together) are met by this tier as separate
        switches a rounding apart, each decided with the others' masks as they stand. Where those decisions
        depend on their order, a later one can undo an earlier one at the same t — cross back, or leave the
        sliding it just entered — and the run then follows a branch the exact flow need not take: on a
        1-3-3-1 net (soak seed 72) three samples of one unit crossed together in the reference, and this
        tier, deciding them in turn, pinned the unit dead and ended 3.9e-7 off with an estimate of 3e-14.
        Entries that share one kink surface are refused before this (``_kink``, docs/theory.md E1); the
        detector stays for groups whose surfaces are distinct but met at one instant."""
        from .kink_flows import UnsupportedKinkError

        if t != self._instant_t:
            self._instant_t, self._instant = t, set()
        if (j, u, i) in self._instant:
            raise UnsupportedKinkError(
                f"t = {t:.17g}: unit {u} of layer {j + 1} on sample {i} is decided again at the instant it switched: "
                "a simultaneous kink whose separate decisions depend on their order, so the exact flow may take "
                "another branch; use the arb tier (dps=...)")

    def _decided_now(self, n_rec: int) -> None:
        """The entries whose events were recorded since ``n_rec`` (their state changed at this instant)."""
        for e in self.events[n_rec:]:
            self._instant.add((e.layer - 1, e.unit, e.sample))

    def _switch_z(self, j: int, u: int, i: int, gz: float) -> float:
        """|z_c| ≥ |z_{j+1}[u, i]| of the computed state (hi + lo) at the switch (:meth:`_location_error`),
        computed once per event."""
        key = (j, u, i)  # (the key is reset at every kink decision: the state does not change within one)
        if self._zc_key == key:
            return self._zc_value
        ld = np.longdouble
        from .hessian_lipschitz import _forward

        # the sample's pass up to layer j + 1 (its output is z of that layer), and the same on absolute values
        Ws = [W.astype(ld) for W in (self.y[0::2] if self.bias else self.y)[: j + 1]]
        bs = [b[:, 0].astype(ld) for b in self.y[1::2][: j + 1]] if self.bias else None
        ms = [self.maskv[l + 1][:, i].astype(ld) for l in range(j)]
        x_i = self.obj.loss.inputs[:, i].astype(ld)
        z = _forward(Ws, bs, ms, x_i)[1]
        sz = _forward([np.abs(W) for W in Ws], [np.abs(b) for b in bs] if bs is not None else None,
                      [np.abs(m) for m in ms], np.abs(x_i))[1]
        n = sum(W.shape[1] + 2 for W in Ws)
        x = n * float(np.finfo(ld).eps)
        zc = (abs(float(z[u])) + x / (1 - x) * float(sz[u])) * (1 + 4 * EPS)
        zc += gz * _norm(self.lo)
        self._zc_key, self._zc_value = key, zc
        return zc

    def _rates_within_bar(self, j: int, u: int, i: int, t: float, rates: list[tuple[float, float, float]],
                          pre: float, gz: float) -> None:
        """Refuse (UnsupportedKinkError) when a rate the kink's decision reads could have the other sign on
        the exact flow (docs/theory.md F, "The rates' signs against the error bar"). ``rates``: (ż, ‖F‖, e_F)
        of each candidate field at the computed state, mask α's then mask 1's (then the entry's rates under the
        candidates' other consistent modes, whose signs the decision reads too), e_F the field's rounding that
        the relative term misses (:mod:`numerics.float_rounding`); ``pre`` the rate it arrived with.

        With err ≥ ‖θ_exact(t) − θ̂(t)‖ (the carried bound and the low part; ``_bar_err``, None without the
        growth term: no bound then, no check), the exact flow meets z = 0 within τ ≤ z̄/|ż_pre| of the computed
        switch, z̄ = |z_c| + ‖∇z‖err + ½‖∇²z‖err² (:meth:`_switch_z`, ``_z_error``), so its switching point
        is within D = err + τ·V (V ≥ sup‖θ'‖ on the step) of the computed state. A region's rate ż = ∇_θz·F
        then differs by ≤ (‖∇²z‖(‖F‖ + B₂D) + ‖∇z‖B₂)·D, with ‖∇z‖ ≤ δ₁‖x̃_i‖, ‖∇²z‖ ≤ δ₂‖x̃_i‖ and
        B₂ ≥ ‖∇F‖ for every mask pattern (:func:`numerics.hessian_lipschitz.hessian_norm_bound`), on the
        step's layer-norm bounds (as the touch check; first order in D: τ is accepted only while that
        difference is below |ż_pre|/2)."""
        from .kink_flows import UnsupportedKinkError

        bars = self._rate_bars(j, u, i, rates, pre, gz)
        if bars is None:
            return
        # (the instant's largest τ, for a pinned entry this switch may set moving: _unpin_within_bar)
        self._trigger_tau = max(self._trigger_tau or 0.0, self._bar_tau)
        pre_bar = max(bars)
        if pre_bar >= abs(pre) / 2 or any(abs(r) <= bar for (r, *_), bar in zip(rates, bars)):
            raise UnsupportedKinkError(
                f"t = {t:.17g}: unit {u} of layer {j + 1} on sample {i}: the rates of its two fields at the kink "
                f"({', '.join(f'{r:.3g}' for r, *_ in rates[:2])}"
                + (f"; {', '.join(f'{r:.3g}' for r, *_ in rates[2:])} under the candidates' other modes" if rates[2:]
                   else "") + f") are within the run's error bar ({pre_bar:.3g}) of 0, "
                "so the exact flow may cross, slide or stop where the computed one does not; use the arb tier (dps=...)")

    # how close after a switch above it a lower layer's zeroing switch on the same sample goes first (_zeroing_first):
    # 2^-40 ≈ 9e-13 in time, far above the roots' float rounding (9e-16 apart on the soak's seed 53)
    # and far below the run's errors (moving a switch by δ changes the flow by O(δ·δ): the column is O(δ) over it)
    MERGE_TOL = 2.0**-40

    def _zeroing_first(self, w: dict, h: float, best: tuple, skip: dict) -> tuple:
        """The event search's first switch, ``best`` = (s, ("z", j, u, i)) on hidden layer j ≥ 1, or instead the
        switch of the last active unit of a lower layer on sample i (:func:`numerics.kink_events.last_active_unit`)
        when it comes within ``MERGE_TOL`` after it: that switch zeroes the sample's column there and every
        pre-activation above it, which then reach 0 at the same instant, and which of them rounding puts first is
        immaterial (docs/theory.md F, "Simultaneous immaterial switches"; the arb tier does the same,
        :meth:`numerics.kink_flows._KinkFlow._locate`); likewise, on the layer directly below, the one unit that
        feeds the entry through a weight not exactly 0 (:func:`numerics.kink_events.sole_feeding_unit`). Bias-free
        ReLU nets (α = 0) only."""
        from .float_taylor import _first_root_1d

        if self.bias or self.alpha != 0:
            return best
        s0, (_, j0, u0, i0) = best
        tol = self.MERGE_TOL
        for jl in range(j0):
            slid = self.series.slide.get(jl + 1, {})
            rows = range(self.side[jl].shape[0])
            u = last_active_unit([int(x) for x in self.side[jl][:, i0]], [v for v in rows if (v, i0) in slid],
                                 [v for v in rows if (jl, v, i0) in self.pinned])
            if u is None and jl == j0 - 1:  # (or the one unit that feeds the entry above through a weight not 0)
                zero = (self.y[j0][u0] == 0) & (self.lo[j0][u0] == 0)
                u = sole_feeding_unit([int(x) for x in self.side[jl][:, i0]], zero,
                                      [v for v in rows if (v, i0) in slid])
            if u is None or (jl, u, i0) in skip or self.dead[jl][u, i0]:
                continue
            s = _first_root_1d(self.side[jl][u, i0] * w[self.watch[jl]][:, u, i0], h)
            if s is not None and s - s0 <= tol:
                return s, ("z", jl, u, i0)
        return best

    def _unpin_within_bar(self, j: int, u: int, i: int, t: float, rates: list[tuple[float, float, float]],
                          gz: float) -> None:
        """The rates' check of :meth:`_rates_within_bar` for a pinned entry that another switch set moving
        (decided from no side): its decision instant is that switch's, so the exact flow decides it within
        D = err + τ·V of the computed state, τ the largest switching-time uncertainty of the kinks decided
        at this instant (``_trigger_tau``: a kink's z̄/|ż_pre|, or a weight's leave, bar_μ/|μ̇|,
        :meth:`numerics.float_sliding_bounds.SlidingBounds._leave_tau`). Not checked when no switch of the
        instant was decided against a bar (docs/theory.md F, "The rates' signs against the error bar")."""
        from .kink_flows import UnsupportedKinkError

        if self._trigger_tau is None:
            return
        bars = self._rate_bars(j, u, i, rates, None, gz, tau=self._trigger_tau)
        if bars is not None and any(abs(r) <= bar for (r, *_), bar in zip(rates, bars)):
            raise UnsupportedKinkError(
                f"t = {t:.17g}: unit {u} of layer {j + 1} on sample {i}, pinned at its kink and set moving by "
                f"another switch: its rates ({', '.join(f'{r:.3g}' for r, *_ in rates)}) are within the run's "
                f"error bar ({max(bars):.3g}) of 0, so the exact flow may decide it otherwise; use the arb tier (dps=...)")

    def _weightless_within_bar(self, left: list, out: list[float], F: list, fr: float, t: float) -> None:
        """Refuse where an entry that left sliding because no weight holds it (:meth:`_weightless_rows`) has a rate
        within the run's error bar of 0: the exact flow may send it the other way, and the candidate's mode (its
        rate at the kink) or the outcome's would be another. ``left``, ``out``: a candidate's (or the outcome's)
        entries that left and their σż; F its field, ``fr`` that field's rounding. The bar is the rates' bar of
        :meth:`_rates_within_bar` at this decision's switching-time uncertainty (as :meth:`_unpin_within_bar`:
        a decision at another switch's instant); none without a carried error (as there)."""
        from .kink_flows import UnsupportedKinkError

        tau = self._bar_tau if self._bar_tau is not None else self._trigger_tau
        if tau is None:
            return
        Fn = _norm(F)
        for (jj, uu, ii, s), r in zip(left, out):
            if (jj, uu, ii) not in self._weightless:
                continue
            gz = _norm(self._grad_z(jj + 1, uu, ii))
            bars = self._rate_bars(jj, uu, ii, [(r, Fn, fr)], None, gz, tau=tau)
            if bars is not None and abs(r) <= bars[0]:
                raise UnsupportedKinkError(
                    f"t = {t:.17g}: unit {uu} of layer {jj + 1} on sample {ii} slides with no weight holding it and "
                    f"leaves to side {s:+d} on its rate ({s * r:.3g}), which is within the run's error bar "
                    f"({bars[0]:.3g}) of 0: the exact flow may send it the other way; use the arb tier (dps=...)")

    def _rate_bars(self, j: int, u: int, i: int, rates: list[tuple[float, float, float]], pre: float | None,
                   gz: float, tau: float | None = None) -> list[float] | None:
        """For each (ż, ‖F‖, e_F) of ``rates``: a bound on |ż − ż_exact|, ż_exact the same region's rate at
        the exact flow's switching point (:meth:`_rates_within_bar`), with the rate's own rounding: the
        field's (e_F and the relative term u·(d + 2)‖F‖ of the local error, d the longest inner product of
        the pass), ∇z's (u·n‖∇z‖, n as in :meth:`_switch_z`) and the inner product ∇z·F's (u·P‖∇z‖‖F‖,
        P the parameters) — the tier's relative model for interior products (docs/theory.md F); None when
        the run carries no error bound. ``pre`` None: a decision at another switch's instant, whose
        switching-time uncertainty ``tau`` replaces z̄/|ż_pre| (:meth:`_unpin_within_bar`); otherwise that
        quotient is left in ``self._bar_tau``."""
        from .hessian_lipschitz import derivative_factors, hessian_norm_bound, input_norms

        err = self._bar_err
        if err is None or self._lip_norms is None or pre == 0 or (pre is None and tau is None):
            return None
        s, loss_bound = self._lip_norms
        if self._xn is None:
            self._xn = input_norms(self.obj)
        x = float(self._xn[i])
        d1, d2, _ = derivative_factors(s[: j + 1])
        b2 = hessian_norm_bound(self.obj, s, loss_bound, jacobian=self._jb, xn=self._xn)
        if pre is not None:
            zbar = self._switch_z(j, u, i, gz) + x * (d1 * err + 0.5 * d2 * err * err)
            tau = self._bar_tau = zbar / abs(pre)
        D = (err + tau * self._bar_speed) * (1 + 8 * EPS)
        return [((x * d2 * (Fn + b2 * D) + x * d1 * b2) * D + rho) * (1 + 8 * EPS)
                for (_, Fn, _), rho in zip(rates, self._rate_rounding(j, rates, gz))]

    def _rate_rounding(self, j: int, rates: list[tuple[float, float, float]], gz: float) -> list[float]:
        """For each (ż, ‖F‖, e_F) of ``rates``: a bound on the rounding of the computed ż = ∇z·F of entry
        z_{j+1}[·, i] — the field's (e_F, and the relative term u(d + 2)‖F‖ of the local error, d the pass's
        longest inner product), ∇z's (u·n‖∇z‖, n the summed fan-ins and two per layer up to z) and the inner
        product's (u·P‖∇z‖‖F‖, P the parameters), in the tier's relative model for interior products
        (docs/theory.md F, "The rates' signs against the error bar")."""
        Ws = self.y[0::2] if self.bias else self.y
        n_g = sum(W.shape[1] + 2 for W in Ws[: j + 1])
        n_rel = self.series.dmax + 2 + n_g + sum(y.size for y in self.y)
        return [gz * (eF + EPS * n_rel * Fn) * (1 + 8 * EPS) for _, Fn, eF in rates]

    def _saltation_inputs_error(self, j: int, u: int, i: int, t: float, pre: tuple, F_post: list[np.ndarray],
                                e_post: float, dF: float, gz: float) -> float:
        """≥ ‖S* − Ŝ‖₂ for the saltation matrix of the kink of z_{j+1}[u, i], S* from the exact ΔF, ż_pre, ∇z at the
        computed state (:func:`numerics.saltation.saltation_inputs_error`), with e_ΔF from both fields' error bars
        (``field_error``), their relative terms u(d + 2)‖F‖ and the difference's rounding; e_ż the rate's bar
        (:meth:`_rate_rounding`); e_v = u·n‖∇z‖ (n the summed fan-ins and two per layer up to z, as there).
        ``pre`` = (ż_pre, F_pre, e_pre). Refused where the rate before the kink has no sign within its bar (S
        unbounded; not met at a decided kink, whose rates are outside their bars)."""
        from .kink_flows import UnsupportedKinkError

        z, F_pre, e_pre = pre
        n_pre, n_post = _norm(F_pre), _norm(F_post)
        e_dF = e_pre + e_post + EPS * (self.series.dmax + 2) * (n_pre + n_post) + EPS * dF
        e_z = self._rate_rounding(j, [(z, n_pre, e_pre)], gz)[0]
        Ws = self.y[0::2] if self.bias else self.y
        ds = saltation_inputs_error(z, dF, gz, e_dF, e_z, EPS * sum(W.shape[1] + 2 for W in Ws[: j + 1]) * gz)
        if not math.isfinite(ds):
            raise UnsupportedKinkError(
                f"t = {t:.17g}: unit {u} of layer {j + 1} on sample {i}: the rate the flow arrives with ({z:.3g}) "
                "is within its rounding, so the saltation of this kink is not bounded in float64; use the arb tier "
                "(dps=...)")
        return ds

    def _location_error(self, j: int, u: int, i: int, dF: float, pre: float, gz: float, sliding: bool = False) -> float:
        """The error of switching the field where the computed state's z_{j+1}[u, i] is not exactly 0
        (docs/theory.md F, "Where the computed state switches"): the event is the root of z's series
        (orders < p) while the state takes order p too, so z(θ_c(t_e)) = z_c ≠ 0 — by the state's last
        term, ~rtol·‖∇z‖·s — and the exact switch lies τ = −z_c/ż_pre away, over which the two flows use
        fields ΔF apart: ‖ΔF‖·|z_c|/|ż_pre| (first order in τ). Entering sliding, the computed state also
        stays |z_c|/‖∇z‖ off the sliding surface. |z_c| is bounded by the value of a one-sample forward pass
        at hi in extended precision (numpy's longdouble: the float64 data are exact in it), its rounding
        γ_n·(the same pass on absolute values; n the summed fan-ins and two per layer; γ in the longdouble
        unit, float64's where longdouble is double), and ‖∇z‖·‖lo‖ (the state is hi + lo)."""
        zc = self._switch_z(j, u, i, gz)
        err = dF * zc / abs(pre) if pre != 0 else math.inf
        if sliding:
            err += zc / gz if gz > 0 else math.inf
        return err * (1 + 8 * EPS)

    def _field_jump(self, j: int, u: int, i: int, to_side: int) -> list[np.ndarray]:
        """F(entry (j, u, i) on ``to_side``) − F(as it is): sample i's gradient under both patterns."""
        masks = [self.maskv[m.layer][:, i:i + 1].copy() for m in self.masks]
        cur = sample_gradient_columns(self.obj, self.y, i, masks)
        masks[j][u, 0] = 1.0 if to_side > 0 else self.alpha
        new = sample_gradient_columns(self.obj, self.y, i, masks)
        return [self.series.sign * (a - b) for a, b in zip(new, cur)]

    def _lift(self, j: int, u: int, i: int, rad: float = 0.0) -> dict[int, np.ndarray] | None:
        """The sides of the entries above unit u of hidden layer j + 1 on sample i when its switch on lifts the
        sample's column there from zero (:func:`numerics.kink_events.lifted_column_sides`; docs/theory.md E1, "A
        column lifted from zero"), or None where it does not. ``rad``: how far the exact weights may lie from the
        computed ones (the run's error at the switch); a sign within it is refused. The arb tier's is
        :meth:`numerics.kink_pins.PinnedKinks._lift`."""
        from .kink_events import lifted_column_sides

        H = len(self.side)
        if self.bias or self.alpha != 0 or j >= H - 1:
            return None
        return lifted_column_sides(self._sample_columns(i), self.y[1:H], j, u, rad,
                                   where=f"t = {getattr(self, '_clock', 0.0):.17g}, sample {i}: ",
                                   hint="the arb tier (dps=...) decides it with its own, smaller error")

    def _sample_columns(self, i: int) -> list[tuple[np.ndarray, list[int], list[int]]]:
        """Sample i's column of every hidden layer as (sides, sliding units, pinned units): the argument of
        :func:`numerics.kink_events.zero_column_sides` and :func:`numerics.kink_events.lifted_column_sides`."""
        H = len(self.side)
        slid = [self.series.slide.get(l + 1, {}) for l in range(H)]
        return [(self.side[l][:, i], [v for (v, c) in slid[l] if c == i],
                 [v for (jj, v, c) in self.pinned if jj == l and c == i]) for l in range(H)]

    def _apply_lift(self, lift: dict[int, np.ndarray], i: int, t: float | None) -> None:
        """Give the entries above a lifted column on sample i their sides (:meth:`_lift`); with ``t``, record a
        "cross" for each whose side changes (in layer and unit order, after the lifting unit's own) and mark every
        one of them just switched: their z is the lifting unit's z times a weight, so its order-0 value is that
        unit's rounding, which the event search must not read as a root (``skip``, as after any switch)."""
        for k, sides in sorted(lift.items()):
            changed = np.flatnonzero(self.side[k][:, i] != sides)
            self.side[k][:, i] = sides
            self._set_mask(k)
            if t is None:
                continue
            for v in changed:
                self._record(t, "cross", k, int(v), i)
            for v in range(len(sides)):
                self.skip[(k, v, i)] = 1

    def _lone_fast(self, j: int, u: int, i: int, t: float, from_side: int, p_next: int) -> float | None:
        """The lone crossing of z_{j+1}[u, i] from ``from_side`` with the next step's pass (module
        docstring): returns the saltation factor and leaves the pass in ``_next_pass``, or None (the entry
        as it was) when the rates do not say "crossing"."""
        to = -from_side
        g = self._grad_z(j + 1, u, i)
        dF = self._field_jump(j, u, i, to)
        self.side[j][u, i] = to
        self.maskv[j + 1][u, i] = 1.0 if to > 0 else self.alpha
        ys, w = self._pass(p_next, self.watch, field_error=True)
        fr, lf = self.series.field_error, self.series.local_field  # (the rates' bar; the local error's term)
        F_post = [Y[1] for Y in ys]
        post = sum(float(np.vdot(f, v)) for f, v in zip(F_post, g))
        pre = sum(float(np.vdot(f - d, v)) for f, d, v in zip(F_post, dF, g))
        # the general path's tests, in its terms (a: the rate under mask α, b: under mask 1)
        a, b = (pre, post) if from_side < 0 else (post, pre)
        crossing = a * b > 0 and (1 if a > 0 else -1) == to and min(abs(a), abs(b)) > 1e-10 * max(abs(a), abs(b))
        if not crossing:
            self.side[j][u, i] = from_side
            self._set_mask(j)
            return None
        self._pre_field = [f - d for f, d in zip(F_post, dF)]  # F_from at the event (the end-defect check)
        # the arriving field is F_post − ΔF: its rounding adds ΔF's (one sample's two gradients) to the pass's
        ndF, gz = _norm(dF), _norm(g)
        pre_rate = (pre, _norm(self._pre_field), fr + EPS * (self.series.dmax + 2) * ndF)
        post_rate = (post, _norm(F_post), fr)
        self._rates_within_bar(j, u, i, t, [pre_rate, post_rate] if from_side < 0 else [post_rate, pre_rate],
                               pre, gz)
        return self._crossed(j, u, i, [i], t, (p_next, ys, w, lf), pre, post, dF, g, (self._pre_field, pre_rate[2]),
                             (F_post, fr))

    def _crossed(self, j: int, u: int, i: int, samples: list[int], t: float, next_pass: tuple, pre: float,
                 post: float, dF: list, g: list, before: tuple, after: tuple) -> float:
        """The end of a crossing decided with the next step's pass (lone, or a group's): the entries of unit u on
        ``samples`` marked switched and recorded (in sample order: which entry the locator met first is
        rounding), the pass kept for the next step, the window's (κ, η, v̂), the location error of z_{u,i}, and
        the saltation factor. ``before``, ``after``: (F, its error bar) of the two fields; the saltation's error
        from its inputs' (:meth:`_saltation_inputs_error`) joins η and the factor."""
        for c in sorted(samples):
            self.skip[(j, u, c)] = 1
            self._record(t, "cross", j, u, c)
        self._next_pass = next_pass
        ndF, gz = _norm(dF), _norm(g)
        ds = self._saltation_inputs_error(j, u, i, t, (pre, *before), after[0], after[1], ndF, gz)
        kappa, eta, vhat = lone_saltation(pre, dF, g)
        self._lone = (kappa, (eta + ds) * (1 + 2 * EPS), vhat)
        self._event_err = self._location_error(j, u, i, ndF, pre, gz)
        return saltation_norm(pre, post, ndF, gz) + ds

    def _group_cross(self, j: int, u: int, i: int, t: float, from_side: int, p_next: int,
                     group: list[tuple[int, float]]) -> float:
        """The kink of z_{j+1}[u, i] reached from ``from_side`` where other samples' entries of the unit share
        its surface (``group``: (i′, κ) with z_{u,i′} = κ·z_{u,i}, :func:`numerics.kink_events.coincident_group`),
        decided from the two regions that meet there (docs/theory.md E1, "Entries that share one kink
        surface"): F_from (the masks as they are) and F_to, every entry of the group flipped — sample i to
        the other side, sample i′ to the side of sign κ·(−from_side). Their difference is the sum of the
        group's one-sample gradient changes, ΔF = Σ_c ΔF_c, and the next step's pass is run in the flipped
        pattern, as for a lone crossing (module docstring). With ż = ∇z_i·F under each: both of the other
        side's sign — the group crosses (a "cross" event per entry; the saltation is rank one, I + ΔF∇z_iᵀ/ż_from,
        ΔF along ∇z_i since every ΔF_c is along ∇z_c = κ_c∇z_i on the surface); both of ``from_side``'s — a touch
        (z came to 0 and the field takes it back: the entry is skipped, as a lone touch); into the surface from
        both regions — the group slides with one weight (:meth:`_group_slide`; all κ > 0, else refused). A
        repelling group has no unique flow and raises, as does a group whose entries' rates are not κ_c times
        sample i's (the surfaces then only meet at this point, and are not one), and rates within the error
        bar or their rounding (:meth:`_rates_within_bar`). A group whose mask-α region does not move z (rate
        exactly 0) is pinned there, as a lone entry is."""
        from .kink_events import UnsupportedKinkError, group_verdict

        to = -from_side
        members = [(i, 1.0)] + list(group)
        names = [c for c, _ in members]
        what = f"t = {t:.17g}: unit {u} of layer {j + 1} on samples {names} (one kink surface)"

        def set_sides(side: int) -> None:
            for c, kap in members:
                self.side[j][u, c] = side if kap > 0 else -side
            self._set_mask(j)

        grads = [self._grad_z(j + 1, u, c) for c in names]
        jumps = [self._field_jump(j, u, c, to if kap > 0 else from_side) for c, kap in members]
        dF = [sum(parts) for parts in zip(*jumps)]
        set_sides(to)
        ys, w = self._pass(p_next, self.watch, field_error=True)
        fr, lf = self.series.field_error, self.series.local_field  # (the rates' bar; the local error's term)
        F_post = [Y[1] for Y in ys]
        F_pre = [f - d for f, d in zip(F_post, dF)]

        def rate(F: list, g: list) -> float:
            return sum(float(np.vdot(f, v)) for f, v in zip(F, g))
        g = grads[0]
        pre, post = rate(F_pre, g), rate(F_post, g)
        ndF, gz = _norm(dF), _norm(g)
        # ΔF's rounding: each ΔF_c's as a lone crossing's, (d + 2)u‖ΔF_c‖, and the sum's γ_m·Σ‖ΔF_c‖ (m members)
        pre_rate = (pre, _norm(F_pre), fr + EPS * (self.series.dmax + 2 + len(members)) * sum(_norm(x) for x in jumps))
        post_rate = (post, _norm(F_post), fr)
        self._check_proportional(j, u, i, t, members, [_norm(gc) for gc in grads],
                                 [([rate(F, gc) for gc in grads], rr) for F, rr in ((F_pre, pre_rate), (F_post, post_rate))])
        if from_side > 0 and post == 0 and pre < 0 and all(kap > 0 for _, kap in members):
            # the group's pin (as a lone entry's, _kink_entry): the mask-α region's field does not move z at all
            # (every path from these entries to the parameters meets a zero mask: exactly 0 in float too), so
            # λ = 0 and the flow goes on with it, z held at 0; decided again, from no side, if another switch
            # sets it moving — and refused then (a group reached from no side). The switch's place matters as
            # at any crossing (saltation with post rate 0; the computed state stays |z_c|/‖∇z‖ off the surface)
            for c in sorted(names):  # (in sample order: which entry the locator met first is rounding)
                self.pinned.add((j, u, c))
                self._record(t, "cross", j, u, c)
            self._pre_field = F_pre
            self._next_pass = (p_next, ys, w, lf)
            self._event_err = self._location_error(j, u, i, ndF, pre, gz, sliding=True)
            return saltation_norm(pre, 0.0, ndF, gz)
        rates = [pre_rate, post_rate] if from_side < 0 else [post_rate, pre_rate]
        if pre == 0 or post == 0 or any(abs(r) <= rho for (r, *_), rho in zip(rates, self._rate_rounding(j, rates, gz))):
            raise UnsupportedKinkError(f"{what} meets it tangentially in float64 (rates {pre:.3g}, {post:.3g}, within "
                                       "their rounding); use the arb tier (dps=...)")
        self._rates_within_bar(j, u, i, t, rates, pre, gz)
        verdict = group_verdict(what, pre * to > 0, post * to > 0)
        if verdict == "slide":
            return self._group_slide(j, u, i, t, from_side, members, pre, post, F_pre, gz)
        if verdict == "touch":  # the group's field takes z back
            set_sides(from_side)
            self.skip[(j, u, i)] = 1
            return 1.0
        self._pre_field = F_pre  # F_from at the event (the end-defect check)
        return self._crossed(j, u, i, names, t, (p_next, ys, w, lf), pre, post, dF, g, (F_pre, pre_rate[2]),
                             (F_post, fr))

    def _check_proportional(self, j: int, u: int, i: int, t: float, members: list, gnorms: list[float],
                            cands: list[tuple[list[float], tuple[float, float, float]]]) -> None:
        """One surface: ż_c = κ_c·ż_i under each region's field (z_c = κ_c(θ)·z_i(θ) and z_i = 0), for the
        ``members`` (sample, κ) (sample i first) with gradient norms ``gnorms``; ``cands``: per field, the
        members' rates and (ż_i, ‖F‖, F's rounding bound). The computed rates carry their rounding
        (_rate_rounding, with each member's ‖∇z_c‖; κ_c's own is a few units relative, and the inputs of a true
        group are parallel to their rounding, which the same model covers); a relative mismatch of 1e-3 on top
        is far above that and far below what distinct surfaces meeting at this point would show but by design
        (a corner of several regions: refused; a stricter cut-off would only refuse more)."""
        from .kink_events import UnsupportedKinkError

        gz = gnorms[0]
        for zs, rr in cands:
            for (c, kap), gcn, rc in zip(members[1:], gnorms[1:], zs[1:]):
                rho = self._rate_rounding(j, [rr], gcn)[0] + abs(kap) * self._rate_rounding(j, [rr], gz)[0]
                if abs(rc - kap * rr[0]) > 2 * rho + 1e-3 * (abs(rc) + abs(kap * rr[0])):
                    raise UnsupportedKinkError(
                        f"t = {t:.17g}: unit {u} of layer {j + 1} on samples {[c for c, _ in members]}: the entries' "
                        "inputs are parallel here but their rates are not proportional — distinct kink surfaces meeting "
                        "at this point (a corner of several regions), not supported; use the arb tier (dps=...)")

    def _proportional_rates(self, j: int, u: int, i: int, t: float, members: list, cands: tuple) -> None:
        """:meth:`_check_proportional` on the candidates of :meth:`numerics.float_taylor._FloatFlow._rates`
        (their passes' rates of the unit on every sample)."""
        gnorms = [_norm(self._grad_z(j + 1, u, c)) for c, _ in members]
        self._check_proportional(j, u, i, t, members, gnorms,
                                 [([float(c["unit"][m]) for m, _ in members], (c["rate"], _norm(c["F"]), c["fr"]))
                                  for c in cands])

    def _group_slide(self, j: int, u: int, i: int, t: float, from_side: int, members: list, pre: float, post: float,
                     F_pre: list, gz: float) -> float:
        """A group of entries on one shared surface attracted from both regions: Filippov sliding with one
        weight λ for all its masks (docs/theory.md E1, "Entries that share one kink surface"): sample i's mask
        μ = α + (1 − α)λ, λ = a/(a − b) to start (a, b the rates under the region where sample i has mask α and
        the one where it has mask 1), a member with κ > 0 the same μ, one with κ < 0 (on the other side of the
        surface) the complementary 1 + α − μ; one unknown and one constraint in the weights' solve (``_tie``),
        and a "leave sliding" of the whole group when the weight reaches α or 1. Saltation as for a lone entry
        entering sliding (post rate 0; the state stays |z_c|/‖∇z‖ off the surface)."""
        a, b = (pre, post) if from_side < 0 else (post, pre)
        mu0 = self.alpha + (1 - self.alpha) * a / (a - b)
        for c, kap in sorted(members):
            self.side[j][u, c] = -1
            self.series.slide.setdefault(j + 1, {})[(u, c)] = [mu0 if kap > 0 else 1 + self.alpha - mu0]
            self._tie[(j, u, c)] = ((j, u, i), 1 if kap > 0 else -1)
            self._record(t, "enter sliding", j, u, c)
        self._set_mask(j)
        _, F_post, _ = self._field(j, u, i, [])
        dF = math.sqrt(sum(float(np.sum((x - y) ** 2)) for x, y in zip(F_post, F_pre)))
        self._pre_field = F_pre
        self._event_err = self._location_error(j, u, i, dF, pre, gz, sliding=True)
        return saltation_norm(pre, 0.0, dF, gz)
