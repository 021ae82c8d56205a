"""How the float tier's error bound grows on the research-scale ReLU net, against the flow's actual sensitivity.

Net and data of ``bench_float_taylor.py`` (64-50-50-10, bias-free, 500 digits, He init seed 0, square loss;
the loss drops 10× at T10 ≈ 0.195). Two measurements, one thread:

* **bound** -- ``numerics.float_taylor.float_gradient_flow(obj, θ0, T)`` with the growth measured (the default):
  the saltation factors ‖S‖₂ it applied (``traj.saltations``: count, quantiles, Σ ln), ∫μ⁺
  (``traj.growth_integral``) and the estimate at T. T defaults to 0.16: the run is refused at t ≈ 0.169 by
  the touch check (a dip inside its own error bar), so the trajectory of a longer run is not returned.
* **twins** -- the same flow from θ0 and from θ0 + 10⁻⁸·d/‖d‖ (d ~ N(0, I), seed ``--seed``), growth off,
  in pieces of ``--piece`` (the dense output of a whole run would hold GBs of coefficients): the
  amplification ‖θ_b(t) − θ_a(t)‖/10⁻⁸ of that perturbation at each piece's end, next to the bound's
  factor exp(Σ ln ‖S‖ up to t) (the events' part of the bound's growth; ∫μ⁺ adds to it).

A random direction shows the typical sensitivity, not the worst case; the bound must cover the worst
case, so the ratio says how much the product of norms loses against a direction-aware bound at most, not
that the bound is wrong. ~8 min of CPU in all (``--twins-only`` / ``--bound-only`` split it).

    python benchmarks/relu_error_growth.py [--t-end 0.16] [--piece 0.005] [--seed 1]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import math
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_float_taylor import _relu_big  # noqa: E402
from numerics.float_taylor import float_gradient_flow  # noqa: E402

EPSILON = 1e-8


def bound(obj, th, T):
    t0 = time.process_time()
    tr = float_gradient_flow(obj, th, T)
    cpu = time.process_time() - t0
    f = np.array([s[4] for s in tr.saltations])
    q = np.quantile(f, [0.5, 0.9, 0.99, 1.0]) if len(f) else [math.nan] * 4
    print(f"bound run to T = {T}: {len(tr.events)} events, {len(tr.steps)} steps, {cpu:.0f} s CPU")
    # a factor within saltation_norm's rounding margin (8ε) of 1 is a contraction or a unit factor
    print(f"  saltation factors ‖S‖₂: {len(f)} applied, {int((f > 1 + 1e-9).sum())} stretches (> 1 + 1e-9); median {q[0]:.6g}, "
          f"90 % {q[1]:.6g}, 99 % {q[2]:.6g}, max {q[3]:.6g}")
    print(f"  Σ ln ‖S‖₂ = {np.log(f).sum():.3f}, ∫μ⁺ = {tr.growth_integral:.3f}, estimate at T = {tr.error_estimate:.3e}")
    return [(s[0], math.log(s[4])) for s in tr.saltations]


def twins(obj, th, T, piece, seed, ln_s=None):
    rng = np.random.default_rng(seed)
    d = [rng.standard_normal(np.shape(w)) for w in th]
    nd = math.sqrt(sum(float(np.sum(x * x)) for x in d))
    ya = [np.array(w, dtype=float) for w in th]
    yb = [w + EPSILON * x / nd for w, x in zip(ya, d)]
    ends = [min(T, piece * k) for k in range(1, int(math.ceil(T / piece - 1e-9)) + 1)]
    print(f"\ntwins (seed {seed}, |perturbation| = {EPSILON:g}, growth off), amplification at piece ends:")
    print("| t | events so far | ‖Δθ(t)‖ / 1e-8 | exp(Σ ln ‖S‖₂ to t) |")
    print("|---|---|---|---|")
    t, events, t0 = 0.0, 0, time.process_time()
    for te in ends:
        ta = float_gradient_flow(obj, ya, te - t, growth=False)
        tb = float_gradient_flow(obj, yb, te - t, growth=False)
        ya = [np.asarray(w, dtype=float) for w in ta.at(te - t)]
        yb = [np.asarray(w, dtype=float) for w in tb.at(te - t)]
        events += len(ta.events)
        t = te
        amp = math.sqrt(sum(float(np.sum((a - b) ** 2)) for a, b in zip(ya, yb))) / EPSILON
        grow = math.exp(sum(l for (s, l) in ln_s if s <= te)) if ln_s is not None else math.nan
        print(f"| {te:.4g} | {events} | {amp:.4f} | {grow:.3g} |", flush=True)
    print(f"({time.process_time() - t0:.0f} s CPU)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--t-end", type=float, default=0.16)
    ap.add_argument("--piece", type=float, default=0.005)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bound-only", action="store_true")
    ap.add_argument("--twins-only", action="store_true")
    a = ap.parse_args()
    if not (a.t_end > 0 and a.piece > 0):
        ap.error("--t-end and --piece must be > 0")
    obj, th = _relu_big(False)
    ln_s = None if a.twins_only else bound(obj, th, a.t_end)
    if not a.bound_only:
        twins(obj, th, a.t_end, a.piece, a.seed, ln_s)


if __name__ == "__main__":
    main()
