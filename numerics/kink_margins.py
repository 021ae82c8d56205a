"""The arb tier's kink decisions checked against the run's error (docs/theory.md E3, "Decisions within the run's
error"). A decision is made on the computed state, whose balls carry the step's rounding but not the run's error,
which is known only after the dps + 10 rerun. So after the run every decision that :meth:`_kink` made is made again
on a ball around the computed state that holds the exact flow's switching point, and must come out the same;
otherwise the run is refused. :func:`numerics.kink_flows.relu_gradient_flow` checks the rerun's decisions, against
the rerun's error as its estimate bounds it (E3 says why those are the ones that matter).

The radius. At a kink located at t the computed state θ̂ is within e of the exact flow's θ(t): e is the bound given
for the run at t (max norm), and it holds at every earlier time too. B(θ̂, ρ) is the max-norm ball, the box of
half-width ρ; the state with every ball widened by ρ encloses it (:func:`inflate`). Over B(θ̂, ρ), in ball
arithmetic, with the masks as they were before the decision:

* p(ρ) ≤ |ż|, the rate the flow arrives with (refused where its ball holds 0);
* V(ρ) ≥ ‖θ'‖₂, which bounds the max norm of the displacement per unit time;
* z̄ ≥ |z| over B(θ̂, e).

The computed z moves toward 0 at a rate ≥ p and the exact z is within z̄ of it, so the exact flow meets z = 0 at
some t* with |t* − t| ≤ τ = z̄/p(R). Before t this uses the computed path, after t the exact one under the field
before the decision; both stay in B(θ̂, R) while τV(R) ≤ R − e. So θ(t*) lies in B(θ̂, e + τV(R)). R is taken as
2(e + z̄V(e)/p(e)) and accepted when e + z̄V(R)/p(R) ≤ R: the consistency check of an a-priori bound.

It is first order in one place: z̄ is taken at t and used at the points of the computed path within τ of t. The
float tier's bars make the same approximation. Three cases need less:

* a decision at t = 0 has e = 0, since θ(0) is converted exactly, and τ = 0;
* an entry that another switch of the same instant set moving (``unpinned``, from no side) takes that instant's
  largest τ from the decisions located there;
* after a leave event (a weight μ reaching α or 1, which is not one of these decisions) τ is the leave's own,
  from the leaving weight's ball over B(θ̂, e) and its rate (:meth:`numerics.kink_exits.NearExits._leave_taus`;
  first order, as the float tier's ``_leave_tau``). Until 2026-12-06 there was none, and the ball was B(θ̂, e).

"The same" compares the masks' sides, the sliding and pinned sets, the groups' ties and the events the decision
records. Every sign inside the decision is then certain over B(θ̂, R): the rates, and the modes of the sliding set.
So the outcome holds for every state in the ball, the exact flow's switching point among them. Two exceptions:

* the test of which entries share a kink surface (:func:`numerics.kink_events.coincident_group`) reads the
  midpoints; a true group's inputs are parallel for every θ nearby;
* entries that are exactly 0 are not widened (:func:`inflate` says why).

The holds of pinned units at step starts (:mod:`numerics.kink_pins`) are made again too, on B(θ̂, e): no switching
time enters there (:meth:`DecisionMargins._check_holds`).

:class:`DecisionMargins` is a mixin of :class:`numerics.kink_flows._KinkFlow`. It reads the flow's ``masks``,
``events``, ``skip``, ``_tie``, ``dps``, ``p``, ``obj`` and ``zdot``, and its ``_pass``, ``_z``, ``_snapshot``,
``_restore`` and ``_kink_decide``.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from fractions import Fraction
from typing import Any, Callable

import flint

from .kink_events import NonUniqueFlowError, UnsupportedKinkError


def inflate(y: list, r: float) -> list:
    """The state with every entry's ball widened by r: an enclosure of the max-norm ball of radius r around ŷ
    (the norm of the runs' error estimates). An entry that is exactly 0 stays 0: a state's entries are midpoints
    of sums of products, exactly 0 only where the flow holds a weight at 0 exactly — one a kink set to 0
    (E1, "A weight that its kink sets to 0") or one no mask lets move — and the exact flow holds it there too."""
    if r <= 0:
        return [flint.arb_mat(M) for M in y]
    rad = flint.arb(0, r)
    return [flint.arb_mat(M.nrows(), M.ncols(), [x if x.is_zero() else x + rad for x in M.entries()]) for M in y]


def _norm_upper(cols: list) -> float:
    """An upper bound of the 2-norm of the vector whose entries are the arb balls of ``cols`` (arb_mat list)."""
    s = flint.arb(0)
    for M in cols:
        for x in M.entries():
            a = abs(x).upper()
            s += a * a
    return float(s.sqrt().upper()) * (1 + 1e-15)


class DecisionMargins:
    """The record of the arb tier's kink decisions and their check against the run's error (module docstring)."""

    _all_events: tuple = ()  # (the run's events while check_decisions runs)
    record_decisions = True
    check_role = ""  # (in messages: " of the rerun at d digits" for relu_gradient_flow's rerun)

    @contextmanager
    def _checking(self):
        """The context of the checks after a run: the working precision, and the flow's mode and events put back
        after (from the run's whole list of events, ``_all_events``)."""
        from .flows import _guard_bits
        from .series import arb_precision

        self._all_events = tuple(self.events)
        end = self._full_snapshot()
        try:
            with arb_precision(self.dps, _guard_bits(self.obj, self.p)):
                yield
        finally:
            self._full_restore(end)

    def _full_snapshot(self) -> tuple:
        return (self._snapshot(), [set(m.pinned) for m in self.masks], [m.dead.copy() for m in self.masks],
                dict(self.skip), len(self.events))

    def _full_restore(self, snap: tuple) -> None:
        """The mode of ``snap``, and the events up to its count — from the run's whole list (``_all_events``) when a
        later snapshot has cut it shorter (the trajectory's own list is put back whole at the end)."""
        base, pinned, dead, skip, n = snap
        self._restore(base)
        for m, p, d in zip(self.masks, pinned, dead):
            m.pinned = set(p)
            m.dead[...] = d
        self.skip = dict(skip)
        self.events[:] = self._all_events[:n]

    def _outcome(self, n_events: int) -> tuple:
        return ([(m.side.tobytes(), frozenset(m.sliding), frozenset(m.pinned)) for m in self.masks],
                sorted(self._tie.items()), [e.key() for e in self.events[n_events:]])

    def _kink(self, y: list, j: int, idx: int, t: Fraction, from_side: int, unpinned: bool = False) -> None:
        """:meth:`_kink_decide`, recorded for :meth:`check_decisions`: the state, the flow's mode before the
        decision and its outcome (a copy of the state per decision: not kept where ``record_decisions`` is False,
        as for a run whose rerun's decisions are the ones checked)."""
        if not self.record_decisions:
            return self._kink_decide(y, j, idx, t, from_side, unpinned)
        if not hasattr(self, "_decisions"):
            self._decisions = []
        before = self._full_snapshot()
        y0 = [flint.arb_mat(M) for M in y]  # (the decision may set weights to 0 in y: _frozen_zero_weights)
        self._kink_decide(y, j, idx, t, from_side, unpinned)
        self._decisions.append((t, y0, before, (j, idx, from_side, unpinned), self._outcome(before[-1])))

    def _pinned_held(self, y: list, t: Fraction) -> None:
        """:meth:`numerics.kink_pins.PinnedKinks._pinned_held`, recorded for :meth:`check_decisions` where units are
        pinned (the state — replaced, not changed, after this check — and the flow's mode)."""
        super()._pinned_held(y, t)
        if self.record_decisions and any(m.pinned for m in self.masks):
            if not hasattr(self, "_holds"):
                self._holds = []
            self._holds.append((t, y, self._full_snapshot()))

    def _check_holds(self, error_at: Callable[[Fraction], float]) -> int:
        """Each recorded hold of pinned units made again on the max-norm ball of radius e around its state (no
        switching time: the check is at a step's start): the verdict of :func:`numerics.kink_held.held_verdict`
        must still be "held". Returns how many were checked."""
        from .kink_held import held_verdict

        n = 0
        for t, y, snap in getattr(self, "_holds", []):
            e = float(error_at(t))
            if not math.isfinite(e) or t == 0:
                continue
            self._full_restore(snap)
            ye = inflate(y, e)
            for j, u, samples in self._pinned_units():
                where = f"t = {float(t):.17g}: unit {u} of layer {j + 1}"
                try:
                    blocks = self._held_blocks(ye, j, u, samples, t)
                    lifts = self._held_lifts(ye, j, u, blocks, t)
                    if lifts is None:
                        raise UnsupportedKinkError("the field with mask α moves its entries there")
                    held_verdict(where, blocks, lifts)
                except (UnsupportedKinkError, NonUniqueFlowError, ZeroDivisionError, ValueError) as x:
                    raise UnsupportedKinkError(
                        f"{where}{self.check_role}: its pinned entries {samples} are held on the computed state but "
                        f"not on every state within its error ({e:.3g}): {x}; not decided at this precision, raise "
                        "dps") from None
                n += 1
        return n

    def _arrival(self, y: list, j: int, idx: int) -> tuple[Any, Any, float]:
        """|z|, ż (the field before the decision) and an upper bound of ‖θ'‖₂ over the ball ``y``."""
        cs, w = self._pass(y, 1)
        z = self._z(w, j)[0].entries()[idx]
        zdot = w[self.zdot[j]][0].entries()[idx]
        return abs(z), zdot, _norm_upper([c[1] for c in cs])

    def _radius(self, y: list, j: int, idx: int, e: float, tau_of, what: str) -> tuple[float, float]:
        """R ≥ e + τ·V(R) by the a-priori doubling of the module docstring, τ = ``tau_of``(p, z̄) with p the lower
        bound of |ż| over the ball (0 where ż's ball holds 0) and z̄ that of |z| over B(θ̂, e); returns (R, τ at R).
        Refused where the bound does not close."""
        def at(r: float) -> tuple[float, float, Any, float]:
            before = self._full_snapshot()
            try:
                z, zdot, V = self._arrival(inflate(y, r), j, idx)
            finally:
                self._full_restore(before)
            return (0.0 if zdot.contains(0) else float(abs(zdot).lower())), V, zdot, float(z.upper())

        p, V, pre, zb = at(e)
        tau = tau_of(p, zb)
        if tau == 0:
            return e, 0.0
        R = 2 * (e + tau * V)
        p, VR, _, _ = at(R) if math.isfinite(R) else (0.0, math.inf, None, 0.0)
        tau = tau_of(p, zb)
        if not e + tau * VR <= R:
            raise UnsupportedKinkError(
                f"{what}: the exact flow's switching point is not bounded near the computed one (the rate it arrived "
                f"with, {float(pre.mid()):.3g}, against the error {e:.3g})")
        return R, tau

    def check_decisions(self, error_at: Callable[[Fraction], float]) -> int:
        """Make every recorded decision again on the ball around its state that holds the exact flow's switching
        point (module docstring), e = ``error_at``(t) at the decision's instant t (a bound on this run's max-norm
        error there; inf: not checked). Raises UnsupportedKinkError at the first one that comes out otherwise or
        cannot be bounded; returns how many were checked. The flow's mode and events are left as they were. The
        steps' closest approaches to a kink without an event are checked first, against the same error
        (:meth:`numerics.kink_dips.NearTouches._check_dips`), and the sliding weights' closest approaches to α or 1
        (:meth:`numerics.kink_exits.NearExits._check_exits`)."""
        recs = getattr(self, "_decisions", [])
        self._check_dips(error_at)
        self._check_exits(error_at)
        if not recs and not getattr(self, "_holds", []):
            return 0
        # the leaves' switching-time uncertainties, for the decisions a leave sets going at its instant (unpinned)
        taus: dict = self._leave_taus(error_at)
        with self._checking():
            for t, y, before, (j, idx, from_side, unpinned), outcome in recs:
                e = 0.0 if t == 0 else float(error_at(t))
                if not math.isfinite(e):
                    continue  # (no bound there: nothing to check against)
                u, i = divmod(idx, self.masks[j].cols)
                what = f"t = {float(t):.17g}: the decision{self.check_role} at unit {u} of layer {j + 1} on sample {i}"
                if t == 0:
                    continue  # (θ(0) is exact and no switching time is uncertain: the decision was made on it)
                try:
                    self._full_restore(before)
                    if from_side != 0:
                        R, tau = self._radius(y, j, idx, e, lambda p, zb: zb / p if p > 0 else math.inf, what)
                        taus[t] = max(taus.get(t, 0.0), tau)
                    else:  # set moving by another switch of this instant: that switch's time uncertainty
                        R, _ = self._radius(y, j, idx, e, lambda p, zb: taus.get(t, 0.0), what)
                except (UnsupportedKinkError, NonUniqueFlowError, ZeroDivisionError, ValueError) as x:
                    if str(x).startswith(what):
                        raise
                    raise UnsupportedKinkError(f"{what}: its switching point is not bounded on the states within its "
                                               f"error ({e:.3g}) of the computed one: {x}") from None
                self._full_restore(before)
                try:
                    self._kink_decide(inflate(y, R), j, idx, t, from_side, unpinned)
                    again = self._outcome(before[-1])
                except (UnsupportedKinkError, NonUniqueFlowError, ZeroDivisionError, ValueError,
                        AssertionError) as x:
                    again = f"{type(x).__name__}: {x}"
                if again != outcome:
                    raise UnsupportedKinkError(
                        f"{what} is not the same on every state within its error of the computed one (error {e:.3g}, "
                        f"ball radius {R:.3g} with the switching time's uncertainty): {_difference(outcome, again)}; "
                        "not decided at this precision, raise dps")
            self._check_holds(error_at)
        return sum(1 for r in recs if r[0] > 0)


def _difference(outcome: tuple, again: Any) -> str:
    if isinstance(again, str):
        return f"there it gives {again}"
    if outcome[2] != again[2]:
        return f"the events {outcome[2]} there become {again[2]}"
    return "the mode after it differs there (sides, sliding, pinned or tied entries)"
