"""float64 gradient flow with scipy's ``solve_ivp``, behind the Trajectory interface.

DOP853 (explicit, order 8) by default; for stiff problems Radau or BDF with the analytic Hessian
as the Jacobian of θ' = −∇f(θ), i.e. J = −∇²f(θ) (the batched dual pass of
:mod:`numerics.hessians`).

What is paid for, and when (issue 9: the bare integration runs at scipy's own speed):

* **Dense output on demand.** The run keeps the state at every step time. ``at(t)`` at a step time
  returns it; between step times (explicit methods) the one step [t_i, t_{i+1}] containing t is
  re-taken from (t_i, θ_i) with the same solver, tolerances and step (``first_step``), with dense
  output on, and its interpolant cached (the most recent ``DENSE_CACHE`` steps). For the same
  inputs that is the same step and the same interpolant as a run with dense output throughout (if
  rounding ever made the retake reject its step, ``solve_ivp`` takes smaller ones inside [t_i, t_{i+1}]
  and the result is still the solution there, at the same tolerance). ``dense_output=True`` records
  the interpolants during the run instead (+3 gradient evaluations per DOP853 step, ~25 %); implicit
  methods always do.
* **Error estimate on first read.** ``error_estimate`` is computed when first read (or at once with
  ``estimate_error="now"``; never with ``estimate_error=False``, then it is NaN). Derivation: a second
  run at tolerances 100× tighter (rtol floored at scipy's minimum 100ε); both are compared at every
  step time of the first run and at 8 equispaced interior points of each of its steps, giving
  D = max‖θ(t) − θ_fine(t)‖_∞. The interior points matter: measured against the mp Taylor flow,
  DOP853's interpolant is 10–20× less accurate than its step values, and its error peaks away from
  the midpoint. With e, e_fine the true errors, e ≤ D + e_fine; the global error falls with the
  tolerance (tolerance proportionality, Hairer–Nørsett–Wanner I, §II.4), but on short runs far less
  than 100×: measured e_fine ≈ e/5..e/15. Assuming e_fine ≤ e/2 gives e ≤ 2D. Rounding is not
  reduced by the second run, so the rounding of the n steps of the first, n·ε·max‖θ‖_∞ (one
  rounding of the state per step), is added: ``error_estimate`` = 2D + n·ε·max‖θ‖_∞. It holds for
  the sampled points; between them the interpolant's error is a smooth function of t, sampled
  densely enough that the factor 2 also covers its peaks in the tests (true ≤ estimate ≤ 1000·true
  against the mp Taylor path, tests/test_float_flow_lazy.py). Cost when read: the fine run
  (~1.8× the first) plus one re-taken step per step of the first run.
* **Conservation witness on first read.** ``conservation_defects`` (deep linear nets: max-entry
  change of D_j = W_{j+1}ᵀW_{j+1} − W_jW_jᵀ at each step time, docs/theory.md B3) is computed when first
  read, not on every step: it costs O(d³) per step against the O(d²) of a scalar-output gradient.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from typing import Any, Callable, Sequence

import numpy as np

from theory import Objective, to_kind

from .gradients import check_objective, flat_gradient_function
from .hessians import hessian
from .invariants import balancedness

METHODS = ("DOP853", "RK45", "Radau", "BDF", "LSODA")
EXPLICIT = ("DOP853", "RK45")
INTERIOR = np.arange(1, 9) / 9  # where the error estimate probes each step's interpolant
DENSE_CACHE = 32  # re-taken steps whose interpolants are kept (at(t) is usually called in time order)
EPS = float(np.finfo(float).eps)


class FloatTrajectory:
    """float64 GF on [0, t_end]: ``at(t)`` -> list of float64 arrays (module docstring: what is lazy)."""

    def __init__(self, obj: Any, theta0: list[np.ndarray], t_end: float, method: str, rtol: float, atol: float,
                 run: Any, rhs: Callable, jac: Callable | None, estimate_error: bool | str) -> None:
        self.obj = obj
        self.theta0 = theta0
        self.t_end = t_end
        self.method = method
        self.rtol, self.atol = rtol, atol
        self.times = run.t
        self.states = run.y  # (P, steps + 1): θ at every step time
        self._dense = run.sol  # OdeSolution when recorded during the run, else None
        self._rhs, self._jac = rhs, jac
        self._steps: OrderedDict[int, Any] = OrderedDict()
        self._nfev = int(run.nfev)
        self._estimate = estimate_error
        self._error: float | None = None if estimate_error else float("nan")
        self._defects: list[float] | None = None

    # -- state ------------------------------------------------------------------------------------
    @property
    def nfev(self) -> int:
        """Gradient evaluations spent so far (the run, re-taken steps and the error estimate's run)."""
        return self._nfev

    @property
    def sol(self) -> Callable[[float], np.ndarray]:
        """t ↦ flat θ(t) (dense output, on demand)."""
        return self._flat_at

    def _flat_at(self, t: float) -> np.ndarray:
        t = min(float(t), self.t_end)
        i = bisect.bisect_left(self.times, t)
        if i < len(self.times) and self.times[i] == t:
            return self.states[:, i].copy()
        if self._dense is not None:
            return self._dense(t)
        return self._step_solution(i - 1)(t)

    def _step_solution(self, i: int) -> Any:
        """The dense output on [t_i, t_{i+1}], re-taking that step (module docstring)."""
        if i in self._steps:
            self._steps.move_to_end(i)
            return self._steps[i]
        from scipy.integrate import solve_ivp

        t0, t1 = float(self.times[i]), float(self.times[i + 1])
        run = solve_ivp(self._rhs, (t0, t1), self.states[:, i], method=self.method, rtol=self.rtol,
                        atol=self.atol, first_step=t1 - t0, dense_output=True)
        if not run.success:
            raise RuntimeError(f"re-taking the step [{t0!r}, {t1!r}] failed: {run.message}")
        self._nfev += int(run.nfev)
        self._steps[i] = run.sol
        if len(self._steps) > DENSE_CACHE:
            self._steps.popitem(last=False)
        return run.sol

    def at(self, t: Any) -> list[np.ndarray]:
        t = float(t)
        if t < 0 or t > self.t_end * (1 + 4 * EPS):
            raise ValueError(f"t = {t!r} is outside the integrated range [0, {self.t_end!r}]")
        return self.obj.unflatten(self._flat_at(t))

    # -- evidence ---------------------------------------------------------------------------------
    @property
    def error_estimate(self) -> float:
        """Estimate of the max-norm error at step times and interior points (module docstring: derivation).
        Not a derived bound: it assumes the 100× finer run's error is at most half this run's. For a bound
        use the float64 Taylor tier, ``numerics.gradient_flow(obj, θ0, T, dps=None)`` (docs/theory.md F, G3)."""
        if self._error is None:
            self._error = self._compute_error()
        return self._error

    def _compute_error(self) -> float:
        rt = max(self.rtol / 100, 100 * EPS)  # scipy refuses rtol below 100·ε; atol may go lower
        at = max(self.atol / 100, 1e-16)
        fine = _solve(self._rhs, self._jac, self.theta0_flat, self.t_end, self.method, rt, at, dense=True)
        self._nfev += int(fine.nfev)
        ts = np.asarray(self.times)
        D = float(np.abs(self.states - fine.sol(ts)).max()) if ts.size > 1 else 0.0
        for i in range(len(ts) - 1):
            pts = ts[i] + (ts[i + 1] - ts[i]) * INTERIOR
            mine = self._dense(pts) if self._dense is not None else self._step_solution(i)(pts)
            D = max(D, float(np.abs(mine - fine.sol(pts)).max()))
        scale = float(np.abs(self.states).max()) if self.states.size else 0.0
        return 2 * D + (len(ts) - 1) * EPS * scale

    @property
    def theta0_flat(self) -> np.ndarray:
        return self.states[:, 0]

    @property
    def conservation_defects(self) -> list[float]:
        """max_j ‖D_j(θ(t_i)) − D_j(θ_0)‖_max at every step time t_i (deep linear nets; else [])."""
        if self._defects is None:
            obj = self.obj
            if isinstance(obj, Objective) and obj.depth >= 2 and obj.model.is_linear and not obj.model.bias:
                D0 = balancedness(self.theta0)
                self._defects = [max(float(np.abs(a - b).max()) for a, b in zip(balancedness(obj.unflatten(y)), D0))
                                 for y in self.states.T]
            else:
                self._defects = []
        return self._defects


def _solve(rhs, jac, y0, t_end, method, rtol, atol, dense):
    from scipy.integrate import solve_ivp

    kw = {"jac": jac} if jac is not None else {}
    sol = solve_ivp(rhs, (0.0, t_end), y0, method=method, rtol=rtol, atol=atol, dense_output=dense, **kw)
    if not sol.success:
        raise RuntimeError(f"solve_ivp ({method}) failed: {sol.message}")
    if not np.all(np.isfinite(sol.y)):
        raise FloatingPointError(f"solve_ivp ({method}) produced non-finite values (the flow blew up?)")
    return sol


def gradient_flow_float(obj: Any, theta0: Sequence[Any], t_end: float, method: str = "DOP853",
                        rtol: float = 1e-12, atol: float = 1e-12, estimate_error: bool | str = True,
                        progress: Callable[[float, float], None] | None = None,
                        dense_output: bool = False) -> FloatTrajectory:
    """θ' = −∇f(θ) in float64 on [0, t_end] with ``scipy.integrate.solve_ivp``.

    ``estimate_error``: True (default) computes ``error_estimate`` when first read, ``"now"`` at once,
    False never (NaN). ``dense_output``: record interpolants during the run instead of re-taking a
    step on demand in ``at(t)`` (module docstring). Radau/BDF/LSODA get the exact Jacobian
    −∇²f(θ) and always record dense output. Raises ``RuntimeError`` if the solver fails.
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
    if estimate_error not in (True, False, "now"):
        raise ValueError(f"estimate_error must be True, False or 'now', got {estimate_error!r}")

    grad = flat_gradient_function(obj)
    if progress is None:
        def rhs(t, y):
            g = grad(y)
            np.negative(g, out=g)
            return g
    else:
        def rhs(t, y):
            progress(float(t), t_end)
            return -grad(y)

    jac = None
    if method not in EXPLICIT:
        def jac(t, y):
            return -hessian(obj, obj.unflatten(y))

    dense = bool(dense_output) or method not in EXPLICIT
    run = _solve(rhs, jac, obj.flatten(theta0), t_end, method, rtol, atol, dense)
    traj = FloatTrajectory(obj, theta0, t_end, method, rtol, atol, run, rhs, jac, estimate_error)
    if estimate_error == "now":
        traj.error_estimate  # noqa: B018 -- computed now, as asked
    return traj
