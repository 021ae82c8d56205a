"""Ground-truth gradient flow at 30, 40 and 100 digits: gfgd against mpmath, heyoka and scipy.

Problems (deep linear net, scalar output, whitened loss f = ½‖W_N⋯W_1 − Φ‖², Φ a Gaussian row scaled
to ‖Φ‖ = 1 (seed PHI_SEED), weights N(0, α²) from ``numerics.gaussian_init(obj, α, seed=INIT_SEED)``):

* small  -- N = 3, widths (3,3,3,1), 21 parameters, α = 0.1, T = 9.5, at 30 and 40 digits;
* larger -- N = 4, widths (8,8,8,8,1), 200 parameters, α = 0.3, T = 6, at 30, 40 and 100 digits.

Contestants, side by side in one run, same problem, same number of digits D:

* gfgd    -- ``numerics.gradient_flow(obj, theta0, T, dps=D)`` (Taylor method on a recorded tape,
             python-flint arb arithmetic), then ``.at(T)``.
* odefun  -- ``mpmath.odefun(F, 0, y0)`` at ``mp.dps = D`` (gmpy2 backend), then evaluated at T.
             F is the hand-written numpy-free gradient below (:func:`dl_gradient` with
             ``mpmath.fdot``); in a trial it cost a third of ``numerics.gradient`` per call but
             odefun's total time was the same with either (its own series work dominates).
             Run at 30 and 40 digits on the small case and at 30 digits on the larger case, each
             within ``--odefun-budget`` seconds (past it: reported as timed out).
* heyoka  -- ``heyoka.taylor_adaptive(sys, state, fp_type=heyoka.real, prec=BITS,
             compact_mode=True)``, ``propagate_until(T)``, BITS = ⌈D·log2(10)⌉ (100, 133, 333 bits).
             ``sys`` is built from heyoka expressions with the same :func:`dl_gradient` (prefix
             vectors up the net, suffix vectors down it, ``heyoka.sum`` of products), state and Φ
             from the float64 values exactly (``heyoka.real(float, BITS)``, not from strings).
             Compact mode on both cases: without it, the 21-parameter system at 133 bits had not
             finished compiling after 10 minutes (6.8 GB resident) in a trial, against ~0.5 s with it.
             Timed in stages: "build" (the symbolic system), "JIT cold" (the constructor with an
             empty in-memory cache and a fresh, empty on-disk cache in a temporary directory, so the
             user's ``~/.cache/heyoka`` is neither used nor touched), "integrate"
             (``propagate_until``), and "JIT warm" (the constructor again after clearing the
             in-memory cache only: the on-disk cache is then warm). ``heyoka.set_nthreads(1)``.
* scipy   -- float64 DOP853, ``numerics.gradient_flow_float(obj, theta0, T, rtol=1e-13, atol=1e-13,
             estimate_error=False)``: the speed and accuracy of a float64 reference.

Accuracy: every result at T is compared with a reference run of gfgd at D + 20 digits (max abs
difference over all parameters, computed at the reference precision; heyoka's binary values are
converted exactly). gfgd's own ``error_estimate`` is reported next to its actual error.

Run alone with ``python benchmarks/bench_flows.py``; ``benchmarks/run.py`` runs it with the others
and writes BENCHMARKS.md.
"""

from __future__ import annotations

import os

# one thread everywhere, before numpy (or anything that loads a BLAS) is imported
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
from dataclasses import dataclass
from typing import Any, Callable

import mpmath
import numpy as np

import numerics
import theory

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_hessian import Budget, _fmt_ratio, timed  # noqa: E402  (same helpers as the Hessian benchmark)

try:
    import heyoka
except ImportError:
    heyoka = None


@dataclass(frozen=True)
class FlowCase:
    name: str
    widths: tuple[int, ...]
    alpha: float
    T: float
    digits: tuple[int, ...]         # gfgd and heyoka
    odefun_digits: tuple[int, ...]  # mpmath.odefun (budgeted)


CASES: tuple[FlowCase, ...] = (
    FlowCase("small", (3, 3, 3, 1), 0.1, 9.5, (30, 40), (30, 40)),
    FlowCase("larger", (8, 8, 8, 8, 1), 0.3, 6.0, (30, 40, 100), (30,)),
)
PHI_SEED = 0
INIT_SEED = 1
REF_EXTRA = 20           # reference: gfgd at D + REF_EXTRA digits
SCIPY_TOL = 1e-13
REPEATS = 3
FAST_REPEATS = 5         # contestants whose first run is below FAST_SECONDS
FAST_SECONDS = 0.5
SINGLE_RUN_ABOVE = 60.0  # a contestant whose first run exceeds this is run once
ODEFUN_BUDGET = 180.0    # seconds for one odefun run; past it the contestant is reported as timed out
ODEFUN_TARGET = 20.0     # issue target: odefun / gfgd >= 20x on the small case
D100_TARGET = 60.0       # issue target: 100 digits on the larger case within 60 s


def bits_for(digits: int) -> int:
    """Binary precision carrying ``digits`` decimal digits: ⌈D·log2 10⌉ (30 → 100, 40 → 133, 100 → 333)."""
    return math.ceil(digits * math.log2(10))


# ----------------------------------------------------------------------------------------------
# problem and the hand-written gradient shared by the peers

def make_problem(case: FlowCase) -> tuple[Any, list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(PHI_SEED)
    Phi = rng.standard_normal((case.widths[-1], case.widths[0]))
    Phi /= np.linalg.norm(Phi)
    obj = theory.Objective(theory.DeepLinear(case.widths), theory.WhitenedSquare(Phi))
    theta0 = numerics.gaussian_init(obj, case.alpha, seed=INIT_SEED)
    return obj, theta0, Phi


def dl_gradient(Ws: list[list[list[Any]]], phi: list[Any], dot: Callable[[list, list], Any]) -> list:
    """∇f for f = ½‖W_N⋯W_1 − φ‖², scalar output, on nested lists of any scalar type.

    Ws[j-1] = W_j (d_j × d_{j-1}, list of rows), d_N = 1. With suffix rows s_j = W_N⋯W_{j+1} (1 × d_j)
    and r_j = (W_N⋯W_1 − φ)(W_{j-1}⋯W_1)ᵀ (1 × d_{j-1}), ∇_{W_j} f = s_jᵀ r_j: s_j is built down the
    net, r_j up it, by vector–matrix products only (``dot(a, b)`` = Σ a_i b_i).
    """
    N = len(Ws)
    s: list[Any] = [None] * N
    s[N - 1] = list(Ws[N - 1][0])
    for j in range(N - 1, 0, -1):  # s_{j-1} = s_j W_j
        W = Ws[j - 1]
        s[j - 1] = [dot(s[j], [row[k] for row in W]) for k in range(len(W[0]))]
    # s[0] is the end-to-end row W_N⋯W_1
    r = [e - p for e, p in zip(s[0], phi)]
    grads = []
    for j in range(1, N + 1):
        grads.append([list(r)] if j == N else [[si * rk for rk in r] for si in s[j]])
        if j < N:  # r_{j+1} = r_j W_jᵀ
            r = [dot(row, r) for row in Ws[j - 1]]
    return grads


def _nest(flat: list[Any], shapes) -> list[list[list[Any]]]:
    out, i = [], 0
    for r, c in shapes:
        out.append([flat[i + k * c: i + (k + 1) * c] for k in range(r)])
        i += r * c
    return out


def _flat(nested: list[list[list[Any]]]) -> list[Any]:
    return [x for M in nested for row in M for x in row]


def check_gradient(obj, theta0, Phi) -> float:
    """max |dl_gradient − numerics.gradient| at θ0 in 50-digit mp (a guard on the peers' field)."""
    with mpmath.workdps(50):
        th = [np.vectorize(mpmath.mpf, otypes=[object])(w) for w in theta0]
        ref = obj.flatten(numerics.gradient(obj, th))
        mine = _flat(dl_gradient([w.tolist() for w in th], [mpmath.mpf(float(p)) for p in Phi[0]], mpmath.fdot))
        return float(max(abs(a - b) for a, b in zip(ref, mine)))


# ----------------------------------------------------------------------------------------------
# contestants: each returns (stage timings, flat result at T as exact binary numbers, info)

def clocked(fn: Callable[[], Any], budget: float | None = None) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds of this process, result); raises Budget past ``budget`` wall seconds."""
    c0 = time.process_time()
    wall, out = timed(fn, budget)
    return wall, time.process_time() - c0, out


def run_gfgd(obj, theta0, T, D):
    def go():
        tr = numerics.gradient_flow(obj, theta0, T, dps=D)
        return tr, list(obj.flatten(tr.at(T)))

    t, c, (tr, y) = clocked(go)
    return {"total": t, "cpu_total": c}, y, {"steps": len(tr.steps), "order": tr.order,
                                              "error_estimate": tr.error_estimate}


def run_odefun(obj, theta0, Phi, T, D, budget):
    shapes = [tuple(s) for s in obj.shapes]

    def go():
        with mpmath.workdps(D):
            phi = [mpmath.mpf(float(p)) for p in Phi[0]]
            y0 = [mpmath.mpf(float(x)) for x in obj.flatten(theta0)]  # floats → mpf exactly

            def F(t, y):
                return [-g for g in _flat(dl_gradient(_nest(y, shapes), phi, mpmath.fdot))]

            fun = mpmath.odefun(F, 0, y0)
            return fun(mpmath.mpf(T))  # T is a float: exact

    t, c, y = clocked(go, budget)
    return {"total": t, "cpu_total": c}, list(y), {}


class HeyokaSystem:
    """The symbolic GF system for one problem (built once per precision, rebuilt in every repeat)."""

    def __init__(self, obj, theta0, Phi):
        self.obj, self.theta0, self.Phi = obj, theta0, Phi
        self.shapes = [tuple(s) for s in obj.shapes]

    def build(self):
        hy = heyoka
        Vs = [[[hy.expression(f"w{j + 1}_{i}_{k}") for k in range(c)] for i in range(r)]
              for j, (r, c) in enumerate(self.shapes)]
        # float64 constants are exact in heyoka's real arithmetic at any precision ≥ 53 bits
        phi = [hy.expression(float(p)) for p in self.Phi[0]]
        G = dl_gradient(Vs, phi, lambda a, b: hy.sum([x * y for x, y in zip(a, b)]))
        return [(v, -g) for v, g in zip(_flat(Vs), _flat(G))]


def run_heyoka(hsys: HeyokaSystem, T, D, cache_root: str):
    hy = heyoka
    bits = bits_for(D)
    t_build, c_build, sys_ = clocked(hsys.build)
    state = [hy.real(float(x), bits) for x in hsys.obj.flatten(hsys.theta0)]  # exact
    # cold: empty in-memory cache and a fresh on-disk cache directory
    fresh = tempfile.mkdtemp(prefix="cold-", dir=cache_root)
    hy.llvm_state.set_diskcache_path(fresh)
    hy.llvm_state.clear_memcache()
    t_jit, c_jit, ta = clocked(lambda: hy.taylor_adaptive(sys_, state, fp_type=hy.real, prec=bits,
                                                           compact_mode=True))
    t_int, c_int, res = clocked(lambda: ta.propagate_until(hy.real(T, bits)))
    if res[0] != hy.taylor_outcome.time_limit:
        raise RuntimeError(f"heyoka propagate_until stopped with {res[0]}")
    # warm on-disk cache: the same build again with only the in-memory cache cleared
    hy.llvm_state.clear_memcache()
    t_warm, c_warm, _ = clocked(lambda: hy.taylor_adaptive(sys_, state, fp_type=hy.real, prec=bits,
                                                            compact_mode=True))
    hy.llvm_state.clear_memcache()
    shutil.rmtree(fresh, ignore_errors=True)
    st = {"build": t_build, "jit_cold": t_jit, "integrate": t_int, "jit_warm": t_warm,
          "total": t_build + t_jit + t_int, "total_warm": t_build + t_warm + t_int,
          "cpu_jit_cold": c_build + c_jit, "cpu_jit_warm": c_build + c_warm, "cpu_integrate": c_int,
          "cpu_total": c_build + c_jit + c_int, "cpu_total_warm": c_build + c_warm + c_int}
    y = [_real_to_mpf(x, bits) for x in ta.state]
    return st, y, {"order": ta.order, "steps": int(res[3]), "bits": bits, "tol": float(ta.tol),
                   "decomposition": len(ta.decomposition)}


def _real_to_mpf(x, bits: int) -> mpmath.mpf:
    """heyoka.real → mpf exactly: scale by a power of two until the value is an integer."""
    f = float(x)
    if f == 0.0:
        return mpmath.mpf(0)
    k = bits - math.frexp(f)[1] + 2
    m = x * heyoka.real(2, bits) ** k  # exact (power of two, no overflow at these sizes)
    n = int(m)
    if heyoka.real(n, bits + 8) != m:
        raise ArithmeticError("heyoka.real to integer conversion was not exact")
    with mpmath.workprec(max(53, n.bit_length() + 8)):  # mpf(n) rounds to the working precision
        return mpmath.ldexp(mpmath.mpf(n), -k)


def run_scipy(obj, theta0, T):
    t, c, tr = clocked(lambda: numerics.gradient_flow_float(obj, theta0, T, rtol=SCIPY_TOL, atol=SCIPY_TOL,
                                                             estimate_error=False))
    y = list(obj.flatten(tr.at(T)))
    return {"total": t, "cpu_total": c}, y, {"nfev": tr.nfev, "steps": len(tr.times) - 1}


# ----------------------------------------------------------------------------------------------
# the benchmark

def summary(times: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "n": len(times),
            "all": list(times)}


def _max_diff(y, ref, dps: int) -> float:
    with mpmath.workdps(dps):
        return float(max(abs(mpmath.mpf(a) - b) for a, b in zip(y, ref)))


def _warm_up(cache_root: str) -> None:
    """First-call costs (imports, python-flint/mpmath caches, heyoka's LLVM start-up) on a tiny problem."""
    case = FlowCase("warm-up", (2, 2, 1), 0.1, 0.5, (20,), (20,))
    obj, th, Phi = make_problem(case)
    numerics.gradient_flow(obj, th, case.T, dps=20)
    numerics.gradient_flow_float(obj, th, case.T, rtol=SCIPY_TOL, atol=SCIPY_TOL, estimate_error=False)
    run_odefun(obj, th, Phi, case.T, 20, None)
    if heyoka is not None:
        run_heyoka(HeyokaSystem(obj, th, Phi), case.T, 20, cache_root)


def bench_case(case: FlowCase, odefun_budget: float = ODEFUN_BUDGET, log=print,
               cache_root: str | None = None) -> dict[str, Any]:
    obj, theta0, Phi = make_problem(case)
    P = obj.num_params
    res: dict[str, Any] = {"name": case.name, "widths": case.widths, "params": P, "alpha": case.alpha,
                           "T": case.T, "digits": list(case.digits), "rows": {}, "skipped": {},
                           "gradient_check": check_gradient(obj, theta0, Phi)}
    hsys = HeyokaSystem(obj, theta0, Phi) if heyoka is not None else None
    active: dict[tuple[str, int | None], Callable] = {}
    for D in case.digits:
        active[("gfgd", D)] = lambda D=D: run_gfgd(obj, theta0, case.T, D)
    for D in case.odefun_digits:
        active[("odefun", D)] = lambda D=D: run_odefun(obj, theta0, Phi, case.T, D, odefun_budget)
    if hsys is not None:
        for D in case.digits:
            active[("heyoka", D)] = lambda D=D: run_heyoka(hsys, case.T, D, cache_root)
    else:
        res["skipped"]["heyoka"] = "heyoka is not installed (pip install heyoka)"
    active[("scipy", None)] = lambda: run_scipy(obj, theta0, case.T)

    stages: dict[tuple, dict[str, list[float]]] = {k: {} for k in active}
    results: dict[tuple, Any] = {}
    infos: dict[tuple, dict] = {}
    repeats: dict[tuple, int] = {}

    def record(key, st):
        for k, v in st.items():
            stages[key].setdefault(k, []).append(v)

    # first round: every contestant once, which also fixes its repeat count
    for key, fn in list(active.items()):
        try:
            st, y, info = fn()
        except Budget:
            res["skipped"][_label(key)] = f"timed out: one run exceeded the {odefun_budget:.0f} s budget"
            log(f"  {_label(key)}: timed out (> {odefun_budget:.0f} s)")
            del active[key], stages[key]
            continue
        record(key, st)
        results[key], infos[key] = y, info
        t = st["total"]
        repeats[key] = 1 if t > SINGLE_RUN_ABOVE else (FAST_REPEATS if t < FAST_SECONDS else REPEATS)
        log(f"  {_label(key)}: run 1 {t:.4g} s")
    # further rounds, interleaved so that machine noise hits every contestant alike
    for r in range(1, max(repeats.values(), default=1)):
        for key, fn in active.items():
            if r >= repeats[key]:
                continue
            try:
                st, _, _ = fn()
            except Budget:  # a later run of a budgeted contestant ran over: keep the runs made so far
                log(f"  {_label(key)}: run {r + 1} exceeded the budget; not repeated further")
                repeats[key] = r
                continue
            record(key, st)
            log(f"  {_label(key)}: run {r + 1} {st['total']:.4g} s")

    # references: gfgd at D + REF_EXTRA digits, one per D in use
    refs: dict[int, Any] = {}
    ref_info: dict[int, dict] = {}
    for D in sorted({k[1] for k in results if k[1] is not None} | set(case.digits)):
        t, (_, y, info) = timed(lambda: run_gfgd(obj, theta0, case.T, D + REF_EXTRA))  # noqa: B023
        refs[D] = y
        ref_info[D] = {"dps": D + REF_EXTRA, "seconds": t, **info}
        log(f"  reference gfgd at {D + REF_EXTRA} digits: {t:.4g} s, {info['steps']} steps")
    res["references"] = ref_info

    for key in results:
        name, D = key
        Dref = D if D is not None else min(refs)
        row = {"name": name, "digits": D, "stages": {k: summary(v) for k, v in stages[key].items()},
               "error": _max_diff(results[key], refs[Dref], Dref + REF_EXTRA + 10), "ref_dps": Dref + REF_EXTRA,
               **infos[key]}
        if name == "heyoka":
            row["bits"] = bits_for(D)
        res["rows"][_label(key)] = row

    # ratios, peer / gfgd at the same number of digits
    ratios: dict[str, dict[str, float]] = {}
    for label, row in res["rows"].items():
        if row["name"] in ("gfgd",) or row["digits"] is None:
            continue
        gs = res["rows"][_label(("gfgd", row["digits"]))]["stages"]
        g, gc = gs["total"]["median"], gs["cpu_total"]["median"]
        s = row["stages"]
        r = {"total": s["total"]["median"] / g, "cpu_total": s["cpu_total"]["median"] / gc}
        if row["name"] == "heyoka":
            r["integrate"] = s["integrate"]["median"] / g
            r["total_warm"] = s["total_warm"]["median"] / g
            r["cpu_integrate"] = s["cpu_integrate"]["median"] / gc
            r["cpu_total_warm"] = s["cpu_total_warm"]["median"] / gc
        ratios[label] = r
    scipy_t = res["rows"]["scipy"]["stages"]["total"]["median"]
    ratios["scipy"] = {f"gfgd{D}/scipy": res["rows"][_label(("gfgd", D))]["stages"]["total"]["median"] / scipy_t
                       for D in case.digits}
    res["ratios"] = ratios

    # loss drop along the flow (from the most precise reference)
    Dhi = max(refs)
    with mpmath.workdps(Dhi + REF_EXTRA):
        f0 = numerics.value(obj, [np.vectorize(mpmath.mpf, otypes=[object])(w) for w in theta0])
        fT = numerics.value(obj, obj.unflatten(np.array(refs[Dhi], dtype=object)))
        res["f0"], res["fT"] = float(f0), float(fT)
        res["loss_drop"] = float(fT / f0)
    return res


def _label(key) -> str:
    name, D = key
    return name if D is None else f"{name}@{D}"


def run(cases=CASES, odefun_budget: float = ODEFUN_BUDGET, log=print) -> dict[str, Any]:
    out: dict[str, Any] = {"benchmark": "gradient flow", "phi_seed": PHI_SEED, "init_seed": INIT_SEED,
                           "ref_extra": REF_EXTRA, "odefun_budget_s": odefun_budget, "scipy_tol": SCIPY_TOL,
                           "mpmath_backend": mpmath.libmp.BACKEND, "cases": []}
    if mpmath.libmp.BACKEND != "gmpy":
        log(f"warning: mpmath backend is {mpmath.libmp.BACKEND!r}, not gmpy: odefun will be slower than it can be")
    old_cache = None
    cache_root = tempfile.mkdtemp(prefix="gfgd-bench-heyoka-")
    try:
        if heyoka is not None:
            heyoka.set_nthreads(1)
            old_cache = heyoka.llvm_state.get_diskcache_path()
            out["heyoka_nthreads"] = heyoka.get_nthreads()
        _warm_up(cache_root)
        for case in cases:
            log(f"gradient flow, {case.name} case, widths {case.widths}:")
            out["cases"].append(bench_case(case, odefun_budget, log, cache_root))
    finally:
        if old_cache is not None:
            heyoka.llvm_state.set_diskcache_path(old_cache)
        shutil.rmtree(cache_root, ignore_errors=True)
    return out


# ----------------------------------------------------------------------------------------------
# report

def _fmt_t(s: dict[str, Any]) -> str:
    return f"{s['median']:.4g} ({s['min']:.3g}–{s['max']:.3g}, n={s['n']})"


def _fmt_err(e: float) -> str:
    return "0" if e == 0 else f"{e:.1e}"


def _verdict(wall: float, cpu: float, ok: Callable[[float], bool]) -> str:
    """met / NOT met when wall-clock and CPU time agree; otherwise say that they do not."""
    a, b = ok(wall), ok(cpu)
    if a and b:
        return "**met**"
    if not a and not b:
        return "**NOT met**"
    return f"**undecided** ({'met' if a else 'not met'} on wall-clock, {'met' if b else 'not met'} on CPU time)"


def markdown(out: dict[str, Any]) -> str:
    lines = []
    for case in out["cases"]:
        lines.append(f"#### {case['name']} case: widths {case['widths']}, {case['params']} parameters, "
                     f"α = {case['alpha']}, T = {case['T']:g}\n")
        lines.append("| contestant | digits (bits) | JIT cold / warm disk cache (s) | integrate (s) "
                     "| total wall (s): median (min–max, n) | total CPU (s) | ratio total / gfgd: wall; CPU "
                     "| ratio integrate-only / gfgd: wall; CPU | max abs error at T | gfgd error estimate "
                     "| steps, order |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for label, row in case["rows"].items():
            s = row["stages"]
            name, D = row["name"], row["digits"]
            dig = "float64" if D is None else (f"{D} ({row['bits']})" if name == "heyoka" else f"{D}")
            jit = integ = rint = est = "—"
            ratio = "—"
            so = f"{row.get('steps', '—')}"
            if name == "gfgd":
                ratio = "1"
                est = f"{row['error_estimate']:.1e} ({'≥' if row['error_estimate'] >= row['error'] else '**<**'} actual)"
                so += f", {row['order']}"
            elif name == "heyoka":
                jit = (f"{s['build']['median'] + s['jit_cold']['median']:.3g} / "
                       f"{s['build']['median'] + s['jit_warm']['median']:.3g}")
                integ = f"{s['integrate']['median']:.4g}"
                r = case["ratios"][label]
                ratio = f"{_fmt_ratio(r['total'])}; {_fmt_ratio(r['cpu_total'])}"
                rint = f"{_fmt_ratio(r['integrate'])}; {_fmt_ratio(r['cpu_integrate'])}"
                so += f", {row['order']}"
            elif name == "odefun":
                r = case["ratios"][label]
                ratio = f"{_fmt_ratio(r['total'])}; {_fmt_ratio(r['cpu_total'])}"
                so = "—"
            elif name == "scipy":
                so += f" ({row['nfev']} field evaluations)"
            lines.append(f"| {name} | {dig} | {jit} | {integ} | {_fmt_t(s['total'])} | {s['cpu_total']['median']:.4g} "
                         f"| {ratio} | {rint} | {_fmt_err(row['error'])} | {est} | {so} |")
        for name, why in case["skipped"].items():
            lines.append(f"| {name} | — | — | — | skipped: {why} | — | — | — | — | — | — |")
        lines.append("")
        refs = ", ".join(f"{r['dps']} digits {r['seconds']:.3g} s ({r['steps']} steps)"
                         for r in case["references"].values())
        lines.append(f"Errors are max |θ_i(T) − θ_i^ref(T)| over the {case['params']} parameters against gfgd at "
                     f"D + {out['ref_extra']} digits (scipy: against the lowest of them); reference runs: {refs}. "
                     f"Loss f(θ(T))/f(θ(0)) = {case['loss_drop']:.4g} (f(θ(0)) = {case['f0']:.4g}). "
                     f"The peers' hand-written gradient agrees with `numerics.gradient` to "
                     f"{case['gradient_check']:.1e} at θ(0) (50 digits).\n")
    return "\n".join(lines)


def reading(out: dict[str, Any]) -> list[str]:
    """The met / not-met lines for BENCHMARKS.md's Reading section (wall-clock medians and CPU medians)."""
    L = []
    for case in out["cases"]:
        rows, rat = case["rows"], case["ratios"]
        g = {D: rows[f"gfgd@{D}"] for D in case["digits"]}
        head = f"- {case['name']} case ({case['params']} parameters, T = {case['T']:g}): gfgd " + ", ".join(
            f"{g[D]['stages']['total']['median']:.3g} s ({g[D]['stages']['cpu_total']['median']:.3g} s CPU) at "
            f"{D} digits" for D in case["digits"]) + "."
        parts = []
        for D in case["digits"]:
            lab = f"odefun@{D}"
            if lab in rows:
                r = rat[lab]
                t = rows[lab]["stages"]["total"]["median"]
                line = f"mpmath.odefun at {D} digits {t:.3g} s = {r['total']:.3g}× gfgd ({r['cpu_total']:.3g}× on CPU)"
                if case["name"] == "small":
                    line += (f", target ≥ {ODEFUN_TARGET:.0f}×: "
                             + _verdict(r["total"], r["cpu_total"], lambda x: x >= ODEFUN_TARGET))
                parts.append(line)
            elif lab in case["skipped"]:
                parts.append(f"mpmath.odefun at {D} digits {case['skipped'][lab]}")
        if parts:
            head += " " + "; ".join(parts) + "."
        if any(k.startswith("heyoka@") for k in rows):
            hp = []
            for D in case["digits"]:
                lab = f"heyoka@{D}"
                if lab not in rows:
                    continue
                s, r = rows[lab]["stages"], rat[lab]
                line = (f"at {D} digits heyoka takes {s['total']['median']:.3g} s end to end with a cold JIT = "
                        f"{r['total']:.3g}× gfgd ({r['cpu_total']:.3g}× on CPU), {r['total_warm']:.3g}× with a warm "
                        f"disk cache, {r['integrate']:.3g}× for the integration alone "
                        f"({r['cpu_integrate']:.3g}× on CPU)")
                if case["name"] == "larger":
                    line += (", target \"beat heyoka end to end\": "
                             + _verdict(r["total"], r["cpu_total"], lambda x: x >= 1.0))
                hp.append(line)
            head += " " + "; ".join(hp) + "."
        elif "heyoka" in case["skipped"]:
            head += f" heyoka: {case['skipped']['heyoka']}."
        if 100 in case["digits"]:
            t = g[100]["stages"]["total"]
            c = g[100]["stages"]["cpu_total"]
            head += (f" 100 digits: {t['median']:.3g} s (slowest of {t['n']} runs {t['max']:.3g} s; CPU "
                     f"{c['median']:.3g} s), target < {D100_TARGET:.0f} s: "
                     + _verdict(t["max"], c["max"], lambda x: x < D100_TARGET) + ".")
        ok = [D for D in case["digits"] if g[D]["error_estimate"] >= g[D]["error"]]
        head += (" gfgd's error estimate ≥ its actual error at " +
                 (", ".join(f"{D} digits ({g[D]['error_estimate']:.1e} ≥ {g[D]['error']:.1e})" for D in ok)
                  or "no D"))
        bad = [D for D in case["digits"] if D not in ok]
        if bad:
            head += "; **below** it at " + ", ".join(f"{D} digits ({g[D]['error_estimate']:.1e} < "
                                                      f"{g[D]['error']:.1e})" for D in bad)
        sc = rows["scipy"]
        head += f". scipy DOP853 (float64): {sc['stages']['total']['median']:.3g} s, error {sc['error']:.1e}."
        L.append(head)
    return L


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--odefun-budget", type=float, default=ODEFUN_BUDGET,
                    help="seconds allowed for one mpmath.odefun run (default %(default)s)")
    ap.add_argument("--small-only", action="store_true", help="only the 21-parameter case")
    args = ap.parse_args(argv)
    if heyoka is None:
        print("heyoka not installed: skipping the heyoka contestant (pip install heyoka)", file=sys.stderr)
    out = run(CASES[:1] if args.small_only else CASES, args.odefun_budget)
    print()
    print(markdown(out))
    print("\n".join(reading(out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
