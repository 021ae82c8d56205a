"""Ground-truth gradient flow of (leaky) ReLU nets at 30 digits: gfgd against mpmath.odefun and scipy.

Problems (square loss f = (1/n)Σ_i ½(h(x_i) − y_i)², ReLU, inputs and targets N(0, 1) from
``np.random.default_rng(seed)``, weights N(0, 1) drawn after them, biases too when present):

* ``relu20``     -- widths (4,4,1), 8 samples, 20 parameters (25 with biases), T = 2;
* ``relu104``    -- widths (4,8,8,1), 8 samples, 104 parameters (121 with biases), T = 0.25 (the size
                    where the issue measured odefun's dishonest estimate);
* ``relu176``    -- widths (6,12,8,1), 8 samples, 176 parameters (197 with biases), T = 0.125;
* ``sliding18``  -- widths (2,3,3,1), 5 samples, 18 parameters, seed 1, T = 1.5: the flow slides on
                    a first-layer kink (enters at t ≈ 0.69, leaves at ≈ 1.03, enters again at ≈ 1.38).

Contestants, one after the other on the same problem:

* gfgd    -- ``numerics.gradient_flow(obj, theta0, T, dps=30)``: region-by-region Taylor method with
             exact kink events; the time includes the dps + 10 rerun that makes ``error_estimate``.
* odefun  -- ``mpmath.odefun(F, 0, y0)`` at mp.dps = 30 with F = −``numerics.gradient`` (mp) — the
             path ``gradient_flow_generic`` took for ReLU nets before it was retired for them —
             evaluated at T, within a wall-clock budget (``--budget``, default 60 s).
* DOP853, Radau -- ``scipy.integrate.solve_ivp`` at rtol = atol = 1e-13 (DOP853) and 1e-10 (Radau,
             with the exact Hessian as Jacobian), with a budget of gradient evaluations
             (``MAX_EVALS``) and the same wall-clock budget, so a run that chatters on a kink ends.

Accuracy: max |y(T) − reference| over all parameters, the reference being gfgd at 50 digits (its own
estimate is reported); "reached" says whether the contestant got to T within its budget.

Run alone with ``python benchmarks/bench_relu_flows.py`` (prints the markdown section);
``benchmarks/run.py`` calls :func:`run` and :func:`markdown`.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
             "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import sys
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np
from scipy.integrate import solve_ivp

import numerics
import theory
from numerics.gradients import flat_gradient_function

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_hessian import Budget, timed  # noqa: E402

DPS = 30
REF_DPS = 50
BUDGET = 60.0
MAX_EVALS = 200_000


@dataclass(frozen=True)
class ReLUCase:
    name: str
    widths: tuple[int, ...]
    n: int
    T: Fraction
    seed: int
    bias: bool


CASES: tuple[ReLUCase, ...] = tuple(
    ReLUCase(f"{base}{'+b' if bias else ''}", w, n, T, s, bias)
    for base, w, n, T, s in (("relu20", (4, 4, 1), 8, Fraction(2), 0),
                             ("relu104", (4, 8, 8, 1), 8, Fraction(1, 4), 0),
                             ("relu176", (6, 12, 8, 1), 8, Fraction(1, 8), 0))
    for bias in (False, True)
) + (ReLUCase("sliding18", (2, 3, 3, 1), 5, Fraction(3, 2), 1, False),)


def make_problem(case: ReLUCase):
    rng = np.random.default_rng(case.seed)
    X = rng.standard_normal((case.n, case.widths[0]))
    Y = rng.standard_normal(case.n)
    obj = theory.Objective(theory.ReLUNet(case.widths, 0, case.bias), theory.SquareLoss(X, Y))
    theta0 = [rng.standard_normal(s) for s in obj.shapes]
    return obj, theta0


def _err(y, ref) -> float:
    with mpmath.workdps(REF_DPS):
        return float(max(abs(mpmath.mpf(a) - b) for a, b in zip(y, ref)))


def run_gfgd(obj, theta0, T, dps):
    t0 = time.perf_counter()
    tr = numerics.gradient_flow(obj, theta0, T, dps=dps)
    sec = time.perf_counter() - t0
    return sec, tr


def run_odefun(obj, theta0, T, budget):
    def go():
        with mpmath.workdps(DPS):
            y0 = [mpmath.mpf(float(x)) for x in obj.flatten(theta0)]

            def F(t, y):
                return [-g for g in obj.flatten(numerics.gradient(obj, obj.unflatten(np.array(y, dtype=object))))]

            fun = mpmath.odefun(F, 0, y0)
            return list(fun(mpmath.mpf(T.numerator) / T.denominator))

    try:
        sec, y = timed(go, budget)
        return sec, y, True
    except Budget:
        return budget, None, False


def run_scipy(obj, theta0, T, method, tol, budget):
    grad = flat_gradient_function(obj)
    count = [0]
    start = time.perf_counter()
    last = [0.0]

    class Stop(Exception):
        pass

    def rhs(t, y):
        count[0] += 1
        last[0] = t
        if count[0] > MAX_EVALS or time.perf_counter() - start > budget:
            raise Stop()
        return -grad(y)

    kw = {}
    if method == "Radau":
        kw["jac"] = lambda t, y: -numerics.hessian(obj, obj.unflatten(y))
    try:
        sol = solve_ivp(rhs, (0.0, float(T)), obj.flatten(theta0), method=method, rtol=tol, atol=tol, **kw)
        sec = time.perf_counter() - start
        ok = sol.success and sol.t[-1] == float(T)
        note = "" if ok else f" ({sol.message})"
        return sec, (list(sol.y[:, -1]) if ok else None), ok, count[0], float(sol.t[-1]), note
    except Stop:
        return time.perf_counter() - start, None, False, count[0], float(last[0]), " (budget)"


def bench_case(case: ReLUCase, budget: float = BUDGET, log=print) -> dict[str, Any]:
    obj, theta0 = make_problem(case)
    res: dict[str, Any] = {"case": case.name, "widths": case.widths, "params": obj.num_params, "n": case.n,
                           "T": float(case.T), "bias": case.bias, "rows": []}
    _, ref = run_gfgd(obj, theta0, case.T, REF_DPS)
    with mpmath.workdps(REF_DPS):
        yref = list(obj.flatten(ref.at(case.T)))
    res["ref_estimate"] = ref.error_estimate
    res["events"] = [(float(e.t), e.kind, e.layer, e.sample, e.unit) for e in ref.events]
    sec, tr = run_gfgd(obj, theta0, case.T, DPS)
    with mpmath.workdps(REF_DPS):
        y = list(obj.flatten(tr.at(case.T)))
    res["rows"].append({"contestant": f"gfgd@{DPS}", "seconds": sec, "reached": True, "error": _err(y, yref),
                        "estimate": tr.error_estimate, "info": f"{len(tr.steps)} steps, {len(tr.events)} events"})
    log(f"  {case.name}: gfgd {sec:.2f} s")
    sec, y, ok = run_odefun(obj, theta0, case.T, budget)
    res["rows"].append({"contestant": f"odefun@{DPS}", "seconds": sec, "reached": ok,
                        "error": _err(y, yref) if ok else None, "estimate": None,
                        "info": "" if ok else f"budget {budget:.0f} s exhausted"})
    log(f"  {case.name}: odefun {sec:.2f} s reached={ok}")
    for method, tol in (("DOP853", 1e-13), ("Radau", 1e-10)):
        sec, y, ok, nfev, t_last, note = run_scipy(obj, theta0, case.T, method, tol, budget)
        res["rows"].append({"contestant": f"{method} rtol {tol:g}", "seconds": sec, "reached": ok,
                            "error": _err(y, yref) if ok else None, "estimate": None,
                            "info": f"{nfev} evaluations" + ("" if ok else f", stopped at t = {t_last:.6g}{note}")})
        log(f"  {case.name}: {method} {sec:.2f} s reached={ok}")
    return res


def run(cases=CASES, budget: float = BUDGET, log=print) -> dict[str, Any]:
    return {"cases": [bench_case(c, budget, log) for c in cases], "budget": budget, "max_evals": MAX_EVALS}


def markdown(out: dict[str, Any]) -> str:
    L = ["### ReLU gradient flow with kinks (30 digits)", "",
         f"gfgd `gradient_flow` (time includes the dps + 10 rerun behind its estimate) vs `mpmath.odefun` on "
         f"`numerics.gradient` (the retired generic path) vs scipy `solve_ivp`; budgets {out['budget']:.0f} s "
         f"and {out['max_evals']:,} evaluations. Error: max-norm at T against gfgd at {REF_DPS} digits.", ""]
    for c in out["cases"]:
        ev = c["events"]
        kinds = {}
        for e in ev:
            kinds[e[1]] = kinds.get(e[1], 0) + 1
        L.append(f"#### {c['case']}: widths {c['widths']}{' with biases' if c['bias'] else ''}, {c['params']} "
                 f"parameters, {c['n']} samples, T = {c['T']:g}; events: "
                 + (", ".join(f"{v} {k}" for k, v in kinds.items()) or "none"))
        L.append("")
        L.append("| contestant | seconds | ratio to gfgd | reached T | error at T | own estimate | notes |")
        L.append("|---|---|---|---|---|---|---|")
        g = c["rows"][0]["seconds"]
        for r in c["rows"]:
            err = "—" if r["error"] is None else f"{r['error']:.1e}"
            est = "—" if r["estimate"] is None else f"{r['estimate']:.1e}"
            L.append(f"| {r['contestant']} | {r['seconds']:.3g} | {r['seconds'] / g:.3g}× | "
                     f"{'yes' if r['reached'] else '**no**'} | {err} | {est} | {r['info']} |")
        L.append("")
    return "\n".join(L)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=BUDGET)
    ap.add_argument("--cases", nargs="*", default=None, help="case names (default: all)")
    a = ap.parse_args(argv)
    cases = CASES if not a.cases else tuple(c for c in CASES if c.name in a.cases)
    out = run(cases, a.budget, log=lambda s: print(s, file=sys.stderr, flush=True))
    print(markdown(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
