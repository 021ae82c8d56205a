"""Cost of precision: seconds of numerics.gradient_flow against dps and the parameter count.

Measures the model behind theory.arrays.flow_step_seconds / MAX_DPS (docs/cli.md, "Cost of
precision"): deep linear nets (2,2,1), (3,3,3,1), (4,4,4,1) (P = 6, 21, 36), Gaussian init of scale
0.3 (seed 0), a random unit-norm Phi (seed 0), t_end = 2, dps = 15 … 480 (a size stops once a run
exceeds 40 s). Prints one dict per run and the least-squares fits of
log(seconds / (P · steps)) = log c + a · log(dps / 30) over dps >= 30 and over dps >= 120.

    PYTHONPATH=. python benchmarks/dps_cost.py
"""

from __future__ import annotations

import time

import numpy as np

import numerics
import theory


def main() -> None:
    rows = []
    for widths in [(2, 2, 1), (3, 3, 3, 1), (4, 4, 4, 1)]:
        rng = np.random.default_rng(0)
        Phi = rng.standard_normal((widths[-1], widths[0]))
        Phi /= np.linalg.norm(Phi)
        obj = theory.Objective(theory.DeepLinear(widths), theory.WhitenedSquare(Phi))
        th = numerics.gaussian_init(obj, 0.3, seed=0)
        P = sum(a * b for a, b in zip(widths[1:], widths[:-1]))
        for dps in [15, 30, 60, 120, 240, 480]:
            t0 = time.perf_counter()
            tr = numerics.gradient_flow(obj, th, 2.0, dps=dps)
            rows.append(dict(widths=widths, P=P, dps=dps, steps=len(tr.steps), sec=time.perf_counter() - t0))
            print(rows[-1], flush=True)
            if rows[-1]["sec"] > 40:
                break
    for lo in (30, 120):
        sel = [r for r in rows if r["dps"] >= lo]
        x = np.log([r["dps"] / 30 for r in sel])
        y = np.log([r["sec"] / r["P"] / r["steps"] for r in sel])
        A = np.vstack([np.ones_like(x), x]).T
        coef = np.linalg.lstsq(A, y, rcond=None)[0]
        spread = float(np.exp(np.abs(y - A @ coef).max()))
        print(f"dps >= {lo}: c = {np.exp(coef[0]):.3g} s at dps 30, a = {coef[1]:.3f}, worst residual x{spread:.2f}")


if __name__ == "__main__":
    main()
