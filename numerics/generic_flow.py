"""High-precision GF for any objective that has a gradient: the mpmath ``odefun`` fallback.

For vector fields the Taylor tape cannot record (a user-supplied gradient), ``mpmath.odefun`` integrates θ' = −∇f(θ) with its own
Taylor method built on repeated field evaluations. It is general and slow: ~25× slower than the tape
integrator on the small benchmark case (THEORY/BENCHMARKS), and its degree grows with precision.
It gives no rigorous bound (mpmath issue #228: it can also stall near singularities);
``error_estimate`` here is the max difference to a second run at ``dps + 10`` over the requested
``check_times`` (default: t_end), which doubles the cost. That is an estimate only for a *smooth*
(analytic) field: across a kink both runs share the same wrong expansion and agree with each other
far better than with the flow, so ReLU nets are refused here (``numerics.gradient_flow`` handles them).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Sequence

import mpmath
import numpy as np

from theory import Objective, to_kind

from .distances import _exact_time
from .gradients import check_objective, gradient


@dataclass
class GenericTrajectory:
    """``at(t)`` evaluates mpmath's cached Taylor expansions (object arrays of mpf)."""

    unflatten: Callable
    fun: Any
    dps: int
    t_end: Fraction
    error_estimate: float

    def at(self, t: Any) -> list[np.ndarray]:
        tq = _exact_time(t)
        if tq < 0 or tq > self.t_end:
            raise ValueError(f"t = {float(tq)!r} is outside the integrated range [0, {float(self.t_end)!r}]")
        with mpmath.workdps(self.dps):
            y = self.fun(mpmath.mpf(tq.numerator) / tq.denominator)
            return self.unflatten(np.array(y, dtype=object))

    @property
    def times(self) -> list[Fraction]:
        return [Fraction(0), self.t_end]


def gradient_flow_generic(obj: Any, theta0: Sequence[Any], t_end: Any, dps: int = 30,
                          grad: Callable[[list], list] | None = None,
                          check_times: Sequence[Any] | None = None) -> GenericTrajectory:
    """θ' = −∇f(θ) with ``mpmath.odefun`` at ``dps`` digits; ``grad(theta) -> list`` overrides
    ``numerics.gradient(obj, ·)`` (it receives and must return lists of mpf object arrays)."""
    obj = check_objective(obj)
    if grad is None and isinstance(obj, Objective) and (not obj.model.is_linear or obj.model.bias):
        # odefun's Taylor steps straddle activation boundaries and its rerun estimate is then not a
        # bound (measured: 2.9e-4 true error with 3.4e-5 reported on a 104-parameter ReLU net)
        raise ValueError(
            "obj: for ReLU nets and nets with biases use numerics.gradient_flow (exact kink events, "
            "honest error estimate); gradient_flow_generic is for user-supplied smooth gradients (grad=...)"
        )
    theta0 = obj.check_theta(theta0, "theta0")
    if not isinstance(dps, (int, np.integer)) or dps < 15:
        raise ValueError(f"dps must be an integer >= 15, got {dps!r}")
    t_end_q = _exact_time(t_end)
    if t_end_q < 0:
        raise ValueError(f"t_end must be >= 0, got {t_end!r}")
    g = grad if grad is not None else (lambda th: gradient(obj, th))

    def run(d: int):
        with mpmath.workdps(d):
            x0 = list(obj.flatten([to_kind(w, "mp") for w in theta0]))

            def F(t, y):
                return [-x for x in obj.flatten(g(obj.unflatten(np.array(y, dtype=object))))]

            return mpmath.odefun(F, 0, x0)

    fun = run(dps)
    fine = run(dps + 10)
    err = mpmath.mpf(0)
    with mpmath.workdps(dps + 10):
        for t in (check_times if check_times is not None else [t_end_q]):
            tq = _exact_time(t)
            tm = mpmath.mpf(tq.numerator) / tq.denominator
            err = max(err, max(abs(a - b) for a, b in zip(fun(tm), fine(tm))))
    return GenericTrajectory(obj.unflatten, fun, dps, t_end_q, float(err))
