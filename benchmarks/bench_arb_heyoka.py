"""The arb Taylor tier (``numerics.gradient_flow``) against heyoka ``real``: 21–2,054 parameters, 15–100 digits.

Problem: the deep-linear gradient flow of :mod:`bench_flows` (scalar output, whitened square loss,
Φ a Gaussian row with ‖Φ‖ = 1, seed PHI_SEED; weights ``numerics.gaussian_init(obj, α, seed=INIT_SEED)``):

* 21 parameters    -- widths (3, 3, 3, 1),      α = 0.1,  T = 9.5  (as bench_flows' small case);
* 200 parameters   -- widths (8, 8, 8, 8, 1),   α = 0.3,  T = 6    (as bench_flows' larger case);
* 2,054 parameters -- widths (26, 26, 26, 26, 1), α = 0.17, T = 0.25 (a short horizon, so that 100 digits
  stay within minutes; the flow's step sizes there are ≈ 0.06–0.09, so this is 3–5 steps).

Contestants, at D = 15, 30, 60 and 100 digits, one round after the other (interleaved):

* gfgd   -- ``numerics.gradient_flow(obj, theta0, T, dps=D)`` then ``.at(T)``: the whole call, i.e. tape
            recording, the Taylor steps and the error estimate (λ_min of the Hessian along the run); it
            has no compilation stage, so "integration alone" and "end to end" are the same number.
* heyoka -- ``bench_flows.run_heyoka``: ``taylor_adaptive(..., fp_type=heyoka.real, prec=⌈D·log2 10⌉,
            compact_mode=True)``; "integrate" is ``propagate_until(T)`` alone, "end to end" adds building
            the symbolic system and the constructor with cold caches (fresh on-disk cache directory).

Ratios are heyoka / gfgd (> 1: gfgd faster), on wall-clock and on CPU time (``time.process_time``):
the machine is shared, and a process that waits for a core loses wall-clock time, not CPU time.
Accuracy: max |θ_gfgd(T) − θ_heyoka(T)| over all parameters (exact binary values compared at D + 30
digits), next to gfgd's own error estimate; both integrators aim at 10^{−D}.

    python benchmarks/bench_arb_heyoka.py [--quick]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
             "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import math
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any

import mpmath

import numerics

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_flows import FlowCase, HeyokaSystem, clocked, heyoka, make_problem, run_heyoka  # noqa: E402

CASES = (
    FlowCase("21", (3, 3, 3, 1), 0.1, 9.5, (15, 30, 60, 100), ()),
    FlowCase("200", (8, 8, 8, 8, 1), 0.3, 6.0, (15, 30, 60, 100), ()),
    FlowCase("2054", (26, 26, 26, 26, 1), 0.17, 0.25, (15, 30, 60, 100), ()),
)
REPEATS = 3            # interleaved rounds
SINGLE_RUN_ABOVE = 30  # seconds: a pair whose first round took longer (either side) runs once


def run_gfgd(obj, theta0, T, D):
    def go():
        tr = numerics.gradient_flow(obj, theta0, T, dps=D)
        return tr, list(obj.flatten(tr.at(T)))

    wall, cpu, (tr, y) = clocked(go)
    return {"wall": wall, "cpu": cpu}, y, {"steps": len(tr.steps), "order": tr.order,
                                          "estimate": tr.error_estimate}


def bench_pair(case: FlowCase, D: int, cache_root: str, log=print) -> dict[str, Any]:
    obj, theta0, Phi = make_problem(case)
    hsys = HeyokaSystem(obj, theta0, Phi)
    g_runs: list[dict] = []
    h_runs: list[dict] = []
    rounds = REPEATS
    yg = yh = None
    for r in range(REPEATS):
        if r >= rounds:
            break
        st, y, ginfo = run_gfgd(obj, theta0, case.T, D)
        g_runs.append(st)
        yg = yg or y
        hst, y, hinfo = run_heyoka(hsys, case.T, D, cache_root)
        h_runs.append(hst)
        yh = yh or y
        log(f"  {case.name} params, {D} digits, round {r + 1}: gfgd {st['wall']:.3g} s (CPU {st['cpu']:.3g}), "
            f"heyoka integrate {hst['integrate']:.3g} s (CPU {hst['cpu_integrate']:.3g}), "
            f"end to end {hst['total']:.3g} s")
        if r == 0 and max(st["wall"], hst["total"]) > SINGLE_RUN_ABOVE:
            rounds = 1
    med = statistics.median
    g_wall, g_cpu = med(s["wall"] for s in g_runs), med(s["cpu"] for s in g_runs)
    out = {
        "case": case.name, "params": obj.num_params, "widths": case.widths, "T": case.T, "digits": D, "n": len(g_runs),
        "gfgd_wall": g_wall, "gfgd_cpu": g_cpu,
        "gfgd_wall_range": (min(s["wall"] for s in g_runs), max(s["wall"] for s in g_runs)),
        "hy_int_wall": med(s["integrate"] for s in h_runs), "hy_int_cpu": med(s["cpu_integrate"] for s in h_runs),
        "hy_e2e_wall": med(s["total"] for s in h_runs), "hy_e2e_cpu": med(s["cpu_total"] for s in h_runs),
        "hy_jit_wall": med(s["build"] + s["jit_cold"] for s in h_runs),
        **{f"gfgd_{k}": v for k, v in ginfo.items()}, "hy_steps": hinfo["steps"], "hy_order": hinfo["order"],
    }
    with mpmath.workdps(D + 30):
        out["diff"] = float(max(abs(mpmath.mpf(a) - b) for a, b in zip(yg, yh)))
    for k in ("int", "e2e"):
        out[f"ratio_{k}_wall"] = out[f"hy_{k}_wall"] / g_wall
        out[f"ratio_{k}_cpu"] = out[f"hy_{k}_cpu"] / g_cpu
    return out


def run(cases=CASES, log=print) -> dict[str, Any]:
    if heyoka is None:
        raise SystemExit("heyoka is not installed (pip install heyoka): nothing to compare with")
    heyoka.set_nthreads(1)
    old_cache = heyoka.llvm_state.get_diskcache_path()
    cache_root = tempfile.mkdtemp(prefix="gfgd-bench-arb-heyoka-")
    res: dict[str, Any] = {"load_start": os.getloadavg(), "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                           "rows": []}
    try:
        warm = FlowCase("warm-up", (2, 2, 1), 0.1, 0.5, (20,), ())
        obj, th, Phi = make_problem(warm)
        numerics.gradient_flow(obj, th, warm.T, dps=20)
        run_heyoka(HeyokaSystem(obj, th, Phi), warm.T, 20, cache_root)
        for case in cases:
            for D in case.digits:
                res["rows"].append(bench_pair(case, D, cache_root, log))
    finally:
        heyoka.llvm_state.set_diskcache_path(old_cache)
        shutil.rmtree(cache_root, ignore_errors=True)
    res["load_end"] = os.getloadavg()
    return res


def markdown(res: dict[str, Any]) -> str:
    L = ["| parameters | digits (heyoka bits) | gfgd (s): median wall; CPU (n) | heyoka integrate (s): wall; CPU "
         "| **ratio integrate-alone** heyoka/gfgd: wall; CPU | heyoka end to end (s) | ratio end to end: wall; CPU "
         "| steps, order gfgd / heyoka | max abs(gfgd − heyoka) at T | gfgd error estimate |",
         "|---|---|---|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        bits = math.ceil(r["digits"] * math.log2(10))
        L.append(f"| {r['params']:,} | {r['digits']} ({bits}) | {r['gfgd_wall']:.4g}; {r['gfgd_cpu']:.4g} ({r['n']}) "
                 f"| {r['hy_int_wall']:.4g}; {r['hy_int_cpu']:.4g} | **{r['ratio_int_wall']:.2f}×; {r['ratio_int_cpu']:.2f}×** "
                 f"| {r['hy_e2e_wall']:.4g} | {r['ratio_e2e_wall']:.2f}×; {r['ratio_e2e_cpu']:.2f}× "
                 f"| {r['gfgd_steps']}, {r['gfgd_order']} / {r['hy_steps']}, {r['hy_order']} | {r['diff']:.1e} "
                 f"| {r['gfgd_estimate']:.1e} |")
    return "\n".join(L)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="21 and 200 parameters at 15 and 30 digits only")
    args = ap.parse_args(argv)
    cases = CASES
    if args.quick:
        cases = tuple(FlowCase(c.name, c.widths, c.alpha, c.T, (15, 30), ()) for c in CASES[:2])
    res = run(cases)
    print()
    print(f"started {res['started']}, load average at start {res['load_start'][0]:.2f} / "
          f"{res['load_start'][1]:.2f} / {res['load_start'][2]:.2f}, at end {res['load_end'][0]:.2f} / "
          f"{res['load_end'][1]:.2f} / {res['load_end'][2]:.2f} (1, 5, 15 min)")
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
