"""Ground-truth gradient flow of (leaky) ReLU networks, with and without biases: the Taylor method
of :mod:`numerics.flows` run region by region, with exact kink events (docs/theory.md E1; docs/theory.md E).

Size: the arb tier's integrator (series with sliding weights, step, locator, event handler) in one module,
mirroring :mod:`numerics.float_taylor`; the rerun's estimate, the check of its decisions and the confirmation of
verdicts are :mod:`numerics.kink_rerun` (with :mod:`numerics.kink_margins`, :mod:`numerics.kink_dips` and
:mod:`numerics.kink_exits`, mixins); the search for consistent modes of sliding sets is :mod:`numerics.active_sets`, shared with the float
tier through a small adapter (:class:`numerics.kink_modes._ArbModes`), and the decision at a kink surface several entries share is
:mod:`numerics.kink_groups` (a mixin), and the checks of the held entries (pinned ones; the sides above a column
zeroed over a sliding unit or lifted from zero; the weights a kink sets to 0) :mod:`numerics.kink_pins` (a mixin), with the verdict on a
unit's pinned entries shared with the float tier (:mod:`numerics.kink_held`).

Inside an activation region the masks are constants and −∇f is a polynomial field, so the tape of
:mod:`numerics.series` expands it order by order. The parts, one job each:

* **series** — :func:`_relu_tape` records the generic gradient (:func:`numerics.gradients.evaluate`)
  with one :class:`LayerMask` per hidden layer as the activation pattern and watches the
  pre-activations z_j and their rates ż_j; one :func:`~numerics.series.series_coefficients` pass gives the state's and
  the z_j's Taylor coefficients. A mask is itself a power series while units slide (below).
* **step controller** — :func:`numerics.flows.taylor_step` (coefficient decay, exact binary h).
* **recentring** — a step's pass replaces each state coefficient and each Filippov weight μ_k by its ball's
  midpoint as it is computed and counts the dropped radii in the step's rounding (:meth:`_KinkFlow._local_error`;
  docs/theory.md E3, "Recentring"): unrecentred, the radii grow with the order and arb rounds the midpoints of wide
  balls coarsely (13 of 30 digits lost on a 700-parameter sliding stretch). Passes over balls (the decisions'
  margins) keep every radius.
* **event locator** — :func:`_first_root`: the first root on [0, h] of each watched polynomial
  (σ·z for a unit on side σ; μ − α and 1 − μ for a sliding weight), screened by a bound, isolated by
  the float roots of the scaled polynomial (and the minima they lie at) and refined to the working precision by
  bracketing in mp. The step is cut at the earliest root (an exact binary time). Each step's closest approach
  to a kink without an event is recorded and checked against the run's error afterwards
  (:mod:`numerics.kink_dips`, a mixin), and so is each sliding weight's closest approach to α or 1
  without a leave (:mod:`numerics.kink_exits`, a mixin).
* **event handler** — :meth:`_KinkFlow.handle`: the rates a = ż under the z < 0 field, b = ż under the
  z > 0 field decide (E1): same sign → cross; a > 0 > b → slide; a < 0 < b → repelling kink, the
  solution is not unique: :class:`NonUniqueFlowError`. A sliding weight reaching α or 1 → leave.
* **error estimator** — a second, independent run at dps + 10 (its own steps, its own event
  times); the estimate is the larger of the accumulated local errors and |run − rerun| on the step
  ends and midpoints plus the rerun's own local errors (docs/theory.md E3 has the argument); the rerun's
  decisions are checked against its error, and a verdict must be the rerun's too (:mod:`numerics.kink_rerun`).
* **dense output** — the step polynomials (:class:`numerics.flows.Trajectory`), valid across kinks
  because every step ends at an event.
* **witnesses** — the per-neuron law of docs/theory.md E2 (‖(W_j[u,:], b_j[u])‖² − ‖W_{j+1}[:,u]‖²),
  its drift per step in ``conservation_defects``.

**Sliding (Filippov).** At z = z_j[u,i] = 0 the gradient is affine in that entry's mask value m (the
forward pass does not see m, since m·z = 0; the backward pass multiplies δ_j[u,i] by m), so the
Filippov combination (1 − λ)F₋ + λF₊ is the field with m = μ = α + λ(1 − α). The tape also carries
the rates ż_j (the tangent of the forward pass along θ' = −∇f). For a set S of sliding entries the
weights μ_s(t) are the series that keep every ż_s ≡ 0:

* order 0: ż_s(μ_0) = 0 — affine in μ_0 when S lies in one layer (one Newton step is exact), bilinear
  across layers (Newton on order-0 passes);
* order k ≥ 1: every tape node's order-k coefficient is affine in μ_k with slope ∂(node)/∂μ at
  order 0 (μ_k meets only order-0 coefficients in a Cauchy product), so the pass runs with μ_k = 0,
  then ``after_order`` solves A μ_k = −[ż_S]_k (A = ∂ż_S/∂μ at order 0, the same matrix for every
  k) and adds μ_k times those slopes to every node (the division recurrence of λ = a/(a − b), in
  matrix form). The μ series are exact to the step's order; the step also suits them (their leave
  events are its roots, and μ's pole where A is singular barely shows in the state's coefficients).

An entry leaves when its μ reaches α or 1 (λ leaves [0, 1]). At a kink met while others slide, the
rates a, b are those of candidate fields with consistent modes of the sliding set, and the outcome's
mode is applied (:meth:`_KinkFlow._settle`: an entry whose μ leaves [α, 1] leaves sliding to that side,
one that then moves back slides again — pivoting, enumeration with a uniqueness check if it cycles;
docs/theory.md E1, "Consistent active sets"; the mode found by pivoting is the only one where −∂ż/∂μ is certified
a P-matrix for entries of one layer, else tried against the others up to 4 entries: *One mode for certain*, *Two
ways to continue*).

A pre-activation that is identically zero (every coefficient exactly zero: a sample on which all
incoming units are dead, or x_i = 0 without biases) is not watched while it stays so; its mask is α
(relu'(0) = α, the left derivative, PyTorch's relu'(0) = 0 for α = 0) and cannot change f or the flow
then. When a unit below it switches on, its series is no longer zero and it is watched again (a kink at
that instant; docs/theory.md E1, "relu′(0) and identically zero pre-activations").
"""

from __future__ import annotations

import math
import time
from fractions import Fraction
from typing import Any, Callable, Sequence

import flint
import mpmath
import numpy as np

from theory import Objective

from .active_sets import candidate_branches
from .kink_modes import _ArbModes, _arb_sign
from .kink_events import coincident_group, shared_surface_error, sole_feeding_unit, KinkEvent, NonUniqueFlowError, \
    UnsupportedKinkError, last_active_unit, mark_immaterial
from .kink_surfaces import NEAR_BY_ROUNDING, parallel_by_rounding
from .kink_groups import GroupKinks
from .kink_dips import NearTouches
from .kink_exits import NearExits
from .kink_margins import DecisionMargins
from .kink_pins import PinnedKinks
from .kink_rerun import check_rerun_decisions, confirmed, error_at, rerun_estimate
from .kink_events import first_root as _first_root
from .kink_tape import LayerMask, _relu_tape
from .series import arb_precision, max_abs, series_coefficients, to_arb, to_arb_mat
from .softmax_radius import arb_logit_cap, tape_exp_inputs

__all__ = ["KinkEvent", "LayerMask", "NonUniqueFlowError", "UnsupportedKinkError", "relu_gradient_flow"]


class _KinkFlow(DecisionMargins, NearTouches, NearExits, GroupKinks, PinnedKinks):
    """One run of the region-by-region Taylor integrator at ``dps`` digits (module docstring)."""

    def __init__(self, obj: Objective, theta0: Sequence[Any], dps: int, order: int | None,
                 merge_tol: Fraction | None = None) -> None:
        self.obj, self.dps = obj, dps
        # how close (in time) a lower layer's zeroing switch may follow a switch above it on its sample to go
        # first (:meth:`_locate`): 10^{5−dps}; the rerun takes the run's, so that both merge the same switches
        self.merge_tol = Fraction(1, 10 ** (dps - 5)) if merge_tol is None else merge_tol
        self.p = int(order) if order is not None else int(math.ceil(1.15 * dps)) + 2
        self.theta0 = theta0
        self.events: list[KinkEvent] = []
        self.modes_unverified = 0  # modes taken among > active_sets.VERIFY_MAX entries at their kinks, not certified
        self._tie: dict = {}  # the entries (j, idx) of a group sliding on one shared surface → (its representative, σ)

    # -- series --------------------------------------------------------------------------------------
    def _pass(self, y: list, order: int, recentre: list | None = None) -> tuple[list, dict]:
        """One series pass to ``order``; with units sliding, their μ_0 is solved first and μ_k after
        each order k (:meth:`_after_order`). ``recentre`` (a step's pass from a midpoint state): a list that
        receives the radii dropped as each state coefficient is recentred to its midpoint
        (:func:`numerics.series.series_coefficients`), and the weights μ_k are kept as midpoints too (module
        docstring, "recentring"); without it (passes over balls: the decisions' margins) every radius stays."""
        self._mu_mid = recentre is not None
        sliding = self._sliding()
        if sliding:
            self._solve_mu0(y, sliding)
            for m in self.masks:
                for idx in m.sliding:
                    m.mu[idx] = m.mu[idx][:1]
        watched = {i: None for i in self.watch + self.zdot}
        watched.update({z: None for z, _ in tape_exp_inputs(self.tape)})  # the softmax logits: the step's cap
        cs = series_coefficients(self.tape, self.outs, y, order, sign=-1, watched=watched,
                                 after_order=self._after_order if sliding else None, recentre=recentre)
        return cs, watched

    def _sliding(self) -> list[tuple[int, int]]:
        return [(j, idx) for j, m in enumerate(self.masks) for idx in sorted(m.sliding)]

    def _nodes0(self, y: list) -> dict:
        """Order-0 values of every tape node at the current masks (μ's held at their μ_0)."""
        watched = {i: None for i in range(len(self.tape.ops))}
        series_coefficients(self.tape, self.outs, y, 1, sign=-1, watched=watched)
        return {i: c[0] for i, c in watched.items() if c and c[0] is not None}

    def _mu_reach(self) -> set[int]:
        """The tape nodes that a sliding entry's weight μ reaches: the entrywise products with a layer mask that has
        entries sliding (but not those of the forward pass and its tangent, ``zero_inputs``, which are 0 at a
        sliding entry whatever μ is) and every node computed from them. Only these get a D_s in
        :meth:`_solve_mu0`: the others' derivative is exactly 0, while the difference of their two evaluations,
        bumped − base, is a ball about 0 as wide as their rounding, which :meth:`_after_order` then added to their
        coefficients — so a pinned entry's z (which no μ reaches) was no longer exactly constant once an entry
        slid, and the run decided it again from no side and refused (found on the repeated-sample instances of
        tests/test_pinned_units.py, 2026-12-05: the true verdict there is the lift of
        :meth:`numerics.kink_pins.PinnedKinks._pinned_held`)."""
        reach: set[int] = set()
        for i, (op, a, b, payload) in enumerate(self.tape.ops):
            if op == "hadamard" and payload.sliding and a not in payload.zero_inputs:
                reach.add(i)
            elif (a is not None and a in reach) or (b is not None and b in reach):
                reach.add(i)
        return reach

    def _solve_mu0(self, y: list, sliding: list) -> None:
        """μ_0 of the sliding entries: ż_s = 0 for every s (Newton; one step is exact when they share
        a layer, where ż is affine in the μ's), and D_s = ∂(node)/∂μ_s at order 0 for every node —
        also the derivative of order k in μ_k (module docstring) — for :meth:`_after_order`."""
        bits = flint.ctx.prec
        self._zero_columns(y, sliding)
        # a group sliding on one shared surface (``_tie``: member → (representative, σ)) has one weight: one unknown
        # and one constraint (the representative's ż; docs/theory.md E1); a member with σ = −1 (κ < 0) carries
        # the complementary weight 1 + α − μ, so the unknown moves its μ_0 by −1 and its μ_k is −μ_k
        reps = [k for k in sliding if self._tie.get(k, (k, 1))[0] == k]
        members = {r: [(k, self._tie.get(k, (k, 1))[1]) for k in sliding if self._tie.get(k, (k, 1))[0] == r]
                   for r in reps}
        for m in self.masks:
            for idx in m.sliding:
                if not m.mu.get(idx):
                    m.mu[idx] = [(m.alpha + 1) / 2]
        reach = self._mu_reach()
        prev = math.inf
        for _ in range(60):
            for m in self.masks:
                for idx in m.sliding:
                    m.mu[idx] = m.mu[idx][:1]
            D, r, A, fixed = self._mu_system(y, reps, members, reach)
            self._weightless_rows(reps, A, r, fixed)
            try:
                delta = A.solve(-r)
            except ZeroDivisionError:
                raise UnsupportedKinkError(f"the Filippov weights of the sliding entries ({self._names(sliding)}) are "
                                           "not determined (degenerate sliding constraints)") from None
            big = 0.0
            for c, rep in enumerate(reps):
                for (j, idx), sg in members[rep]:
                    m = self.masks[j]
                    m.mu[idx][0] = (m.mu[idx][0] + sg * delta[c, 0]).mid()
                big = max(big, abs(float(delta[c, 0].mid())))
            if big <= 2.0 ** -(bits - 8) * max(1.0, max(abs(float(self.masks[j].mu[idx][0].mid())) for j, idx in sliding)):
                break
            # At the rounding floor: Newton has stopped contracting and each correction lies inside its own ball
            # (the uncertainty that the state's radius puts on the solution), so no further step can be told from
            # noise. The fixed 8-bit margin above is not always reachable: where the constraints cancel, the
            # residual's midpoint rounds at a few ulps × cond(A) (seen: corrections 2.2e-47 cycling against a margin
            # of 1.1e-47 at 164 bits, with the residual's radius 8.4e-39 — biased leaky (3,6,6,2), α = 0.1, seed 11).
            if big >= prev / 2 and all(abs(delta[c, 0].mid()) <= delta[c, 0].rad() for c in range(len(reps))):
                break
            prev = big
        else:
            raise UnsupportedKinkError(
                f"the Filippov weights of the sliding entries {[(j + 1, idx) for j, idx in sliding]} "
                f"(layer, unit·n + sample) did not converge (last Newton correction {big:.3g})")
        self._D, self._A, self._reps, self._members = D, A, reps, members

    def _names(self, keys: list) -> str:
        return "; ".join(f"unit {idx // self.masks[j].cols} of layer {j + 1} on sample {idx % self.masks[j].cols}"
                         for j, idx in keys)

    def _weightless_rows(self, reps: list, A: Any, r: Any, fixed: list[bool]) -> None:
        """Raise :class:`numerics.active_sets.WeightlessSliding` for the first representative whose row of A is 0
        — every entry an exact zero, or its ż the same ball (mid and radius) under every weight's bump
        (``fixed``, from :meth:`_mu_system`: each path from a weight to it meets an exactly zero mask) — with
        the side of :func:`numerics.active_sets.weightless_side` (ρ the ball's radius), None where that is not
        certain (refused); as the float tier's :meth:`numerics.float_sliding.FloatSliding._weightless_rows`.
        docs/theory.md E1, "An entry no weight holds"."""
        from .active_sets import WeightlessSliding, weightless_side

        for c, (j, idx) in enumerate(reps):
            exact = all(A[c, q].is_zero() for q in range(len(reps)))
            if not (exact or fixed[c]):
                continue
            rate = r[c, 0]
            side = weightless_side(float(rate.mid()), float(rate.rad()) * (1 + 2.0**-50), exact, len(reps))
            raise WeightlessSliding(
                f"{self._names([(j, idx)])} slides, but no sliding weight moves its rate ż = {float(rate.mid()):.3g}"
                + ("" if side else f", which is not separated from 0 at {self.dps} digits: whether it leaves, and to "
                   "which side, is not decided; raise dps"), (j, idx), side)

    def _mu_system(self, y: list, reps: list, members: dict, reach: set[int]) -> tuple[list, Any, Any, list[bool]]:
        """(D, r, A, fixed) at the state ``y`` (balls allowed) and the weights μ as they are: r the representatives'
        rates ż, D_s = ∂(node)/∂μ_s for the nodes μ_s reaches (the difference of two evaluations, μ_s bumped by 1;
        exact where ż is affine in the μ's, i.e. they share a layer), A = [∂ż_r/∂μ_s], and per representative
        whether its ż came out the same ball under every bump (:meth:`_weightless_rows`)."""
        base = self._nodes0(y)
        D = []
        # which representatives' ż come out the same ball under every bump (the weights reach them only through
        # exactly zero masks; the difference of two equal balls is not an exact zero, so it is read here)
        fixed = [True] * len(reps)
        for rep in reps:
            for (j, idx), sg in members[rep]:
                self.masks[j].mu[idx][0] += sg
            bumped = self._nodes0(y)
            for (j, idx), sg in members[rep]:
                self.masks[j].mu[idx][0] -= sg
            for c, (j, idx) in enumerate(reps):
                x, x0 = bumped[self.zdot[j]].entries()[idx], base[self.zdot[j]].entries()[idx]
                fixed[c] = fixed[c] and x.mid() == x0.mid() and x.rad() == x0.rad()
            diffs = {i: bumped[i] - v for i, v in base.items() if i in reach and i in bumped}
            D.append({i: d for i, d in diffs.items() if not all(x.is_zero() for x in d.entries())})
        r = flint.arb_mat(len(reps), 1, [base[self.zdot[j]].entries()[idx] for j, idx in reps])
        A = flint.arb_mat(len(reps), len(reps),
                          [D[c][self.zdot[j]].entries()[idx] if self.zdot[j] in D[c] else 0
                           for j, idx in reps for c in range(len(reps))])
        return D, r, A, fixed

    def _after_order(self, k: int, coef: list) -> list[int]:
        """Solve μ_k (k ≥ 1) from [ż_s]_k = 0 (linear: A μ_k = −[ż]_k with A from μ_0) and add
        Σ_s μ_{s,k} D_s to the order-k coefficient of every node it reaches."""
        if k == 0:
            return []
        reps = self._reps
        r = flint.arb_mat(len(reps), 1, [coef[self.zdot[j]][k].entries()[idx] for j, idx in reps])
        mu = self._A.solve(-r)
        changed = set()
        for c, rep in enumerate(reps):
            val = mu[c, 0]
            # recentred (a step's pass): the later orders read μ_k's midpoint, as they read the state's
            # recentred coefficients; its ball still enters order k's nodes below, so its radius reaches
            # y_{k+1}'s, which is dropped and counted (docs/theory.md E3, "Recentring")
            kept = val.mid() if self._mu_mid else val
            for (j, idx), sg in self._members[rep]:
                self.masks[j].mu[idx][k] = kept if sg > 0 else -kept
            for i, d in self._D[c].items():
                if coef[i][k] is not None:
                    coef[i][k] = coef[i][k] + d * val
                    changed.add(i)
        return sorted(changed)

    def _z(self, watched: dict, j: int) -> list:
        return watched[self.watch[j]]

    # -- setup ---------------------------------------------------------------------------------------
    def _setup(self) -> list:
        obj = self.obj
        n = obj.loss.num_samples
        alpha = to_arb(obj.model.alpha)
        self.masks = [] if obj.model.is_linear else [
            LayerMask(j + 1, obj.widths[j + 1], n, alpha) for j in range(obj.depth - 1)]
        self.tape, self.outs, self.watch, self.zdot = _relu_tape(obj, self.masks)
        if obj.model.is_linear:
            self.watch = []
        y = [to_arb_mat(np.asarray(w).reshape(-1, 1) if np.ndim(w) == 1 else w) for w in self.theta0]
        # initial pattern layer by layer (z_j at t = 0 depends on the masks of layers < j only)
        for j, m in enumerate(self.masks):
            _, w = self._pass(y, 2)
            z = self._z(w, j)
            for idx, x in enumerate(z[0].entries()):
                if x.is_zero() and z[1].entries()[idx].is_zero():
                    m.side[idx] = -1  # decided below: identically zero, or a kink at t = 0
                else:
                    m.side[idx] = 1 if x > 0 else -1 if x < 0 else (1 if z[1].entries()[idx] > 0 else -1)
            m._refresh()
        # identically zero entries (all coefficients exactly 0) stay put with mask α; an entry that is
        # 0 at t = 0 but moves is a kink at t = 0 (handled like an event reached from no side)
        cs, w = self._pass(y, self.p)
        for j, m in enumerate(self.masks):
            z = self._z(w, j)
            E = [zk.entries() for zk in z]
            for idx in range(len(E[0])):
                if all(Ek[idx].is_zero() for Ek in E):
                    m.dead[idx] = True
                elif E[0][idx].is_zero():
                    self._kink(y, j, idx, Fraction(0), from_side=0)
        return y

    # -- event handler -------------------------------------------------------------------------------
    def _snapshot(self) -> list:
        return [(m.side.copy(), set(m.sliding), {k: list(v) for k, v in m.mu.items()}) for m in self.masks] + [dict(self._tie)]

    def _restore(self, snap: list) -> None:
        self._tie = dict(snap[-1])
        for m, (side, sliding, mu) in zip(self.masks, snap[:-1]):
            m.side[...] = side
            m._refresh()
            m.sliding = set(sliding)
            m.mu = {k: list(v) for k, v in mu.items()}

    def _settle(self, y: list, t: Fraction, joining: tuple | None = None, what: str = "",
                watch: tuple | None = None) -> list[tuple[int, int, int]]:
        """Make the mode of the entries at their kinks consistent (:func:`numerics.active_sets.settle`,
        docs/theory.md E1 "Consistent active sets"): K = the sliding entries (layer, unit·n + sample) in
        order, ``joining`` last. Returns the entries that left as (j, idx, side). ``watch``: the kinking entry of a
        candidate search (its other modes go to ``self._branches``)."""
        from .active_sets import settle

        # a group sliding on one shared surface is one entry of the mode (its representative; _ArbModes moves every
        # member), and leaves as one: each member to its own side
        reps = [k for k in self._sliding() if self._tie.get(k, (k, 1))[0] == k]
        K = sorted(k for k in reps if k != joining) + ([joining] if joining is not None else [])
        left = []
        for (j, idx, s) in settle(_ArbModes(self, y), K, joining, float(t), what, watch):
            for (jj, kk), sg in self._group_of((j, idx)):
                self._tie.pop((jj, kk), None)
                left.append((jj, kk, s * sg))
        return left

    def _group_of(self, k: tuple) -> list[tuple[tuple, int]]:
        """The members (key, σ) of the group whose representative is ``k`` (``_tie``), in key order; [(k, 1)]
        for a lone entry."""
        return sorted((m, sg) for m, (r, sg) in self._tie.items() if r == k) or [(k, 1)]

    def _rates(self, y: list, j: int, idx: int, t: Fraction, members: list | None = None,
               lift: dict | None = None, defer: bool = False) -> tuple[dict, dict]:
        """The two candidates at z_j[idx] = 0, for s = −1 (mask α) and s = +1 (mask 1): the rate ż of
        the Filippov field with a consistent active set (:meth:`_settle`: sliding entries the candidate
        pushes out of [α, 1] leave to the side their weight points to), the entries that leave and
        their outward rates σż under that field (docs/theory.md E1). ``members`` ((sample, κ), this entry's
        first): the unit's entries that share the kink surface, each set to the side of sign κ·s; their
        rates under each candidate in ``unit``. ``lift``: {sample: the sides of the entries above} for the samples
        whose column mask 1 lifts from zero (:meth:`_lift`), which the s = +1 candidate takes (for the members it
        sets to mask 1). ``defer``: a candidate whose sliding entries have other consistent modes is not refused
        here; its ``branches`` holds (the message, this entry's rate under each other mode, whether certified) for the
        decision (:func:`numerics.active_sets.candidate_branches`)."""
        m = self.masks[j]
        u = idx // m.cols
        group = members or [(idx % m.cols, 1.0)]
        snap = self._snapshot()
        out = []
        try:
            for s in (-1, 1):
                for c, kap in group:
                    m.set_side(u * m.cols + c, s if kap > 0 else -s)
                for c, kap in group if s > 0 and lift else ():
                    if kap > 0 and lift.get(c):
                        self._apply_lift(lift[c], c, None)
                self._branches = None
                left = self._settle(y, t, what=f"in the candidate field of unit {u} of layer {j + 1} on sample "
                                               f"{idx % m.cols} at its kink with mask {'α' if s < 0 else '1'}",
                                    watch=(j, idx) if defer else None)
                branches, self._branches = self._branches, None
                _, w = self._pass(y, 1)
                Z = w[self.zdot[j]][0].entries()
                out.append(dict(side=s, rate=Z[idx], left=left, branches=branches,
                                unit=[Z[u * m.cols + c] for c, _ in group],
                                row=Z[u * m.cols:(u + 1) * m.cols],
                                out=[sd * w[self.zdot[jj]][0].entries()[k] for jj, k, sd in left]))
                self._restore(snap)
        finally:
            self._restore(snap)
        return out[0], out[1]

    def _apply_left(self, y: list, cand: dict, t: Fraction, joining: tuple | None = None) -> None:
        """Apply the chosen candidate's active set: the entries it makes leave sliding leave now ("leave
        sliding" events), with z = 0 and ż pointing to their side (one known-zero coefficient); one
        that the new field sends back across its kink is refused (no consistent set by the rule)."""
        left = self._settle(y, t, joining)
        if cand is not None and [(jj, k) for jj, k, _ in left] != [(jj, k) for jj, k, _ in cand["left"]]:
            raise AssertionError(f"active set {left} differs from the candidate's {cand['left']}")
        outs = cand["out"] if cand is not None else None
        if outs is None:
            _, w = self._pass(y, 1)
            outs = [sd * w[self.zdot[jj]][0].entries()[k] for jj, k, sd in left]
        for (jj, k, sd), r in zip(left, outs):
            mm = self.masks[jj]
            uu, ii = divmod(k, mm.cols)
            if r < 0:
                raise UnsupportedKinkError(
                    f"t = {float(t):.17g}: unit {uu} of layer {jj + 1} on sample {ii} leaves sliding at a "
                    "simultaneous kink, but the field after it moves z back across its kink: no consistent "
                    "active set by the leave rule")
            self.skip[(jj, k)] = 1
            self.events.append(KinkEvent(t, "leave sliding", jj + 1, ii, uu))

    def _local_error(self, cs: list, h: Fraction, new: list, y: list, drop: list[float]) -> float:
        """:func:`numerics.flows.local_error` of the step: the tail, the arb radius of the evaluation and the radii
        ``drop`` dropped by recentring the coefficients, amplified by e^{p/10} (docs/theory.md F, "Rounding"). Where
        that rounding bound is above both an eighth of the truncation term and 10^{−(dps+3)}·max(1, ‖θ‖∞) (below
        that floor it is kept: digits nobody asked for), it is measured instead, as the deep-linear arb tier does
        (:func:`numerics.local_errors.local_error_2norm`): the same pass and evaluation again with ``EXTRA_PREC``
        more bits, and ``ROUNDING_SAFETY`` × the largest difference of the midpoints. On a sliding stretch the
        weights μ_k are kept as midpoints; their balls enter order k's nodes, so y_{k+1}'s dropped radius carries
        them (docs/theory.md E3, "Recentring", with the measurement that the bound covers the steps' rounding).

        History. Until 2026-12-07 the step's pass was not recentred and its rounding was the evaluation's radius,
        measured where above an eighth of the truncation term (added for a 1-2-3-2 leaky net's long steps,
        2026-12-04). The radius of every Cauchy sum grew with the order (the wrapping effect), on sliding
        stretches also through every solve A μ_k = −[ż]_k, and arb rounds the midpoints of wide balls coarsely:
        the midpoints themselves lost digits with the order. On a 700-parameter ReLU net with 8 entries sliding
        the weights came out exactly 0 from order 23 on, at 30 and at 130 digits alike, and the run at 30 digits
        was off by 3.0e-17 (against a 45-digit run; estimated 1.0e-16 by the measurement)."""
        from .flows import local_error, taylor_eval
        from .local_errors import EXTRA_PREC, ROUNDING_SAFETY

        hf = float(h)
        dropped = sum(d * hf ** (k + 1) for k, d in enumerate(drop))
        full = local_error(cs, self.p, h, new, dropped=dropped)
        trunc = sum(max(max_abs(c[j]) for c in cs) * hf**j for j in (self.p - 1, self.p))
        floor = 10.0 ** -(self.dps + 3) * max(1.0, max(max_abs(m) for m in y))
        if h == 0 or full - trunc <= max(trunc / 8, floor):
            return full
        old = flint.ctx.prec
        snap = self._snapshot() if self._sliding() else None
        flint.ctx.prec = old + EXTRA_PREC
        try:
            fine = taylor_eval(self._pass(y, self.p, [])[0], h)
            diff = max(float(abs((a - b).mid())) for A, B in zip(fine, new) for a, b in zip(A.entries(), B.entries()))
        finally:
            flint.ctx.prec = old
            if snap is not None:
                self._restore(snap)
        return trunc + ROUNDING_SAFETY * diff

    def _float_layers(self, y: list, j: int) -> tuple:
        """The arguments of :func:`numerics.kink_events.coincident_samples` below hidden layer j + 1, from the
        state's midpoints and the masks (α or 1 by side; a sliding entry's z is 0, whatever its mask)."""
        def mat(M) -> np.ndarray:
            return np.array([float(e.mid()) for e in M.entries()]).reshape(M.nrows(), M.ncols())

        bias = self.obj.model.bias
        Ws = [mat(M) for M in (y[0::2] if bias else y)[: j + 1]]
        bs = [mat(M) for M in y[1::2][: j + 1]] if bias else None
        ms = [np.where(mm.side > 0, 1.0, float(mm.alpha.mid())).reshape(mm.rows, mm.cols) for mm in self.masks[:j]]
        return self.obj.loss.inputs, Ws, bs, ms

    def _kink_decide(self, y: list, j: int, idx: int, t: Fraction, from_side: int, unpinned: bool = False) -> None:
        """:meth:`_kink_entry`, and for an entry whose kink surface other entries share (inputs to the layer
        parallel for every θ nearby) the group's own decision, :meth:`_group_cross` (docs/theory.md E1,
        "Entries that share one kink surface"), as in the float tier (numerics.float_taylor._FloatFlow._kink):
        reached from a side with no entry sliding; anything else is refused. Inputs parallel at this point
        only (nearly coincident surfaces): a clean per-entry crossing from a side, or refused. Called through
        :meth:`numerics.kink_margins.DecisionMargins._kink`, which records it."""
        u, i = divmod(idx, self.masks[j].cols)
        below = self._float_layers(y, j)
        group, near = coincident_group(*below, j + 1, i)
        others = sorted([c for c, _ in group] + near)
        if not others:
            return self._kink_entry(y, j, idx, t, from_side, unpinned)
        if from_side == 0:
            raise shared_surface_error(float(t), j + 1, u, i, others, ", reached from no side")
        if group and near:
            raise shared_surface_error(float(t), j + 1, u, i, others, ", some of them parallel at this point only")
        if group:
            m, members = self.masks[j], [(i, 1.0)] + list(group)
            for c, kap in members:
                k = u * m.cols + c
                if k in m.pinned or k in m.sliding or m.dead[k] or int(m.side[k]) != (from_side if kap > 0 else -from_side):
                    raise shared_surface_error(float(t), j + 1, u, i, others, ", with a member pinned, sliding, dead or "
                                                                              "on the other side")
            if self._sliding():
                # with entries sliding: the general path, each region's field with its consistent mode (as for a
                # lone entry, the group one entry of it)
                return self._kink_entry(y, j, idx, t, from_side, unpinned, members)
            return self._group_cross(y, j, idx, t, from_side, group)
        settled = {(jj, *divmod(k, mm.cols)) for jj, mm in enumerate(self.masks[:j]) for k in (mm.sliding | mm.pinned)}
        by_rounding = parallel_by_rounding(*below, j + 1, i, near, settled)
        if by_rounding:
            raise shared_surface_error(float(t), j + 1, u, i, others, NEAR_BY_ROUNDING.format(by_rounding))
        n_rec = len(self.events)
        try:
            self._kink_entry(y, j, idx, t, from_side, unpinned)
        except NonUniqueFlowError:  # the per-entry rates of nearly coincident surfaces: no verdict from them
            raise shared_surface_error(float(t), j + 1, u, i, others, ", parallel at this point only") from None
        m = self.masks[j]  # (a pin records a "cross" too)
        if [(e.kind, e.layer, e.unit, e.sample) for e in self.events[n_rec:]] != [("cross", j + 1, u, i)] \
                or idx in m.pinned or idx in m.sliding or int(m.side[idx]) != -from_side:
            raise shared_surface_error(float(t), j + 1, u, i, others, ", parallel at this point only")

    def _kink_entry(self, y: list, j: int, idx: int, t: Fraction, from_side: int, unpinned: bool = False,
                    members: list | None = None) -> None:
        """Decide z_j[idx] = 0 (E1) reached from ``from_side`` (0: no side — t = 0, or ``unpinned``: a
        pinned entry, mask α, that another switch set moving; a switch from there to mask 1 is an event).
        The rates are those of the candidates with consistent active sets (:meth:`_rates`), and the
        outcome's own active set is applied. ``members`` ((sample, κ), this entry's first; reached from a
        side): the unit's entries that share the kink surface (docs/theory.md E1, "Entries that share one kink
        surface"), decided as one entry of the mode — every member to the side of sign κ·s, one Filippov weight
        when they slide (tied, ``_tie``), an event per member — after checking that their rates are κ-multiples
        of this entry's under both candidates."""
        m = self.masks[j]
        n = m.cols
        u, i = divmod(idx, n)
        group = sorted(members or [(i, 1.0)])  # (a group's events in sample order: which was met first is rounding)
        self._moved += self._frozen_zero_weights(y, j, u, [c for c, _ in group])
        # mask 1 here may lift the sample's column from zero: the entries above then take the signs of its
        # direction (docs/theory.md E1, "A column lifted from zero"), in the candidate and in the outcome
        lift = self._lift(y, j, idx, t) if members is None and (from_side < 0 or unpinned) else None
        lift = {i: lift} if lift else None
        cm, cp = self._rates(y, j, idx, t, members, lift, defer=True)
        if members:
            self._check_proportional(t, j, u, [c for c, _ in members], members, [cm["unit"], cp["unit"]])
        a, b = cm["rate"], cp["rate"]
        if a.is_zero() and (b < 0 or b.is_zero()):
            candidate_branches((cm, cp), -1, _arb_sign)  # (the flow goes on in the mask-α field)
            # The z ≤ 0 field does not move z at all (exactly: every path from this entry to the
            # parameters is multiplied by a zero mask, e.g. the last active sample of a ReLU unit, or
            # orthogonal inputs). Filippov: λ = a/(a − b) = 0, the flow continues with F₋, which keeps
            # z at 0. The entry is "pinned": mask α, not watched for roots while its series stays
            # constant; once another event makes it move, it is decided again (_unpin).
            if any(kap < 0 for _, kap in group):
                raise shared_surface_error(float(t), j + 1, u, i, [c for c, _ in group if c != i], ", held at the "
                                           "surface by a region where its members have different masks")
            for c, _ in group:
                m.set_side(u * n + c, -1)
                m.pinned.add(u * n + c)
                if from_side != 0:
                    self.events.append(KinkEvent(t, "cross", j + 1, c, u))
            self._apply_left(y, cm, t)
            return
        if a.contains(0) or b.contains(0):
            raise UnsupportedKinkError(
                f"t = {float(t):.17g}: unit {u} of layer {j + 1} on sample {i} meets its kink tangentially "
                f"(rates {float(a.mid()):.3g}, {float(b.mid()):.3g} not separated from 0 at {self.dps} digits)"
            )
        # the field the flow goes on in: the side it came from (a touch), none (sliding: its own search is checked),
        # the side it crosses to; both from no side
        same = a > 0 and b > 0 or a < 0 and b < 0
        post = 0 if from_side == 0 else None if not same else (1 if a > 0 else -1)
        candidate_branches((cm, cp), post, _arb_sign)
        if a > 0 and b > 0 or a < 0 and b < 0:
            new = 1 if a > 0 else -1
            if from_side != 0 and new == from_side:
                # a grazing touch: z came to 0 (a root of even multiplicity to the working precision)
                # and both fields take it back to its side; the flow stays in its region
                self.skip[(j, idx)] = 1
                return
            for c, kap in group:
                m.set_side(u * n + c, new if kap > 0 else -new)
                self.skip[(j, u * n + c)] = 1
                if from_side != 0 or (unpinned and new > 0):
                    self.events.append(KinkEvent(t, "cross", j + 1, c, u))
            if lift and new > 0:
                for c, sides in sorted(lift.items()):
                    self._apply_lift(sides, c, t)
            self._apply_left(y, cp if new > 0 else cm, t)
            return
        if a < 0 < b:
            raise NonUniqueFlowError(
                f"t = {float(t):.17g}: unit {u} of layer {j + 1} on sample {i} is at a repelling kink (both "
                "adjacent fields point away from z = 0); the gradient flow θ' ∈ −∂f(θ) is not unique from here"
            )
        # a > 0 > b: attracting from both sides -> Filippov sliding, λ = a/(a − b), μ = α + λ(1 − α)
        mu0 = (m.alpha + (1 - m.alpha) * a / (a - b)).mid()
        for c, kap in group:  # (a member with κ < 0 on the other side: the complementary weight)
            k = u * n + c
            m.sliding.add(k)
            m.set_side(k, -1)
            m.mu[k] = [mu0 if kap > 0 else (1 + m.alpha - mu0).mid()]
            if members:
                self._tie[(j, k)] = ((j, idx), 1 if kap > 0 else -1)
            self.events.append(KinkEvent(t, "enter sliding", j + 1, c, u))
        # Joining may push another sliding entry's weight out of [α, 1]: the mode of the sliding set with
        # e in it is made consistent (_settle: pivoting; e must stay sliding); whether the mode found is
        # the only consistent one is certified or tried, or counted unverified (numerics.active_sets.settle).
        self._apply_left(y, None, t, joining=(j, idx))

    def _leave(self, j: int, idx: int, to_side: int, t: Fraction) -> None:
        rep, sg = self._tie.get((j, idx), ((j, idx), 1))
        # (a group leaves as one: a member on the other side of the surface to the other side)
        group = self._group_of(rep)
        for (jj, kk), sm in group:
            self._tie.pop((jj, kk), None)
            m = self.masks[jj]
            m.sliding.discard(kk)
            m.mu.pop(kk, None)
            m.set_side(kk, to_side * sg * sm)
            self.skip[(jj, kk)] = 2  # z = 0 and ż = 0 at the exit: z leaves quadratically
            u, i = divmod(kk, m.cols)
            self.events.append(KinkEvent(t, "leave sliding", jj + 1, i, u))

    # -- event locator -------------------------------------------------------------------------------
    def _zeroing(self, j: int, idx: int) -> bool:
        """Whether entry idx of hidden layer j (0-based) is its sample's last active unit there, on a bias-free
        ReLU net (α = 0): every other entry of the layer on the sample is off, pinned or (at most one) sliding
        (:func:`numerics.kink_events.last_active_unit`), so at its kink the sample's activations of the layer are
        all 0 — and so is every pre-activation
        above it on the sample (:meth:`_locate`)."""
        if self.obj.model.bias or self.obj.model.alpha != 0:
            return False
        m = self.masks[j]
        u, i = divmod(idx, m.cols)
        return last_active_unit([int(m.side[v * m.cols + i]) for v in range(m.rows)],
                                [v for v in range(m.rows) if v * m.cols + i in m.sliding],
                                [v for v in range(m.rows) if v * m.cols + i in m.pinned]) == u

    def _feeding(self, y: list, j: int, idx: int, above: int) -> bool:
        """Whether entry idx of hidden layer j (0-based) is the one unit through which entry ``above`` of layer j + 1
        (same sample) gets its value — every other unit on has a weight exactly 0 into it
        (:func:`numerics.kink_events.sole_feeding_unit`), so its kink takes that entry to 0 with it; bias-free ReLU
        nets (``y`` the state)."""
        if self.obj.model.bias or self.obj.model.alpha != 0:
            return False
        m = self.masks[j]
        u, i = divmod(idx, m.cols)
        W = y[j + 1]
        uu = above // self.masks[j + 1].cols
        return sole_feeding_unit([int(m.side[v * m.cols + i]) for v in range(m.rows)],
                                 [W[uu, v].is_zero() for v in range(m.rows)],
                                 [v for v in range(m.rows) if v * m.cols + i in m.sliding]) == u

    def _locate(self, watched: dict, h: Fraction, bits: int, y: list) -> tuple[Fraction, tuple] | None:
        best = None
        roots: dict = {}  # (layer, sample) → the earliest root of its entries: (s, idx)
        for j, m in enumerate(self.masks):
            z = self._z(watched, j)
            E = [zk.entries() for zk in z]
            for idx in range(m.rows * m.cols):
                if m.dead[idx]:
                    # identically 0 so far: watched again once its series is not (a switch below it made it
                    # move; until 2026-12-04 it stayed unwatched for good and its crossing was missed)
                    if all(Ek[idx].is_zero() for Ek in E):
                        continue
                    m.dead[idx] = False
                if idx in m.sliding or idx in m.pinned:
                    continue
                skip = self.skip.get((j, idx), 0)
                s = _first_root([Ek[idx] for Ek in E], int(m.side[idx]), h, skip, bits)
                if s is not None and (best is None or s < best[0]):
                    best = (s, ("z", j, idx))
                if s is not None:
                    key = (j, idx % m.cols)
                    if key not in roots or s < roots[key][0]:
                        roots[key] = (s, idx)
            for idx in m.sliding:
                mus = m.mu[idx]
                lo = [mus[0] - m.alpha] + mus[1:]
                hi = [1 - mus[0]] + [-x for x in mus[1:]]
                for coefs, side in ((lo, -1), (hi, 1)):
                    s = _first_root(coefs, 1, h, 0, bits)
                    if s is not None and (best is None or s < best[0]):
                        best = (s, ("mu", j, idx, side))
        if best is not None and best[1][0] == "z" and best[1][1] > 0:
            # A sample's last active unit of a lower layer reaching its kink at this instant zeroes the sample's
            # activations there, and with them every pre-activation above it on the sample (bias-free, α = 0):
            # those reach 0 at the same instant, and which root the rounding puts first decided which of them
            # were switched — and how: rates of two fields that differ by rounding could make one "enter
            # sliding" on a column about to vanish (a constraint that then degenerates; seed 53 of the soak in
            # tests/test_float_simultaneous_kinks.py refused at 40 and 50 digits, not at 30 or 35). The lower
            # unit's switch goes first (within δ = merge_tol, 10^{5−dps}: far above the roots' rounding — 1.2e-49
            # apart at 30 digits on seed 41, working at 206 bits — and far below the run's errors: moving a switch
            # by δ changes the flow by O(δ·δ), the column being O(δ) over it); the entries above are then exactly
            # 0 and switch no more (docs/theory.md F, "Simultaneous immaterial switches").
            s0, (_, j0, idx0) = best
            i0 = idx0 % self.masks[j0].cols
            tol = self.merge_tol
            for jl in range(j0):
                got = roots.get((jl, i0))
                if got is not None and got[0] - s0 <= tol and (self._zeroing(jl, got[1])
                                                               or jl == j0 - 1 and self._feeding(y, jl, got[1], idx0)):
                    return got[0], ("z", jl, got[1])
        return best

    # -- witnesses -----------------------------------------------------------------------------------
    def _neuron_gaps(self, y: list) -> list[flint.arb]:
        """E2: ‖(W_j[u,:], b_j[u])‖² − ‖W_{j+1}[:,u]‖² for every hidden neuron, from the state."""
        bias = self.obj.model.bias
        Ws = y[0::2] if bias else y
        bs = y[1::2] if bias else None
        out = []
        for j in range(len(Ws) - 1):
            Win, Wout = Ws[j], Ws[j + 1]
            for u in range(Win.nrows()):
                g = sum((Win[u, c] ** 2 for c in range(Win.ncols())), flint.arb(0))
                if bias:
                    g += bs[j][u, 0] ** 2
                g -= sum((Wout[r, u] ** 2 for r in range(Wout.nrows())), flint.arb(0))
                out.append(g)
        return out

    def _with_trajectory(self, e: NonUniqueFlowError, t: Fraction, y: list | None, starts: list, steps: list,
                         coeffs: list, errors: list, defects: list, t0: float, shapes: tuple) -> NonUniqueFlowError:
        """``e`` with the flow up to its instant t attached (``e.trajectory``: a :class:`numerics.flows.Trajectory`
        on [0, t] with the events before it, and the run's local errors, which :func:`numerics.kink_rerun.confirmed`
        replaces by the rerun's estimate), for the rerun's comparison and for the user, who has the flow up to the
        verdict."""
        from .flows import Trajectory

        if not starts:  # a verdict at t = 0: the initial point only
            y = y if y is not None else [to_arb_mat(np.asarray(w).reshape(-1, 1) if np.ndim(w) == 1 else w)
                                         for w in self.theta0]
            starts, steps, coeffs, errors = [Fraction(0)], [Fraction(0)], [[[m] for m in y]], [0.0]
        e.trajectory = Trajectory(self.obj, self.dps, self.p, t, list(starts), list(steps), list(coeffs),
                                  list(errors), list(defects), time.perf_counter() - t0, shapes)
        e.trajectory.events = list(self.events)
        e.trajectory.modes_unverified = self.modes_unverified
        return e

    # -- the loop ------------------------------------------------------------------------------------
    def run(self, t_end: Fraction, progress: Callable | None):
        from .flows import Trajectory, _guard_bits, taylor_eval, taylor_step

        t0 = time.perf_counter()
        shapes = tuple(tuple(s) for s in self.obj.shapes)
        starts, steps, coeffs, errors, defects = [], [], [], [], []
        with arb_precision(self.dps, _guard_bits(self.obj, self.p)) as bits:
            self.skip: dict = {}
            self._moved = 0.0  # what kink decisions moved the state by (_frozen_zero_weights)
            self._held_ok: dict = {}  # (layer, unit, pinned samples) → (step start, events) last held at
            self._last_step = None  # (start, h, series) of the step that ends at the next start (_locate_lift)
            t, y = Fraction(0), None
            err = 0.0
            zero_steps = 0
            try:
                y = self._setup()
                gaps0 = self._neuron_gaps(y)
                while t < t_end:
                    self._clock = t  # (for messages raised below the step, e.g. _zero_columns)
                    drop: list[float] = []  # radii dropped by recentring the step's coefficients
                    cs, watched = self._pass(y, self.p, drop)
                    if self._unpin(y, watched, t):
                        drop = []
                        cs, watched = self._pass(y, self.p, drop)
                    if self._tie:  # every decision before this step kept the groups' surfaces?
                        self._ties_hold(t)
                    h = taylor_step(cs, self.p, t_end - t, t, cap=arb_logit_cap(self.tape, watched))
                    mus = [[flint.arb_mat(1, 1, [x]) for x in m.mu[idx]] for m in self.masks for idx in sorted(m.sliding)]
                    if mus:
                        # The leave events are roots of the Filippov weights' series μ(t), so those series
                        # must converge on the step as well as the state's. μ = −A⁻¹r is a rational function
                        # of the state whose pole (A singular) can sit much closer than anything the state's
                        # coefficients show, since μ enters the field multiplied by small factors: measured,
                        # two entries sliding on one unit left sliding 2e-4 late at 30 digits (the state
                        # itself right to 1e-33) with the state's step alone. μ_k exists up to k = p − 1.
                        try:
                            h = min(h, taylor_step(mus, self.p - 1, t_end - t, t))
                        except FloatingPointError:
                            # the weights' coefficients left the float range: their radius is 0 to working
                            # precision, the state at a pole of μ = −A⁻¹r (A singular: the sliding constraints
                            # degenerate) that no leave event came before (found by a soak, 2026-12-04, on a
                            # 2-2-6-2 ReLU net at t = 0.380; the float tier refuses such a stretch as a stall)
                            raise UnsupportedKinkError(
                                f"t = {float(t):.17g}: the Filippov weights of the sliding entries "
                                f"{[(j + 1, idx) for j, idx in self._sliding()]} (layer, unit·n + sample) have series "
                                "of vanishing radius — the state is at a pole of the weights, where the sliding "
                                "constraints degenerate; the continuation of this sliding mode is not decided by "
                                f"this method: the flow is known up to t = {float(t):.17g} (integrate to a horizon "
                                "before it)") from None
                    ev = self._locate(watched, h, bits, y) if self.masks else None
                    if ev is not None:
                        h = ev[0]
                        zero_steps = zero_steps + 1 if h == 0 else 0
                        if zero_steps > 2 * sum(m.rows * m.cols for m in self.masks) + 2:
                            raise UnsupportedKinkError(f"t = {float(t):.17g}: kink events without progress in time")
                    self._record_dips(watched, cs, h, t, t + h >= t_end, bits)
                    self._record_exits(cs, h, t, ev, t + h >= t_end, bits)
                    new = taylor_eval(cs, h)
                    if not all(math.isfinite(float(x.mid())) for mm in new for x in mm.entries()):
                        raise FloatingPointError(f"the flow left the float range near t = {float(t)}")
                    err += self._local_error(cs, h, new, y, drop) + self._moved
                    self._moved = 0.0
                    if h > 0:
                        starts.append(t)
                        steps.append(h)
                        coeffs.append([[c.mid() for c in comp] for comp in cs])
                        errors.append(err)
                        self._last_step = (t, h, cs)
                    y = [mm.mid() for mm in new]
                    t += h
                    self._clock = t
                    if h > 0:  # known-zero coefficients stay known while events pile up at one time
                        self.skip = {}
                    if ev is not None:
                        info = ev[1]
                        if info[0] == "z":
                            _, j, idx = info
                            try:
                                self._kink(y, j, idx, t, from_side=int(self.masks[j].side[idx]))
                            except UnsupportedKinkError as e:
                                if str(e).startswith("t = "):
                                    raise
                                # (raised below the decision, e.g. by the weights' solve, which does not know the instant)
                                raise UnsupportedKinkError(f"t = {float(t):.17g}: {e}") from None
                        else:
                            _, j, idx, side = info
                            self._leave(j, idx, side, t)
                    if gaps0:
                        defects.append(max(float(abs((a - b).mid())) for a, b in zip(self._neuron_gaps(y), gaps0)))
                    if progress:
                        progress(float(t), float(t_end))
            except NonUniqueFlowError as e:
                # the verdict stops the run: the flow up to it goes with the error, for relu_gradient_flow's rerun
                # to compare with its own
                raise self._with_trajectory(e, t, y, starts, steps, coeffs, errors, defects, t0, shapes)
            if not starts:
                starts.append(Fraction(0))
                steps.append(Fraction(0))
                coeffs.append([[m] for m in y])
                errors.append(0.0)
        traj = Trajectory(self.obj, self.dps, self.p, t_end, starts, steps, coeffs, errors, defects,
                          time.perf_counter() - t0, shapes)
        traj.events = self.events
        traj.modes_unverified = self.modes_unverified
        return traj


def relu_gradient_flow(obj: Objective, theta0: Sequence[Any], t_end: Fraction, dps: int, order: int | None = None,
                       progress: Callable | None = None, rerun: bool = True):
    """GF θ' ∈ −∂f(θ) of a (leaky) ReLU or biased net on [0, t_end] at ``dps`` digits (module docstring).

    Called by :func:`numerics.gradient_flow` (which validates the input). ``rerun=False`` skips the
    dps + 10 rerun; the estimate is then the accumulated local errors only, without propagation.
    """
    t0 = time.perf_counter()
    flow = _KinkFlow(obj, theta0, dps, order)
    flow.record_decisions = not rerun  # (with a rerun, its decisions are the ones checked: check_rerun_decisions)
    try:
        traj = flow.run(t_end, progress)
    except NonUniqueFlowError as e:
        if not rerun:
            raise
        raise confirmed(obj, theta0, dps, flow, t_end, e) from None
    if not rerun or t_end == 0:
        flow.check_decisions(lambda t: error_at(traj, t))  # (its local errors only: all it has)
        return traj
    fine_flow = _KinkFlow(obj, theta0, dps + 10, None, merge_tol=flow.merge_tol)
    fine = fine_flow.run(t_end, None)
    # the switches that cannot change the flow (a sample's lower layer all 0 at that instant: which of the entries
    # above it are recorded is rounding, docs/theory.md E1) are left out of the comparison; found as a refusal
    # ("raise dps", which cannot help) by a soak of the float tier against this one (cross-entropy, seed 41 of
    # tests/test_float_simultaneous_kinks.instance, T = 1: 30 digits recorded layer-2 units 0 and 3 of sample 1,
    # 40 digits units 3 and 4, at the instant its layer 1 switched off). The tolerance is the coarser run's
    # working precision less 5 digits: such a column is 0 to rounding, a genuine kink's is of the state's size.
    with mpmath.workdps(dps + 10):
        tol = 10.0 ** -(dps - 5)
        mark_immaterial(obj, traj, tol)
        mark_immaterial(obj, fine, tol)
    ma, mb = [e for e in traj.events if e.material], [e for e in fine.events if e.material]
    ka, kb = [e.key() for e in ma], [e.key() for e in mb]
    if ka != kb:
        raise UnsupportedKinkError(
            f"the kink events at {dps} and {dps + 10} digits differ ({len(ka)} vs {len(kb)} events; first "
            f"difference {next((x, y) for x, y in zip(ka + [None], kb + [None]) if x != y)}): the event "
            "sequence is not resolved at this precision; raise dps (where the differing switches are entries of "
            "one sample at one instant, more digits may not help: docs/theory.md F, \"Simultaneous immaterial "
            "switches\")"
        )
    for e, f in zip(ma, mb):
        e.t_uncertainty = float(abs(e.t - f.t))
    for e in traj.events:
        if not e.material:  # its instant's: the nearest event of the rerun
            e.t_uncertainty = float(min(abs(e.t - f.t) for f in fine.events))
    check_rerun_decisions(fine_flow, fine, traj, rerun_estimate(traj, fine, dps))
    traj.seconds = time.perf_counter() - t0
    return traj
