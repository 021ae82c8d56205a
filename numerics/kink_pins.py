"""The arb tier's held entries. Pinned ones (docs/theory.md E1, "A field that does not move z"): an entry at
z = 0 whose field with mask α does not move it at all (a = 0 exactly) is held there with mask α; it is decided again when another
switch sets its series moving (:meth:`PinnedKinks._unpin`), and it stays the only flow only while the field with
mask 1 does not lift it (:meth:`PinnedKinks._pinned_held`); the weights a kink sets to 0 exactly
(:meth:`PinnedKinks._frozen_zero_weights`), without which a frozen row's entry would hover at a rounding residue
instead of staying pinned. The float tier's counterparts are in
:mod:`numerics.float_crossings` and the step loop of :mod:`numerics.float_taylor`. And the entries held at 0 above a
sample's column zeroed over a sliding unit, which take the Filippov flow's sides (:meth:`PinnedKinks._zero_columns`;
E1, "A column zeroed over a sliding unit"; the float tier's is in :mod:`numerics.float_sliding`), and those above a
column that one unit's switch lifts from zero, which take the signs of its direction (:meth:`PinnedKinks._lift`;
E1, "A column lifted from zero"; the float tier's is in :mod:`numerics.float_crossings`).

:class:`PinnedKinks` is a mixin of :class:`numerics.kink_flows._KinkFlow`: it reads the flow's ``masks`` and
``dps``, ``obj``, ``events`` and ``skip``, and its ``_z``, ``_kink`` and ``_rates``.
"""

from __future__ import annotations

import math
from fractions import Fraction

import flint
import numpy as np

from .kink_events import KinkEvent, UnsupportedKinkError, lifted_column_sides, lone_input, zero_column_sides
from .kink_held import decide_held, held_state, lift_bracket, surface_blocks
from .series import to_arb_mat


class PinnedKinks:
    """The checks of the held entries at every step's start, and the sides above zero columns (module docstring)."""

    def _unpin(self, y: list, watched: dict, t: Fraction) -> bool:
        """Pinned entries whose series is no longer constant (another switch changed the field): decide
        them again as a kink reached from no side. True if a pattern changed."""
        changed = False
        for j, m in enumerate(self.masks):
            if not m.pinned:
                continue
            z = self._z(watched, j)
            for idx in sorted(m.pinned):
                if any(not zk.entries()[idx].is_zero() for zk in z[1:]):
                    m.pinned.discard(idx)
                    self._kink(y, j, idx, t, from_side=0, unpinned=True)
                    changed = True
        if not changed:  # (else from the next step's pass: the series here are the old field's)
            self._newly_held(watched, t)
        self._pinned_held(y, t)
        return changed

    def _newly_held(self, watched: dict, t: Fraction) -> None:
        """Entries whose series has become exactly 0 (every coefficient) while their sample's input column into the
        layer has not: z is held at 0 by a weight that is exactly 0 over the one input left (after
        :meth:`_frozen_zero_weights`, when that input's own switch came at the same instant), so the entry is at its
        kink with a field under mask α that does not move it — pinned, checked at every step as pinned entries are
        (:meth:`_pinned_held`; docs/theory.md E1, "A weight that its kink sets to 0", *Held at 0 by it*). On side +1
        (mask 1 keeps it at 0) no rule decides it: refused. An entry whose column is 0 too has a mask that cannot
        reach the flow (E1, "relu′(0) and identically zero pre-activations"): left as it is. The float tier's is
        :meth:`numerics.float_pins.FloatPins._newly_held`."""
        bias, alpha = self.obj.model.bias, self.obj.model.alpha
        Z = [[zk.entries() for zk in self._z(watched, j)] for j in range(len(self.masks))]
        for j, m in enumerate(self.masks):
            for idx in range(m.rows * m.cols):
                if not Z[j][0][idx].is_zero() or idx in m.pinned or idx in m.sliding or m.dead[idx] \
                        or not all(E[idx].is_zero() for E in Z[j][1:]):
                    continue
                u, i = divmod(idx, m.cols)
                if j == 0:
                    live = bias or any(x != 0 for x in self.obj.loss.inputs[:, i])  # (the data: exact)
                else:
                    mb = self.masks[j - 1]
                    live = bias or any((mb.side[k] > 0 or alpha != 0) and k not in mb.sliding
                                       and not all(E[k].is_zero() for E in Z[j - 1])
                                       for k in range(i, mb.rows * mb.cols, mb.cols))
                if not live:
                    continue
                if m.side[idx] > 0:
                    raise UnsupportedKinkError(
                        f"t = {float(t):.17g}: unit {u} of layer {j + 1} on sample {i} is held at z = 0 exactly on its "
                        "side z > 0 (a weight at 0 over its one active input): whether it stays there is not decided "
                        f"by this method; the flow is known up to t = {float(t):.17g} (integrate to a horizon before it)")
                m.pinned.add(idx)

    def _pinned_held(self, y: list, t: Fraction) -> None:
        """The entries still pinned (mask α, a = 0 exactly): the flow that keeps one at 0 is the only one while the
        field with mask 1 does not lift it (b ≤ 0); once b > 0, leaving up and staying are both Filippov solutions
        (NonUniqueFlowError), and a b not separated from 0 decides nothing (UnsupportedKinkError). b moves with
        the state and jumps at other switches without setting the entry's own series moving; checked at every
        step's start (docs/theory.md E1, "A field that does not move z"; the float tier's
        ``FloatPins._pinned_held``), and a lift inside a step with no switch is located on its dense output
        (:meth:`_locate_lift`). A unit pinned on several samples: split by kink surface into blocks
        (:meth:`_held_blocks`), every nonempty set of blocks lifted at once, and the verdict of
        :func:`numerics.kink_held.held_verdict` (E1, *Several pinned on one unit*), with the rates as balls."""
        for j, u, samples in self._pinned_units():
            blocks = self._held_blocks(y, j, u, samples, t)
            lifts = self._held_lifts(y, j, u, blocks, t)
            if lifts is None:  # (moving: decided again from no side by _unpin)
                continue
            decide_held(self._held_ok, (j, u, tuple(samples)), len(self.events),
                        self._last_step[0] if self._last_step else None,
                        f"t = {float(t):.17g}: unit {u} of layer {j + 1}", blocks, lifts,
                        f"a higher precision than dps={self.dps}, or ", t, lambda: self._locate_lift(j, u, blocks))

    def _pinned_units(self) -> list[tuple[int, int, list[int]]]:
        """(layer j, unit u, its pinned samples in order) for every unit with pinned entries."""
        out = []
        for j, m in enumerate(self.masks):
            by_unit: dict[int, list[int]] = {}
            for idx in sorted(m.pinned):
                by_unit.setdefault(idx // m.cols, []).append(idx % m.cols)
            out += [(j, u, samples) for u, samples in by_unit.items()]
        return out

    def _held_lifts(self, y: list, j: int, u: int, blocks: list, t: Fraction) -> list | None:
        """The rows of :func:`numerics.kink_held.held_verdict` at state ``y``: per lift T (mask 1 on the blocks
        of T), each block's rate as a ball (its ends rounded outward to float64); None if the mask-α field moves
        the entries after all."""
        m = self.masks[j]
        reps = [blk[0][0] for blk in blocks]
        lifts = []
        for T in range(1, 2 ** len(blocks)):
            members = [mc for q, blk in enumerate(blocks) if T >> q & 1 for mc in blk]
            # (mask 1 on the members it turns on (κ > 0) whose sample's column is zero without them lifts those
            # columns: the entries above take the signs of the unit's direction, docs/theory.md E1, "A column lifted
            # from zero")
            lift = {c: self._lift(y, j, u * m.cols + c, t) for c, kap in members if kap > 0}
            lift = {c: sides for c, sides in lift.items() if sides} or None
            cm, cp = self._rates(y, j, u * m.cols + members[0][0], t, members, lift)
            if not cm["rate"].is_zero():
                return None
            for blk in blocks:  # (a block's entries on one surface: rates κ_c times its first's)
                if len(blk) > 1:
                    self._check_proportional(t, j, u, [c for c, _ in blk], blk,
                                             [[c["row"][mc] for mc, _ in blk] for c in (cm, cp)])
            rows = []
            for c in reps:
                r = cp["row"][c]
                lo, hi = r.lower(), r.upper()
                rows.append((float(r.mid()), float(r.rad()), math.nextafter(float(lo), -math.inf),
                             math.nextafter(float(hi), math.inf), r.is_zero()))
            lifts.append((T, rows))
        return lifts

    def _locate_lift(self, j: int, u: int, blocks: list) -> str:
        """Where inside the last step (start t₀, length h, series cs; no switch in it) the pinned blocks of unit u
        started to be lifted: bisection on the step's dense output (midpoints of ``taylor_eval``, as the run's
        states), deciding at each point as at a step's start; a point not decided stops it. Returns the sentence
        for the message (the float tier's :meth:`numerics.float_pins.FloatPins._locate_lift`)."""
        from .flows import taylor_eval

        t0, h, cs = self._last_step
        lo, hi, stopped = Fraction(0), h, None
        for _ in range(self.dps * 4):
            mid = (lo + hi) / 2
            mid = Fraction(float(mid)) if float(mid) not in (float(lo), float(hi)) else mid  # (small denominators)
            if not lo < mid < hi or float(hi - lo) <= 2.0**-60 * float(t0 + hi):
                break
            ym = [mm.mid() for mm in taylor_eval(cs, mid)]
            state = held_state(blocks, self._held_lifts(ym, j, u, blocks, t0 + mid))
            if state == "undecided":
                stopped = float(t0 + mid)
                break
            lo, hi = (mid, hi) if state == "held" else (lo, mid)
        return lift_bracket(math.nextafter(float(t0 + lo), -math.inf), math.nextafter(float(t0 + hi), math.inf), stopped)

    def _held_blocks(self, y: list, j: int, u: int, samples: list[int], t: Fraction) -> list[list[tuple[int, float]]]:
        """:func:`numerics.kink_held.surface_blocks` on the float64 values of the state (the entries sliding
        below marked as units on)."""
        inputs, Ws, bs, ms = self._float_layers(y, j)
        for l, mm in enumerate(self.masks[:j]):
            for k in mm.sliding:
                ms[l][divmod(k, mm.cols)] = 1.0
        return surface_blocks(f"t = {float(t):.17g}: unit {u} of layer {j + 1}", inputs, Ws, bs, ms, j + 1, samples)

    def _frozen_zero_weights(self, y: list, j: int, u: int, samples: list[int]) -> float:
        """Set to exactly 0 the weights W_{j+1}[u, k] that the kink of unit u of hidden layer j + 1 on ``samples``
        makes 0 in exact arithmetic — k the one input of the sample that is not exactly 0
        (:func:`numerics.kink_events.lone_input`), where the computed input â_k is certainly larger than the
        computed weight (of the two factors of z = W[u, k]·a_k one is 0 at the instant; the input is when the
        column itself vanishes with a switch below: docs/theory.md E1, "A weight that its kink sets to 0") — and
        return how far that moved the state (added to the run's error: the move is toward the exact weight, and
        counted all the same). The float tier's is
        :meth:`numerics.float_pins.FloatPins._frozen_zero_weights`."""
        obj, W, moved = self.obj, y[j], 0.0
        for i in samples:
            mb = self.masks[j - 1] if j > 0 else None
            k = lone_input(j + 1, obj.loss.inputs[:, i] if j == 0 else (),
                           [int(mb.side[v * mb.cols + i]) for v in range(mb.rows)] if mb else (),
                           [v for v in range(mb.rows) if v * mb.cols + i in mb.sliding] if mb else (),
                           obj.model.bias, obj.model.alpha)
            if k is None or W[u, k].is_zero():
                continue
            a = to_arb_mat(np.asarray(obj.loss.inputs)[:, i:i + 1])
            for l in range(j):  # sample i's column up to layer j (α = 0: an entry off, pinned or sliding gives 0)
                z, m = y[l] * a, self.masks[l]
                a = flint.arb_mat([[z[v, 0] if m.side[v * m.cols + i] > 0 and v * m.cols + i not in m.sliding else 0]
                                   for v in range(m.rows)])
            if not abs(a[k, 0]) > abs(W[u, k]):
                continue
            moved += float(abs(W[u, k]).upper())
            W[u, k] = 0
        return moved

    def _zero_columns(self, y: list, sliding: list) -> None:
        """The entries above a column zeroed over one sliding unit take the Filippov flow's sides
        (:func:`numerics.kink_events.zero_column_sides`; docs/theory.md E1, "A column zeroed over a sliding unit"),
        before the weights are solved: the field does not change, the weight's range does. The float tier does
        the same (:meth:`numerics.float_sliding.FloatSliding._zero_columns`)."""
        H = len(self.masks)
        if self.obj.model.bias or self.obj.model.alpha != 0 or H < 2:
            return
        samples = sorted({idx % self.masks[j].cols for j, idx in sliding if j < H - 1})
        Wf: list = []
        for i in samples:
            cols = self._sample_columns(i)
            if not any(all(sd < 0 for sd in c[0]) and c[1] for c in cols[:-1]):
                continue  # no lower column is zero with a unit sliding in it
            if not Wf:
                Wf = [np.array([[float(W[r, c].mid()) for c in range(W.ncols())] for r in range(W.nrows())])
                      for W in y[1:H]]
            where = f"t = {float(getattr(self, '_clock', 0)):.17g}, sample {i}: "
            for k, sides in zero_column_sides(cols, Wf, where=where).items():
                m = self.masks[k]
                for v in range(m.rows):
                    if int(m.side[v * m.cols + i]) != int(sides[v]):
                        m.set_side(v * m.cols + i, int(sides[v]))

    def _sample_columns(self, i: int) -> list[tuple[list[int], list[int], list[int]]]:
        """Sample i's column of every hidden layer as (sides, sliding units, pinned units): the argument of
        :func:`numerics.kink_events.zero_column_sides` and :func:`numerics.kink_events.lifted_column_sides`."""
        cols = []
        for m in self.masks:
            rows = range(m.rows)
            cols.append(([int(m.side[v * m.cols + i]) for v in rows],
                         [v for v in rows if v * m.cols + i in m.sliding],
                         [v for v in rows if v * m.cols + i in m.pinned]))
        return cols

    def _lift(self, y: list, j: int, idx: int, t: Fraction) -> dict | None:
        """The sides of the entries above entry idx of hidden layer j (0-based) when its switch on lifts its sample's
        column there from zero (:func:`numerics.kink_events.lifted_column_sides`; docs/theory.md E1, "A column
        lifted from zero"), or None where it does not. The signs are decided on the weights' midpoints against
        their largest radius carried up (and the rounding of doing so in float64): on the run's state that radius
        is the rounding's, on the ball that :mod:`numerics.kink_margins` checks the decision on it holds the run's
        error. The float tier's is :meth:`numerics.float_crossings.FloatCrossings._lift`."""
        H = len(self.masks)
        if self.obj.model.bias or self.obj.model.alpha != 0 or j >= H - 1:
            return None
        u, i = divmod(idx, self.masks[j].cols)
        cols = self._sample_columns(i)
        if cols[j][1] or any(sd > 0 for v, sd in enumerate(cols[j][0]) if v != u):
            return None  # (before converting the weights)
        Ws = y[1:H]
        Wf = [np.array([[float(W[r, c].mid()) for c in range(W.ncols())] for r in range(W.nrows())]) for W in Ws[j:]]
        rad = max(float(x.rad()) for W in Ws[j:] for x in W.entries())
        return lifted_column_sides(cols, [None] * j + Wf, j, u, rad, where=f"t = {float(t):.17g}, sample {i}: ",
                                   hint=f"a higher precision than dps={self.dps} may decide it")

    def _apply_lift(self, lift: dict, i: int, t: Fraction | None) -> None:
        """Give the entries above a lifted column on sample i their sides (:meth:`_lift`); with ``t``, record a
        "cross" for each whose side changes (in layer and unit order, after the lifting unit's own) and mark every
        one of them just switched (``skip``: their z is the lifting unit's z times a weight, 0 at the instant)."""
        for k, sides in sorted(lift.items()):
            mm = self.masks[k]
            for v, sd in enumerate(sides):
                kk = v * mm.cols + i
                if int(mm.side[kk]) != int(sd):
                    mm.set_side(kk, int(sd))
                    if t is not None:
                        self.events.append(KinkEvent(t, "cross", k + 1, i, v))
                if t is not None:
                    self.skip[(k, kk)] = 1

__all__ = ["PinnedKinks"]
