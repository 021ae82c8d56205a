"""What the ground-truth flow's error bound does to the quantities a claim reads off it.

The float64 Taylor tier returns θ̂(t) with a derived bound e(t) ≥ ‖θ̂(t) − θ(t)‖₂ (docs/theory.md F; per
output time :func:`proofs_check.flow.step_bounds`). A claim that measures q(θ(t)) — a loss, the end-to-end
matrix w = W_N⋯W_1 of a deep linear net, a power of its norm, the time a level is crossed — needs a bound
on |q(θ̂) − q(θ)|; these are those bounds (docs/theory.md B6 and C1, "Tolerance"). Each also covers the
float64 evaluation of q at θ̂ where it says so.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np
from scipy.optimize import brentq

EPS = float(np.finfo(float).eps)


def end_to_end(theta: Sequence) -> np.ndarray:
    """w = W_N⋯W_1 as a flat row (in θ's arithmetic)."""
    w = theta[0]
    for M in theta[1:]:
        w = M @ w
    return np.asarray(w).reshape(-1)


def end_to_end_shift(theta: Sequence[np.ndarray], e: float) -> float:
    """δ ≥ ‖fl(W_N⋯W_1)(θ̂) − (W_N⋯W_1)(θ)‖₂ for ‖θ̂ − θ‖₂ ≤ e: each block moves by ≤ e, so the product
    moves by ≤ Π(‖W_l‖₂ + e) − Π‖W_l‖₂ (expand the product of sums); plus the computed product's rounding,
    ≤ γ over the chain of N products (Higham: |fl(AB) − AB| ≤ γ_n|A||B|) ≤ N(d_max + 2)ε·Π‖W_l‖_F. The
    2-norms come from LAPACK's SVD, taken 4ε high and low."""
    norms = [float(np.linalg.norm(np.asarray(W, dtype=float), 2)) for W in theta]
    N = len(norms)
    dmax = max(max(np.shape(W)) for W in theta)
    hi = math.prod(x * (1 + 4 * EPS) + e for x in norms)
    lo = math.prod(norms) * (1 - 4 * EPS) ** N
    fro = math.prod(float(np.linalg.norm(np.asarray(W, dtype=float))) for W in theta)
    return (hi - lo + N * (dmax + 2) * EPS * fro) * (1 + 4 * N * EPS)


def power_shift(x: float, d: float, a: float) -> float:
    """≥ |x^a − y^a| for x, y ≥ 0 with |x − y| ≤ d and 0 ≤ a < 1: d^a (x ↦ x^a is a-Hölder with constant 1),
    or where x > d the mean value theorem's a·(x − d)^{a−1}·d, whichever is smaller (0 for a = 0)."""
    if a == 0 or d == 0:
        return 0.0
    out = d ** a
    if x > d:
        out = min(out, a * (x - d) ** (a - 1) * d)
    return out * (1 + 4 * EPS)


def end_to_end_velocity(theta: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> np.ndarray:
    """ẇ = d/dt W_N⋯W_1 along θ' = −∇f: Σ_j W_N⋯W_{j+1}(−∇_j f)W_{j−1}⋯W_1 (the product rule)."""
    out = 0
    for j in range(len(theta)):
        m = -np.asarray(grads[j], dtype=float) if j == 0 else np.asarray(theta[0], dtype=float)
        for k in range(1, len(theta)):
            m = (-np.asarray(grads[k], dtype=float) if k == j else np.asarray(theta[k], dtype=float)) @ m
        out = out + m
    return np.asarray(out)


def first_crossing(at: Callable[[float], Any], g: Callable[[Any], float], grid: Sequence[float]) -> float | None:
    """The first t of ``grid``'s span with g(at(t)) ≤ 0, bracketed by two grid points (g > 0 at the first
    of them) and located by Brent's method to 2·10⁻¹²·t; None if g stays > 0 on the grid."""
    prev = grid[0]
    if g(at(prev)) <= 0:
        return float(prev)
    for t in grid[1:]:
        if g(at(t)) <= 0:
            return float(brentq(lambda x: g(at(x)), prev, t, xtol=2e-12 * t, rtol=4 * EPS))
        prev = t
    return None


def crossing_time_error(shift: float, rate: float, t: float) -> float:
    """≥ |t̂ − t| for the crossing of a level by q(θ(·)) when |q(θ̂) − q(θ)| ≤ ``shift`` near it and q moves at
    ``rate`` there: shift/|rate| (first order in the shift, as every bound here: the rate changes by a
    relative O(shift) over that interval), plus Brent's bracket 2·10⁻¹²·t and its own 4ε·t."""
    if rate == 0 or not math.isfinite(rate):
        return math.inf
    return shift / abs(rate) * (1 + 8 * EPS) + (2e-12 + 4 * EPS) * t


__all__ = ["crossing_time_error", "end_to_end", "end_to_end_shift", "end_to_end_velocity", "first_crossing", "power_shift"]
