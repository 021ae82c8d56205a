"""Right-hand sides of the bounds in docs/theory.md, as functions of norms the caller measures.

Kept free of any way of computing the norms, so a claim can feed them from exact, mp or float64
arithmetic and state the error of each.
"""

from __future__ import annotations

from itertools import combinations
from math import prod
from typing import Any, Sequence

import mpmath
import numpy as np

from .arrays import check_dps, to_kind


def b1_rhs(layer_norms: Sequence[Any], grad_phi_norm: Any, constant: Any = None) -> Any:
    """docs/theory.md B1: (N−1)·‖∇φ(W_{N:1})‖₂·max_{j<j'} ∏_{i∉{j,j'}} ‖W_i‖₂ (empty product = 1).

    λ_min(∇²f(θ)) ≥ −b1_rhs. ``layer_norms`` are ‖W_i‖₂, i = 1..N (N ≥ 2). ``constant`` replaces
    the factor N−1 (to test how a claim reacts to a wrong constant).
    """
    N = len(layer_norms)
    if N < 2:
        raise ValueError("B1 needs depth N >= 2 (N = 1 is convex: lambda_min >= 0)")
    c = (N - 1) if constant is None else constant
    best = max(prod((s for i, s in enumerate(layer_norms) if i not in pair), start=1)
               for pair in combinations(range(N), 2))
    return c * grad_phi_norm * best


def spectral_norm_mp(M: Any, dps: int = 50) -> mpmath.mpf:
    """‖M‖₂ (largest singular value) at ``dps`` digits via mpmath's SVD; entries converted exactly."""
    check_dps(dps)
    M = np.asarray(M)
    with mpmath.workdps(dps):
        A = mpmath.matrix(to_kind(M, "mp").tolist())
        if A.rows == 0 or A.cols == 0:
            return mpmath.mpf(0)
        s = mpmath.svd_r(A, compute_uv=False)
        return +max(s[i] for i in range(len(s)))
