"""The ec21 report's linear row: its ground truth (the float64 Taylor tier) against the arb tier at 25 digits,
beside DOP853 (the row's ground truth until 2026-12-05) — docs/theory.md G3.

The net and data are the report's default (``proofs_check.reports.ec21.build``: 64-50-50-10 on 500 sklearn
digits, cross-entropy, Xavier seed 0) and so is the horizon (``ec21._choose``: GD's loss down 10× at η₀,
t_end = 10.33). Prints the float tier's CPU seconds, steps and 2-norm bound; DOP853's max-norm estimate (2D +
rounding, an assumption) and √P times it (what the report used as a 2-norm bound); then, at nine times, each
one's 2-norm distance to the arb run (and DOP853's max-norm one), and the ratios bound / true error.

One thread; not run by ``run.py`` (~7 min, almost all of it the arb run).

    python benchmarks/ec21_linear_ground_truth.py
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import math
import time
from fractions import Fraction

import numpy as np

import numerics
from proofs_check.reports import ec21
from theory import to_kind


def main() -> None:
    spec = dict(net="linear", widths=(64, 50, 50, 10), n=500, seed=0, loss="cross_entropy", bias=False,
                t_cap=None, grid=None, eos=True)
    obj, th0, _ = ec21.build(spec)
    T = ec21._choose(obj, th0, ec21.DEFAULT, spec, print)["t_end"]
    t0 = time.process_time()
    f = numerics.gradient_flow(obj, th0, T, dps=None)
    print(f"float tier: {time.process_time() - t0:.1f} s CPU, {len(f.steps)} steps, bound {f.error_estimate:.3e} "
          f"(∫μ⁺ = {f.growth_integral:.3f})", flush=True)
    d = numerics.gradient_flow_float(obj, th0, T, rtol=1e-12, atol=1e-12, dense_output=True)
    root_p = math.sqrt(obj.num_params)
    print(f"DOP853: estimate (max norm) {d.error_estimate:.3e}, √P times it {root_p * d.error_estimate:.3e}",
          flush=True)
    t0 = time.process_time()
    ref = numerics.gradient_flow(obj, th0, Fraction(T), dps=25)
    print(f"arb tier, 25 digits: {time.process_time() - t0:.1f} s CPU, its estimate {float(ref.error_estimate):.3e}",
          flush=True)
    worst_f = worst_d = 0.0
    for k in range(9):
        t = T * k / 8
        r = obj.flatten([to_kind(x, "float") for x in ref.at(Fraction(t))])
        xf = obj.flatten([np.asarray(x) for x in f.at(t)])
        xd = obj.flatten([np.asarray(x) for x in d.at(t)])
        ef, ed = float(np.linalg.norm(xf - r)), float(np.linalg.norm(xd - r))
        worst_f, worst_d = max(worst_f, ef), max(worst_d, ed)
        print(f"t = {t:.3f}: float tier {ef:.3e}, DOP853 {ed:.3e} (max norm {float(np.abs(xd - r).max()):.3e})")
    print(f"float tier: bound / true = {f.error_estimate / worst_f:.3g}; "
          f"DOP853: √P·estimate / true (2-norm) = {root_p * d.error_estimate / worst_d:.3g}")


if __name__ == "__main__":
    main()
