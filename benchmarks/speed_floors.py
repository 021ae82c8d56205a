"""What the unmet speed goals of issue 11 would need: each goal's ratio against the floor of gfgd's own method.

A goal "gfgd ≥ R× faster than peer X" is out of reach for a method whose *unavoidable* part alone takes
more than time(X)/R. This script measures that part in the same process as the peer and prints
time(X) / time(unavoidable part) — the best ratio the method could reach if everything else it does
(event location, decisions, the error bound) cost nothing:

* float tier (``numerics.float_gradient_flow``): the Taylor passes of the run — the coefficient
  recurrences of the tape at the orders the run used (``FloatSeries.run``, timed inside the run). Every
  step needs one (a kink ends the series' validity), at the lowest order whose truncation stays at the
  rounding level over the gap to the next event. At 42,200 parameters they are BLAS products at ~57 % of the
  machine's single-core GEMM rate (printed below; multiply-adds counted by hand in BENCHMARKS.md), so even
  a pass at the full rate would not halve them; on the small nets they are Python's per-node calls. Peers:
  DOP853 (rtol = atol = 1e-12) on the small ReLU nets, where no RK4 reaches 1e-10 within 60 s, and RK4 at
  the matched step h = 1/(λ_max·2^14) on the 42,200-parameter net (the benchmark's ladder finds that h:
  BENCHMARKS.md).
* arb tier (``numerics.gradient_flow(..., dps=D)``): the tape's series alone (``series_coefficients``,
  timed inside the run), against heyoka ``real`` integration alone (JIT excluded).

Cases as in ``bench_float_taylor.py`` (ReLU) and ``bench_arb_heyoka.py`` (deep linear). One thread; CPU
seconds (``time.process_time``); medians of ``--repeats`` interleaved rounds.

    python benchmarks/speed_floors.py [--repeats N] [--skip-heyoka]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numerics  # noqa: E402
import numerics.flows as flows  # noqa: E402
from numerics.float_series import FloatSeries  # noqa: E402
from numerics.float_taylor import float_gradient_flow  # noqa: E402

from bench_float_taylor import _lam_max, _relu_42k, _relu_small, _rk4, _scipy  # noqa: E402


class _Timed:
    """CPU seconds spent inside one function during a block, and its calls (the function patched on its owner)."""

    def __init__(self, owner, name: str, key=None) -> None:
        self.owner, self.name, self.key = owner, name, key
        self.cpu, self.calls = 0.0, Counter()

    def __enter__(self):
        orig = getattr(self.owner, self.name)
        self.orig = orig

        def wrapped(*a, **k):
            c0 = time.process_time()
            try:
                return orig(*a, **k)
            finally:
                self.cpu += time.process_time() - c0
                self.calls[self.key(*a, **k) if self.key else None] += 1
        setattr(self.owner, self.name, wrapped)
        return self

    def __exit__(self, *exc):
        setattr(self.owner, self.name, self.orig)


def _gemm_rate() -> float:
    """The single-core GEMM rate (multiply-adds per second) on a (50 × 200)·(200 × 500) product, the shape of
    the research nets' Cauchy sums."""
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((50, 200)), rng.standard_normal((200, 500))
    C = np.empty((50, 500))
    for _ in range(5):
        np.matmul(A, B, out=C)
    n, c0 = 200, time.process_time()
    for _ in range(n):
        np.matmul(A, B, out=C)
    return 50 * 200 * 500 * n / (time.process_time() - c0)


def float_case(label: str, obj, th, T: float, peer: str, repeats: int) -> str:
    gfgd, passes, peer_t = [], [], []
    lam = _lam_max(obj, th) if peer == "rk4" else None
    orders = None
    for _ in range(repeats):
        with _Timed(FloatSeries, "run", key=lambda self, y0, p, *a, **k: p) as tm:
            c0 = time.process_time()
            tr = float_gradient_flow(obj, th, T)
            gfgd.append(time.process_time() - c0)
        passes.append(tm.cpu)
        orders = tm.calls
        if peer == "dop853":
            c0 = time.process_time()
            _scipy(obj, th, T, "DOP853", 1e-12)
            peer_t.append(time.process_time() - c0)
        else:
            peer_t.append(_rk4(obj, th, T, 1 / (lam * 2 ** 14))[2])
    g, ps, pe = statistics.median(gfgd), statistics.median(passes), statistics.median(peer_t)
    ords = ", ".join(f"{n}×{p}" for p, n in sorted(orders.items()))
    name = "DOP853 rtol 1e-12" if peer == "dop853" else "RK4, h = 1/(λ_max·2^14)"
    return (f"| {label} | {len(tr.steps)} / {len(tr.events)} | {g:.3g} | {ps:.3g} ({100 * ps / g:.0f} %) | {ords} | "
            f"{name} {pe:.3g} | {pe / g:.2f}× | **{pe / ps:.2f}×** |")


def arb_case(label: str, widths, alpha: float, T: float, D: int, repeats: int, heyoka_ok: bool) -> str:
    from bench_flows import FlowCase, HeyokaSystem, make_problem, run_heyoka

    case = FlowCase(label, widths, alpha, T, (D,), ())
    obj, th, Phi = make_problem(case)
    numerics.gradient_flow(obj, th, T / 100, dps=D)  # first-call costs
    tot, tape, hy = [], [], []
    cache = tempfile.mkdtemp(prefix="floors-")
    for _ in range(repeats):
        with _Timed(flows, "series_coefficients") as tm:
            c0 = time.process_time()
            tr = numerics.gradient_flow(obj, th, T, dps=D)
            tot.append(time.process_time() - c0)
        tape.append(tm.cpu)
        if heyoka_ok:
            hy.append(run_heyoka(HeyokaSystem(obj, th, Phi), T, D, cache)[0]["cpu_integrate"])
    g, ts = statistics.median(tot), statistics.median(tape)
    if hy:
        h = statistics.median(hy)
        tail = f"{h:.3g} | {h / g:.2f}× | **{h / ts:.2f}×** |"
    else:
        tail = "— | — | — |"
    return f"| {label} | {D} | {len(tr.steps)}, {tr.order} | {g:.3g} | {ts:.3g} ({100 * ts / g:.0f} %) | {tail}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-heyoka", action="store_true")
    a = ap.parse_args(argv)
    if a.repeats < 1:
        ap.error("--repeats must be >= 1")
    heyoka_ok = not a.skip_heyoka
    if heyoka_ok:
        try:
            import heyoka  # noqa: F401
        except ImportError:
            heyoka_ok = False
    rate = _gemm_rate()
    print(f"single-core GEMM rate, (50 × 200)·(200 × 500): {rate / 1e9:.1f} G multiply-adds/s; "
          f"load average at start {os.getloadavg()[0]:.2f}\n")
    print("| float tier case | steps / events | gfgd CPU s | of which Taylor passes | passes (count × order) | "
          "peer CPU s | peer / gfgd | **peer / passes alone** |")
    print("|---|---|---|---|---|---|---|---|")
    small = [("ReLU (4,10,10,2) biased, 182 p., T = 0.5", *_relu_small(1, True), 0.5, "dop853"),
             ("ReLU (4,10,10,2) bias-free, 160 p., T = 0.5", *_relu_small(7, False), 0.5, "dop853"),
             ("ReLU 784-50-50-10, 42,200 p., T = 2e-5", *_relu_42k(), 2e-5, "rk4")]
    for label, obj, th, T, peer in small:
        print(float_case(label, obj, th, T, peer, a.repeats), flush=True)
    print()
    print("| arb tier case (deep linear) | digits | steps, order | gfgd CPU s | of which the tape's series | "
          "heyoka integrate CPU s | heyoka / gfgd | **heyoka / series alone** |")
    print("|---|---|---|---|---|---|---|---|")
    for D in (15, 30):
        print(arb_case("21", (3, 3, 3, 1), 0.1, 9.5, D, a.repeats, heyoka_ok), flush=True)
    for D in (15, 30):
        print(arb_case("200", (8, 8, 8, 8, 1), 0.3, 6.0, D, a.repeats, heyoka_ok), flush=True)
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
