"""heyoka's system for deep-linear gradient flow with a square loss on data (for bench_float_taylor).

f(W_1..W_N) = (1/2n)‖W_N⋯W_1X − Y‖²_F (X: d_0 × n, Y: d_N × n; rows of the benchmark's arrays are samples)
depends on the data through Σxx = XXᵀ/n and Σyx = YXᵀ/n only: with W = W_N⋯W_1 and E = WΣxx − Σyx,

    ∇_{W_j} f = (W_N⋯W_{j+1})ᵀ · E · (W_{j−1}⋯W_1)ᵀ,

so the system θ' = −∇f is written with those two matrices (the same ODE as the one gfgd and scipy
integrate from the samples; the benchmark reports the distances between the solutions). Expressions:
prefix products P_j = W_j⋯W_1 and suffix products from the top, each entry a ``heyoka.sum`` of products,
in numerics' parameter order (W_1 row-major first).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def _mm(hy: Any, A: Sequence[Sequence[Any]], B: Sequence[Sequence[Any]]) -> list[list[Any]]:
    k, m = len(B), len(B[0])
    return [[hy.sum([row[q] * B[q][j] for q in range(k)]) for j in range(m)] for row in A]


def _T(A: Sequence[Sequence[Any]]) -> list[list[Any]]:
    return [list(col) for col in zip(*A)]


def deep_linear_system(widths: Sequence[int], X: np.ndarray, Y: np.ndarray) -> list[tuple[Any, Any]]:
    """[(variable, rhs)] for θ' = −∇f, f = (1/2n)Σ_i‖W_N⋯W_1 x_i − y_i‖² (X, Y: samples as rows)."""
    import heyoka as hy

    n = X.shape[0]
    Sxx = (X.T @ X / n).tolist()
    Syx = (Y.T @ X / n).tolist()
    Ws = [[[hy.expression(f"w{j}_{a}_{b}") for b in range(widths[j - 1])] for a in range(widths[j])]
          for j in range(1, len(widths))]
    N = len(Ws)
    pre = [Ws[0]]
    for j in range(1, N):
        pre.append(_mm(hy, Ws[j], pre[-1]))
    E = _mm(hy, pre[-1], Sxx)
    E = [[e - s for e, s in zip(er, sr)] for er, sr in zip(E, Syx)]
    grads: list[Any] = [None] * N
    above = None  # W_N⋯W_{j+1}
    for j in range(N - 1, -1, -1):
        left = E if above is None else _mm(hy, _T(above), E)
        grads[j] = left if j == 0 else _mm(hy, left, _T(pre[j - 1]))
        above = Ws[j] if above is None else _mm(hy, above, Ws[j])
    return [(Ws[j][a][b], -grads[j][a][b]) for j in range(N) for a in range(len(Ws[j])) for b in range(len(Ws[j][0]))]
