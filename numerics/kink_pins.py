"""The arb tier's held entries. Pinned ones (docs/theory.md E1, "A field that does not move z"): an entry at
z = 0 whose field with mask α does not move it at all (a = 0 exactly) is held there with mask α; it is decided again when another
switch sets its series moving (:meth:`PinnedKinks._unpin`), and it stays the only flow only while the field with
mask 1 does not lift it (:meth:`PinnedKinks._pinned_held`); the weights a kink sets to 0 exactly
(:meth:`PinnedKinks._frozen_zero_weights`), without which a frozen row's entry would hover at a rounding residue
instead of staying pinned. The float tier's counterparts are in
:mod:`numerics.float_crossings` and the step loop of :mod:`numerics.float_taylor`. And the entries held at 0 above a
sample's column zeroed over a sliding unit, which take the Filippov flow's sides (:meth:`PinnedKinks._zero_columns`;
E1, "A column zeroed over a sliding unit"; the float tier's is in :mod:`numerics.float_sliding`).

:class:`PinnedKinks` is a mixin of :class:`numerics.kink_flows._KinkFlow`: it reads the flow's ``masks`` and
``dps`` and ``obj``, and its ``_z``, ``_kink`` and ``_rates``.
"""

from __future__ import annotations

from fractions import Fraction

import flint
import numpy as np

from .kink_events import NonUniqueFlowError, UnsupportedKinkError, lone_input, zero_column_sides
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
        :meth:`numerics.float_crossings.FloatCrossings._newly_held`."""
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
        ``FloatCrossings._pinned_held``). Entries pinned as a group (several samples of one unit) are left to
        the group's decisions."""
        for j, m in enumerate(self.masks):
            units = [idx // m.cols for idx in m.pinned]
            for idx in sorted(m.pinned):
                u, i = divmod(idx, m.cols)
                if units.count(u) > 1:
                    continue
                cm, cp = self._rates(y, j, idx, t)
                a, b = cm["rate"], cp["rate"]
                if not a.is_zero() or b.is_zero():  # (b exactly 0: held as the pin rule holds it, a = 0, b ≤ 0)
                    continue
                if b.contains(0):
                    raise UnsupportedKinkError(
                        f"t = {float(t):.17g}: unit {u} of layer {j + 1} on sample {i} is pinned at its kink, and the "
                        f"rate of the field with mask 1 ({float(b.mid()):.3g}) is not separated from 0 at {self.dps} "
                        "digits: whether the flow may leave it is not decided")
                if b > 0:
                    raise NonUniqueFlowError(
                        f"t = {float(t):.17g}: unit {u} of layer {j + 1} on sample {i} is pinned at its kink (the field "
                        f"with mask α does not move it) and the field with mask 1 now lifts it (rate "
                        f"{float(b.mid()):.3g}): staying and leaving are both gradient flows θ' ∈ −∂f(θ); not unique "
                        "from here (or from within the step that ends here)")

    def _frozen_zero_weights(self, y: list, j: int, u: int, samples: list[int]) -> float:
        """Set to exactly 0 the weights W_{j+1}[u, k] that the kink of unit u of hidden layer j + 1 on ``samples``
        makes 0 in exact arithmetic — k the one input of the sample that is not exactly 0
        (:func:`numerics.kink_events.lone_input`), where the computed input â_k is certainly larger than the
        computed weight (of the two factors of z = W[u, k]·a_k one is 0 at the instant; the input is when the
        column itself vanishes with a switch below: docs/theory.md E1, "A weight that its kink sets to 0") — and
        return how far that moved the state (added to the run's error: the move is toward the exact weight, and
        counted all the same). The float tier's is
        :meth:`numerics.float_crossings.FloatCrossings._frozen_zero_weights`."""
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
            cols = []
            for m in self.masks:
                rows = range(m.rows)
                cols.append(([int(m.side[v * m.cols + i]) for v in rows],
                             [v for v in rows if v * m.cols + i in m.sliding],
                             [v for v in rows if v * m.cols + i in m.pinned]))
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


__all__ = ["PinnedKinks"]
