"""The arb tier's held entries. Pinned ones (docs/theory.md E1, "A field that does not move z"): an entry at
z = 0 whose field with mask α does not move it at all (a = 0 exactly) is held there with mask α; it is decided again when another
switch sets its series moving (:meth:`PinnedKinks._unpin`), and it stays the only flow only while the field with
mask 1 does not lift it (:meth:`PinnedKinks._pinned_held`). The float tier's counterparts are in
:mod:`numerics.float_crossings` and the step loop of :mod:`numerics.float_taylor`. And the entries held at 0 above a
sample's column zeroed over a sliding unit, which take the Filippov flow's sides (:meth:`PinnedKinks._zero_columns`;
E1, "A column zeroed over a sliding unit"; the float tier's is in :mod:`numerics.float_sliding`).

:class:`PinnedKinks` is a mixin of :class:`numerics.kink_flows._KinkFlow`: it reads the flow's ``masks`` and
``dps`` and ``obj``, and its ``_z``, ``_kink`` and ``_rates``.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .kink_events import NonUniqueFlowError, UnsupportedKinkError, zero_column_sides


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
        self._pinned_held(y, t)
        return changed

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
