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

    def _zero_rule_live(self, layers: set) -> bool:
        """Whether a column of one of ``layers`` is zeroed over a sliding unit: the rule of
        :meth:`numerics.kink_pins.PinnedKinks._zero_columns` then sets the masks above by the mode, so ż is not the
        polynomial in the weights that the certificates below read (bias-free plain ReLU below the last layer only)."""
        f = self.f
        H = len(f.masks)
        if f.obj.model.bias or f.obj.model.alpha != 0 or H < 2:
            return False
        for j in layers:
            if j >= H - 1:
                continue
            mm = f.masks[j]
            for idx in mm.sliding:
                if all(mm.side[v * mm.cols + idx % mm.cols] < 0 for v in range(mm.rows)):
                    return True
        return False

    def _affine(self, S: list) -> bool:
        """Whether ż_S is affine in the weights μ_S: every entry of S (and of their groups) in one layer, and the
        zero-column rule not live there. In one layer the forward pass does not see the weights (their z are 0) and
        the backward pass meets their masks once (docs/theory.md E1, *One mode for certain*)."""
        layers = {m[0] for k in S for m, _ in self.f._group_of(k)}
        return len(layers) == 1 and not self._zero_rule_live(layers)

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

    def _set_weights(self, S: list, values: list, kept: dict) -> None:
        """Give each representative of S the weight ``values[c]`` (a ball), its group's members the matching ones
        (a member with σ = −1 the complementary weight, moved by −1 per unit), from the midpoints in ``kept``."""
        f = self.f
        for c, k in enumerate(S):
            shift = values[c] - kept[k]
            for (j, idx), sg in f._group_of(k):
                f.masks[j].mu[idx][0] = kept[(j, idx)] + sg * shift

    def _weights_enclosure(self, S: list, kept: dict) -> list | None:
        """Balls holding the exact weights μ* (ż_S(μ*) = 0) of the sliding representatives S near the midpoints μ₀
        the tier keeps, for every state in the state's balls; None where not shown (docs/theory.md E1, *Two ways to
        continue*, "Certified branches"). Affine ż_S (one layer): μ* = μ₀ − A⁻¹ż_S(μ₀), one exact Newton step (A
        the weights' solve's matrix, balls). Otherwise (layers coupled: ż_S is multi-affine in the weights, of degree
        ≤ 1 in each — ż_r is linear in the field F = −∇f through the tangent pass, which does not see the weights
        since a sliding entry's z and ż are 0, and F meets each mask at most once per path; measured on square 36 of
        the α = −1/2 family: second differences 0 to 10⁻³⁶) Krawczyk's test on a box X = μ₀ ± ρ: with C ≈ A⁻¹ and
        J(X) ⊇ {∂ż_S/∂μ_S over X} — central differences with unit bumps, exact to degree 2, evaluated on the
        balls —, K(X) = μ₀ − Cż_S(μ₀) + (I − CJ(X))(X − μ₀) inside the interior of X proves one zero in X, and it
        lies in K(X) (Krawczyk 1969; Moore's form)."""
        f = self.f
        reps = getattr(f, "_reps", None) or []
        layers = {m[0] for k in S for m, _ in f._group_of(k)}
        if sorted(reps) != sorted(S) or self._zero_rule_live(layers):
            return None
        rate = self.rates()
        r0 = flint.arb_mat([[rate(k)] for k in S])
        pos = {k: c for c, k in enumerate(reps)}
        A = flint.arb_mat([[f._A[pos[r], pos[s]] for s in S] for r in S])
        mu0 = [kept[k] for k in S]
        n = len(S)
        try:
            if len(layers) == 1:  # (affine: _affine, the zero-column rule checked above)
                delta = A.solve(-r0)
                return [mu0[c] + delta[c, 0] for c in range(n)]
            C = A.mid().inv().mid()
        except (ZeroDivisionError, ValueError):
            return None
        step = C * r0
        # the box: twice the Newton step's size, and at least a few ulps of the weights (the residual can be 0). Its
        # size only decides whether the test succeeds (too small: K(X) sticks out; too large: J(X) too wide), never
        # what a success proves — so it is a choice, not a tolerance
        rho = max(2 * max(float(abs(step[c, 0]).upper()) for c in range(n)),
                  2.0 ** (8 - flint.ctx.prec) * max(1.0, max(abs(float(m)) for m in mu0)))
        X = [m + flint.arb(0, rho) for m in mu0]
        J = flint.arb_mat(n, n)
        for c in range(n):
            cols = []
            for bump in (1, -1):
                self._set_weights(S, [X[q] + (bump if q == c else 0) for q in range(n)], kept)
                cols.append(self.rates())
            for r, k in enumerate(S):
                J[r, c] = (cols[0](k) - cols[1](k)) / 2
        self._set_weights(S, mu0, kept)
        I = flint.arb_mat([[1 if r == c else 0 for c in range(n)] for r in range(n)])
        dX = flint.arb_mat([[X[c] - mu0[c]] for c in range(n)])
        Kx = flint.arb_mat([[m] for m in mu0]) - step + (I - C * J) * dX
        if not all(X[c].contains_interior(Kx[c, 0]) for c in range(n)):
            return None
        return [Kx[c, 0] for c in range(n)]

    def strict(self, K: list, status: dict) -> bool:
        """Whether the current mode (applied, weights solved) meets every condition strictly for certain
        (docs/theory.md E1, *Two ways to continue*, "Certified branches"): each exact weight μ* of its sliding
        entries (:meth:`_weights_enclosure`) inside (α, 1), and the rate of each entry that left, computed with the
        weights set to those balls (so for every weight in them), of its side's sign; and no entry outside K pinned at
        its kink. The state's own error is not in these balls; a verdict drawn from them is confirmed by the rerun at
        dps + 10 (numerics.kink_rerun)."""
        f = self.f
        if any(m.pinned for m in f.masks):
            # an entry held at its kink outside K (pinned: z = 0 under the mask-α field) is checked against the taken
            # mode's field only; under another mode's field it might be lifted, and that mode would not be the
            # continuation it looks like — not certified (refused) rather than checked here
            return False
        S = [k for k in K if status[k] == 0]
        L = [k for k in K if status[k] != 0]
        kept = {(j, idx): f.masks[j].mu[idx][0] for k in S for (j, idx), _ in f._group_of(k)}
        try:
            if S:
                mus = self._weights_enclosure(S, kept)
                if mus is None or not all(m > f.masks[k[0]].alpha and m < 1 for k, m in zip(S, mus)):
                    return False
                self._set_weights(S, mus, kept)
            if L:
                rate = self.rates()  # with the weights' balls: for every exact weight in them
                return all(rate(k) > 0 if status[k] > 0 else rate(k) < 0 for k in L)
            return True
        finally:
            for (j, idx), v in kept.items():  # (representatives are their groups' first members: one key each)
                f.masks[j].mu[idx][0] = v
