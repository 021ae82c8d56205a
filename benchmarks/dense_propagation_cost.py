"""Cost and gain of the float tier's dense propagation on small nets (docs/theory.md F, "Dense propagation").

Runs ``numerics.gradient_flow(obj, θ0, T, dps=None)`` on each case with the error carried through dense
propagators (``numerics.float_taylor.DENSE_MAX`` at its default, 512) and with the product-of-norms bound and
its windows (``DENSE_MAX = 0``), interleaved, REPEATS times each; prints the median CPU seconds, their ratio,
and both error estimates. The cases: the two loosest soak instances of ``tests/test_soak_tightness.py``
(leaky (4,6,6,3) square 3, digits (8,6,6,3) square 14 and 16), a (3,6,6,2) soak instance (square 11 of
``tests/test_float_simultaneous_kinks.instance``), the 160- and 182-parameter ReLU nets of
``benchmarks/bench_float_taylor.py`` (T = 0.5), two runs of the soak's 276-parameter family (``mid`` square 1
and cross-entropy 2, the loosest under the windows) and a 480-parameter net ((8,18,16,3) on 12 digits images
and 8 of their pixels, square loss, generator seed 20,001). One thread.

    python benchmarks/dense_propagation_cost.py
"""

from __future__ import annotations

import os
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import statistics
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import numerics  # noqa: E402
import numerics.float_taylor as FT  # noqa: E402

REPEATS = 3


def cases():
    from test_float_simultaneous_kinks import instance as soak366
    from test_float_taylor import relu_instance
    from test_soak_tightness import instance

    yield "leaky (4,6,6,3) sq 3", *instance("leaky", "sq", 3), 1.0
    yield "digits (8,6,6,3) sq 14", *instance("digits", "sq", 14), 1.0
    yield "digits (8,6,6,3) sq 16", *instance("digits", "sq", 16), 1.0
    yield "(3,6,6,2) sq 11", *soak366("sq", 11)[:2], 1.0
    yield "ReLU (4,10,10,2) bias-free seed 7", *relu_instance(7, (4, 10, 10, 2), 0.0, False, scale=0.5), 0.5
    yield "ReLU (4,10,10,2) biased seed 1", *relu_instance(1, (4, 10, 10, 2), 0.0, True, scale=0.5), 0.5
    yield "digits (8,12,12,3) sq 1", *instance("mid", "sq", 1), 1.0
    yield "digits (8,12,12,3) ce 2", *instance("mid", "ce", 2), 1.0
    yield "digits (8,18,16,3) sq", *digits480(1), 1.0


def digits480(seed: int):
    """ReLU (8,18,16,3), bias-free, on 12 sklearn digits images and 8 of their pixels (/16), square loss with
    N(0, 1) targets, θ0 ~ N(0, 1); generator seed 20,000 + seed."""
    from fractions import Fraction

    import numpy as np
    from sklearn.datasets import load_digits

    import theory

    D = load_digits()
    rng = np.random.default_rng(20_000 + seed)
    rows, cols = rng.choice(len(D.target), 12, replace=False), rng.choice(64, 8, replace=False)
    X = D.data[np.ix_(rows, cols)] / 16.0
    obj = theory.Objective(theory.ReLUNet((8, 18, 16, 3), Fraction(0), False), theory.SquareLoss(X, rng.standard_normal((12, 3))))
    return obj, [rng.standard_normal(s) for s in obj.shapes]


def main() -> None:
    default = FT.DENSE_MAX
    print("| case | P | set: CPU s, estimate | windows: CPU s, estimate | time ratio | estimate ratio |")
    print("|---|---|---|---|---|---|")
    for name, obj, th, T in cases():
        times: dict = {"set": [], "windows": []}
        est = {}
        for _ in range(REPEATS):
            for kind, cut in (("set", max(default, obj.num_params)), ("windows", 0)):
                FT.DENSE_MAX = cut
                t0 = time.process_time()
                f = numerics.gradient_flow(obj, th, T, dps=None)
                times[kind].append(time.process_time() - t0)
                est[kind] = f.error_estimate
        FT.DENSE_MAX = default
        d, n = statistics.median(times["set"]), statistics.median(times["windows"])
        note = "" if obj.num_params <= default else f" (above the cut: DENSE_MAX raised to {obj.num_params} here)"
        print(f"| {name}{note} | {obj.num_params} | {d:.3g}, {est['set']:.3g} | {n:.3g}, {est['windows']:.3g} | "
              f"{d / n:.2f} | {est['windows'] / est['set']:.3g} |", flush=True)


if __name__ == "__main__":
    main()
