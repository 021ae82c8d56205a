"""Cost and gain of the float tier's dense propagation on small nets (docs/theory.md F, "Dense propagation").

Runs ``numerics.gradient_flow(obj, θ0, T, dps=None)`` on each case three ways, interleaved, REPEATS times each:
with the defaults (the set from the first step up to ``DENSE_MAX`` = 128 parameters, from the first kink that is
not a lone crossing or a 4× naive growth up to ``DENSE_LAZY_MAX`` = 512; the windows above), with the set from the
first step, and with the product-of-norms bound and its windows alone; prints the median CPU seconds and the error
estimates, and the set's time and tightness against the windows'. The cases: the two loosest soak instances of ``tests/test_soak_tightness.py``
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

import math
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
    cut, lazy_cut = FT.DENSE_MAX, FT.DENSE_LAZY_MAX
    # (DENSE_MAX, DENSE_LAZY_MAX) per contestant: the defaults; the set from the first step; the windows alone
    modes = {"default": (cut, lazy_cut), "set": (10**9, 10**9), "windows": (0, 0)}
    print("| case | P | default: CPU s, estimate (set from t) | set from t = 0: CPU s, estimate | windows: CPU s, "
          "estimate | set / windows: time, estimate |")
    print("|---|---|---|---|---|---|")
    for name, obj, th, T in cases():
        times: dict = {k: [] for k in modes}
        est, since = {}, math.nan
        for _ in range(REPEATS):
            for kind, (dm, lm) in modes.items():
                FT.DENSE_MAX, FT.DENSE_LAZY_MAX = dm, lm
                t0 = time.process_time()
                f = numerics.gradient_flow(obj, th, T, dps=None)
                times[kind].append(time.process_time() - t0)
                est[kind] = f.error_estimate
                if kind == "default":
                    since = f.set_from
        FT.DENSE_MAX, FT.DENSE_LAZY_MAX = cut, lazy_cut
        med = {k: statistics.median(v) for k, v in times.items()}
        where = "windows throughout" if math.isnan(since) else f"set from t = {since:.3g}"
        print(f"| {name} | {obj.num_params} | {med['default']:.3g}, {est['default']:.3g} ({where}) | "
              f"{med['set']:.3g}, {est['set']:.3g} | {med['windows']:.3g}, {est['windows']:.3g} | "
              f"{med['set'] / med['windows']:.2f}, {est['windows'] / est['set']:.3g} |", flush=True)


if __name__ == "__main__":
    main()
