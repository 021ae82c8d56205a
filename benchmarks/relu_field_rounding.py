"""The field's rounding along the research run, measured against its relative model (docs/theory.md F,
"The field's witness"): the bias-free (or biased) 64-50-50-10 digits net of ``relu_loss10.py`` to T10 with
``rtol = 1e-12``, and on every N-th series pass that bounds its field the longdouble witness forced on
(it does not run at this size by itself): w = ‖ĉ_1 − c_1^ld‖₂, the relative term's share ε·d·‖ĉ_1‖₂, and
the rest of the field bound (the head's and elementwise roundings, ``field_error``). Printed: the largest
w ÷ share and w ÷ (share + field_error) over the samples, and r·R (the longdouble pass's own error bound).
A ratio above 1 would be the model failing at research scale (the forced witness would then add the excess
to the bound, as it does on small nets). ~2 min of CPU.

    python benchmarks/relu_field_rounding.py [--bias no|yes] [--every N] [--t-end T]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numerics.float_series as fs  # noqa: E402
import numerics.float_witness as fw  # noqa: E402
from bench_float_taylor import _relu_big  # noqa: E402
from numerics.float_taylor import float_gradient_flow  # noqa: E402
from relu_loss10 import T10  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bias", choices=("no", "yes"), default="no")
    ap.add_argument("--every", type=int, default=250, help="witness every N-th field-bounding pass")
    ap.add_argument("--t-end", type=float, default=None)
    args = ap.parse_args()
    if not fw._LD_WIDER:
        sys.exit("numpy's longdouble is float64 on this machine: no witness")
    bias = args.bias == "yes"
    obj, th = _relu_big(bias)
    T = T10[bias] if args.t_end is None else args.t_end
    rows: list[tuple[float, float, float, float]] = []
    count = [0]
    witnessed, witness = fs.FloatSeries._witnessed, fs.FloatSeries._witness

    def forced(self, coef, need, p=0):
        count[0] += 1
        return count[0] % args.every == 1

    def recording(self, y0, ys, coef, need):
        w, R = witness(self, y0, ys, coef, need)
        rows.append((w, fw._LD_RATIO * R, self.relative_share(ys), self.field_error))
        return w, R

    fs.FloatSeries._witnessed, fs.FloatSeries._witness = forced, recording
    try:
        t0 = time.process_time()
        tr = float_gradient_flow(obj, th, T, rtol=1e-12)
        cpu = time.process_time() - t0
    finally:
        fs.FloatSeries._witnessed, fs.FloatSeries._witness = witnessed, witness
    w, rR, share, fe = (np.array(c) for c in zip(*rows))
    print(f"{'biased' if bias else 'bias-free'} 64-50-50-10 to T = {T}, rtol 1e-12: {len(tr.events)} events, "
          f"{len(tr.steps)} steps, {cpu:.0f} s CPU, estimate {tr.error_estimate:.3g}; {len(rows)} witnessed passes "
          f"of {count[0]}")
    print(f"  w (the field's rounding): {w.min():.3g} … {w.max():.3g}; share ε·d·‖ĉ_1‖: {share.min():.3g} … "
          f"{share.max():.3g}; rest of the bound: {fe.min():.3g} … {fe.max():.3g}; r·R: {rR.max():.3g} at most")
    print(f"  largest w / share = {float((w / share).max()):.3g}; largest w / (share + rest) = "
          f"{float((w / (share + fe)).max()):.3g}; largest (w + r·R) / (share + rest) = "
          f"{float(((w + rR) / (share + fe)).max()):.3g}")


if __name__ == "__main__":
    main()
