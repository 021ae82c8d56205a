"""The float tier's held entries (docs/theory.md E1): the pinned ones — an entry at z = 0 whose field with mask α does
not move it, held there, which stays the only flow only while the field with mask 1 does not lift it
(:meth:`FloatPins._pinned_held`; a unit pinned on several samples is checked surface by surface, *Several pinned on
one unit*, and a lift inside a step is located on its dense output, :meth:`FloatPins._locate_lift`) — the weights a
kink sets to 0 exactly (:meth:`FloatPins._frozen_zero_weights`) and the entries such a weight holds at 0
(:meth:`FloatPins._newly_held`). The arb tier's counterparts are in :mod:`numerics.kink_pins`; the verdict on a
unit's pinned blocks is shared (:func:`numerics.kink_held.held_verdict`).

:class:`FloatPins` is a mixin of :class:`numerics.float_taylor._FloatFlow`: it reads the flow's ``obj``, ``y``,
``lo``, ``side``, ``maskv``, ``alpha``, ``bias``, ``dead``, ``pinned``, ``watch``, ``events``, ``_held_ok`` and
``_last_step``, and its ``_rates``, ``_sliding``, ``_grad_z``, ``_rate_bars``, ``_rate_rounding`` and
``_check_proportional`` (:mod:`numerics.float_crossings`).
"""

from __future__ import annotations

import math

import numpy as np

from .float_crossings import _norm
from .float_steps import EPS
from .kink_events import lone_input
from .kink_held import decide_held, held_state, lift_bracket, surface_blocks


class FloatPins:
    """The held entries' checks and moves (module docstring)."""

    def _frozen_zero_weights(self, j: int, u: int, samples: list[int]) -> float:
        """Set to exactly 0 (both parts of the state) the weights W_{j+1}[u, k] that the kink of unit u of hidden
        layer j + 1 on ``samples`` makes 0 in exact arithmetic — k the one input of the sample that is not
        exactly 0 (:func:`numerics.kink_events.lone_input`), where the computed input â_k is larger than the
        computed weight (of the two factors of z = W[u, k]·a_k one is 0 at the instant; docs/theory.md E1, "A
        weight that its kink sets to 0") — and return how far that moved the state (the run adds it to its error
        bound). The arb tier's is :meth:`numerics.kink_pins.PinnedKinks._frozen_zero_weights`."""
        obj, moved = self.obj, 0.0
        sliding = set(self._sliding())
        for i in samples:
            k = lone_input(j + 1, obj.loss.inputs[:, i] if j == 0 else (),
                           self.side[j - 1][:, i] if j > 0 else (),
                           [v for v in range(self.side[j - 1].shape[0]) if (j - 1, v, i) in sliding] if j > 0 else (),
                           self.bias, obj.model.alpha)
            if k is None or (self.y[j][u, k] == 0 and self.lo[j][u, k] == 0):  # (exact zeros: nothing to move)
                continue
            a = np.asarray(obj.loss.inputs, dtype=float)[:, i]
            for l in range(j):  # sample i's column up to layer j (α = 0: an entry off, pinned or sliding gives 0)
                a = (self.y[l] @ a) * ((self.side[l][:, i] > 0)
                                       & np.array([(l, v, i) not in sliding for v in range(self.side[l].shape[0])]))
            w = float(self.y[j][u, k]) + float(self.lo[j][u, k])
            if not abs(a[k]) > abs(w):
                continue
            moved += abs(float(self.y[j][u, k])) + abs(float(self.lo[j][u, k]))
            self.y[j][u, k] = self.lo[j][u, k] = 0.0
            self._next_pass = None  # (a pass cached from the state before the move)
        return moved

    def _newly_held(self, w: dict, t: float) -> None:
        """Entries whose series has become exactly 0 (every coefficient) while their sample's input column into the
        layer has not: held at 0 by a weight that is exactly 0 over the one input left, so pinned (mask α, a = 0)
        and checked at every step as pinned entries are; on side +1 refused (docs/theory.md E1, "A weight that its
        kink sets to 0", *Held at 0 by it*; the arb tier's :meth:`numerics.kink_pins.PinnedKinks._newly_held`)."""
        from .kink_flows import UnsupportedKinkError

        sliding = set(self._sliding())
        for j in range(len(self.side)):
            Z = w[self.watch[j]]
            # exact zeros at order 0 are rare: the full test on those only (np.flatnonzero after any(): the 2-D
            # argwhere cost ~80 µs per layer and step on the research nets, ~2 % of a run)
            zero = Z[0] == 0
            if not zero.any():
                continue
            for u, i in zip(*np.unravel_index(np.flatnonzero(zero), zero.shape)):
                u, i = int(u), int(i)
                if (j, u, i) in self.pinned or (j, u, i) in sliding or self.dead[j][u, i] or np.any(Z[:, u, i] != 0):
                    continue
                if j == 0:
                    live = self.bias or bool(np.any(np.asarray(self.obj.loss.inputs, dtype=float)[:, i] != 0))
                else:
                    Zb = w[self.watch[j - 1]]
                    live = self.bias or any((self.side[j - 1][k, i] > 0 or self.alpha != 0)
                                            and (j - 1, k, i) not in sliding and np.any(Zb[:, k, i] != 0)
                                            for k in range(Zb.shape[1]))
                if not live:
                    continue
                if self.side[j][u, i] > 0:
                    raise UnsupportedKinkError(
                        f"t = {t:.17g}: unit {u} of layer {j + 1} on sample {i} is held at z = 0 exactly on its side "
                        "z > 0 (a weight at 0 over its one active input): whether it stays there is not decided by "
                        f"this method; the flow is known up to t = {t:.17g} (integrate to a horizon before it)")
                self.pinned.add((j, u, i))

    def _pinned_held(self, t: float) -> None:
        """Every entry still pinned (mask α; the z ≤ 0 field does not move z at all, a = 0 exactly) at a step's
        start: the flow that keeps it at 0 is the only one while the field with mask 1 does not lift it (b ≤ 0).
        Once b > 0, leaving up (with mask 1, into z > 0) and staying are both Filippov solutions: NonUniqueFlowError;
        a b within its error bar of 0 (the run's error carried to the rate, as at a kink, and the rate's rounding)
        decides nothing: UnsupportedKinkError (docs/theory.md E1, "A field that does not move z"). b moves with the
        state and jumps at other switches, neither of which sets the pinned entry's own series moving — soak, ce
        seed 99 of tests/test_float_simultaneous_kinks.instance: b −0.44 at the pin (t = 0.358), −0.34 at t = 0.495,
        +0.0375 once a layer-2 entry of the sample slides there. Checked once per step; a lift found at a step's
        start that the previous start held, with no switch between, happened inside the step that ends here, and
        is located on that step's dense output (:meth:`_locate_lift`).

        A unit pinned on several samples: its entries are split into blocks, one per kink surface
        (:meth:`_held_blocks`), every nonempty set of blocks is lifted at once (mask 1 on it), and
        :func:`numerics.kink_held.held_verdict` decides from the blocks' rates (E1, *Several pinned on one unit*).
        One block: the lone entry's check."""
        by_unit: dict[tuple[int, int], list[int]] = {}
        for (j, u, i) in sorted(self.pinned):
            by_unit.setdefault((j, u), []).append(i)
        for (j, u), samples in by_unit.items():
            blocks = self._held_blocks(j, u, samples, t)
            lifts = self._held_lifts(j, u, blocks, t)
            if lifts is None:  # (moving: decided again by the step loop's "moved" path)
                continue
            decide_held(self._held_ok, (j, u, tuple(samples)), len(self.events),
                        self._last_step[0] if self._last_step else None, f"t = {t:.17g}: unit {u} of layer {j + 1}",
                        blocks, lifts, "use the arb tier (dps=...) or ", t, lambda: self._locate_lift(j, u, blocks))

    def _held_lifts(self, j: int, u: int, blocks: list, t: float) -> list | None:
        """The rows of :func:`numerics.kink_held.held_verdict` at the current state: per lift T (mask 1 on
        the blocks of T), each block's rate with its bar (the run's error carried to the rate and its rounding,
        :meth:`_rate_bars`, :meth:`_rate_rounding`); None if the mask-α field moves the entries after all."""
        reps = [blk[0][0] for blk in blocks]
        gz = [_norm(self._grad_z(j + 1, u, c)) for c in reps]
        lifts = []
        for T in range(1, 2 ** len(blocks)):
            members = [mc for q, blk in enumerate(blocks) if T >> q & 1 for mc in blk]
            cands = self._rates(j, u, members[0][0], t, members, self._held_lift(j, u, members))
            cm, cp = cands
            if cm["rate"] != 0:
                return None
            for blk in blocks:  # (a block's entries on one surface: rates κ_c times its first's)
                if len(blk) > 1:
                    self._check_proportional(
                        j, u, blk[0][0], t, blk, [_norm(self._grad_z(j + 1, u, c)) for c, _ in blk],
                        [([float(c["unit"][m]) for m, _ in blk], (float(c["unit"][blk[0][0]]), _norm(c["F"]), c["fr"]))
                         for c in cands])
            rows = []
            for q, c in enumerate(reps):
                r = float(cp["unit"][c])
                rates = [(0.0, _norm(cm["F"]), cm["fr"]), (r, _norm(cp["F"]), cp["fr"])]
                bar = self._rate_rounding(j, rates, gz[q])[1]
                bars = self._rate_bars(j, u, c, rates, None, gz[q], tau=0.0)
                bar = max(bar, bars[1]) if bars is not None else bar
                rows.append((r, bar, r - bar, r + bar, r == 0))  # (bar carries its own 8u slack)
            lifts.append((T, rows))
        return lifts

    def _held_lift(self, j: int, u: int, members: list) -> dict | None:
        """{sample: sides above} for the members (sample, κ) that mask 1 on the pinned entries turns on (κ > 0) and
        whose sample's column is zero without them: lifting them lifts those columns, and their rates are read with
        the entries above at the signs of the unit's direction (:meth:`_lift`; docs/theory.md E1, "A column lifted
        from zero"), the same on every such sample; None where no column is lifted."""
        rad = self._bar_err * (1 + 8 * EPS) if self._bar_err is not None else 0.0  # (no switching time at a hold)
        lifts = {c: self._lift(j, u, c, rad) for c, kap in members if kap > 0}
        return {c: sides for c, sides in lifts.items() if sides} or None

    def _locate_lift(self, j: int, u: int, blocks: list) -> str:
        """Where inside the last step (start t₀, length h, series ys; no switch in it) the pinned blocks of unit u
        started to be lifted: bisection on the step's dense output θ(t₀ + s) = Σ_k ys_k s^k, deciding at each
        point as at a step's start (held / lifted / not decided, which stops it). The masks are the step's
        throughout. The ends are decided on the computed state, as every check of the run is (its error is in
        the rates' bars). Returns the sentence for the message."""
        t0, h, ys = self._last_step
        saved = (self.y, self.lo, self._next_pass)
        lo, hi, stopped = 0.0, h, None
        try:
            for _ in range(60):
                mid = 0.5 * (lo + hi)
                if not lo < mid < hi:
                    break
                self.y = [Y[-1].copy() for Y in ys]
                for b, Y in enumerate(ys):
                    for c in Y[-2::-1]:
                        self.y[b] = self.y[b] * mid + c
                self.lo = [np.zeros_like(x) for x in self.y]
                self._next_pass = None
                state = held_state(blocks, self._held_lifts(j, u, blocks, t0 + mid))
                if state == "undecided":
                    stopped = t0 + mid
                    break
                lo, hi = (mid, hi) if state == "held" else (lo, mid)
        finally:
            self.y, self.lo, self._next_pass = saved
        # (the sums' rounding: outward)
        return lift_bracket(math.nextafter(t0 + lo, -math.inf), math.nextafter(t0 + hi, math.inf), stopped)

    def _held_blocks(self, j: int, u: int, samples: list[int], t: float) -> list[list[tuple[int, float]]]:
        """:func:`numerics.kink_held.surface_blocks` on the float state (the entries sliding below marked as
        units on)."""
        masks = [self.maskv[l + 1].copy() for l in range(j)]
        for (l, v, c) in self._sliding():
            if l < j:
                masks[l][v, c] = 1.0
        return surface_blocks(f"t = {t:.17g}: unit {u} of layer {j + 1}", self.obj.loss.inputs,
                              self.y[0::2] if self.bias else self.y, self.y[1::2] if self.bias else None, masks,
                              j + 1, samples)
