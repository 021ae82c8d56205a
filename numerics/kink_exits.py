"""The arb tier's near exits from sliding checked against the run's error (docs/theory.md E3, "Near exits within
the run's error").

A sliding entry leaves its kink surface when its Filippov weight μ(t) reaches α or 1 (the leave event,
:meth:`numerics.kink_flows._KinkFlow._locate`). The locator decides from the computed series that μ stays inside
(α, 1) on a step, so it decides on the computed state, not the exact one. A weight that turns back just short of
α or 1 — a near exit — may be an exit of the exact flow, and after an exit the exact flow leaves the surface while
the computed one slides on: no estimate built on the computed events covers that. The float tier checks this
after each sliding step (F, "Near touches within the error bar", *The Filippov weights' near exits*); here, as
for the dips of :mod:`numerics.kink_dips`, the error is known only after the dps + 10 rerun, so the run records
the points to examine and :meth:`NearExits._check_exits` examines them once the error is known.

Recorded, per step with entries sliding, for each sliding entry (u ∈ [0, 1] the step's fraction):

* the interior extrema of μ(u) on (0, 1), unless the screen |μ'(0)| > Σ_{k≥1}|μ'_k| shows μ' ≠ 0 there: from the
  real part of each root of μ' (float roots of the scaled series), Newton on μ' in mp
  (:func:`numerics.kink_events._dip_bottom`, on μ for a minimum, on −μ for a maximum); a point where neither
  settles is no extremum (a complex root's real part, or μ' = μ'' = 0) and is dropped; the one with the smallest
  margin min(μ − α, 1 − μ);
* u = 1 at the horizon (the flow's state there is an output), except for the entries whose leave ends the step.

As in the dip check, an extremum exactly at a step boundary is not examined: a weight that runs monotonically to α
or 1 leaves there (the leave event and its decision), and its approach over the steps before is not a near exit.

The check, at each recorded point with e = the run's max-norm error bound at the step's end: the computed state
θ̂ there (the step's series at u), μ̂ solved on it to the working precision (:meth:`_solve_mu0`), then one step of
the constraint solve in ball arithmetic on the max-norm box B(θ̂, e) (:func:`numerics.kink_margins.inflate`):
r ∋ ż_S(θ, μ̂) and A ∋ ∂ż_S/∂μ for every θ in the box, and μ̂ − A⁻¹r encloses the weights μ(θ) of every state of
the box where the sliding entries share a layer (ż_S is then affine in μ, so that one step is the exact solve). The
ball must lie inside (α, 1); otherwise some state within the error leaves sliding there (or the constraints
degenerate on the box: A's ball holds a singular matrix) and the run is refused (UnsupportedKinkError, "raise
dps"). Two approximations, both first order in e, as in the dip check:

* the examined point is the computed weight's extremum; the exact one's lies within O(e) of it in time, where the
  weights differ by O(e²) more;
* where the sliding set spans layers, ż_S is not affine in μ and the bump-by-one D of :meth:`_mu_system` is a
  secant, not ∂ż/∂μ: the step is a Newton-like step, not an enclosure.

The same ball gives a leave's switching-time uncertainty: at a leave instant t (where the series reached α or 1)
the exact weight is within ρ = max|ball − μ̂| + |μ̂ − μ_series(t)| of that value, so the exact flow leaves within
τ = ρ/|μ̇| of t (first order): :meth:`NearExits._leave_taus`, which the decisions a leave sets going at its instant
take as their τ (:meth:`numerics.kink_margins.DecisionMargins.check_decisions`), as the float tier's
``SlidingBounds._leave_tau``.

:class:`NearExits` is a mixin of :class:`numerics.kink_flows._KinkFlow`. It reads the flow's ``masks``, ``events``,
``record_decisions``, ``check_role``, ``dps``, ``p``, ``obj`` and ``_tie``, and its ``_sliding``, ``_group_of``,
``_solve_mu0`` (which leaves ``_reps`` and ``_members``), ``_mu_system``, ``_mu_reach``, ``_full_snapshot``,
``_full_restore`` and ``_checking`` (:class:`numerics.kink_margins.DecisionMargins`).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Callable

import flint
import mpmath
import numpy as np

from .kink_events import UnsupportedKinkError, _dip_bottom, _mpf


def _extrema(b: list, alpha: Any, bits: int) -> list[tuple[Any, Any]]:
    """(margin, u) at the interior extrema of μ(u) = Σ b_k u^k on (0, 1) (module docstring), margin = min(μ − α,
    1 − μ), in mp at the current precision."""
    c = np.array([float(x) for x in b])
    nz = np.nonzero(c)[0]
    top = int(nz[-1]) if len(nz) else 0
    if top < 2 or not np.isfinite(c[: top + 1]).all():
        return []
    d = np.polynomial.polynomial.polyder(c[: top + 1])
    # the screen: |μ'(0)| > Σ_{k≥1}|μ'_k| means μ' ≠ 0 on [0, 1], no extremum (the factor 1 + 1e-9 covers the float
    # coefficients' rounding, ≤ p·2⁻⁵³ relative, as in the locator's screen); most sliding steps end here
    if abs(d[0]) > np.abs(d[1:]).sum() * (1 + 1e-9):
        return []
    out = []
    one = mpmath.mpf(1)
    for r in np.roots(d[::-1]):
        if not 0 < r.real < 1:
            continue
        u = _dip_bottom(b, one, float(r.real), bits)  # a minimum of μ
        if u is None:
            u = _dip_bottom([-x for x in b], one, float(r.real), bits)  # a maximum
        if u is None:
            # no extremum here: Newton on μ' settles from a real root of μ' wherever μ'' ≠ 0 there (on μ or on −μ,
            # whichever is convex), so this is the real part of a complex root or a degenerate point (μ' = μ'' = 0),
            # where μ has no minimum or maximum
            continue
        mu = mpmath.polyval(b[::-1], u)
        out.append((min(mu - alpha, 1 - mu), u))
    return out


class NearExits:
    """The record of the sliding weights' extrema and leaves, and their check against the run's error (module
    docstring)."""

    def _record_exits(self, cs: list, h: Fraction, t: Fraction, ev: tuple | None, last: bool, bits: int) -> None:
        """Record the points of the step [t, t + h] where a sliding weight's closeness to α or 1 is examined
        (module docstring): (t, h, u, the computed state there, the weights there, the flow's mode, the entries
        examined, their margins) in ``self._exits``; and where the step ends on a leave, the leave (its instant,
        the state and weights there, the mode before it, the leaving entries and their μ̇) in ``self._leaves``.
        Only on a flow whose decisions are checked."""
        if not self.record_decisions or h == 0:
            return
        sliding = self._sliding()
        if not sliding:
            return
        leaving = set()
        if ev is not None and ev[1][0] == "mu":
            _, j0, idx0, _ = ev[1]
            leaving = {k for k, _ in self._group_of(self._tie.get((j0, idx0), ((j0, idx0), 1))[0])}
        found: dict = {}  # u (mp) → [(entry, margin)]
        with mpmath.workprec(bits + 20):
            hm = mpmath.mpf(h.numerator) / h.denominator
            for j, idx in sliding:
                m = self.masks[j]
                alpha = _mpf(m.alpha)
                b = [_mpf(x) * hm**k for k, x in enumerate(m.mu[idx])]
                pts = _extrema(b, alpha, bits)
                if last and (j, idx) not in leaving:
                    mu1 = mpmath.fsum(b)
                    pts.append((min(mu1 - alpha, 1 - mu1), mpmath.mpf(1)))
                if pts:
                    margin, u = min(pts, key=lambda p: p[0])
                    found.setdefault(u, []).append(((j, idx), float(margin)))
        if not found and not leaving:
            return
        snap = self._full_snapshot()
        for u, entries in found.items():
            man, exp = mpmath.mpf(u).man_exp
            uf = Fraction(int(man)) * Fraction(2) ** int(exp)  # (exact: u is binary)
            y, mus = self._state_at(cs, uf * h, sliding)
            if not hasattr(self, "_exits"):
                self._exits = []
            self._exits.append((t, h, uf, y, mus, snap, entries))
        if leaving:
            y, mus = self._state_at(cs, h, sliding)
            hf = float(h)
            # μ̇ at the leave: Σ_k k·μ_k·h^{k−1}, in float (it divides a first-order bar)
            mudot = {k: sum(n * float(x.mid()) * hf ** (n - 1) for n, x in enumerate(self.masks[k[0]].mu[k[1]])
                            if n > 0) for k in leaving}
            if not hasattr(self, "_leaves"):
                self._leaves = []
            self._leaves.append((t + h, y, mus, snap, mudot))

    def _state_at(self, cs: list, s: Fraction, sliding: list) -> tuple[list, dict]:
        """The computed state at offset s of the step (midpoints of the series' values) and the sliding weights there
        (from their series: the start of the Newton solve of the checks)."""
        from .flows import taylor_eval
        from .series import to_arb

        sa = to_arb(s)
        y = [M.mid() for M in taylor_eval(cs, s)]
        mus = {(j, idx): sum((x * sa**k for k, x in enumerate(self.masks[j].mu[idx])), flint.arb(0)).mid()
               for j, idx in sliding}
        return y, mus

    def _mu_ball(self, y: list, mus: dict, snap: tuple, e: float) -> dict | None:
        """The sliding weights over the max-norm box B(y, e) (module docstring): entry → (μ̂, ball), μ̂ solved on y to
        the working precision and the ball μ̂ − A⁻¹r from one constraint solve on the box; None where A's ball holds
        a singular matrix. Leaves the flow in the mode of ``snap``."""
        from .kink_margins import inflate

        self._full_restore(snap)
        sliding = self._sliding()
        for (j, idx), v in mus.items():
            self.masks[j].mu[idx] = [v]
        self._solve_mu0(y, sliding)
        reps, members = self._reps, self._members
        try:
            _, r, A, _ = self._mu_system(inflate(y, e), reps, members, self._mu_reach())
            delta = A.solve(-r)
        except ZeroDivisionError:
            return None
        return {(j, idx): (self.masks[j].mu[idx][0], self.masks[j].mu[idx][0] + sg * delta[c, 0])
                for c, rep in enumerate(reps) for (j, idx), sg in members[rep]}

    def _check_exits(self, error_at: Callable[[Fraction], float]) -> int:
        """Each recorded point against the error e = ``error_at``(its step's end) (module docstring); raises
        UnsupportedKinkError where the weights' ball over B(θ̂, e) does not lie inside (α, 1). Returns how many
        points were checked; the flow's mode and events are left as they were."""
        recs = getattr(self, "_exits", [])
        if not recs:
            return 0
        n = 0
        with self._checking():
            for t, h, u, y, mus, snap, entries in recs:
                e = float(error_at(t + h))
                if not math.isfinite(e) or e <= 0:
                    continue
                n += 1
                balls = self._mu_ball(y, mus, snap, e)
                at = float(t + u * h)
                for (j, idx), margin in entries:
                    m = self.masks[j]
                    unit, i = divmod(idx, m.cols)
                    where = (f"t = {at:.17g}: the Filippov weight of unit {unit} of layer {j + 1} on sample "
                             f"{i}{self.check_role}, sliding on the step from t = {float(t):.17g}")
                    if balls is None:
                        raise UnsupportedKinkError(
                            f"{where}, comes within {margin:.3g} of α or 1; the sliding constraints are degenerate on "
                            f"some state within the error of the computed one ({e:.3g}): whether the exact flow "
                            "leaves sliding there is not decided at this precision; raise dps")
                    mu = balls[(j, idx)][1]
                    if not (mu > m.alpha and mu < 1):
                        raise UnsupportedKinkError(
                            f"{where}, comes within {margin:.3g} of α or 1 without leaving, but over the states within "
                            f"the error of the computed one ({e:.3g}) it spans [{float(mu.lower()):.6g}, "
                            f"{float(mu.upper()):.6g}], past α = {float(m.alpha):g} or 1: whether the exact flow leaves "
                            "sliding there is not decided at this precision; raise dps")
        return n

    def _leave_taus(self, error_at: Callable[[Fraction], float]) -> dict:
        """Per recorded leave instant t: τ, a bound (first order) on how far the exact flow's leave lies from t in
        time, for the decisions a leave sets going at its instant (:meth:`check_decisions`, as a kink's τ). With e
        the error at t and the leaving weights' balls over B(θ̂, e) (:meth:`_mu_ball`): the exact weight at t is
        within ρ = max|ball − μ̂| + |μ̂ − μ_series(t)| of the value the run's series reached (α or 1), and it moves at
        |μ̇|, so τ = ρ/|μ̇| (∞ where μ̇ = 0 or the constraints degenerate on the box). The float tier's
        counterpart is SlidingBounds._leave_tau."""
        out: dict = {}
        recs = getattr(self, "_leaves", [])
        if not recs:
            return out
        with self._checking():
            for t, y, mus, snap, mudot in recs:
                e = float(error_at(t))
                if not math.isfinite(e):
                    out[t] = math.inf
                    continue
                if e <= 0:
                    continue
                balls = self._mu_ball(y, mus, snap, e)
                tau = 0.0
                for k, d in mudot.items():
                    if balls is None or d == 0 or not math.isfinite(d):
                        tau = math.inf
                        break
                    hat, ball = balls[k]
                    rho = max(abs(float(ball.upper() - hat)), abs(float(hat - ball.lower()))) \
                        + abs(float((hat - mus[k]).mid()))
                    # (1 + 1e-12: the float conversions and the division, a few roundings of 2⁻⁵³ each)
                    tau = max(tau, rho * (1 + 1e-12) / abs(d))
                out[t] = max(out.get(t, 0.0), tau)
        return out
