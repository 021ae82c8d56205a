"""Rounding bounds of float64 matrix operations that the float tier's dense propagation rests on
(:mod:`numerics.dense_propagation`): Higham's γ_n, a Hölder bound of the 2-norm, and the matrix exponential with
a bound on its error (scaling and squaring of a Taylor polynomial; docs/theory.md F, "Dense propagation",
*What a kink and a sliding step cost*)."""

from __future__ import annotations

import math

import numpy as np

EPS = float(np.finfo(float).eps)


def _gamma(n: float) -> float:
    """Higham's γ_n = nε/(1 − nε) (u = ε/2 would do; ε keeps a margin for fused operations)."""
    x = n * EPS
    if x >= 0.5:
        raise ValueError(f"γ_{n}: dimension too large for a float64 rounding bound")
    return x / (1 - x)


def cheap_norm_upper(A: np.ndarray) -> float:
    """‖A‖₂ ≤ √(‖A‖₁‖A‖_∞) (Hölder), the column and row sums computed in floats (each within γ_k of its value):
    O(P²) instead of a factorization, and up to a few times ‖A‖₂: used in the squarings of :func:`expm_bounded`,
    where it scales only the rounding terms."""
    k = A.shape[0]
    B = np.abs(A)
    n1, ninf = float(np.max(np.sum(B, axis=0))), float(np.max(np.sum(B, axis=1)))
    return math.sqrt(n1 * ninf) * (1 + _gamma(k)) * (1 + 4 * EPS)


def _expm_plan(ny: float) -> tuple[int, int]:
    """(m, s) for :func:`expm_bounded` at ‖X‖_F ≤ ny: the fewest products m/4 + 2 + s (Y², Y³, Y⁴, m/4 − 1 Horner
    steps, s squarings) over m ∈ {4, 8, 12, 16} and s ≥ 0 with the truncation y^{m+1}/(m+1)!·1/(1 − y/(m+2)) ≤ ε/2,
    y = ny/2^s: a remainder below one rounding unit of the result (whose norm is ≥ e^{−y}), under the bound's own
    rounding terms (γ₅√P from the identity's block alone). s never exceeds ⌈log₂(2ny)⌉, where m = 16 holds
    (y ≤ ½: 2.1·10⁻²⁰)."""
    s_max = max(0, math.ceil(math.log2(ny / 0.5))) if ny > 0.5 else 0
    best = (16, s_max)
    for s in range(s_max + 1):
        y = ny * 2.0 ** -s
        for m in (4, 8, 12, 16):
            if y < m + 2 and y ** (m + 1) / math.factorial(m + 1) / (1 - y / (m + 2)) <= EPS / 2:
                if m // 4 + s < best[0] // 4 + best[1]:
                    best = (m, s)
                break
    return best


def expm_bounded(X: np.ndarray) -> tuple[np.ndarray, float]:
    """(Ẽ, e) with ‖Ẽ − e^X‖₂ ≤ e for a float64 square matrix X: scaling and squaring of a Taylor polynomial.
    Y = X/2^s (exact); T = Σ_{k≤m} c_kY^k, c_k = 1/k!, with (m, s) from :func:`_expm_plan` (the fewest products
    that keep the truncation below ε/2), in the Paterson–Stockmeyer form T = B₀ + Y⁴(B₁ + ⋯ + Y⁴(B_{q−1} + c_mY⁴)),
    q = m/4, B_j = Σ_{r<4} c_{4j+r}Y^r: at m = 16 six products instead of Horner's sixteen (at P ≈ 1000 the
    products are the cost; on the sliding steps of the 1,440-parameter ec21 row ‖X‖_F ≤ 0.23, where m = 8 or 12
    and no squaring do: four or five). Bounds, each a 2-norm through ‖·‖₂ ≤ ‖·‖_F where entrywise:
    a product's rounding ≤ γ_P‖A‖_F‖B‖_F; the powers' errors D₂ = γ_P‖Y‖_F², D₃ = D₂‖Y‖ + γ_P‖Ŷ²‖_F‖Y‖_F,
    D₄ = D₂(‖Ŷ²‖_F + ‖Y‖²) + γ_P‖Ŷ²‖_F² (Ŷ²Ŷ² − Y⁴ = (Ŷ² − Y²)Ŷ² + Y²(Ŷ² − Y²)); a block B̂_j's Σ_r c_rD_r plus
    its sum's rounding γ₅Σ_r c_r‖Ŷ^r‖_F (c_r = fl(1/r!) within ε/2, counted in γ₅); a Horner step R ← Ŷ⁴R + B̂
    carries e to ‖Y‖⁴e + D₄‖R‖_F + γ_P‖Ŷ⁴‖_F‖R‖_F + γ₁‖R_new‖_F + (B̂'s error); truncation
    ≤ ‖Y‖^{m+1}/(m+1)!·1/(1 − ‖Y‖/(m+2)); each squaring (E + Δ)² = E² + EΔ + ΔE + Δ² carries e to 2‖E‖e + e² plus
    γ_P‖E‖_F². ‖Y‖ is bounded by ‖Y‖_F."""
    P = X.shape[0]
    with np.errstate(over="ignore", invalid="ignore"):
        nx = float(np.linalg.norm(X)) * (1 + _gamma(P * P + 1))
    if not nx <= 2.0**40:  # (e^X beyond any use as a bound, or X not finite)
        return np.eye(P), math.inf
    m, s = _expm_plan(nx)
    Y = X * (2.0 ** -s)
    ny = nx * 2.0 ** -s
    g, g5, g1 = _gamma(P), _gamma(5), _gamma(1)
    up = 1 + _gamma(P * P + 1)  # (a computed Frobenius norm, raised by its summation's rounding)

    def fro(A: np.ndarray) -> float:
        return float(np.linalg.norm(A)) * up

    c = [1.0 / math.factorial(k) for k in range(m + 1)]
    Y2 = Y @ Y
    Y3 = Y2 @ Y
    Y4 = Y2 @ Y2
    f2 = fro(Y2)
    D = [0.0, 0.0, g * ny * ny]
    D.append(D[2] * ny + g * f2 * ny)
    D4 = D[2] * (f2 + ny * ny) + g * f2 * f2
    f4 = fro(Y4)
    fr = [math.sqrt(P) * up, ny, f2, fro(Y3)]
    powers = [None, Y, Y2, Y3]
    q = m // 4
    R = np.eye(P) * c[m]
    err = 0.0  # ‖R − R*‖₂; R = fl(1/m!)·I, whose rounding (≤ ε/2·c_m) enters the first step as ε·c_m‖Y‖⁴
    for j in range(q - 1, -1, -1):
        B = np.eye(P) * c[4 * j]
        for r in (1, 2, 3):
            B += c[4 * j + r] * powers[r]
        eB = sum(c[4 * j + r] * D[r] for r in (2, 3)) + g5 * sum(c[4 * j + r] * fr[r] for r in range(4))
        fR = fro(R)
        Rn = Y4 @ R if j < q - 1 else Y4 * c[m]
        Rn += B
        err = ny ** 4 * err + D4 * fR + g * f4 * fR + g1 * fro(Rn) + eB + (EPS * c[m] * ny ** 4 if j == q - 1 else 0.0)
        R = Rn
    T = R
    err += ny ** (m + 1) / math.factorial(m + 1) / (1 - ny / (m + 2))
    for _ in range(s):
        ne = cheap_norm_upper(T)  # (it scales only the rounding terms: a factorization here cost ~20 % of a sliding step)
        T2 = T @ T
        err = 2 * ne * err + err * err + _gamma(P) * float(np.sum(T * T)) * (1 + _gamma(P * P + 1))
        T = T2
    return T, err * (1 + 64 * EPS)  # (the bound's own arithmetic: a few dozen roundings up)


__all__ = ["EPS", "cheap_norm_upper", "expm_bounded"]
