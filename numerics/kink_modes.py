"""The arb tier's state operations for the mode search at simultaneous kinks (:mod:`numerics.active_sets`): its
masks, Filippov weights and ball arithmetic behind the :class:`numerics.active_sets.Modes` protocol — the
counterpart of the float tier's :class:`numerics.float_sliding._FloatModes`. Split from :mod:`numerics.kink_flows`
(2026-12-06), whose :class:`numerics.kink_flows._KinkFlow` it reads (masks, ``_solve_mu0``, ``_nodes0``, ``_A``)."""

from __future__ import annotations

from typing import Any, Callable

import flint


def _arb_sign(r: Any) -> int | None:
    """The certain sign of a ball (0 for an exact zero), None where it holds 0 and other values."""
    return 1 if r > 0 else -1 if r < 0 else 0 if r.is_zero() else None


class _ArbModes:
    """The arb tier's state operations for :mod:`numerics.active_sets` (keys (j, idx): layer j + 1, entry
    idx = unit·n + sample of its mask; arb comparisons mean "certainly")."""

    def __init__(self, flow: "_KinkFlow", y: list) -> None:
        self.f, self.y = flow, y

    def snapshot(self) -> list:
        return self.f._snapshot()

    def restore(self, snap: list) -> None:
        self.f._restore(snap)

    def solve(self) -> None:
        sl = self.f._sliding()
        if sl:
            self.f._solve_mu0(self.y, sl)

    def out_of_range(self, k: tuple) -> int:
        mm = self.f.masks[k[0]]
        mu0 = mm.mu[k[1]][0]
        return -1 if mu0 < mm.alpha else 1 if mu0 > 1 else 0

    def rates(self) -> Callable:
        nodes = self.f._nodes0(self.y)
        return lambda k: nodes[self.f.zdot[k[0]]].entries()[k[1]]

    def leave(self, k: tuple, side: int) -> None:
        # k is a group's representative (or a lone entry): every member leaves, one with σ = −1 to the other side;
        # the ties stay while the mode is settled (a member may slide again), _settle drops those of groups that left
        for (j, idx), sg in self.f._group_of(k):
            mm = self.f.masks[j]
            mm.sliding.discard(idx)
            mm.mu.pop(idx, None)
            mm.set_side(idx, side * sg)

    def slide(self, k: tuple, from_side: int) -> None:
        # from the weight at the side it had left to (1 or α; a member with σ = −1 the complementary α or 1)
        for (j, idx), sg in self.f._group_of(k):
            mm = self.f.masks[j]
            mm.sliding.add(idx)
            mm.mu[idx] = [mm.one if from_side * sg > 0 else mm.alpha]
            mm.set_side(idx, -1)

    def describe(self, k: tuple) -> str:
        u, i = divmod(k[1], self.f.masks[k[0]].cols)
        return f"unit {u} of layer {k[0] + 1} on sample {i}"

    def field(self) -> list:
        # the gradient nodes at order 0 (the field up to its sign), μ's at their μ_0
        nodes = self.f._nodes0(self.y)
        return [nodes[o] for o in self.f.outs]

    def same_field(self, a: list, b: list) -> bool:
        # not certainly different: every entry's balls overlap
        return all(x.overlaps(y) for x, y in zip(a, b))

    def keep(self) -> tuple:
        f = self.f
        return (f._snapshot(), getattr(f, "_D", None), getattr(f, "_A", None), getattr(f, "_reps", None),
                getattr(f, "_members", None))

    def put_back(self, kept: tuple) -> None:
        snap, self.f._D, self.f._A, self.f._reps, self.f._members = kept
        self.f._restore(snap)

    def unverified(self) -> None:
        self.f.modes_unverified += 1

    def watch_rate(self, k: tuple, field: list) -> Any:
        return self.rates()(k)  # (a ball: its sign is certain or not, numerics.active_sets.candidate_branches)

    def defer(self, message: str, rates: list, certified: bool) -> None:
        self.f._branches = (message, rates, certified)

    def _affine(self, S: list) -> bool:
        """Whether ż_S is affine in the weights μ_S: every entry of S (and of their groups) in one layer, and no column
        of that layer zeroed over a sliding unit (the rule of :meth:`numerics.kink_pins.PinnedKinks._zero_columns`
        then depends on the mode). In one layer the forward pass does not see the weights (their z are 0) and the
        backward pass meets their masks once (docs/theory.md E1, *One mode for certain*)."""
        f = self.f
        members = [f._group_of(k) for k in S]
        layers = {m[0] for g in members for m, _ in g}
        if len(layers) != 1:
            return False
        (j,) = layers
        mm = f.masks[j]
        zeroed = [all(mm.side[v * mm.cols + idx % mm.cols] < 0 for v in range(mm.rows))
                  for g in members for (_, idx), _ in g]
        return (f.obj.model.bias or f.obj.model.alpha != 0 or len(f.masks) < 2 or j >= len(f.masks) - 1
                or not any(zeroed))

    def jacobian(self, K: list) -> Any:
        """M = −∂ż_K/∂μ_K (:func:`numerics.active_sets.p_certified`): the A of the weights' solve just made with
        every entry of K sliding (balls holding the exact derivatives at every state in the state's balls, since
        ż_K is affine in μ_K there), or None where it is not known to be affine (:meth:`_affine`). As the float
        tier's :meth:`numerics.float_sliding._FloatModes.jacobian`."""
        f = self.f
        reps = getattr(f, "_reps", None) or []
        if sorted(reps) != sorted(K) or not self._affine(K):
            return None
        pos = {k: c for c, k in enumerate(reps)}
        return flint.arb_mat([[-f._A[pos[r], pos[s]] for s in K] for r in K])

    def strict(self, K: list, status: dict) -> bool:
        """Whether the current mode (applied, weights solved) meets every condition strictly for certain
        (docs/theory.md E1, *Two ways to continue*, "Certified branches"). The weights the tier keeps are the
        Newton iterate's midpoints μ₀, not the exact solution μ* of ż_S(μ) = 0; where ż_S is affine in μ_S
        (:meth:`_affine`) one Newton step is exact, μ* = μ₀ − A⁻¹ż_S(μ₀), and the ball solve with A and ż_S(μ₀) as
        balls encloses μ* for every state in the state's balls. Certain: each μ* inside (α, 1), and the rate of
        each entry that left, computed with the weights set to those balls (so for every weight in them), of its
        side's sign. Not affine (two layers: ż bilinear, Newton not exact): False. The state's own error is not in
        these balls; a verdict drawn from them is confirmed by the rerun at dps + 10 (numerics.kink_rerun)."""
        f = self.f
        S = [k for k in K if status[k] == 0]
        L = [k for k in K if status[k] != 0]
        kept = {}
        try:
            if S:
                reps = getattr(f, "_reps", None) or []
                if sorted(reps) != sorted(S) or not self._affine(S):
                    return False
                rate = self.rates()
                pos = {k: c for c, k in enumerate(reps)}
                A = flint.arb_mat([[f._A[pos[r], pos[s]] for s in S] for r in S])
                try:
                    delta = A.solve(flint.arb_mat([[-rate(k)] for k in S]))
                except (ZeroDivisionError, ValueError):
                    return False
                for c, k in enumerate(S):
                    for (j, idx), sg in f._group_of(k):  # (a member with σ = −1 carries the complementary weight)
                        mu = f.masks[j].mu[idx]
                        kept[(j, idx)] = mu[0]
                        mu[0] = mu[0] + sg * delta[c, 0]
                for k in S:
                    mm = f.masks[k[0]]
                    mu = mm.mu[k[1]][0]
                    if not (mu > mm.alpha and mu < 1):
                        return False
            if L:
                rate = self.rates()  # with the weights' balls: for every exact weight in them
                return all(rate(k) > 0 if status[k] > 0 else rate(k) < 0 for k in L)
            return True
        finally:
            for (j, idx), v in kept.items():
                f.masks[j].mu[idx][0] = v
