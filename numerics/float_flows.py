"""float64 gradient flow with scipy's ``solve_ivp``, behind the Trajectory interface.

DOP853 (explicit, order 8) by default; for stiff problems Radau or BDF with the analytic Hessian
as the Jacobian of θ' = −∇f(θ), i.e. J = −∇²f(θ) (the batched dual pass of
:mod:`numerics.hessians`). ``error_estimate`` compares the run with a second one at 100× tighter
tolerances (rtol floored at scipy's minimum 100ε) on the solver's step times; float64 rounding limits both to ~1e-15
relative. The accuracy against the mp Taylor path on shared cases is measured in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
from scipy.integrate import solve_ivp

from theory import Objective, to_kind

from .gradients import check_objective, flat_gradient_function
from .hessians import hessian
from .invariants import balancedness

METHODS = ("DOP853", "RK45", "Radau", "BDF", "LSODA")


@dataclass
class FloatTrajectory:
    """Dense float64 output: ``at(t)`` -> list of float64 arrays."""

    obj: Any
    sol: Any
    t_end: float
    times: np.ndarray
    error_estimate: float
    method: str
    rtol: float
    atol: float
    nfev: int
    conservation_defects: list[float] = field(default_factory=list)

    def at(self, t: Any) -> list[np.ndarray]:
        t = float(t)
        if t < 0 or t > self.t_end * (1 + 4 * np.finfo(float).eps):
            raise ValueError(f"t = {t!r} is outside the integrated range [0, {self.t_end!r}]")
        return self.obj.unflatten(self.sol(min(t, self.t_end)))


def gradient_flow_float(obj: Any, theta0: Sequence[Any], t_end: float, method: str = "DOP853",
                        rtol: float = 1e-12, atol: float = 1e-12, estimate_error: bool = True,
                        progress: Callable[[float, float], None] | None = None) -> FloatTrajectory:
    """θ' = −∇f(θ) in float64 on [0, t_end] with ``scipy.integrate.solve_ivp`` (dense output).

    Radau/BDF/LSODA get the exact Jacobian −∇²f(θ). Raises ``RuntimeError`` if the solver fails.
    """
    obj = check_objective(obj)
    theta0 = [to_kind(w, "float") for w in obj.check_theta(theta0, "theta0")]
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    t_end = float(t_end)
    if not (np.isfinite(t_end) and t_end >= 0):
        raise ValueError(f"t_end must be a finite number >= 0, got {t_end!r}")
    if not (rtol > 0 and atol > 0):
        raise ValueError(f"rtol and atol must be > 0, got {rtol!r}, {atol!r}")

    grad = flat_gradient_function(obj)

    def rhs(t, y):
        if progress is not None:
            progress(float(t), t_end)
        return -grad(y)

    def jac(t, y):
        return -hessian(obj, obj.unflatten(y))

    def solve(rt, at):
        kw = {"jac": jac} if method in ("Radau", "BDF", "LSODA") else {}
        sol = solve_ivp(rhs, (0.0, t_end), obj.flatten(theta0), method=method, rtol=rt, atol=at,
                        dense_output=True, **kw)
        if not sol.success:
            raise RuntimeError(f"solve_ivp ({method}) failed: {sol.message}")
        if not np.all(np.isfinite(sol.y)):
            raise FloatingPointError(f"solve_ivp ({method}) produced non-finite values (the flow blew up?)")
        return sol

    sol = solve(rtol, atol)
    err = float("nan")
    if estimate_error:
        # scipy refuses rtol below 100·ε; atol may go lower
        fine = solve(max(rtol / 100, 100 * np.finfo(float).eps), max(atol / 100, 1e-16))
        err = float(max(np.abs(sol.sol(t) - fine.sol(t)).max() for t in sol.t))
    defects = []
    if isinstance(obj, Objective) and obj.depth >= 2 and obj.model.is_linear and not obj.model.bias:
        D0 = balancedness(theta0)
        defects = [max(float(np.abs(a - b).max()) for a, b in zip(balancedness(obj.unflatten(y)), D0))
                   for y in sol.y.T]
    return FloatTrajectory(obj, sol.sol, t_end, sol.t, err, method, rtol, atol, int(sol.nfev), defects)
