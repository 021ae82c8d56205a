"""Local error of one Taylor step (both tiers): the truncation tail estimated from the coefficients' decay and
the rounding of the arb tier's step (radii, recentring, a measurement at more bits) — docs/theory.md F,
"Local error" and "Rounding". Split from :mod:`numerics.error_growth`, which propagates these errors."""

from __future__ import annotations

import math
from typing import Any

from .error_growth import frobenius, order_norms


def rounding_amplification(p: int) -> float:
    """Factor from the radii dropped by recentring a step's Taylor coefficients to their effect on
    the step's end: e^{p/10} (docs/theory.md F, "Rounding")."""
    return math.exp(p / 10)


EXTRA_PREC = 32  # bits added for the rounding check
ROUNDING_SAFETY = 2.0


TAIL_MARGIN = math.e ** 2  # the margin of the tail estimate at the design ratio r = e^{−2} (truncation_tail)


def truncation_tail(a: Any, p: int) -> float:
    """Σ_{k>p} a_k, a_k = ‖c_k‖₂h^k, estimated from the computed a_{p−3..p} (a mapping or sequence
    indexed by k). Observed decay r = the larger two-step ratio (a_p/a_{p−2})^{1/2}, (a_{p−1}/a_{p−3})^{1/2}
    (two-step so an even/odd pattern cannot fake fast decay); the geometric tail from the last term,
    last·r/(1 − r) with last = max(a_p, a_{p−1}·r), is multiplied by the margin min(1/r, e²) against a
    decay slower than observed: at and above the design ratio r = e^{−2} of a full step (h = ρ/e²) that
    is last/(1 − r) — the last computed term itself standing for the tail, as before —, and below it
    the margin stays e² instead of growing like 1/r. The float tier's steps between kink events have
    r ≈ h/ρ ~ 1e-3 at low order, where the 1/r margin had made the truncation term ~1000× the tail it
    estimates (measured against 30-digit steps at 6,200 parameters, tests/test_float_step_reference.py).
    r ≥ 0.9 (no usable decay): at least a_{p−1} + a_p, the cruder estimate (docs/theory.md F). ∞ where one of
    a_{p−3..p} is not finite (an overflowed norm: its ratios would be ∞/∞ = nan, which passes every test)."""
    if not all(math.isfinite(a[k]) for k in range(max(p - 3, 0), p + 1)):
        return math.inf
    ratios = [math.sqrt(a[j] / a[j - 2]) for j in (p, p - 1) if j - 2 >= 0 and a[j - 2] > 0]
    r = min(max(ratios, default=1.0), 0.9)
    last = max(a[p], a[p - 1] * r)
    tail = last / (1 - r) * min(1.0, TAIL_MARGIN * r)
    if max(ratios, default=1.0) >= 0.9:
        tail = max(tail, a[p - 1] + a[p])
    return tail


def local_error_2norm(cs: list, p: int, h: Any, new: list, precise_step: Any = None, dropped: float = 0.0,
                      floor: float = 0.0) -> float:
    """‖local error‖₂ of one Taylor step over all parameters: truncation plus rounding. ``cs``: the
    step's coefficients c_0..c_p (all state blocks), or their :class:`OrderNorms`.

    Truncation: the omitted tail Σ_{k>p} c_k h^k. With a_k = ‖c_k‖₂h^k and the observed decay
    r = max of the two-step ratios, a geometric tail with a margin (:func:`truncation_tail`): the step
    h = ρ/e² makes r ≈ e^{−2}, the tail ≈ 0.16·a_p, and the estimate ≈ 1.16·a_p (docs/theory.md F).

    Rounding: ``dropped`` = Σ_k d_k h^k, d_k the sum (≥ Euclidean norm) of the radii dropped when coefficient k was
    recentred to its midpoint (:func:`numerics.series.series_coefficients`), enters amplified by
    :func:`rounding_amplification`, plus the arb radius of the evaluation itself (docs/theory.md F).
    No measurement below ``floor`` (a rounding bound under the digits asked is kept as it is: a
    clipped last step has a tiny truncation term, and measuring would cost a second step).
    Without recentring: the rigorous arb radius √P·(largest radius) is a worst-case bound; over long steps it
    grows with the order (every Cauchy sum adds |A||B| radii: the wrapping effect inside the series)
    up to 1e12× the actual rounding error. When it matters (above an eighth of the truncation term)
    and ``precise_step()`` is given (the same step, same order and h, recomputed with ``EXTRA_PREC``
    more bits), the rounding error is measured: ‖y_precise − y‖₂ is the working step's rounding error
    up to the precise step's own (≈ 2^{−EXTRA_PREC} smaller). We take ``ROUNDING_SAFETY`` times it
    (never more than the rigorous radius). Not an extrapolation from a lower precision: arb rounds
    the midpoints of wide balls more coarsely, so midpoint errors do not scale linearly with 2^{−prec}
    (measured: ∝ u^0.7 on a 55-parameter step).
    """
    import flint

    from .series import max_rad

    hf = float(h)
    n = order_norms(cs)
    a = {j: n[j] * hf**j for j in range(max(0, p - 3), p + 1)}
    a0 = n[0] + n[1] * hf
    tail = truncation_tail(a, p)
    P = sum(m.nrows() * m.ncols() for m in new)
    rounding = math.sqrt(P) * max(max_rad(m) for m in new) + rounding_amplification(p) * dropped
    if precise_step is not None and rounding > max(tail / 8, floor):
        old = flint.ctx.prec
        flint.ctx.prec = old + EXTRA_PREC
        try:
            fine = precise_step()
            diff = math.sqrt(sum(frobenius(x - y) ** 2 for x, y in zip(fine, new)))
        finally:
            flint.ctx.prec = old
        # a measurement; the radius bound is the smaller only while no coefficient was recentred
        rounding = ROUNDING_SAFETY * diff if dropped else min(rounding, ROUNDING_SAFETY * diff)
    # the dense output's Horner evaluation at the working precision (Higham: γ_{2p+2} Σ|c_k|h^k) and
    # the recentring of the state to midpoints — not in the step's radius, a few ulps of ‖θ‖
    u = 2.0 ** -flint.ctx.prec
    return tail + rounding + (2 * p + 2) * u * (a0 + sum(a.values()))
