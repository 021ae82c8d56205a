"""The arb tier's decision at a kink surface that several entries of one unit share (docs/theory.md E1,
"Entries that share one kink surface"): the two regions that meet there, their rates, and the group's
crossing, pin or sliding with one Filippov weight — the arb counterpart of
:meth:`numerics.float_crossings.FloatCrossings._group_cross` — and the check that a sliding group's surface
still holds (:meth:`GroupKinks._ties_hold`).

:class:`GroupKinks` is a mixin of :class:`numerics.kink_flows._KinkFlow`: it reads the flow's ``masks``,
``zdot``, ``dps``, ``skip``, ``events`` and ``_tie``, and its ``_pass``, ``_snapshot`` and ``_restore``.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .kink_events import KinkEvent, UnsupportedKinkError, group_verdict, shared_surface_error
from .kink_surfaces import split_groups, split_surface_error


class GroupKinks:
    """The group's decision at a shared kink surface (module docstring)."""

    def _ties_hold(self, t: Fraction) -> None:
        """Refuse where a switch below has ended the shared surface of a sliding group
        (:func:`numerics.kink_surfaces.split_groups`, with the masks of :meth:`numerics.kink_flows._KinkFlow._float_layers`;
        the float tier's :meth:`numerics.float_sliding.FloatSliding._ties_hold`)."""
        sliding = set(self._sliding())
        ties = []
        for (j, k), ((_, i_idx), _) in self._tie.items():
            if (j, k) in sliding:
                u, c = divmod(k, self.masks[j].cols)
                ties.append((j + 1, u, i_idx % self.masks[j].cols, c))
        split = split_groups(ties, self.obj.loss.inputs, self.obj.model.bias,
                             lambda layer: [np.where(mm.side > 0, 1.0, float(mm.alpha.mid())).reshape(mm.rows, mm.cols)
                                            for mm in self.masks[: layer - 1]])
        if split:
            raise split_surface_error(float(t), *split[0])

    def _check_proportional(self, t: Fraction, j: int, u: int, names: list[int], members: list, rates: list) -> None:
        """One surface: ż_c = κ_c·ż_i under each region's field (z_c = κ_c(θ)·z_i(θ) and z_i = 0); ``rates``: per
        field, the members' rates (arb), sample i's first. κ_c is a float64 ratio of input norms (a few units of
        2^-53 relative) and a true group's inputs are parallel to that rounding: a relative mismatch of 1e-3 is
        far above both, and far below what distinct surfaces meeting at this point would show but by design (a
        corner of several regions: refused; a stricter cut-off would only refuse more)."""
        for zs in rates:
            zi = float(zs[0].mid())
            for (c, kap), zc in zip(members[1:], zs[1:]):
                if abs(float(zc.mid()) - kap * zi) > 1e-3 * (abs(float(zc.mid())) + abs(kap * zi)):
                    raise UnsupportedKinkError(
                        f"t = {float(t):.17g}: unit {u} of layer {j + 1} on samples {names}: the entries' inputs are "
                        "parallel here but their rates are not proportional — distinct kink surfaces meeting at this "
                        "point (a corner of several regions), not supported")

    def _group_cross(self, y: list, j: int, idx: int, t: Fraction, from_side: int, group: list[tuple[int, float]]) -> None:
        """The kink of z_j[idx] (unit u, sample i) reached from ``from_side`` whose surface the same unit's entries
        on the samples of ``group`` share ((i′, κ): z_{u,i′} = κ·z_{u,i}; docs/theory.md E1, "Entries that share
        one kink surface"), decided from the two regions that meet there: the masks as they are (F_from) and
        every entry of the group flipped (F_to; sample i′ to the side of sign κ·(−from_side)). The rates ż_i
        under both, order-1 passes: both of the other side's sign — the group crosses, a "cross" event per
        entry; both of ``from_side``'s — a touch (the entry is skipped); into the surface from both — the group
        slides with one weight for all its masks (all κ > 0; tied in :meth:`_solve_mu0`, leaving as one in
        :meth:`_leave`); z_i's rate 0 within the working precision, a repelling group, a mixed-sign group that
        would slide or one whose entries' rates are not κ_c·ż_i (distinct surfaces meeting here) — refused. A
        group whose mask-α region does not move z (rate exactly 0) is pinned there, as a lone entry is."""
        m = self.masks[j]
        n = m.cols
        u, i = divmod(idx, n)
        to = -from_side
        members = [(i, 1.0)] + list(group)
        names = [c for c, _ in members]
        what = f"t = {float(t):.17g}: unit {u} of layer {j + 1} on samples {names} (one kink surface)"
        self._moved += self._frozen_zero_weights(y, j, u, names)  # (kink_pins: weights the kink sets to 0)
        snap = self._snapshot()
        rates = []
        try:
            for side in (from_side, to):
                for c, kap in members:
                    m.set_side(u * n + c, side if kap > 0 else -side)
                _, w = self._pass(y, 1)
                rates.append([w[self.zdot[j]][0].entries()[u * n + c] for c in names])
        finally:
            self._restore(snap)
        pre, post = rates[0][0], rates[1][0]
        if from_side > 0 and post.is_zero() and pre < 0 and all(kap > 0 for _, kap in members):
            # the group's pin (as a lone entry's, _kink_entry): the mask-α region's field does not move z at all
            # (every path from these entries to the parameters meets a zero mask), so λ = 0 and the flow goes on
            # with it, z held at 0; decided again, from no side, if another switch sets it moving — and refused
            # then (a group reached from no side)
            for c in sorted(names):  # (in sample order: which entry the locator met first is rounding)
                m.set_side(u * n + c, -1)
                m.pinned.add(u * n + c)
                self.events.append(KinkEvent(t, "cross", j + 1, c, u))
            return
        if pre.contains(0) or post.contains(0):
            raise UnsupportedKinkError(f"{what} meets it tangentially (rates {float(pre.mid()):.3g}, "
                                       f"{float(post.mid()):.3g} not separated from 0 at {self.dps} digits)")
        self._check_proportional(t, j, u, names, members, rates)
        verdict = group_verdict(what, pre * to > 0, post * to > 0)
        if verdict == "slide":
            # attracting from both regions: Filippov sliding with one weight λ for every member's mask: sample i's
            # μ = α + (1 − α)λ, λ = a/(a − b) to start (a, b the rates where sample i has mask α and mask 1), a member
            # with κ > 0 the same μ, one with κ < 0 (the other side of the surface) 1 + α − μ; tied in the weights'
            # solve (_solve_mu0), leaving as one (_leave)
            a, b = (pre, post) if from_side < 0 else (post, pre)
            mu0 = (m.alpha + (1 - m.alpha) * a / (a - b)).mid()
            for c, kap in sorted(members):
                k = u * n + c
                m.sliding.add(k)
                m.set_side(k, -1)
                m.mu[k] = [mu0 if kap > 0 else (1 + m.alpha - mu0).mid()]
                self._tie[(j, k)] = ((j, idx), 1 if kap > 0 else -1)
                self.events.append(KinkEvent(t, "enter sliding", j + 1, c, u))
            return
        if verdict == "touch":  # a grazing touch of the group's surface
            self.skip[(j, idx)] = 1
            return
        for c, kap in sorted(members):  # (in sample order: which entry the locator met first is rounding)
            m.set_side(u * n + c, to if kap > 0 else from_side)
            self.skip[(j, u * n + c)] = 1
            self.events.append(KinkEvent(t, "cross", j + 1, c, u))
