"""The float64 Taylor tier (``numerics.gradient_flow(obj, θ0, T, dps=None)``) against the float64 peers.

Cases (square loss, ReLU or linear, one thread):

* ``relu182b`` -- ReLU widths (4,10,10,2) with biases, 5 samples N(0,1) (seed 1), θ0 = 0.5·N(0,1),
  T = 0.5 (4 kink crossings, no sliding); reference: the arb tier at 30 digits.
* ``relu172``  -- the same widths without biases, seed 7 (5 crossings), T = 0.5.
* ``relu6k`` / ``relu6k-b`` -- 64-50-50-10 on sklearn digits (first 500 images, pixels/16, one-hot
  targets), He init N(0, 2/fan_in) (seed 0), biases 0; T = 2e-4 (short: the pattern switches ~2e5 times
  per unit time at the start); reference: the float Taylor tier itself (its own estimate is shown).
* ``linear6k`` -- the same data, deep linear 64-50-50-10, Gaussian init 0.1 (seed 0), T = 0.5;
  float tier vs ``numerics.gradient_flow_float`` (DOP853, rtol = atol = 1e-12).

Contestants on the ReLU cases: gfgd float tier; scipy DOP853 (rtol = atol = 1e-12) and Radau
(rtol = atol = 1e-10, exact Hessian Jacobian) on the same gradient, each with a budget of 60 s wall and
200,000 gradient evaluations; fixed-step RK4 with h = 1/λ_max(∇²f(θ0)) in numpy (the usual research
code). Accuracy: max-norm distance to the reference at T. Matched accuracy 1e-10: a contestant is
"at 1e-10" when its error at T is ≤ 1e-10.

``python benchmarks/bench_float_taylor.py`` prints the section; ``benchmarks/run.py`` appends it.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import time
from fractions import Fraction

import mpmath
import numpy as np
import scipy.sparse.linalg as sla
from scipy.integrate import solve_ivp

import numerics
import theory
from numerics.gradients import flat_gradient_function

BUDGET_S = 60.0
MAX_EVALS = 200_000


class _Stop(Exception):
    pass


def _relu_small(seed, bias):
    rng = np.random.default_rng(seed)
    w = (4, 10, 10, 2)
    X, Y = rng.standard_normal((5, 4)), rng.standard_normal((5, 2))
    obj = theory.Objective(theory.ReLUNet(w, 0.0, bias), theory.SquareLoss(X, Y))
    return obj, obj.unflatten(rng.standard_normal(obj.num_params) * 0.5)


def _digits(model):
    from sklearn.datasets import load_digits

    d = load_digits()
    X, Y = d.data[:500] / 16, np.eye(10)[d.target[:500]]
    obj = theory.Objective(model, theory.SquareLoss(X, Y))
    return obj


def _relu_big(bias):
    obj = _digits(theory.ReLUNet((64, 50, 50, 10), 0.0, bias))
    rng = np.random.default_rng(0)
    th = []
    for j in range(1, 4):
        th.append(rng.standard_normal((obj.widths[j], obj.widths[j - 1])) * np.sqrt(2 / obj.widths[j - 1]))
        if bias:
            th.append(np.zeros(obj.widths[j]))
    return obj, th


def _scipy(obj, th, T, method, tol):
    grad = flat_gradient_function(obj)
    t0 = time.perf_counter()
    calls = [0]

    def rhs(t, y):
        calls[0] += 1
        if calls[0] > MAX_EVALS or time.perf_counter() - t0 > BUDGET_S:
            raise _Stop(t)
        return -grad(y)

    kw = {}
    if method == "Radau":
        kw["jac"] = lambda t, y: -numerics.hessian(obj, obj.unflatten(y))
    try:
        sol = solve_ivp(rhs, (0, T), obj.flatten(th), method=method, rtol=tol, atol=tol, **kw)
        return sol.y[:, -1], time.perf_counter() - t0, calls[0], True
    except _Stop as e:
        return None, time.perf_counter() - t0, calls[0], f"stopped at t = {float(e.args[0]):.3g}"


def _rk4(obj, th, T):
    grad = flat_gradient_function(obj)
    t0 = time.perf_counter()
    lam = sla.eigsh(numerics.hvp_operator(obj, th), k=1, which="LA", tol=1e-6)[0][0]
    h = 1.0 / lam
    n = max(1, int(np.ceil(T / h)))
    h = T / n
    y = obj.flatten(th)
    for k in range(n):
        if time.perf_counter() - t0 > BUDGET_S:
            return None, time.perf_counter() - t0, 4 * k, f"stopped at t = {k * h:.3g}"
        k1 = -grad(y)
        k2 = -grad(y + h / 2 * k1)
        k3 = -grad(y + h / 2 * k2)
        k4 = -grad(y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return y, time.perf_counter() - t0, 4 * n, True


def _row(name, y, secs, evals, reached, ref, extra=""):
    if y is None or reached is not True:
        return f"| {name} | {secs:.3g} | {evals} | no ({reached}) | — | {extra} |"
    err = float(np.abs(y - ref).max())
    return f"| {name} | {secs:.3g} | {evals} | yes | {err:.2g}{' ✓' if err <= 1e-10 else ''} | {extra} |"


def _case(label, obj, th, T, ref_kind):
    lines = [f"### {label}: {obj.num_params:,} parameters, T = {T:g}", "",
             "| contestant | seconds | gradient evals / steps | reached T | max error at T (✓: ≤ 1e-10) | notes |",
             "|---|---|---|---|---|---|"]
    t0 = time.perf_counter()
    f = numerics.gradient_flow(obj, th, T, dps=None)
    tf = time.perf_counter() - t0
    yf = obj.flatten(f.at(T))
    if ref_kind == "arb":
        ref_tr = numerics.kink_flows.relu_gradient_flow(obj, th, Fraction(T), 30, rerun=False)
        with mpmath.workdps(30):
            ref = np.array([float(x) for x in obj.flatten(ref_tr.at(T))])
        refnote = "reference: arb tier, 30 digits"
    else:
        ref = yf
        refnote = f"reference: the float tier (its estimate {f.error_estimate:.2g})"
    lines.append(_row("gfgd float Taylor", yf, tf, len(f.steps), True, ref,
                      f"{len(f.events)} kink events, estimate {f.error_estimate:.2g}"))
    for method, tol in (("DOP853", 1e-12), ("Radau", 1e-10)):
        if method == "Radau" and obj.num_params > 1000:
            # its Jacobian −∇²f by the batched dual pass holds P tangents of every activation matrix
            # (6,200 × 50 × 500 floats ≈ 1.2 GB per node): not run on a shared machine
            lines.append(f"| scipy Radau rtol {tol:g} | — | — | not run | — | dense Hessian Jacobian at "
                         f"{obj.num_params:,} parameters needs several GB per evaluation |")
            continue
        y, s, n, ok = _scipy(obj, th, T, method, tol)
        lines.append(_row(f"scipy {method} rtol {tol:g}", y, s, n, ok, ref))
    y, s, n, ok = _rk4(obj, th, T)
    lines.append(_row("RK4, h = 1/λ_max(θ0)", y, s, n, ok, ref))
    return lines + ["", refnote, ""], tf


def _linear(obj, th, T):
    lines = [f"### deep linear 64-50-50-10 on digits: {obj.num_params:,} parameters, T = {T:g}", "",
             "| contestant | seconds | steps | estimate | distance between the two at T |", "|---|---|---|---|---|"]
    t0 = time.perf_counter()
    f = numerics.gradient_flow(obj, th, T, dps=None)
    tf = time.perf_counter() - t0
    t0 = time.perf_counter()
    g = numerics.gradient_flow_float(obj, th, T, rtol=1e-12, atol=1e-12, estimate_error=False)
    tg = time.perf_counter() - t0
    d = max(float(np.abs(a - b).max()) for a, b in zip(f.at(T), g.at(T)))
    lines.append(f"| gfgd float Taylor | {tf:.3g} | {len(f.steps)} | {f.error_estimate:.2g} | {d:.2g} |")
    lines.append(f"| gradient_flow_float (DOP853 1e-12) | {tg:.3g} | {len(g.times) - 1} ({g.nfev} evals) | "
                 f"not computed | {d:.2g} |")
    return lines + [""]


def section() -> str:
    """Run every case and return the markdown section."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        L = ["## Float64 Taylor tier vs float64 integrators (ReLU and deep linear GF)", "",
             __doc__.split("\n\n", 1)[1].split("``python benchmarks")[0].strip(), ""]
        for label, (obj, th), T, ref in (
                ("ReLU (4,10,10,2) with biases", _relu_small(1, True), 0.5, "arb"),
                ("ReLU (4,10,10,2) bias-free", _relu_small(7, False), 0.5, "arb"),
                ("ReLU 64-50-50-10 bias-free, digits", _relu_big(False), 2e-4, "self"),
                ("ReLU 64-50-50-10 with biases, digits", _relu_big(True), 2e-4, "self")):
            lines, _ = _case(label, obj, th, T, ref)
            L += lines
        lin = _digits(theory.DeepLinear((64, 50, 50, 10)))
        L += _linear(lin, numerics.gaussian_init(lin, 0.1, seed=0), 0.5)
        L += [f"Load average (1 min) at start / end of this section: {load0:.2f} / {os.getloadavg()[0]:.2f} "
              f"(shared 2-core machine); section wall time {time.perf_counter() - t0:.0f} s.", ""]
    return "\n".join(L)


if __name__ == "__main__":
    print(section())
