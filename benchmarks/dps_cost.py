"""Cost of precision: seconds per step of numerics.gradient_flow against dps and the parameter count.

Measures the model behind theory.arrays.flow_step_seconds / MAX_DPS (docs/cli.md, "Cost of
precision"): deep linear nets with a scalar output (whitened square loss, a random unit-norm Φ, seed 0;
Gaussian init, seed 0) of P = 21, 200 and 2,054 parameters — the sizes of benchmarks/bench_arb_heyoka.py,
with its init scales and horizons (T = 2, 1, 0.25) — at dps = 15 … 480. A size stops before a run the
last one predicts (×2^3.5 per doubling of dps) above 60 s. Prints one dict per run and the least-squares
fits of

    log(seconds / steps) = log c + a·log(dps / 30) + b·log(P / 21)

over dps ≥ 30 and over dps ≥ 120, with each fit's worst residual factor.

    python benchmarks/dps_cost.py
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import time
import warnings

import numpy as np

import numerics
import theory

SIZES = (((3, 3, 3, 1), 0.1, 2.0), ((8, 8, 8, 8, 1), 0.3, 1.0), ((26, 26, 26, 26, 1), 0.17, 0.25))
DPS = (15, 30, 60, 120, 240, 480)
LIMIT_S = 60.0


def main() -> None:
    rows = []
    # first-call costs (imports, tape recording caches) are paid before timing, on a tiny problem
    warm = theory.Objective(theory.DeepLinear((2, 2, 1)), theory.WhitenedSquare(np.ones((1, 2))))
    numerics.gradient_flow(warm, numerics.gaussian_init(warm, 0.3, seed=0), 0.5, dps=30)
    for widths, alpha, T in SIZES:
        rng = np.random.default_rng(0)
        Phi = rng.standard_normal((widths[-1], widths[0]))
        Phi /= np.linalg.norm(Phi)
        obj = theory.Objective(theory.DeepLinear(widths), theory.WhitenedSquare(Phi))
        th = numerics.gaussian_init(obj, alpha, seed=0)
        P = obj.num_params
        last = 0.0
        for dps in DPS:
            if last * 2**3.5 > LIMIT_S:
                break
            c0 = time.process_time()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", theory.arrays.CostWarning)
                tr = numerics.gradient_flow(obj, th, T, dps=dps)
            last = time.process_time() - c0
            rows.append(dict(widths=widths, P=P, dps=dps, steps=len(tr.steps), cpu=round(last, 4)))
            print(rows[-1], flush=True)
    for lo in (30, 120):
        sel = [r for r in rows if r["dps"] >= lo]
        x = np.log([r["dps"] / 30 for r in sel])
        z = np.log([r["P"] / 21 for r in sel])
        y = np.log([r["cpu"] / r["steps"] for r in sel])
        A = np.vstack([np.ones_like(x), x, z]).T
        coef = np.linalg.lstsq(A, y, rcond=None)[0]
        spread = float(np.exp(np.abs(y - A @ coef).max()))
        print(f"dps >= {lo}: c = {np.exp(coef[0]):.3g} s per step at dps 30 and P = 21, a = {coef[1]:.3f}, "
              f"b = {coef[2]:.3f}, worst residual x{spread:.2f} ({len(sel)} runs)")


if __name__ == "__main__":
    main()
