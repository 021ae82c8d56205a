"""Cost and gain of the float tier's dense propagation on small nets (docs/theory.md F, "Dense propagation").

Runs ``numerics.gradient_flow(obj, θ0, T, dps=None, propagation=...)`` on each case with the error carried through
dense propagators (``"set"``) and with the product-of-norms bound and its windows (``"windows"``), interleaved,
REPEATS times each; prints the median CPU seconds, their ratio,
and both error estimates. The cases: the two loosest soak instances of ``tests/test_soak_tightness.py``
(leaky (4,6,6,3) square 3, digits (8,6,6,3) square 14 and 16), a (3,6,6,2) soak instance (square 11 of
``tests/test_float_simultaneous_kinks.instance``), the 160- and 182-parameter ReLU nets of
``benchmarks/bench_float_taylor.py`` (T = 0.5), two runs of the soak's 276-parameter family (``mid`` square 1
and cross-entropy 2, the loosest under the windows), a 480-parameter net ((8,18,16,3) on 12 digits images
and 8 of their pixels, square loss, generator seed 20,001), two runs of the 700-parameter soak family (``big``,
(12,20,20,3) on 10 images, seed 0) and a 984-parameter net ((14,24,24,3) on 12 images, generator seed 20,002,
T = 0.5; the windows refuse it at t = 0.35, their time is to that refusal) and square 0 of the soak's 1,170-parameter
family (``large``, (16,26,26,3) on 10 images, T = 0.5; above the cut of 1024, where the windows are the default), and
the ReLU row of ``gfgd report ec21`` (64-16-16-10 on 5 digits, cross-entropy, 1,440 parameters, seed 0, to a quarter
of its horizon, T = 0.8248; the report carries it as a set by default, docs/theory.md G2). One thread.

    python benchmarks/dense_propagation_cost.py [--repeats N] [--from K]   (N = 3; K: skip the first K cases)
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
from numerics.kink_flows import UnsupportedKinkError  # noqa: E402

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
    yield "digits (8,18,16,3) sq", *digits_net(1), 1.0
    yield "digits (12,20,20,3) sq 0", *instance("big", "sq", 0), 1.0
    yield "digits (12,20,20,3) ce 0", *instance("big", "ce", 0), 1.0
    yield "digits (14,24,24,3) sq", *digits_net(2, (14, 24, 24, 3), 12), 0.5
    yield "digits (16,26,26,3) sq 0", *instance("large", "sq", 0), 0.5
    yield "ec21 ReLU row 64-16-16-10 ce", *ec21_row(), 0.8248


def ec21_row():
    from proofs_check.reports.ec21 import build

    obj, th0, _ = build(dict(n=5, seed=0, widths=(64, 16, 16, 10), net="relu", bias=False, loss="cross_entropy"))
    return obj, th0


def digits_net(seed: int, widths: tuple = (8, 18, 16, 3), n: int = 12):
    """Bias-free ReLU of these widths on n sklearn digits images and widths[0] of their pixels (/16), square loss
    with N(0, 1) targets, θ0 ~ N(0, 1); generator seed 20,000 + seed."""
    from fractions import Fraction

    import numpy as np
    from sklearn.datasets import load_digits

    import theory

    D = load_digits()
    rng = np.random.default_rng(20_000 + seed)
    rows, cols = rng.choice(len(D.target), n, replace=False), rng.choice(64, widths[0], replace=False)
    X = D.data[np.ix_(rows, cols)] / 16.0
    obj = theory.Objective(theory.ReLUNet(widths, Fraction(0), False),
                           theory.SquareLoss(X, rng.standard_normal((n, widths[-1]))))
    return obj, [rng.standard_normal(s) for s in obj.shapes]


def main() -> None:
    import argparse

    global REPEATS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=REPEATS)
    ap.add_argument("--from", dest="first", type=int, default=0)
    args = ap.parse_args()
    REPEATS = args.repeats
    default = FT.DENSE_MAX  # (the cut of the default, 'auto': named in the table)
    print("| case | P | set: CPU s, estimate | windows: CPU s, estimate | time ratio | estimate ratio |")
    print("|---|---|---|---|---|---|")
    for k, (name, obj, th, T) in enumerate(cases()):
        if k < args.first:
            continue
        times: dict = {"set": [], "windows": []}
        est = {}
        for _ in range(REPEATS):
            for kind in ("set", "windows"):
                t0 = time.process_time()
                try:
                    est[kind] = numerics.gradient_flow(obj, th, T, dps=None, propagation=kind).error_estimate
                except UnsupportedKinkError as e:  # (a kink within the carrier's error bar: its time is to there)
                    est[kind] = f"refused at {str(e).split(':')[0]}"
                times[kind].append(time.process_time() - t0)
        d, n = statistics.median(times["set"]), statistics.median(times["windows"])
        note = "" if obj.num_params <= default else f" (above the cut of {default}: the set on request)"
        gain = est["windows"] / est["set"] if all(isinstance(v, float) for v in est.values()) else "—"
        print(f"| {name}{note} | {obj.num_params} | {d:.3g}, {_fmt(est['set'])} | {n:.3g}, {_fmt(est['windows'])} | "
              f"{d / n:.2f} | {_fmt(gain)} |", flush=True)


def _fmt(x) -> str:
    return f"{x:.3g}" if isinstance(x, float) else str(x)


if __name__ == "__main__":
    main()
