"""Steps and CPU of cross-entropy flows in both tiers: the cost of the softmax radius cap
(numerics/softmax_radius.py; docs/theory.md F, "A softmax saturated far from its target").

Seeded ReLU nets (leaky slope 0) with softmax cross-entropy, inputs N(0, 1), labels uniform, weights
N(0, scale²); ``numerics.gradient_flow`` at dps=None (float tier) and dps=20 (arb tier, skipped on the
largest net), then the ec21 report's ReLU row with cross-entropy (100 digits, 64-50-50-10) to t = 0.4 in
the float tier. One thread. To compare two trees, run it with ``PYTHONPATH=<tree>`` from outside the
repository (``python -m`` would put the working directory first).

    python benchmarks/ce_cap_cost.py
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import time
from fractions import Fraction

import numpy as np

import numerics
import theory

# (seed, widths, samples, biases, weight scale, horizon, arb tier too)
CASES = [(1, (4, 8, 8, 3), 6, True, 1.0, 1.0, True), (2, (4, 8, 8, 3), 6, False, 1.0, 2.0, True),
         (3, (10, 20, 20, 5), 30, True, 0.5, 0.5, False), (5, (6, 12, 12, 4), 10, False, 1.0, 2.0, True),
         (4, (3, 6, 3), 4, False, 2.0, 1.0, True)]


def instance(seed: int, widths: tuple, n: int, bias: bool, scale: float):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, widths[0]))
    obj = theory.Objective(theory.ReLUNet(widths, 0.0, bias), theory.CrossEntropy(X, rng.integers(0, widths[-1], n)))
    return obj, obj.unflatten(rng.standard_normal(obj.num_params) * scale)


def main() -> None:
    for seed, widths, n, bias, scale, T, arb in CASES:
        obj, th = instance(seed, widths, n, bias, scale)
        c = time.process_time()
        f = numerics.gradient_flow(obj, th, T, dps=None)
        line = (f"{widths} {'biased' if bias else 'bias-free'}, {n} samples, T = {T}: float {len(f.steps)} steps "
                f"{time.process_time() - c:.2f} s (estimate {f.error_estimate:.2g})")
        if arb:
            c = time.process_time()
            a = numerics.gradient_flow(obj, th, Fraction(T), dps=20)
            line += f"; arb {len(a.times) - 1} steps {time.process_time() - c:.2f} s"
        print(line, flush=True)
    from proofs_check.reports.ec21 import build

    obj, th, _ = build(dict(n=100, seed=0, widths=(64, 50, 50, 10), net="relu", bias=False, loss="cross_entropy"))
    th = [np.asarray(x, float) for x in th]
    c = time.process_time()
    f = numerics.gradient_flow(obj, th, 0.4, dps=None)
    print(f"ec21 ReLU row, cross-entropy, 100 digits, T = 0.4: {len(f.steps)} steps, {len(f.events)} events, "
          f"{time.process_time() - c:.2f} s (estimate {f.error_estimate:.3g})")


if __name__ == "__main__":
    main()
