"""Both Taylor tiers on the deep linear 64-50-50-10 net on sklearn digits (6,200 parameters, 500 samples,
``numerics.gaussian_init(obj, 0.1, seed=0)``: ``bench_float_taylor._linear_6k``), to T = 0.5 and T = 10 (the
issue-11 case: ``gradient_flow(obj, θ, 10, dps=15)`` once took 1,421 s and 88 steps there):

* the arb tier at 15 and at 25 digits (CPU seconds, steps, its estimate), the 25-digit run the reference;
* the float tier (CPU seconds, steps, its estimate, and the estimate over its true error against the
  25-digit run, in the max norm and in the 2-norm over all parameters).

One thread; not run by ``run.py`` (~1.5 min); results in BENCHMARKS.md and docs/theory.md F.

    python benchmarks/linear_digits_tiers.py [T ...]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import sys
import time
from fractions import Fraction

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numerics  # noqa: E402
from bench_float_taylor import _linear_6k  # noqa: E402


def _flat(obj, theta) -> np.ndarray:
    # an mpf or float state as float64 (the reference at 25 digits differs from the float tier by ~1e-16)
    return np.array([float(v) for v in obj.flatten(theta)])


def main(horizons: list[str]) -> None:
    obj, th = _linear_6k()
    for T in horizons:
        runs = {}
        for dps in (15, 25):
            t0 = time.process_time()
            tr = numerics.gradient_flow(obj, th, Fraction(T), dps=dps)
            runs[dps] = (time.process_time() - t0, tr, _flat(obj, tr.at(Fraction(T))))
        ref = runs[25][2]
        for dps in (15, 25):
            cpu, tr, y = runs[dps]
            print(f"T = {T}: arb tier, {dps} digits: {cpu:.1f} s CPU, {len(tr.steps)} steps, estimate "
                  f"{float(tr.error_estimate):.3g}" + (f", {abs(y - ref).max():.3g} from 25 digits" if dps == 15 else ""))
        t0 = time.process_time()
        tr = numerics.gradient_flow(obj, th, float(T), dps=None)
        cpu = time.process_time() - t0
        d = _flat(obj, tr.at(float(T))) - ref
        est, e_max, e_2 = tr.error_estimate, float(abs(d).max()), float(np.linalg.norm(d))
        print(f"T = {T}: float tier: {cpu:.2f} s CPU, {len(tr.steps)} steps, estimate {est:.3g}; true error "
              f"{e_max:.3g} (max) / {e_2:.3g} (2-norm): estimate ÷ true {est / e_max:.0f} / {est / e_2:.0f}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["0.5", "10"])
