"""Step arithmetic of the float Taylor tier (:mod:`numerics.float_taylor`): the step size and order from
the coefficients' decay, the state's update in two parts (hi + lo) and the local error of a step with
the dense output's rounding (docs/theory.md F: "order per step", "The state in two parts")."""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

EPS = float(np.finfo(float).eps)
ORDER = 20
# order 3 is reached where the gap is below ρ·2^{−53/3} ≈ 5e-6·ρ; on the 6,200-parameter ReLU net to t = 0.01 the
# run took 22.8 s instead of 24.6 s with 4, the same events and estimate, the state within 1.1e-16 (2026-12-03)
ORDER_MIN = 3
GAP_MARGIN = 1.25  # reach of the next step over the bracketed gap to the next root (_next_order)
# the default size of a step's last series term relative to max(1, ‖y_0‖∞): the unit roundoff, so that the
# truncation stays at the rounding level whatever the order (``rtol`` of float_gradient_flow raises it)
TOL = 2.0**-53
# the largest two-step decay ratio at a step's end (_step_size): the truncation estimate's tail model needs the
# terms to shrink, and e^{−1} leaves its margin (1/r ≤ e) in force
RATIO_MAX = math.exp(-1)
RTOL_MAX = 1e-4  # h/ρ = rtol^{1/p} ≤ 0.1 from order 4 on: the truncation estimate's design range (r ≤ e^{−2})


def _step_size(ys: list[np.ndarray], p: int, remaining: float, tol: float = TOL,
               cap: Callable[[float], float] | None = None) -> tuple[float, float]:
    """(h, ρ): ρ = min_{j∈{p−1,p}} (s/‖c_j‖∞)^{1/j}, s = max(1, ‖y_0‖∞), and h = ρ·min(e^{−2}, tol^{1/p}):
    ρ/e² at the full order (as numerics.flows.taylor_step; e^{−2p} ≤ 2^{−53} from p = 18.4 on), and at a
    lower order p the step whose last term (h/ρ)^p is ``tol`` (default 2^{−53}: the truncation stays at
    the rounding level whatever the order; a larger ``tol`` trades accuracy for lower orders, the local
    error estimate counting the larger truncation).

    The root test can be fooled by coefficients that decay fast and then grow again (a singularity the
    early orders do not see): the series' end is also read by the two-step ratio test, r = h·(‖c_j‖∞ /
    ‖c_{j−2}‖∞)^{1/2} for j ∈ {p−1, p} (j − 2 ≥ 1), and h is cut to keep r ≤ ``RATIO_MAX`` — the decay the
    truncation estimate needs (:func:`numerics.local_errors.truncation_tail`; docs/theory.md F, "A series
    that grows again"). ρ stays the root test's: the order rule (:func:`_next_order`) reads it as before.
    ``cap(ρ)``: ρ lowered to a radius the state's coefficients cannot show (the softmax head's,
    :func:`numerics.softmax_radius.logit_cap`); the returned ρ is the capped one."""
    # ‖c_j‖∞ over the blocks: one reduction per block (max is exact, so the same values as per order)
    per = [np.abs(Y.reshape(len(Y), -1)).max(axis=1) for Y in ys]
    norms = [max(float(m[j]) for m in per) for j in range(p + 1)]
    scale = max(1.0, norms[0])
    rho = math.inf
    for j in (p - 1, p):
        if norms[j] > 0:
            rho = min(rho, (scale / norms[j]) ** (1.0 / j))
    if cap is not None:
        rho = cap(rho)
    factor = min(math.exp(-2), tol ** (1.0 / p))
    h = min(rho * factor, 1e6) if math.isfinite(rho) else remaining
    grow = max((math.sqrt(norms[j] / norms[j - 2]) for j in (p - 1, p) if j - 2 >= 1 and norms[j - 2] > 0),
               default=0.0)
    if grow * h > RATIO_MAX:
        h = RATIO_MAX / grow
    return min(h, remaining), rho


def _next_order(p_max: int, p: int, h: float, rho: float, event: bool, gap: float | None = None,
                tol: float = TOL) -> int:
    """The order of the next step. After a step cut short by an event at h = f·ρ, the next event is
    expected within a few times that gap, and the lowest order whose step ρ·tol^{1/p} reaches 8h
    suffices: p ≥ ln(1/tol) / ln(1/(8f)) (53·ln 2 / ln(1/(8f)) at the default tol = 2^{−53}); at the
    expected gap the truncation is then 8^{−p} below tol, and the cost of a pass grows like p²
    (docs/theory.md F, "order per step"). ``gap``, when
    the step's series bracketed a root of another entry: an upper bound of the gap to that root, and the
    order is the lowest whose step reaches ``GAP_MARGIN``·gap (the event's own switch moves the other
    roots a little). After a full step the order rises again (by 2, up to ``p_max``). Any order is
    correct — the step size keeps the last term at ``tol`` (:func:`_step_size`); the order only sets the
    cost."""
    if not event:
        return min(p_max, p + 2)
    if gap is not None and gap > 0 and h > 0:  # (a zero step — simultaneous switches — keeps its order)
        f = GAP_MARGIN * gap / rho if math.isfinite(rho) and rho > 0 else 1.0
        if f < 0.5:
            return min(p_max, max(ORDER_MIN, math.ceil(-math.log(tol) / -math.log(f))))
    f = 8 * h / rho if math.isfinite(rho) and rho > 0 else 1.0
    if h <= 0 or f >= 0.5:
        return p_max if h > 0 else p
    return min(p_max, max(ORDER_MIN, math.ceil(-math.log(tol) / -math.log(f))))


# a step whose end defect is above this many times what its local error estimate implies is halved
# (_defect_ok; docs/theory.md F, "The defect at a full step's end")
DEFECT_FACTOR = 10.0


def step_defect(ys: list[np.ndarray], p: int, s: float, F: list[np.ndarray]) -> float:
    """‖P'(s) − F(P(s))‖₂: how far the step polynomial P of the coefficients ``ys`` is from solving the
    ODE at s (``F``: the field at P(s))."""
    k = np.arange(1, p + 1)
    c = k * s ** (k - 1.0)
    total = 0.0
    for Y, f in zip(ys, F):  # (one matrix-vector product per block: the sizes are small, the calls many)
        r = c @ Y[1:].reshape(p, -1) - f.reshape(-1)
        total += float(r @ r)
    return math.sqrt(total)


def _defect_ok(p: int, h: float, d: float, d_half: float, local: float) -> bool:
    """Whether a step's end defect d = d(h) is what its local error estimate implies (docs/theory.md F,
    "The defect at a full step's end"): for a truncated Taylor series d(s) ≈ (p+1)·c_{p+1}s^p, so the local
    error ≈ ∫_0^h d = h·d(h)/(p+1), and the step passes when h·d ≤ ``DEFECT_FACTOR``·(p+1)·local; or when d is
    not above ``DEFECT_FACTOR`` times the defect at h/2 (``d_half``): a truncation defect grows like s^p
    (2^p from h/2 to h), the rounding of the two evaluations does not — the defect is then the float
    evaluation's own, whatever the size of the terms it cancelled. A detector, not a bound."""
    return h * d <= DEFECT_FACTOR * (p + 1) * local or d <= DEFECT_FACTOR * d_half


class EventDefect(Exception):
    """An event-cut step's end defect, checked after its event (:func:`event_defect_ok`), is above what its
    local error estimate allows: the run is repeated with every event-cut step checked before it is taken
    (:func:`defect_checked_step`, which can halve it)."""


def event_defect_ok(ys: list[np.ndarray], p: int, h: float, F: list[np.ndarray] | None, dmax: int,
                    norms: np.ndarray | None = None) -> bool:
    """The first test of :func:`_defect_ok` for a step cut by an event at h, from the field ``F`` the flow
    arrived with at the event (which the event's own decision computes: no pass of its own). Passing it
    is what :func:`defect_checked_step` would have concluded at no halving; failing it (or no ``F``) says
    only that the check needs the pass at h/2 and possibly a halving, which this step can no longer take."""
    if F is None:
        return False
    d = step_defect(ys, p, h, F)
    return math.isfinite(d) and h * d <= DEFECT_FACTOR * (p + 1) * _local_error(ys, p, h, dmax, norms)


def defect_checked_step(series: Any, ys: list[np.ndarray], p: int, h: float,
                        weights: dict | None = None) -> tuple[float, int]:
    """(h', halvings): a step (full or cut by an event at h), halved until its polynomial solves the ODE at
    its end (:func:`_defect_ok`; the field at P(s) from an order-0 pass of ``series``, a
    :class:`numerics.float_series.FloatSeries` with the step's masks, which hold up to h); a field that
    leaves the float range at P(s) (e^{logit} of a polynomial far past its radius) is an infinite defect.
    ``weights``, on a sliding stretch: {(layer, entry): the step's series μ_0, μ_1, … of its Filippov
    weight}; the field at P(s) is then the one with the weights M(s) of those series (the step's own
    differential-algebraic solution; ``series.slide`` is restored after each pass).
    docs/theory.md F, "The defect at a full step's end"."""
    def defect(s: float) -> float:
        end = [_horner(Y, s) for Y in ys]
        kept = {}
        if weights:
            for (L, key), mu in weights.items():
                kept[(L, key)] = series.slide[L][key]
                series.slide[L][key] = [float(np.polynomial.polynomial.polyval(s, mu))]
        try:
            F = [Y[1] for Y in series.run(end, 1, ())[0]]
        except FloatingPointError:
            return math.inf
        finally:
            for (L, key), mus in kept.items():
                series.slide[L][key] = mus
        d = step_defect(ys, p, s, F)
        return d if math.isfinite(d) else math.inf

    d = defect(h)
    for n in range(60):
        local = _local_error(ys, p, h, series.dmax)
        if h * d <= DEFECT_FACTOR * (p + 1) * local:  # the common case: no second pass at h/2
            return h, n
        d_half = defect(h / 2)
        if _defect_ok(p, h, d, d_half, local):
            return h, n
        h, d = h / 2, d_half
    raise FloatingPointError(f"the step polynomial does not solve the ODE at its end at any step length down to {h:.3g}: "
                             "the series cannot be trusted here; use the arb tier (dps=...)")


def _horner(C: np.ndarray, s: float) -> np.ndarray:
    acc = C[-1].copy()
    for c in C[-2::-1]:
        acc = acc * s + c
    return acc


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """s + e = a + b exactly, s = fl(a + b) (Knuth's TwoSum: no condition on |a|, |b|)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _dd_step(y: list[np.ndarray], lo: list[np.ndarray], ys: list[np.ndarray],
             h: float) -> tuple[list[np.ndarray], list[np.ndarray], float]:
    """The state after a step, in two parts: (hi, lo) ← (hi, lo) + Σ_{k≥1} y_k h^k, the increment by
    Horner in float. hi + inc = s + e exactly (TwoSum), t = fl(lo + e) is the one rounding (≤ u·|lo + e|
    per entry, u = 2^{−53}), and s + t = hi' + lo' exactly (TwoSum). Returns (hi', lo', ‖rounding‖₂ bound
    = u·(‖lo‖₂ + ‖e‖₂))."""
    his, los, r = [], [], 0.0
    for Y, yh, yl in zip(ys, y, lo):
        acc = Y[-1].copy()
        for c in Y[-2:0:-1]:
            acc = acc * h + c
        s_, e = _two_sum(yh, acc * h)
        t = yl + e
        r += float(np.vdot(yl, yl)) + float(np.vdot(e, e))
        hi2, lo2 = _two_sum(s_, t)
        his.append(hi2)
        los.append(lo2)
    return his, los, 2.0 * (EPS / 2) * math.sqrt(r)  # ‖a‖ + ‖b‖ ≤ √2·√(‖a‖² + ‖b‖²) ≤ 2·√(...)


def order_norms(ys: list[np.ndarray]) -> np.ndarray:
    """‖c_k‖₂ over all state blocks, k = 0 … p: one reduction per block, shared by a step's local error,
    output rounding and velocity bound (:func:`numerics.hessian_lipschitz.velocity_bound`). ∞ where the sum
    of squares overflows (‖c_k‖₂ ≳ 2^512; :func:`norms_in_range` refuses a step there)."""
    with np.errstate(over="ignore"):
        return np.sqrt(sum(np.einsum("kij,kij->k", Y, Y) for Y in ys))


def norms_in_range(ys: list[np.ndarray], mus: Sequence[np.ndarray], t: float, sliding: Sequence) -> np.ndarray:
    """The state's :func:`order_norms`, after checking that they and the sliding weights' series ``mus``
    (arrays of μ_0 … μ_k) have norms float64 can carry; else FloatingPointError.

    Why a refusal: the step's bounds are sums of squares and products of these norms (the local error's
    a_k = ‖c_k‖₂h^k and its two-step ratios, the envelope ratios of the curvature bound, the velocity and
    Lipschitz bounds). Past the range of their squares (‖c‖₂ ≥ 2^512) a norm is ∞ and an ∞/∞ ratio is nan,
    which compares false with every threshold: a bound could come out nan and be read as passing. Finite
    coefficients that large only arise where the series' radius has shrunk to nothing, a pole of the flow
    or of its sliding weights (μ_k ∝ d^{−k}, d the distance to the pole; found on the leaky α = −0.5
    cross-entropy net of tests/test_float_rtol.py, whose ∂ż/∂μ → 0): the float tier refuses there with the
    instant and the orders that overflowed, as it refuses coefficients that are not finite."""
    cn = order_norms(ys)
    bad = [("the state", np.flatnonzero(~np.isfinite(cn)))]
    for m in mus:
        with np.errstate(over="ignore"):
            nm = np.abs(m.reshape(len(m), -1)).max(axis=1) ** 2 * m[0].size
        bad.append(("the sliding weights μ", np.flatnonzero(~np.isfinite(nm))))
    bad = [(what, ks) for what, ks in bad if len(ks)]
    if bad:
        what, ks = bad[0]
        on = f" (entries sliding: {sorted(sliding)})" if sliding else ""
        # (the state's series: the solution may blow up — the words gfgd flow reads to add its hint on the initial
        # scale; the weights': a pole of the sliding mode, as the stall guard's refusal)
        why = "the solution may blow up there" if what == "the state" else "a pole of the sliding mode"
        raise FloatingPointError(
            f"the series of {what} reach norms float64's bounds cannot carry at t = {t!r} (order {int(ks[0])} and "
            f"up: ‖c_k‖₂ ≥ 2^512){on}: {why}, a singularity float64 cannot pass; use the arb tier (dps=...)")
    return cn


def _output_rounding(ys: list[np.ndarray], p: int, h: float, lo_norm: float,
                     norms: np.ndarray | None = None) -> float:
    """What the float output adds to the error of the two-part state on a step: the dense output is the
    step polynomial with y_0 = hi (off by the start's ‖lo‖), evaluated by Horner in float; the term c_k s^k
    passes k products and k + 1 sums, so the rounding is ≤ Σ_k γ_{2k+1}·a_k (a_k = ‖c_k‖₂h^k, s ≤ h;
    γ_m = mu/(1 − mu) ≤ 1.01·m·u for m·u ≤ 0.01, u = 2^{−53}; Higham, Horner's rule). Not propagated."""
    k = np.arange(p + 1)
    a = (order_norms(ys) if norms is None else norms) * h ** k
    return lo_norm + 1.01 * (EPS / 2) * float(((2 * k + 1) * a).sum())


def _local_error(ys: list[np.ndarray], p: int, h: float, dmax: int, norms: np.ndarray | None = None,
                 field: float = 0.0) -> float:
    """Euclidean local error of a float step's increment: truncation
    (:func:`numerics.local_errors.truncation_tail`, as the arb tier) plus rounding ε·(p + d)·Σ_{k≥1} a_k
    of the increment (the coefficients' inner products of length ≤ d and the Horner sum: Higham's γ
    bounds, relative to the coefficients' sizes) plus h·``field``: what the roundings the relative
    term misses — elementwise ones where terms cancel, and the network output's own where the loss
    head subtracts from it — put into c_1 = F(θ₀) (:mod:`numerics.float_rounding`); negative, down to minus
    the relative term's share of c_1, where the field's rounding was measured below that share
    (:mod:`numerics.float_witness`: the term for c_1's rounding is then the measurement). The state's own
    rounding is the two-part update's (:func:`_dd_step`), added by the caller, with the low part's term."""
    from .local_errors import truncation_tail

    a = (order_norms(ys) if norms is None else norms) * h ** np.arange(p + 1)
    return truncation_tail(a, p) + EPS * (p + dmax) * float(a[1:].sum()) + h * field
