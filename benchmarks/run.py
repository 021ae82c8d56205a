"""Run every benchmark in one process and write BENCHMARKS.md at the repository root.

    python benchmarks/run.py                 # all three benchmarks, writes BENCHMARKS.md
    python benchmarks/run.py --output X.md   # somewhere else
    python benchmarks/run.py --only flows --output /tmp/f.md   # one section (development only)

One thread everywhere (the environment is set below, before numpy is imported). The file is written
whole: to a temporary file beside it, then renamed.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
             "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import datetime as _dt
import importlib
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import bench_float_paths  # noqa: E402
import bench_float_taylor  # noqa: E402
import bench_flows  # noqa: E402
import bench_hessian  # noqa: E402
import bench_lambda_min  # noqa: E402
import bench_relu_flows  # noqa: E402

COMMAND = "python benchmarks/run.py"
SECTIONS = ("lambda", "hessian", "flows", "float")
LAMBDA_SECONDS_TARGET = 60.0


# ----------------------------------------------------------------------------------------------
# machine facts

def _version(module: str, dist: str | None = None) -> str:
    try:
        from importlib.metadata import version

        return version(dist or module)
    except Exception:
        try:
            return getattr(importlib.import_module(module), "__version__", "installed, version unknown")
        except ImportError:
            return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _blas() -> str:
    try:
        import numpy as np

        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:
        return "unknown"


def _git() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return f"{head}{' + uncommitted changes' if dirty else ''}" if head else "unknown"
    except Exception:
        return "unknown"


def _mp_backend() -> str:
    try:
        import mpmath

        return mpmath.libmp.BACKEND
    except Exception:
        return "unknown"


def machine_facts() -> list[tuple[str, str]]:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    facts = [
        ("nproc (usable / total)", f"{usable} / {os.cpu_count()}"),
        ("CPU model (/proc/cpuinfo)", _cpu_model()),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("numpy", f"{_version('numpy')} (BLAS: {_blas()})"),
        ("scipy", _version("scipy")),
        ("sympy", _version("sympy")),
        ("symengine", _version("symengine")),
        ("torch", _version("torch")),
        ("heyoka", _version("heyoka")),
        ("python-flint", _version("flint", "python-flint")),
        ("mpmath / gmpy2", f"{_version('mpmath')} / {_version('gmpy2')} (mpmath backend: {_mp_backend()})"),
        ("gfgd commit", _git()),
    ]
    threads = ", ".join(f"{v}={os.environ.get(v)}" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                           "MKL_NUM_THREADS"))
    try:
        import torch

        threads += f"; torch.get_num_threads()={torch.get_num_threads()}, " \
                   f"interop={torch.get_num_interop_threads()}"
    except ImportError:
        pass
    if bench_flows.heyoka is not None:
        threads += f"; heyoka.get_nthreads()={bench_flows.heyoka.get_nthreads()}"
    for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if os.environ.get(v):
            threads += f"; {v}={os.environ[v]} (left as the machine sets it)"
    facts.append(("thread settings", threads))
    return facts


# ----------------------------------------------------------------------------------------------
# the reading

def _hessian_reading(h: dict) -> list[str]:
    out = []
    for case in h["cases"]:
        P = case["params"]
        g = case["contestants"]["gfgd"]["total"]["median"]
        se = case["contestants"].get("symengine")
        sp = case["contestants"].get("sympy")
        agree = [n for n, a in case["agreement"].items() if a["mismatches"] == 0]
        disagree = [n for n, a in case["agreement"].items() if a["mismatches"] != 0]
        line = f"- {P} parameters: gfgd {g:.3g} s"
        if se is not None:
            met = g <= se["total"]["median"]
            line += (f"; symengine {se['total']['median']:.3g} s in all ({case['ratios']['symengine']['total']:.3g}× "
                     f"gfgd), of which substitution alone {se['subs']['median']:.3g} s "
                     f"({case['ratios']['symengine']['subs']:.3g}× gfgd). Target \"at least as fast as symengine\": "
                     f"**{'met' if met else 'NOT met'}**")
        else:
            line += "; symengine not measured (not installed): target not assessed"
        if sp is not None:
            line += (f"; sympy (cold) {sp['total']['median']:.3g} s (n={sp['total']['n']}; "
                     f"{bench_hessian._fmt_ratio(case['ratios']['sympy']['total'])} gfgd)")
        elif "sympy" in case["skipped"]:
            line += f"; sympy {case['skipped']['sympy']}"
        line += "."
        if agree:
            line += f" Exact agreement, all {P * P} entries as rationals: gfgd = {' = '.join(agree)}."
        if disagree:
            line += f" **Disagreement** with {', '.join(disagree)} (see table)."
        out.append(line)
    return out


def _lambda_reading(lam: dict) -> list[str]:
    out = []
    for case in lam["cases"]:
        P = case["params"]
        c = case["contestants"]
        g = c["gfgd"]
        line = (f"- {P:,} parameters: gfgd {g['time']['median']:.3g} s, {g['matvecs']} HVPs, "
                f"{1e3 * g['hvp']['median']:.3g} ms per HVP")
        peers = {n: v for n, v in c.items() if n != "gfgd"}
        if peers:
            best = min(peers, key=lambda n: peers[n]["time"]["median"])
            b = peers[best]
            met = g["time"]["median"] <= b["time"]["median"]
            line += (f"; fastest torch variant ({best}) {b['time']['median']:.3g} s, {b['matvecs']} HVPs, "
                     f"{1e3 * b['hvp']['median']:.3g} ms per HVP — ratio {case['ratios'][best]['time']:.3g}× on the "
                     f"eigsh call, {case['ratios'][best]['hvp']:.3g}× per HVP. \"No slower than PyTorch\": "
                     f"**{'met' if met else 'NOT met'}**")
            diffs = max(abs(v["diff_vs_gfgd"]) for v in peers.values())
            line += (f". λ_min agrees to {diffs:.1e} absolute ({diffs / abs(g['value']):.1e} relative; "
                     f"ARPACK tol {lam['tol']:g}, gfgd residual bound {g['residual']:.1e})")
        else:
            line += "; torch not installed: the PyTorch comparison is not assessed"
        share = g["matvecs"] * g["hvp"]["median"] / g["time"]["median"]
        line += (f". Where gfgd's time goes: {g['matvecs']} HVPs × {1e3 * g['hvp']['median']:.3g} ms ≈ "
                 f"{100 * share:.0f} % of its eigsh call; the rest is ARPACK's own work on P-vectors "
                 "(the same for every contestant)")
        if P > 100_000:
            t = g["time"]["median"]
            line += (f". \"Within {LAMBDA_SECONDS_TARGET:.0f} s on one core\": "
                     f"**{'met' if t <= LAMBDA_SECONDS_TARGET else 'NOT met'}** ({t:.3g} s, slowest of "
                     f"{g['time']['n']} runs {g['time']['max']:.3g} s)")
        out.append(line + ".")
    return out


def _flows_intro(fl: dict) -> list[str]:
    c = fl["cases"]
    desc = "; ".join(f"{x['name']}: widths {x['widths']} ({x['params']} parameters), α = {x['alpha']}, "
                     f"T = {x['T']:g}, at {', '.join(str(d) for d in x['digits'])} digits" for x in c)
    return ["## Ground-truth gradient flow", "",
            "θ' = −∇f(θ), f = ½‖W_N⋯W_1 − Φ‖², scalar output, Φ a Gaussian row with ‖Φ‖ = 1 (seed "
            f"{fl['phi_seed']}), weights from `numerics.gaussian_init(obj, α, seed={fl['init_seed']})`; {desc}. "
            "gfgd: `numerics.gradient_flow(obj, theta0, T, dps=D)` then `.at(T)` (Taylor method on a recorded "
            "tape, arb arithmetic). mpmath.odefun: `mpmath.odefun(F, 0, y0)` at `mp.dps = D` "
            f"(backend {fl['mpmath_backend']}), evaluated at T, with a hand-written gradient (suffix and prefix "
            "vectors, `mpmath.fdot`; the same helper builds heyoka's system), budget "
            f"{fl['odefun_budget_s']:.0f} s per run (wall). heyoka: `taylor_adaptive(sys, state, "
            "fp_type=heyoka.real, prec=⌈D·log2 10⌉, compact_mode=True)`, `propagate_until(T)`, state and Φ "
            "from the float64 values exactly, `heyoka.set_nthreads(1)`; \"JIT cold\" is the constructor "
            "(plus building the symbolic system) with empty in-memory and on-disk caches (a fresh temporary "
            "cache directory: `~/.cache/heyoka` is not used), \"warm disk cache\" the same constructor again "
            "after clearing only the in-memory cache; its end-to-end time (ratio column) is JIT cold + "
            "integrate. Compact mode on both cases: without it the 21-parameter system in `real` arithmetic "
            "had not finished compiling after about 10 minutes of CPU (several GB resident) in a trial, at "
            "100 and at 133 bits. scipy: `numerics.gradient_flow_float(obj, theta0, T, method=\"DOP853\", "
            f"rtol={fl['scipy_tol']:g}, atol={fl['scipy_tol']:g}, estimate_error=False)`. Errors are "
            f"against gfgd at D + {fl['ref_extra']} digits. CPU time (`time.process_time`, all threads of the "
            "process) is shown beside wall-clock time because the machine is shared: a run that waits for a "
            "core loses wall-clock time but not CPU time.", ""]


def render(h: dict | None, lam: dict | None, fl: dict | None, facts, started: str, wall: float, load0,
           load1) -> str:
    L = ["# Benchmarks", "",
         f"Generated by `{COMMAND}` on {started} (UTC); the whole run took {wall:.0f} s. "
         "Times are wall-clock seconds, median of the repeats shown as n (at least 3; 5 for contestants "
         "that take under 0.5 s; 1 for a contestant whose first run takes over "
         f"{bench_hessian.SINGLE_RUN_ABOVE:.0f} s, {bench_flows.SINGLE_RUN_ABOVE:.0f} s in the gradient-flow "
         "section; contestants are interleaved run by run so that machine noise falls on all "
         "of them). Ratios are peer time / gfgd time from the same run: on these shared, noisy 2-core "
         "machines absolute times move by up to 50 % between runs, ratios much less.", "",
         "## Machine", "", "| | |", "|---|---|"]
    L += [f"| {k} | {v} |" for k, v in facts]
    L += [f"| load average (1 min) at start / end | {load0:.2f} / {load1:.2f} |", ""]

    L += ["## Reading", ""]
    if h is not None:
        L += ["Exact Hessian (target: at least as fast as symengine):", ""]
        L += _hessian_reading(h)
        L += [""]
    if lam is not None:
        L += ["λ_min (targets: no slower than PyTorch; the 270,300-parameter case within 60 s on one core):", ""]
        L += _lambda_reading(lam)
        L += [""]
    if fl is not None:
        L += ["Ground-truth gradient flow (targets: mpmath.odefun ≥ "
              f"{bench_flows.ODEFUN_TARGET:.0f}× slower than gfgd on the small case at 30 and 40 digits; beat "
              "heyoka end to end on the larger case; the larger case at 100 digits within "
              f"{bench_flows.D100_TARGET:.0f} s). A target is called met or not met when wall-clock and CPU "
              "medians agree, undecided when they do not:", ""]
        L += bench_flows.reading(fl)
        L += [""]
    L += ["Caveats: the symbolic peers build a Hessian valid at every point, and their substitution step "
          "alone is the per-point cost if that symbolic Hessian is reused (column \"ratio substitute-only\"); "
          "gfgd recomputes from scratch at each point. gfgd's λ_min time includes building the operator and "
          "the two extra HVPs of its residual check; the torch times are the bare eigsh call. "
          "The torch warm-up call is excluded, as is gfgd's first call. In the gradient-flow section every "
          "contestant's first-call costs are paid on a tiny problem before timing; heyoka's JIT is then timed "
          "cold on each run (fresh caches), and gfgd's time includes recording its tape.", ""]

    if h is not None:
        L += ["## Exact Hessian", "",
              "f = ½‖W_4W_3W_2W_1 − Φ‖², scalar output; weights and Φ random rationals p/q with |p| ≤ 9, "
              f"1 ≤ q ≤ 9 (seed {h['seed']}). gfgd: `numerics.hessian(obj, theta)` on Fraction arrays. "
              "sympy: loss from symbol matrices (products not expanded), `sympy.hessian` after "
              "`sympy.core.cache.clear_cache()` (cold), then `xreplace` of the point; its budget is "
              f"{h['sympy_budget_s']:.0f} s per stage. symengine: the same expression, `Matrix.jacobian` of "
              "the 1×1 loss, transposed to a column, `jacobian` again, then `subs` with symengine Rationals. "
              "\"derive\" includes building the expression. Agreement is checked entry by entry as exact "
              "rationals.", ""]
        L.append(bench_hessian.markdown(h))
    if lam is not None:
        L += ["## λ_min of the Hessian", "",
              f"Gaussian init N(0, α²), α = {lam['alpha']} (seed {lam['init_seed']}), Φ a Gaussian row with "
              f"‖Φ‖ = 1 (seed {lam['phi_seed']}). Every contestant runs `scipy.sparse.linalg.eigsh(op, k=1, "
              f"which=\"SA\", tol={lam['tol']:g}, v0=v0)` with the same v0 = "
              f"`np.random.default_rng({lam['v0_seed']}).standard_normal(P)`. gfgd: "
              "`numerics.lambda_min(obj, theta, method=\"eigsh\", tol, seed, return_info=True)` (forward-mode "
              "dual HVP on float64 numpy). torch-hvp: `torch.autograd.functional.hvp` in a LinearOperator; "
              "torch-dbl: double backward with the autograd leaves made once. torch with "
              "`set_num_threads(1)`. \"time per HVP, isolated\" is the median of "
              f"{bench_lambda_min.HVP_REPEATS} single HVPs at random directions; \"eigsh time / HVPs\" also "
              "carries ARPACK's own work (reorthogonalisation on P-vectors) and, for gfgd, its residual "
              "check. The residual column is ‖Hv − λv‖ for each returned pair, computed with gfgd's HVP.", ""]
        L.append(bench_lambda_min.markdown(lam))
    if fl is not None:
        L += _flows_intro(fl)
        L.append(bench_flows.markdown(fl))
    return "\n".join(L).rstrip() + "\n"


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    ap.add_argument("--sympy-budget", type=float, default=bench_hessian.SYMPY_BUDGET,
                    help="seconds allowed for one cold sympy stage (default %(default)s)")
    ap.add_argument("--odefun-budget", type=float, default=bench_flows.ODEFUN_BUDGET,
                    help="seconds allowed for one mpmath.odefun run (default %(default)s)")
    ap.add_argument("--quick", action="store_true",
                    help="only the small case of each benchmark (a smoke test; the targets need the full run)")
    ap.add_argument("--only", action="append", choices=SECTIONS, default=None,
                    help="run only this section (repeatable; for development: BENCHMARKS.md comes from a full run)")
    args = ap.parse_args(argv)
    sections = set(args.only or SECTIONS)

    for mod, what in ((bench_hessian.symengine, "symengine not installed: skipping the symengine contestant "
                                               "(pip install symengine)"),
                      (bench_lambda_min.torch, "torch not installed: skipping the PyTorch contestants "
                                               "(pip install torch==2.13.0)"),
                      (bench_flows.heyoka, "heyoka not installed: skipping the heyoka contestant "
                                           "(pip install heyoka)")):
        if mod is None:
            print(what, file=sys.stderr)
    started = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    lam_cases = bench_lambda_min.CASES[:1] if args.quick else bench_lambda_min.CASES
    h_cases = bench_hessian.CASES[:1] if args.quick else bench_hessian.CASES
    f_cases = bench_flows.CASES[:1] if args.quick else bench_flows.CASES
    lam = h = fl = None
    if "lambda" in sections:
        lam = bench_lambda_min.run(lam_cases)  # first: sets torch to one thread before anything else uses it
    if "hessian" in sections:
        h = bench_hessian.run(h_cases, sympy_budget=args.sympy_budget)
    if "flows" in sections:
        fl = bench_flows.run(f_cases, odefun_budget=args.odefun_budget)
    fp = bench_float_paths.run() if "float" in sections else None
    wall = time.perf_counter() - t0
    load1 = os.getloadavg()[0]
    text = render(h, lam, fl, machine_facts(), started, wall, load0, load1)
    if fp is not None:
        text += "\n" + bench_float_paths.section(fp)
    text += ("\n" + bench_relu_flows.markdown(bench_relu_flows.run(bench_relu_flows.CASES[:1] if args.quick else bench_relu_flows.CASES))) if "flows" in sections else ""
    text += ("\n" + bench_float_taylor.section()) if "flows" in sections and not args.quick else ""
    write_atomic(args.output, text)
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
