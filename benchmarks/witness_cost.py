"""What the field's longdouble witness costs on the small ReLU benchmark nets (docs/theory.md F, "The
field's witness"): the float tier to T = 0.5 on ``relu182b`` and ``relu160`` of ``bench_float_taylor.py``,
with the witness on and off (``numerics.float_witness.WITNESS_FLOPS`` set to −1), interleaved (the order
alternating by round), CPU seconds, 9 rounds; the medians' ratio and the estimates of both.

    python benchmarks/witness_cost.py
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numerics.float_witness as fw  # noqa: E402
from bench_float_taylor import _relu_small  # noqa: E402
from numerics.float_taylor import float_gradient_flow  # noqa: E402

ROUNDS = 9


def main() -> None:
    on_flops = fw.WITNESS_FLOPS
    try:
        for seed, bias, label in ((1, True, "relu182b"), (7, False, "relu160")):
            obj, th = _relu_small(seed, bias)
            cpu: dict[bool, list[float]] = {True: [], False: []}
            est = {}
            for r in range(ROUNDS):
                for on in ((True, False) if r % 2 == 0 else (False, True)):
                    fw.WITNESS_FLOPS = on_flops if on else -1
                    t = time.process_time()
                    tr = float_gradient_flow(obj, th, 0.5)
                    cpu[on].append(time.process_time() - t)
                    est[on] = tr.error_estimate
            a, b = statistics.median(cpu[True]), statistics.median(cpu[False])
            print(f"{label}: witness on / off, CPU median {a:.4f} / {b:.4f} s (ratio {a / b:.3f}); "
                  f"estimates {est[True]:.3g} / {est[False]:.3g}")
    finally:
        fw.WITNESS_FLOPS = on_flops


if __name__ == "__main__":
    main()
