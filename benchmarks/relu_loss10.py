"""The research-scale ReLU run of issue 11 to its 10× loss drop: CPU time and the error estimate.

Nets and data of ``bench_float_taylor.py`` (64-50-50-10 on 500 sklearn digits, pixels/16, one-hot
targets, He init seed 0, square loss; bias-free and with biases). T10 is the time the loss has dropped
10×, measured by a fine RK4 run (0.1952 bias-free, 0.1709 biased; docs/theory.md F, "Research scale").
One thread; CPU seconds (``time.process_time``). Printed per net: events and steps, CPU seconds, the error
estimate (max over the run) and at T, the loss at 0 and T, and the bound's log-growth split into the
saltation factors (Σ ln ‖S‖₂ — what the bound would carry without windows), ∫μ⁺, and the windows
(Σ ln over closed windows of the naive growth and of what the windows kept). ~4–5 min of CPU per net.

    python benchmarks/relu_loss10.py [--bias both|no|yes] [--t-end T] [--rtol R]

``--rtol``: the float tier's step target (``float_gradient_flow(..., rtol=R)``; default 2^-53, the rounding
level): lower orders after the events, the larger truncation counted in the estimate.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import math
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_float_taylor import _relu_big  # noqa: E402
from numerics.float_taylor import float_gradient_flow  # noqa: E402
from numerics.gradients import value  # noqa: E402

T10 = {False: 0.1952, True: 0.1709}


def run(bias: bool, t_end: float | None, rtol: float | None = None) -> None:
    obj, th = _relu_big(bias)
    T = T10[bias] if t_end is None else t_end
    t0 = time.process_time()
    tr = float_gradient_flow(obj, th, T, rtol=rtol)
    cpu = time.process_time() - t0
    f0, f1 = float(value(obj, th)), float(value(obj, tr.at(T)))
    sal = sum(math.log(s[4]) for s in tr.saltations)
    naive = sum(w.naive for w in tr.windows)
    kept = sum(min(w.naive, w.windowed) for w in tr.windows)
    print(f"{'biased' if bias else 'bias-free'} 64-50-50-10 to T = {T}, rtol {tr.rtol:.3g}: {len(tr.events)} events, {len(tr.steps)} steps, "
          f"{cpu:.0f} s CPU; loss {f0:.4g} -> {f1:.4g} ({f0 / f1:.2f}x)")
    print(f"  estimate: max {tr.error_estimate:.3g}, at T {tr.end_error:.3g}; Σ ln ‖S‖₂ = {sal:.2f}, ∫μ⁺ = "
          f"{tr.growth_integral:.3f}; {len(tr.windows)} windows ({sum(w.events for w in tr.windows)} events): "
          f"Σ ln naive {naive:.2f} -> windowed {kept:.2f}")
    # what the windows' factors are made of: the events' own symmetric stretch, the first-order term with
    # the steps (∫μ⁺, Σh·Λ), and the rest (one-step mixed terms, ≥ 2 steps, the Dyson remainder, N)
    used = [w for w in tr.windows if w.windowed < w.naive and w.parts]
    ev = sum(0.5 * math.log1p(2 * w.parts["events"]) for w in used)
    first = sum(math.log(w.parts["first"]) for w in used)
    print(f"  in the {len(used)} windows kept: Σ ln √(1 + 2λ_max(sym(P_S − I))) = {ev:.2f}, Σ ln first-order term "
          f"= {first:.2f}, Σ ln F_w = {sum(w.windowed for w in used):.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bias", choices=("both", "no", "yes"), default="both")
    ap.add_argument("--t-end", type=float, default=None, help="horizon (default: T10 of each net)")
    ap.add_argument("--rtol", type=float, default=None, help="the step target (default 2^-53; at most 1e-4)")
    a = ap.parse_args()
    if a.t_end is not None and not (a.t_end > 0 and math.isfinite(a.t_end)):
        ap.error("--t-end must be a positive number")
    if a.rtol is not None and not (0 < a.rtol <= 1e-4):
        ap.error("--rtol must be in (0, 1e-4]")
    for bias in {"both": (False, True), "no": (False,), "yes": (True,)}[a.bias]:
        run(bias, a.t_end, a.rtol)


if __name__ == "__main__":
    main()
