"""λ_min of the Hessian at a Gaussian init: gfgd against PyTorch autograd HVPs, same Lanczos.

Problem: f = ½‖W_N⋯W_1 − Φ‖_F², scalar output, Φ a Gaussian row scaled to ‖Φ‖ = 1 (seeded), weights
N(0, α²) with α = 0.1 (``numerics.gaussian_init``, seeded). Cases: depth 3 width 100, widths
(100,100,100,1), 20,100 parameters; depth 4 width 300, widths (300,300,300,300,1), 270,300 parameters.

Contestants, all through the same ``scipy.sparse.linalg.eigsh(op, k=1, which="SA", tol=TOL,
v0=v0)`` with one seeded start vector v0 = ``np.random.default_rng(0).standard_normal(P)``:

* gfgd         -- ``numerics.lambda_min(obj, theta, method="eigsh", tol=TOL, seed=0,
                  return_info=True)``: the HVP is forward-mode duals through the gradient formula on
                  float64 numpy. The timed call includes building the operator and the two extra HVPs
                  gfgd spends on its a-posteriori residual ‖Hv − λv‖ (not counted in ``matvecs``).
* torch-hvp    -- ``torch.autograd.functional.hvp(loss, Ws, v)`` wrapped in a scipy LinearOperator.
* torch-dbl    -- double backward (grad with ``create_graph=True``, then grad of ⟨g, v⟩) with the
                  weights' autograd leaves made once, outside the operator.

torch runs with ``torch.set_num_threads(1)``; its first autograd call (≈0.6 s of warm-up, PEERS.md) is
made before timing and excluded, and so is gfgd's first call. Run alone with
``python benchmarks/bench_lambda_min.py``; ``benchmarks/run.py`` runs it and writes BENCHMARKS.md.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
             "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import statistics
import sys
import time
from typing import Any, Callable

import numpy as np
import scipy.sparse.linalg as sla

import numerics
import theory

try:
    import torch
except ImportError:
    torch = None

CASES: tuple[tuple[int, ...], ...] = ((100, 100, 100, 1), (300, 300, 300, 300, 1))
ALPHA = 0.1
TOL = 1e-10
PHI_SEED = 0
INIT_SEED = 1
V0_SEED = 0          # gfgd's lambda_min draws v0 = default_rng(seed).standard_normal(P): same vector
REPEATS = 3
HVP_REPEATS = 15     # isolated HVP timings (median)


def make_problem(widths: tuple[int, ...]) -> tuple[Any, list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(PHI_SEED)
    Phi = rng.standard_normal((widths[-1], widths[0]))
    Phi /= np.linalg.norm(Phi)
    obj = theory.Objective(theory.DeepLinear(widths), theory.WhitenedSquare(Phi))
    theta = numerics.gaussian_init(obj, scale=ALPHA, seed=INIT_SEED)
    return obj, theta, Phi


def summary(times: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "n": len(times),
            "all": list(times)}


# ----------------------------------------------------------------------------------------------
# torch peers

def torch_hvps(theta: list[np.ndarray], Phi: np.ndarray) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """The two torch HVPs (flat float64 numpy in and out)."""
    Phit = torch.from_numpy(np.ascontiguousarray(Phi, dtype=np.float64))
    Ws = tuple(torch.from_numpy(np.ascontiguousarray(w, dtype=np.float64)) for w in theta)
    shapes = [w.shape for w in Ws]
    sizes = [w.numel() for w in Ws]

    def loss(*ws):
        E = ws[0]
        for w in ws[1:]:
            E = w @ E
        return 0.5 * ((E - Phit) ** 2).sum()

    def split(x: np.ndarray):
        flat = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64).reshape(-1))
        return tuple(v.view(s) for v, s in zip(flat.split(sizes), shapes))

    def hvp_functional(x: np.ndarray) -> np.ndarray:
        _, hv = torch.autograd.functional.hvp(loss, Ws, split(x))
        return torch.cat([h.reshape(-1) for h in hv]).numpy()

    leaves = [w.clone().requires_grad_(True) for w in Ws]

    def hvp_double_backward(x: np.ndarray) -> np.ndarray:
        vs = split(x)
        g = torch.autograd.grad(loss(*leaves), leaves, create_graph=True)
        dot = sum((gi * vi).sum() for gi, vi in zip(g, vs))
        hv = torch.autograd.grad(dot, leaves)
        return torch.cat([h.reshape(-1) for h in hv]).numpy()

    return {"torch-hvp": hvp_functional, "torch-dbl": hvp_double_backward}


def eigsh_with(hvp: Callable[[np.ndarray], np.ndarray], P: int, v0: np.ndarray) -> dict[str, Any]:
    """The peer path: a LinearOperator around ``hvp`` and the same eigsh call as gfgd."""
    calls = [0]

    def matvec(x):
        calls[0] += 1
        return hvp(x)

    op = sla.LinearOperator((P, P), matvec=matvec, dtype=np.float64)
    w, V = sla.eigsh(op, k=1, which="SA", tol=TOL, v0=v0)
    return {"value": float(w[0]), "vector": V[:, 0], "matvecs": calls[0]}


# ----------------------------------------------------------------------------------------------

def bench_case(widths: tuple[int, ...], repeats: int = REPEATS, log=print) -> dict[str, Any]:
    obj, theta, Phi = make_problem(widths)
    P = obj.num_params
    v0 = np.random.default_rng(V0_SEED).standard_normal(P)
    res: dict[str, Any] = {"widths": widths, "params": P, "contestants": {}, "skipped": {}}

    def gfgd_run():
        r = numerics.lambda_min(obj, theta, method="eigsh", tol=TOL, seed=V0_SEED, return_info=True)
        return {"value": r.value, "vector": r.vector, "matvecs": r.matvecs, "residual": r.residual}

    runners: dict[str, Callable[[], dict[str, Any]]] = {"gfgd": gfgd_run}
    hvps: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
    gop = numerics.hvp_operator(obj, theta)
    hvps["gfgd"] = gop.matvec
    if torch is None:
        res["skipped"]["torch"] = "torch is not installed (pip install torch==2.13.0)"
    else:
        for name, fn in torch_hvps(theta, Phi).items():
            hvps[name] = fn
            runners[name] = (lambda fn=fn: eigsh_with(fn, P, v0))

    # warm-up, excluded from every timing: torch's first autograd call (~0.6 s), gfgd's first call
    for name, fn in hvps.items():
        fn(v0)

    times: dict[str, list[float]] = {k: [] for k in runners}
    last: dict[str, dict[str, Any]] = {}
    for r in range(repeats):  # interleaved, so machine noise hits every contestant alike
        for name, run in runners.items():
            t0 = time.perf_counter()
            out = run()
            times[name].append(time.perf_counter() - t0)
            last[name] = out
            log(f"  {name}: run {r + 1} {times[name][-1]:.4g} s, {out['matvecs']} HVPs, λ_min = {out['value']:.12g}")

    # isolated HVP cost: median over HVP_REPEATS random directions, interleaved
    rng = np.random.default_rng(7)
    hvp_t: dict[str, list[float]] = {k: [] for k in hvps}
    for _ in range(HVP_REPEATS):
        x = rng.standard_normal(P)
        for name, fn in hvps.items():
            t0 = time.perf_counter()
            fn(x)
            hvp_t[name].append(time.perf_counter() - t0)

    # HVP agreement between implementations at one direction (float64)
    x = np.random.default_rng(8).standard_normal(P)
    ref_hv = gop.matvec(x)
    hv_diff = {name: float(np.max(np.abs(fn(x) - ref_hv)) / float(np.max(np.abs(ref_hv))))
               for name, fn in hvps.items() if name != "gfgd"}

    g_val = last["gfgd"]["value"]
    for name in runners:
        out = last[name]
        v = out["vector"] / np.linalg.norm(out["vector"])
        # residual ‖Hv − λv‖ for the returned pair, with gfgd's HVP (untimed) for every contestant
        resid = out.get("residual")
        if resid is None:
            resid = float(np.linalg.norm(gop.matvec(v) - out["value"] * v))
        res["contestants"][name] = {
            "time": summary(times[name]),
            "matvecs": out["matvecs"],
            "value": out["value"],
            "residual": resid,
            "diff_vs_gfgd": out["value"] - g_val,
            "hvp": summary(hvp_t[name]),
            "time_per_matvec_in_eigsh": statistics.median(times[name]) / out["matvecs"],
        }
    res["hvp_rel_diff_vs_gfgd"] = hv_diff
    g_t = res["contestants"]["gfgd"]["time"]["median"]
    g_h = res["contestants"]["gfgd"]["hvp"]["median"]
    res["ratios"] = {name: {"time": c["time"]["median"] / g_t, "hvp": c["hvp"]["median"] / g_h}
                     for name, c in res["contestants"].items() if name != "gfgd"}
    return res


def run(cases=CASES, repeats: int = REPEATS, log=print) -> dict[str, Any]:
    if torch is not None:
        torch.set_num_threads(1)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # already set (or parallel work already started)
            pass
    out = {"benchmark": "lambda_min", "alpha": ALPHA, "tol": TOL, "phi_seed": PHI_SEED,
           "init_seed": INIT_SEED, "v0_seed": V0_SEED, "cases": []}
    for w in cases:
        log(f"lambda_min, widths {w}:")
        out["cases"].append(bench_case(tuple(w), repeats, log))
    return out


def markdown(out: dict[str, Any]) -> str:
    lines = []
    for case in out["cases"]:
        lines.append(f"#### widths {case['widths']}, {case['params']:,} parameters\n")
        lines.append("| contestant | eigsh time (s): median (min–max, n) | ratio / gfgd | HVPs in eigsh "
                     "| time per HVP, isolated (ms) | ratio / gfgd | eigsh time / HVPs (ms) "
                     "| λ_min | λ_min − gfgd's | residual ‖Hv−λv‖ |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|")
        for name, c in case["contestants"].items():
            t = c["time"]
            r = case["ratios"].get(name, {"time": 1.0, "hvp": 1.0})
            lines.append(
                f"| {name} | {t['median']:.4g} ({t['min']:.3g}–{t['max']:.3g}, n={t['n']}) | {r['time']:.3g}× "
                f"| {c['matvecs']} | {1e3 * c['hvp']['median']:.3g} | {r['hvp']:.3g}× "
                f"| {1e3 * c['time_per_matvec_in_eigsh']:.3g} | {c['value']:.15g} | {c['diff_vs_gfgd']:.2g} "
                f"| {c['residual']:.2g} |")
        for name, why in case["skipped"].items():
            lines.append(f"| {name} | skipped: {why} | — | — | — | — | — | — | — | — |")
        if case["hvp_rel_diff_vs_gfgd"]:
            d = ", ".join(f"{k} {v:.1e}" for k, v in case["hvp_rel_diff_vs_gfgd"].items())
            lines.append(f"\nOne HVP against gfgd's at a random direction, max |difference| / max |entry|: {d}.\n")
        else:
            lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small-only", action="store_true", help="only the 20,100-parameter case")
    ap.add_argument("--repeats", type=int, default=REPEATS)
    args = ap.parse_args(argv)
    if torch is None:
        print("torch not installed: skipping the PyTorch contestants (pip install torch==2.13.0)", file=sys.stderr)
    out = run(CASES[:1] if args.small_only else CASES, args.repeats)
    print()
    print(markdown(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
