"""The float tier's Filippov sliding: the weights μ(t) of sliding entries as mask series, and the mode
of the sliding set at simultaneous kinks — the part of :mod:`numerics.float_taylor` that mirrors the
arb tier's sliding machinery (:mod:`numerics.kink_flows`).

* μ_0 from ż_s = 0 (Newton on order-0 passes, exact in one step when the constraints are affine in the
  μ's) with the order-0 sensitivities D_s = ∂(node)/∂μ_s; μ_k after each order k from [ż_s]_k = 0 (the
  series' ``after_order`` hook; docs/theory.md E1);
* the consistent mode of the entries at their kinks (:mod:`numerics.active_sets`, through
  :class:`_FloatModes`);
* a weight reaching α or 1 leaves sliding (:meth:`FloatSliding._leave`)
* (the error bound of a sliding step: :mod:`numerics.float_sliding_bounds`).

:class:`FloatSliding` is a mixin of :class:`numerics.float_taylor._FloatFlow`: it reads the flow's
``series``, ``y``, ``side``, ``maskv``, ``alpha``, ``zdot``, ``skip`` and ``events``.
"""

from __future__ import annotations

import itertools
import math
from typing import Callable, Sequence

import numpy as np

from .float_steps import EPS
from .kink_surfaces import split_groups, split_surface_error


class _FloatModes:
    """The float tier's state operations for :mod:`numerics.active_sets` (keys (j, u, i): hidden layer
    j + 1, unit u, sample i; weights in ``series.slide``)."""

    def __init__(self, flow: "FloatSliding") -> None:
        self.f = flow

    def snapshot(self) -> tuple:
        return self.f._snapshot()

    def restore(self, snap: tuple) -> None:
        self.f._restore(snap)

    def solve(self) -> None:
        sl = self.f._sliding()
        if sl:
            self.f._solve_mu0(sl)

    def out_of_range(self, k: tuple) -> int:
        mu0 = self.f.series.slide[k[0] + 1][k[1:]][0]
        return -1 if mu0 < self.f.alpha else 1 if mu0 > 1 else 0

    def rates(self) -> Callable[[tuple], float]:
        nodes = self.f._nodes0()
        return lambda k: float(nodes[self.f.zdot[k[0]]][k[1], k[2]])

    def leave(self, k: tuple, side: int) -> None:
        # k is a group's representative (or a lone entry): every member leaves, one with σ = −1 to the other side;
        # the ties stay while the mode is settled (a member may slide again), _settle drops those of groups that left
        for (j, u, i), sg in self.f._group_of(k):
            S = self.f.series.slide.get(j + 1, {})
            S.pop((u, i), None)
            if not S:
                self.f.series.slide.pop(j + 1, None)
            self.f.side[j][u, i] = side * sg
            self.f._set_mask(j)

    def slide(self, k: tuple, from_side: int) -> None:
        # from the weight at the side it had left to: 1 or α for the representative, the complementary 1 + α − μ
        # (α or 1) for a member with σ = −1
        for (j, u, i), sg in self.f._group_of(k):
            self.f.series.slide.setdefault(j + 1, {})[(u, i)] = [1.0 if from_side * sg > 0 else self.f.alpha]
            self.f.side[j][u, i] = -1
            self.f._set_mask(j)

    def describe(self, k: tuple) -> str:
        return f"unit {k[1]} of layer {k[0] + 1} on sample {k[2]}"

    def field(self) -> tuple[list[np.ndarray], float]:
        # F = θ' at the state (order-1 coefficients; μ_0 as solved) and the bound e_F of its rounding that the
        # relative term misses (numerics.float_rounding); the caller's passes set their own field_error afterwards
        ys, _ = self.f.series.run(self.f.y, 1, (), field_error=True)
        return [Y[1].copy() for Y in ys], self.f.series.field_error

    def same_field(self, a: tuple, b: tuple) -> bool:
        # each field within e_F + u(d + 3)‖F‖ of its exact value (the tier's relative model, as its rates' rounding:
        # numerics.float_crossings._rate_rounding), the difference rounded once more
        from .float_crossings import _norm

        (Fa, ea), (Fb, eb) = a, b
        bar = ea + eb + EPS * (self.f.series.dmax + 3) * (_norm(Fa) + _norm(Fb))
        return _norm([x - y for x, y in zip(Fa, Fb)]) <= bar * (1 + 8 * EPS)

    def keep(self) -> tuple:
        f = self.f
        return (f._snapshot(), getattr(f, "_D", None), getattr(f, "_A", None), getattr(f, "_sl", None),
                getattr(f, "_members", None), set(f._weightless))

    def put_back(self, kept: tuple) -> None:
        snap, self.f._D, self.f._A, self.f._sl, self.f._members, weightless = kept
        self.f._restore(snap)
        self.f._weightless.clear()
        self.f._weightless.update(weightless)

    def unverified(self) -> None:
        self.f.modes_unverified += 1

    def watch_rate(self, k: tuple, field: tuple) -> tuple[float, float, float]:
        # (ż, ‖F‖, e_F) of entry k under the current mode, as the kink's decision reads its rates (its bars and the
        # rounding bound: numerics.float_crossings)
        from .float_crossings import _norm

        F, eF = field
        return self.rates()(k), _norm(F), eF

    def defer(self, message: str, rates: list, certified: bool) -> None:
        self.f._branches = (message, rates, certified)

    def strict(self, K: list, status: dict) -> bool:
        # the float tier's weights carry no bound of their error (Newton on float rates), so no mode is certified:
        # its branches stay refusals (UnsupportedKinkError); the arb tier certifies them (numerics.kink_modes)
        return False

    def jacobian(self, K: list) -> object:
        """M = −∂ż_K/∂μ_K as balls (:func:`numerics.active_sets.p_certified`), or None where ż_K is not known to be
        affine in μ_K: entries of K (or of their groups) in more than one layer, or a column of K's layer zeroed
        over a sliding unit (the rule of :meth:`FloatSliding._zero_columns` then depends on the mode). In one
        layer the forward pass does not see the weights (their z are 0) and the backward pass meets their masks
        once, so ż_K = c + Aμ exactly (docs/theory.md E1). A_rs = ż_r(μ + e_s) − ż_r(μ), each rate from an
        order-1 pass with its field's rounding bound; the ball of A_rs holds the exact difference: ρ_r of both
        rates (:meth:`numerics.float_crossings.FloatCrossings._rate_rounding`, the tier's model of its rates'
        rounding) and the subtraction's."""
        import flint

        from .float_crossings import _norm

        f = self.f
        members = [f._group_of(k) for k in K]
        layers = {m[0] for g in members for m, _ in g}
        if len(layers) != 1:
            return None
        (j,) = layers
        H = len(f.side)
        if not (f.bias or f.alpha != 0 or H < 2 or j >= H - 1) and any(
                np.all(f.side[j][:, i] < 0) for g in members for (_, _, i), _ in g):
            return None
        gz = [_norm(f._grad_z(j + 1, u, i)) for (_, u, i) in K]

        def rates() -> tuple[list[float], list[float]]:
            ys, w = f.series.run(f.y, 1, [f.zdot[j]], True)
            Fn, eF = _norm([Y[1] for Y in ys]), f.series.field_error
            Z = w[f.zdot[j]][0]
            return ([float(Z[u, i]) for (_, u, i) in K],
                    [f._rate_rounding(j, [(0.0, Fn, eF)], g)[0] for g in gz])

        # ż_K is affine in the weights, so A does not depend on where it is taken: at every weight 1/2, where the
        # unit bumps 1/2 ± 1 are exact in float (a bump fl(μ + 1) − μ ≠ 1 would scale a column by 1 + O(u|μ|))
        keys = [(jj + 1, (u, i)) for g in members for (jj, u, i), _ in g]
        kept = [f.series.slide[L][key][0] for L, key in keys]
        for L, key in keys:
            f.series.slide[L][key][0] = 0.5
        r0, rho0 = rates()
        cols = []
        for g in members:
            for (jj, u, i), sg in g:
                f.series.slide[jj + 1][(u, i)][0] = 0.5 + sg
            cols.append(rates())
            for (jj, u, i), _ in g:
                f.series.slide[jj + 1][(u, i)][0] = 0.5
        for (L, key), mu in zip(keys, kept):
            f.series.slide[L][key][0] = mu
        n = len(K)
        return flint.arb_mat([[flint.arb(r0[r] - cols[s][0][r], rho0[r] + cols[s][1][r]
                                         + 2 * EPS * (abs(r0[r]) + abs(cols[s][0][r])))
                               for s in range(n)] for r in range(n)])


class FloatSliding:
    """Sliding weights and modes for the float tier's flow (module docstring)."""

    # -- sliding (Filippov weights as mask series, as in numerics.kink_flows) ----------------------
    def _sliding(self) -> list[tuple[int, int, int]]:
        return [(L - 1, u, i) for L, S in self.series.slide.items() for (u, i) in S]

    def _pass(self, order: int, watched: Sequence[int], field_error: bool = False) -> tuple[list, dict]:
        """One series pass; with entries sliding, μ_0 is solved first and μ_k after each order k
        (``field_error``: :meth:`numerics.float_series.FloatSeries.run`)."""
        sl = self._sliding()
        if sl:
            self._solve_mu0(sl)
            for S in self.series.slide.values():
                for key in S:
                    S[key] = S[key][:1]
            self.series.after_order = self._after_order
            watched = list(watched) + [z for z in self.zdot if z not in watched]  # the constraints read ż
        try:
            return self.series.run(self.y, order, watched, field_error)
        finally:
            self.series.after_order = None

    def _nodes0(self) -> dict:
        out = self.series.run(self.y, 1, range(len(self.series.ops)))[1]
        return {i: (v if self.series.const[i] else v[0]) for i, v in out.items()}

    def _solve_mu0(self, sl: list) -> None:
        """μ_0 of the sliding entries from ż_s = 0 (Newton on order-0 passes; exact in one step when the
        constraints are affine in the μ's), and the sensitivities D_s = ∂(node)/∂μ_s (order 0), which
        are also the derivatives of order k in μ_k (numerics.kink_flows). The entries of a group sliding on
        one shared surface (``_tie``: member → (its representative, σ); docs/theory.md E1, "Entries that share
        one kink surface") have one weight: one unknown and one constraint (the representative's ż; the
        members' are multiples of it). A member with σ = +1 carries the representative's μ, one with σ = −1
        (on the other side of the surface: κ < 0) the complementary 1 + α − μ, so the group's unknown moves
        every member's μ_0 by σ and its μ_k (k ≥ 1) is σ times the representative's."""
        from .kink_flows import UnsupportedKinkError

        self._zero_columns(sl)
        reps = [k for k in sl if self._tie.get(k, (k, 1))[0] == k]
        members = {r: [(k, self._tie.get(k, (k, 1))[1]) for k in sl if self._tie.get(k, (k, 1))[0] == r] for r in reps}
        prev = math.inf
        for _ in range(8):
            for S in self.series.slide.values():
                for key in S:
                    S[key] = S[key][:1]
            base = self._nodes0()
            D = []
            for r in reps:
                for (j, u, i), sg in members[r]:
                    self.series.slide[j + 1][(u, i)][0] += sg
                bumped = self._nodes0()
                for (j, u, i), sg in members[r]:
                    self.series.slide[j + 1][(u, i)][0] -= sg
                D.append({k: bumped[k] - v for k, v in base.items()
                          if not self.series.const[k] and np.any(bumped[k] != v)})
            r = np.array([base[self.zdot[j]][u, i] for (j, u, i) in reps])
            A = np.array([[D[c].get(self.zdot[j], np.zeros_like(base[self.zdot[j]]))[u, i] for c in range(len(reps))]
                          for (j, u, i) in reps])
            self._weightless_rows(reps, A, r)
            try:
                delta = np.linalg.solve(A, -r)
            except np.linalg.LinAlgError:
                raise UnsupportedKinkError(f"{self._now()}the Filippov weights of the sliding entries ({self._names(sl)}) "
                                           "are not determined (degenerate sliding constraints)") from None
            for c, rep in enumerate(reps):
                for (j, u, i), sg in members[rep]:
                    self.series.slide[j + 1][(u, i)][0] += sg * float(delta[c])
            big = float(np.abs(delta).max())
            scale = max(1.0, max(abs(self.series.slide[j + 1][(u, i)][0]) for j, u, i in sl))
            if big <= 1e-15 * scale:
                break
            # at the rounding floor: Newton has stopped contracting, and the correction is within a linear solve's
            # forward error, cond(A)·u relative, with a margin of 64 for the residual's own rounding (a sum over the
            # tape's terms). Seen: two layer-2 units sliding on one sample of a leaky (α = −1/2) net, cond 39,
            # corrections cycling at 2.3e-15 (soak of 2026-12-05, square seed 18)
            if big >= prev / 2 and big <= 64 * EPS * float(np.linalg.cond(A)) * scale:
                break
            prev = big
        else:
            # until 2026-12-05 the weights were used as they stood after 8 steps: a field the error bound knows
            # nothing about (its sliding entries' ż not 0) if Newton had not converged — diverging, or stuck above
            # the floor above. Not seen in the tests or the soaks; refused now, as the arb tier refuses
            # (numerics.kink_flows._KinkFlow._solve_mu0)
            raise UnsupportedKinkError(
                f"the Filippov weights of the sliding entries {sl} did not converge (last Newton correction "
                f"{float(np.abs(delta).max()):.3g}); use the arb tier (dps=...)")
        self._D, self._A, self._sl, self._members = D, A, reps, members
        self.series.weights_error = self._weights_error(reps, members)

    def _weights_error(self, reps: list, members: dict) -> float:
        """q ≥ ‖F(θ, μ̂) − F(θ, μ*)‖₂: what the weights μ̂ Newton stopped at put into the field against the exact
        weights μ* of the state (:mod:`numerics.weights_error`), from order-0 float evaluations with their rigorous
        rounding bounds at μ̂, at each unknown bumped by 1 and on the vertices of the monomial supports; a tied
        group's members each bumped too, for their step errors and their mismatch with the group's weight."""
        from .kink_flows import UnsupportedKinkError
        from .float_witness import _LD_RATIO, _LD_WIDER
        from .weights_error import Evaluation, partials_bound, field_bound, supports

        S, m = self.series, len(reps)
        zd = [self.zdot[j] for j, _, _ in reps]
        need = S._need(zd)

        def evaluate(bumps: list, dtype: type = np.float64) -> Evaluation:
            kept = [(key, S.slide[key[0] + 1][key[1:]][0]) for key, _ in bumps]
            for (j, u, i), sg in bumps:
                S.slide[j + 1][(u, i)][0] += sg
            try:
                val, errs = S._order0(self.y, need, None, dtype)
            finally:
                for (j, u, i), mu in kept:  # (μ̂ + σ − σ need not be μ̂: restored as it was)
                    S.slide[j + 1][(u, i)][0] = mu
            g = np.array([val[z][u, i] for z, (_, u, i) in zip(zd, reps)])
            eg = np.array([errs[z][u, i] if np.ndim(errs[z]) else float(errs[z]) for z, (_, u, i) in zip(zd, reps)])
            eF = math.sqrt(sum(float(np.sum(np.broadcast_to(errs[o], np.shape(val[o])) ** 2)) for o in S.outs))
            return Evaluation(g, eg, [val[o] for o in S.outs], eF)

        def bumps(T) -> list:
            return [b for c in T for b in members[reps[c]]]

        T2 = supports([j for j, _, _ in reps], [{c for (_, _, c), _ in members[r]} for r in reps])
        ev = {frozenset(): evaluate([])}
        for T in [frozenset({c}) for c in range(m)] + T2:
            for k in range(1, len(T) + 1):
                for V in map(frozenset, itertools.combinations(sorted(T), k)):
                    if V not in ev:
                        ev[V] = evaluate(bumps(V))
        tie = None
        if any(len(members[r]) > 1 for r in reps):
            # members stored apart: each one's partial (bumped alone), its mismatch τ with the group's weight
            # (σ = 1: μ̂_m − μ̂_r, exact for such close numbers; σ = −1: μ̂_m − (1 + α − μ̂_r), two roundings) and
            # the steps' errors (≤ 2u each) in the group's bumped column
            EA_t, eta_t, q_t = np.zeros((m, m)), np.zeros(m), 0.0
            for c, r in enumerate(reps):
                if len(members[r]) == 1:
                    continue
                mu_r = S.slide[r[0] + 1][r[1:]][0]
                for key, sg in members[r]:
                    dg, dF = partials_bound({frozenset(): ev[frozenset()], frozenset({0}): evaluate([(key, sg)])},
                                         frozenset({0}))
                    mu = S.slide[key[0] + 1][key[1:]][0]
                    ref = mu_r if sg > 0 else 1 + self.alpha - mu_r
                    tau = abs(mu - ref) + (0.0 if sg > 0 else 4 * EPS * (abs(mu) + abs(mu_r) + 1 + abs(self.alpha)))
                    EA_t[:, c] += EPS * dg
                    eta_t += dg * tau
                    q_t += dF * tau
            tie = (EA_t, eta_t, q_t)
        # the exact residual at μ̂, read in longdouble where it is wider (its rounding ≤ r·R; numerics.weights_error,
        # "The residual"), else from the float evaluation and its bound
        if _LD_WIDER:
            ld = evaluate([], np.longdouble)
            resid = (np.abs(ld.g.astype(np.float64)) + _LD_RATIO * ld.eg) * (1 + 2.0**-20)
        else:
            resid = np.abs(ev[frozenset()].g) + ev[frozenset()].eg
        rho, q = field_bound(ev, m, T2, resid, tie)
        if not math.isfinite(q):
            raise UnsupportedKinkError(
                f"{self._now()}the error of the sliding entries' Filippov weights ({self._names(reps)}) cannot be "
                "bounded in float64 (their constraints' Jacobian is singular within its rounding); use the arb "
                "tier (dps=...)")
        return q

    def _now(self) -> str:
        # (the run's clock is the current instant in this tier: set at each step's start and end, before any event)
        t = getattr(self, "_clock", math.nan)
        return f"t = {t:.17g}: " if math.isfinite(t) else ""

    @staticmethod
    def _names(keys: list) -> str:
        return "; ".join(f"unit {u} of layer {j + 1} on sample {i}" for j, u, i in keys)

    def _weightless_rows(self, reps: list, A: np.ndarray, r: np.ndarray) -> None:
        """Raise :class:`numerics.active_sets.WeightlessSliding` for the first representative whose row of A is
        exactly 0: its ż is the same for every weight and no weight holds it at 0 (the zeros are structural —
        each path from a weight to it is multiplied by a mask that is exactly 0 — and float64 computes them
        exactly, but a row computed as 0 is not known to be 0), with the side of
        :func:`numerics.active_sets.weightless_side` (ρ the rate's rounding bound, :meth:`_weightless_rate`),
        None where that is not certain (refused). docs/theory.md E1, "An entry no weight holds"."""
        from .active_sets import WeightlessSliding, weightless_side

        for c, (j, u, i) in enumerate(reps):
            if np.any(A[c] != 0):
                continue
            rate = float(r[c])
            side = weightless_side(rate, self._weightless_rate(j, u, i), False, len(reps))
            if side is not None:
                self._weightless.add((j, u, i))  # (its rate against the run's error: _weightless_within_bar)
            raise WeightlessSliding(
                f"{self._now()}unit {u} of layer {j + 1} on sample {i} slides, but no sliding weight moves its rate "
                f"ż = {rate:.3g}" + ("" if side else ", which is within its rounding of 0: whether it leaves, and to "
                                     "which side, is not decided in float64; use the arb tier (dps=...)"),
                (j, u, i), side)

    def _weightless_rate(self, j: int, u: int, i: int) -> float:
        """A bound on the rounding of the computed ż of z_{j+1}[u, i] (:meth:`_rate_rounding`) under the current
        masks: one order-1 pass with the field's rounding bound."""
        ys, w = self.series.run(self.y, 1, [self.zdot[j]], True)
        F = [Y[1] for Y in ys]
        Fn = math.sqrt(sum(float(np.sum(x * x)) for x in F))
        gz = math.sqrt(sum(float(np.sum(x * x)) for x in self._grad_z(j + 1, u, i)))
        return self._rate_rounding(j, [(0.0, Fn, self.series.field_error)], gz)[0]

    def _zero_columns(self, sl: list) -> None:
        """The entries above a column zeroed over one sliding unit take the Filippov flow's sides
        (:func:`numerics.kink_events.zero_column_sides`; docs/theory.md E1, "A column zeroed over a sliding unit"),
        before the weights are solved: the field does not change, the weight's range does (as the arb tier,
        :meth:`numerics.kink_pins.PinnedKinks._zero_columns`)."""
        from .kink_events import zero_column_sides

        H = len(self.side)
        if self.bias or self.alpha != 0 or H < 2:
            return
        for i in sorted({i for (j, u, i) in sl if j < H - 1}):
            cols = self._sample_columns(i)
            if not any(np.all(c[0] < 0) and c[1] for c in cols[:-1]):
                continue  # no lower column is zero with a unit sliding in it
            where = f"t = {getattr(self, '_clock', 0.0):.17g}, sample {i}: "
            for k, sides in zero_column_sides(cols, self.y[1:H], where=where).items():
                if np.any(self.side[k][:, i] != sides):
                    self.side[k][:, i] = sides
                    self._set_mask(k)

    def _after_order(self, k: int, coef: list) -> None:
        r = np.array([coef[self.zdot[j]][k][u, i] for (j, u, i) in self._sl])
        mu = np.linalg.solve(self._A, -r)
        for c, rep in enumerate(self._sl):
            for (j, u, i), sg in self._members[rep]:
                mus = self.series.slide[j + 1][(u, i)]
                while len(mus) < k:
                    mus.append(0.0)
                mus.append(sg * float(mu[c]))
            for node, d in self._D[c].items():
                if coef[node] is not None and not self.series.const[node]:
                    coef[node][k] = coef[node][k] + d * mu[c]

    def _set_mask(self, j: int) -> None:
        self.maskv[j + 1][...] = np.where(self.side[j] > 0, 1.0, self.alpha)

    def _snapshot(self) -> tuple:
        """The switching state (sides, sliding set and its μ series, the groups' ties), to try a candidate
        and undo it."""
        return ([s.copy() for s in self.side],
                {L: {key: list(mus) for key, mus in S.items()} for L, S in self.series.slide.items()},
                dict(self._tie))

    def _arriving(self, j: int, u: int, i: int, from_side: int, cm: dict, cp: dict) -> tuple:
        """(ż, F, e_F) of the field the flow arrives with at a kink: the candidate of its own side when nothing
        leaves under it (the same pass), else the state as it is; e_F its error bar (``field_error``)."""
        c = cm if from_side < 0 else cp
        if not c["left"]:
            return c["rate"], c["F"], c["fr"]
        snap = self._snapshot()
        pre = self._field(j, u, i, [])[:2] + (self.series.field_error,)
        self._restore(snap)  # the pass re-solved μ_0: start the settling as the candidates did
        return pre

    def _restore(self, snap: tuple) -> None:
        sides, slide, tie = snap
        self._tie.clear()
        self._tie.update(tie)
        for j, s in enumerate(sides):
            self.side[j][...] = s
            self._set_mask(j)
        self.series.slide.clear()
        self.series.slide.update({L: {key: list(mus) for key, mus in S.items()} for L, S in slide.items()})

    def _settle(self, joining: tuple | None = None, t: float = math.nan,
                what: str = "", watch: tuple | None = None) -> list[tuple[int, int, int, int]]:
        """Make the mode of the entries at their kinks consistent (:func:`numerics.active_sets.settle`,
        docs/theory.md E1 "Consistent active sets"): K = the sliding entries (layer, unit, sample) in
        order, ``joining`` last. Returns the entries that left as (j, u, i, side). ``watch``: the kinking entry
        of a candidate search (its other modes go to ``self._branches``, :func:`numerics.active_sets.settle`)."""
        from .active_sets import settle

        # a group sliding on one shared surface is one entry of the mode (its representative; _FloatModes moves
        # every member), and leaves as one: each member to its own side
        reps = [k for k in self._sliding() if self._tie.get(k, (k, 1))[0] == k]
        K = sorted(k for k in reps if k != joining) + ([joining] if joining is not None else [])
        left = []
        for (j, u, i, s) in settle(_FloatModes(self), K, joining, t, what, watch):
            for (jj, uu, ii), sg in self._group_of((j, u, i)):
                self._tie.pop((jj, uu, ii), None)
                left.append((jj, uu, ii, s * sg))
        return left

    def _ties_hold(self, t: float) -> None:
        """Refuse where a switch below has ended the shared surface of a sliding group
        (:func:`numerics.kink_surfaces.split_groups`, with the mask values the tier forms its groups with; the arb
        tier's :meth:`numerics.kink_groups.GroupKinks._ties_hold`)."""
        sliding = set(self._sliding())
        ties = [(j + 1, u, i, c) for (j, u, c), ((_, _, i), _) in self._tie.items() if (j, u, c) in sliding]
        split = split_groups(ties, self.obj.loss.inputs, self.bias,
                             lambda layer: [self.maskv[l + 1] for l in range(layer - 1)])
        if split:
            raise split_surface_error(t, *split[0])

    def _group_of(self, k: tuple) -> list[tuple[tuple, int]]:
        """The members (key, σ) of the group whose representative is ``k`` (``_tie``), in key order; [(k, 1)]
        for a lone entry."""
        return sorted((m, sg) for m, (r, sg) in self._tie.items() if r == k) or [(k, 1)]

    def _field(self, j: int, u: int, i: int, left: list) -> tuple[float, list[np.ndarray], list[float]]:
        """(ż of z_{j+1}[u, i], the field F = θ' (order-1 coefficients), σ·ż of each entry in ``left``)
        under the current switching state: one order-1 pass (μ_0 solved in it); the pass's field rounding
        bound (:mod:`numerics.float_rounding`) is left in ``self.series.field_error``, and the rates of unit u
        on every sample in ``self._unit_rates`` (a group's members, :meth:`_proportional_rates`)."""
        ys, w = self._pass(1, self.zdot, field_error=True)
        Z = w[self.zdot[j]][0]
        self._unit_rates = Z[u].copy()
        return (float(Z[u, i]), [Y[1].copy() for Y in ys],
                [s * float(w[self.zdot[jj]][0][uu, ii]) for (jj, uu, ii, s) in left])

    def _settle_as(self, cand: dict) -> list:
        """:meth:`_settle` for the outcome chosen among the candidates (the same computation from the same
        state, so the same active set; checked, since the candidate's field is what is used after)."""
        left = self._settle()
        if left != cand["left"]:
            raise AssertionError(f"active set {left} differs from the candidate's {cand['left']}")
        return left

    def _leave(self, j: int, u: int, i: int, to_side: int, t: float) -> None:
        from fractions import Fraction

        from .kink_flows import KinkEvent

        rep, sg = self._tie.get((j, u, i), ((j, u, i), 1))
        # (a group leaves as one: a member on the other side of the surface to the other side)
        group = self._group_of(rep)
        for (jj, uu, ii), sm in group:
            self._tie.pop((jj, uu, ii), None)
            S = self.series.slide[jj + 1]
            S.pop((uu, ii))
            if not S:
                self.series.slide.pop(jj + 1)
            self.side[jj][uu, ii] = to_side * sg * sm
            self._set_mask(jj)
            self.skip[(jj, uu, ii)] = 2  # z = 0 and ż = 0 at the exit: z leaves quadratically
            self.events.append(KinkEvent(Fraction(t), "leave sliding", jj + 1, ii, uu))
