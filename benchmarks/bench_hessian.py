"""Exact Hessian of a deep linear net: gfgd against SymPy and SymEngine, side by side in one run.

Problem: f = ½‖W_N⋯W_1 − Φ‖_F², scalar output, depth N = 4, widths (3,3,3,3,1) (30 parameters) and
(6,6,6,6,1) (114 parameters); the weights and Φ are small random rationals p/q (|p| ≤ 9, 1 ≤ q ≤ 9,
seeded) held as ``fractions.Fraction``.

Contestants (each must return the exact Hessian at that rational point):

* gfgd      -- ``numerics.hessian(obj, theta)`` on object arrays of Fractions; returns a (P, P)
               object array of Fractions (forward-mode duals through the gradient formula, on
               python-flint rationals).
* sympy     -- the loss built from one symbol per weight (matrix products of symbol matrices, not
               passed through ``sympy.expand``), ``sympy.hessian(f, xs)`` timed cold
               (``sympy.core.cache.clear_cache()`` before every repeat, PEERS.md pitfall), then
               ``xreplace`` of the rational point.
* symengine -- the same expression in symengine, ``Matrix.jacobian`` twice (the gradient row is
               transposed to a column first, PEERS.md pitfall), then ``subs`` of the rational point
               as symengine Rationals.

All three results are compared entry by entry as exact rationals. Run alone with
``python benchmarks/bench_hessian.py``; ``benchmarks/run.py`` runs it and writes BENCHMARKS.md.
"""

from __future__ import annotations

import os

# one thread everywhere, before numpy (or anything that loads a BLAS) is imported
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
             "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import random
import signal
import statistics
import sys
import time
from fractions import Fraction
from typing import Any, Callable

import numpy as np

import numerics
import theory

try:
    import sympy
except ImportError:  # sympy is a core dependency, but keep the script honest about it
    sympy = None
try:
    import symengine
except ImportError:
    symengine = None

CASES: tuple[tuple[int, ...], ...] = ((3, 3, 3, 3, 1), (6, 6, 6, 6, 1))
SEED = 2024
FAST_REPEATS = 5      # contestants whose single run is below FAST_SECONDS
SLOW_REPEATS = 3
FAST_SECONDS = 0.5
SYMPY_BUDGET = 600.0  # seconds for one cold sympy.hessian; past it the contestant is reported as timed out
SINGLE_RUN_ABOVE = 120.0  # a contestant whose first run exceeds this is run once (and the table says n = 1)


# ----------------------------------------------------------------------------------------------
# problem

def make_problem(widths: tuple[int, ...], seed: int = SEED) -> tuple[Any, list[np.ndarray]]:
    """Objective and a rational point: every weight and Φ entry is p/q, |p| ≤ 9, 1 ≤ q ≤ 9."""
    rng = random.Random(seed)

    def q() -> Fraction:
        return Fraction(rng.randint(-9, 9), rng.randint(1, 9))

    def rational_array(shape: tuple[int, int]) -> np.ndarray:
        a = np.empty(shape, dtype=object)
        for idx in np.ndindex(shape):
            a[idx] = q()
        return a

    Phi = rational_array((widths[-1], widths[0]))
    obj = theory.Objective(theory.DeepLinear(widths), theory.WhitenedSquare(Phi))
    theta = [rational_array(tuple(s)) for s in obj.shapes]
    return obj, theta


def build_loss(mod: Any, obj: Any) -> tuple[list[Any], Any]:
    """One symbol per weight (``obj.flatten`` order) and f = ½ Σ (W_N⋯W_1 − Φ)², in sympy or symengine."""
    symbols, mats = [], []
    for j, (r, c) in enumerate(obj.shapes):
        rows = []
        for i in range(r):
            row = [mod.Symbol(f"w{j + 1}_{i}_{k}") for k in range(c)]
            symbols.extend(row)
            rows.append(row)
        mats.append(mod.Matrix(rows))
    E = mats[0]
    for M in mats[1:]:
        E = M * E
    Phi = obj.loss.Phi
    f = mod.Integer(0)
    for i in range(Phi.shape[0]):
        for k in range(Phi.shape[1]):
            phi = Fraction(Phi[i, k])
            d = E[i, k] - mod.Integer(phi.numerator) / mod.Integer(phi.denominator)
            f = f + d * d
    return symbols, f / 2


# ----------------------------------------------------------------------------------------------
# timing helpers

class Budget(BaseException):
    """A contestant ran past its time budget."""


def _alarm(signum, frame):  # noqa: ARG001
    raise Budget()


def timed(fn: Callable[[], Any], budget: float | None = None) -> tuple[float, Any]:
    """(wall seconds, result); raises Budget past ``budget`` seconds (SIGALRM, main thread only)."""
    old = None
    if budget is not None and hasattr(signal, "SIGALRM"):
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, budget)
    try:
        t0 = time.perf_counter()
        out = fn()
        return time.perf_counter() - t0, out
    finally:
        if old is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)


def summary(times: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "n": len(times),
            "all": list(times)}


# ----------------------------------------------------------------------------------------------
# contestants: each returns (stage timings dict, result as a P×P nested list of Fractions)

def run_gfgd(obj, theta):
    t, H = timed(lambda: numerics.hessian(obj, theta))
    return {"total": t}, H


def run_sympy(obj, theta, budget):
    sympy.core.cache.clear_cache()  # cold: SymPy memoises derivatives across calls
    t_build, (xs, f) = timed(lambda: build_loss(sympy, obj), budget)
    t_hess, Hs = timed(lambda: sympy.hessian(f, xs), budget)
    point = obj.flatten(theta)
    sub = {x: sympy.Rational(p.numerator, p.denominator) for x, p in zip(xs, point)}
    t_subs, Hn = timed(lambda: Hs.xreplace(sub), budget)
    return {"derive": t_build + t_hess, "subs": t_subs, "total": t_build + t_hess + t_subs}, Hn


def run_symengine(obj, theta):
    def derive():
        xs, f = build_loss(symengine, obj)
        X = symengine.Matrix(xs)
        grad = symengine.Matrix([f]).jacobian(X)  # 1 × P row
        H = grad.T.jacobian(X)                     # transpose to P × 1 first, else the shape is wrong
        return xs, H

    t_der, (xs, Hs) = timed(derive)
    if Hs.shape != (obj.num_params, obj.num_params):
        raise RuntimeError(f"symengine Hessian has shape {Hs.shape}, expected {(obj.num_params,) * 2}")
    point = obj.flatten(theta)
    sub = {x: symengine.Integer(p.numerator) / symengine.Integer(p.denominator) for x, p in zip(xs, point)}
    t_subs, Hn = timed(lambda: Hs.subs(sub))
    return {"derive": t_der, "subs": t_subs, "total": t_der + t_subs}, Hn


def to_fractions(H: Any, P: int) -> list[list[Fraction]]:
    """Any of the three results as a nested list of Fractions; raises if an entry is not a rational."""
    out = []
    for i in range(P):
        row = []
        for j in range(P):
            x = H[i, j]
            if isinstance(x, Fraction):
                row.append(x)
            elif sympy is not None and isinstance(x, sympy.Basic):
                if not x.is_Rational:
                    raise TypeError(f"sympy entry ({i},{j}) is not a rational number: {x}")
                row.append(Fraction(int(x.p), int(x.q)))
            elif symengine is not None and isinstance(x, symengine.Basic):
                if not x.is_Rational:
                    raise TypeError(f"symengine entry ({i},{j}) is not a rational number: {x}")
                num, den = x.get_num_den()
                row.append(Fraction(int(num), int(den)))
            else:
                raise TypeError(f"entry ({i},{j}) has unexpected type {type(x).__name__}")
        out.append(row)
    return out


def compare(A: list[list[Fraction]], B: list[list[Fraction]]) -> dict[str, Any]:
    P = len(A)
    bad = [(i, j) for i in range(P) for j in range(P) if A[i][j] != B[i][j]]
    return {"entries": P * P, "mismatches": len(bad), "first_mismatch": bad[0] if bad else None}


# ----------------------------------------------------------------------------------------------
# the benchmark

def _warm_up() -> None:
    """First-call costs (imports, caches of the libraries themselves) on a tiny, different problem."""
    obj, theta = make_problem((2, 2, 1), seed=SEED + 1)
    numerics.hessian(obj, theta)
    if symengine is not None:
        run_symengine(obj, theta)
    if sympy is not None:
        run_sympy(obj, theta, None)


def bench_case(widths: tuple[int, ...], sympy_budget: float = SYMPY_BUDGET, log=print) -> dict[str, Any]:
    obj, theta = make_problem(widths)
    P = obj.num_params
    res: dict[str, Any] = {"widths": widths, "params": P, "contestants": {}, "skipped": {}}
    active = {"gfgd": lambda: run_gfgd(obj, theta)}
    if sympy is not None:
        active["sympy"] = lambda: run_sympy(obj, theta, sympy_budget)
    else:
        res["skipped"]["sympy"] = "sympy is not installed"
    if symengine is not None:
        active["symengine"] = lambda: run_symengine(obj, theta)
    else:
        res["skipped"]["symengine"] = "symengine is not installed (pip install symengine)"

    stages: dict[str, dict[str, list[float]]] = {k: {} for k in active}
    results: dict[str, Any] = {}
    # first round: every contestant once, which also fixes its repeat count
    repeats = {}
    for name, fn in list(active.items()):
        try:
            st, H = fn()
        except Budget:
            res["skipped"][name] = f"timed out: one cold run exceeded the {sympy_budget:.0f} s budget"
            log(f"  {name}: timed out (> {sympy_budget:.0f} s)")
            del active[name], stages[name]
            continue
        for k, v in st.items():
            stages[name].setdefault(k, []).append(v)
        results[name] = H
        t = st["total"]
        repeats[name] = 1 if t > SINGLE_RUN_ABOVE else (FAST_REPEATS if t < FAST_SECONDS else SLOW_REPEATS)
        log(f"  {name}: run 1 {t:.4g} s")
    # further rounds, interleaved so that machine noise hits every contestant alike
    for r in range(1, max(repeats.values(), default=1)):
        for name, fn in active.items():
            if r >= repeats[name]:
                continue
            st, _ = fn()
            for k, v in st.items():
                stages[name].setdefault(k, []).append(v)
            log(f"  {name}: run {r + 1} {st['total']:.4g} s")

    for name in active:
        res["contestants"][name] = {k: summary(v) for k, v in stages[name].items()}

    # exact agreement, entry by entry
    ref = to_fractions(results["gfgd"], P)
    sym_ok = all(ref[i][j] == ref[j][i] for i in range(P) for j in range(P))
    res["gfgd_symmetric"] = sym_ok
    res["agreement"] = {}
    for name in results:
        if name != "gfgd":
            res["agreement"][name] = compare(ref, to_fractions(results[name], P))
    g = res["contestants"]["gfgd"]["total"]["median"]
    res["ratios"] = {}
    for name, c in res["contestants"].items():
        if name == "gfgd":
            continue
        res["ratios"][name] = {k: c[k]["median"] / g for k in c}
    res["largest_denominator_digits"] = max(len(str(x.denominator)) for row in ref for x in row)
    res["largest_numerator_digits"] = max(len(str(abs(x.numerator))) for row in ref for x in row)
    return res


def run(cases=CASES, sympy_budget: float = SYMPY_BUDGET, log=print) -> dict[str, Any]:
    _warm_up()
    out = {"benchmark": "exact Hessian", "seed": SEED, "sympy_budget_s": sympy_budget, "cases": []}
    for w in cases:
        log(f"exact Hessian, widths {w}:")
        out["cases"].append(bench_case(tuple(w), sympy_budget, log))
    return out


def _fmt_t(s: dict[str, Any]) -> str:
    return f"{s['median']:.4g} ({s['min']:.3g}–{s['max']:.3g}, n={s['n']})"


def _fmt_ratio(r: float) -> str:
    return f"{r:,.0f}×" if r >= 100 else f"{r:.3g}×"


def markdown(out: dict[str, Any]) -> str:
    lines = []
    for case in out["cases"]:
        P, w = case["params"], case["widths"]
        lines.append(f"#### widths {w}, {P} parameters\n")
        lines.append("| contestant | derive (s) | substitute (s) | total (s): median (min–max, n) "
                     "| ratio total / gfgd | ratio substitute-only / gfgd | exact agreement with gfgd |")
        lines.append("|---|---|---|---|---|---|---|")
        for name, c in case["contestants"].items():
            der = f"{c['derive']['median']:.4g}" if "derive" in c else "—"
            sub = f"{c['subs']['median']:.4g}" if "subs" in c else "—"
            if name == "gfgd":
                ratio, rsub = "1", "—"
                agree = "reference (symmetric exactly)" if case["gfgd_symmetric"] else "reference (NOT symmetric)"
            else:
                r = case["ratios"][name]
                ratio, rsub = _fmt_ratio(r["total"]), _fmt_ratio(r["subs"])
                a = case["agreement"][name]
                agree = (f"yes, all {a['entries']} entries equal" if a["mismatches"] == 0
                         else f"NO: {a['mismatches']} of {a['entries']} differ, first at {a['first_mismatch']}")
            lines.append(f"| {name} | {der} | {sub} | {_fmt_t(c['total'])} | {ratio} | {rsub} | {agree} |")
        for name, why in case["skipped"].items():
            lines.append(f"| {name} | — | — | skipped: {why} | — | — | — |")
        lines.append("")
        lines.append(f"Hessian entries have up to {case['largest_numerator_digits']}-digit numerators and "
                     f"{case['largest_denominator_digits']}-digit denominators.\n")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sympy-budget", type=float, default=SYMPY_BUDGET,
                    help="seconds allowed for one cold sympy run (default %(default)s)")
    ap.add_argument("--small-only", action="store_true", help="only the 30-parameter case")
    args = ap.parse_args(argv)
    cases = CASES[:1] if args.small_only else CASES
    if sympy is None:
        print("sympy not installed: skipping the sympy contestant", file=sys.stderr)
    if symengine is None:
        print("symengine not installed: skipping the symengine contestant (pip install symengine)",
              file=sys.stderr)
    out = run(cases, args.sympy_budget)
    print()
    print(markdown(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
