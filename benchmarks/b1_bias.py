"""The float tier's growth rate on a deep linear net with biases: the measured λ_min (Lanczos above 800 parameters)
against THEORY B1 on the augmented layers (numerics.b1_growth; docs/theory.md F, "The growth from B1").

Net: 64-50-50-10 with biases (6,310 parameters) on the digits data of ``bench_float_taylor.py`` (500 images,
pixels/16, one-hot targets, square loss), ``numerics.gaussian_init(obj, 0.1, seed=0)`` with the biases set to
0.05. Per mode and round (interleaved): CPU seconds (one thread), steps, the error estimate and ∫μ⁺.

    python benchmarks/b1_bias.py [T]     (default T = 0.5; ~10 s per round at T = 0.5, ~20 s at T = 5)
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import numerics  # noqa: E402
import theory  # noqa: E402
from bench_float_taylor import _digits  # noqa: E402


def main(argv: list[str]) -> int:
    T = float(argv[0]) if argv else 0.5
    obj = _digits(theory.DeepLinear((64, 50, 50, 10), bias=True))
    th = [np.asarray(x, float) if np.ndim(x) == 2 else np.full(np.shape(x), 0.05)
          for x in numerics.gaussian_init(obj, 0.1, seed=0)]
    print(f"deep linear 64-50-50-10 with biases ({obj.num_params} parameters), digits, T = {T}")
    for rnd in range(2):
        for mode in ("measured", "b1"):
            t0 = time.process_time()
            tr = numerics.gradient_flow(obj, th, T, dps=None, error_growth=mode)
            print(f"  round {rnd + 1} {mode:8s}: {time.process_time() - t0:.2f} s CPU, {len(tr.steps)} steps, "
                  f"estimate {tr.error_estimate:.3g}, ∫μ⁺ {tr.growth_integral:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
