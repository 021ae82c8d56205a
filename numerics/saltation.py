"""The norm of the saltation matrix of a switching surface (docs/theory.md F, "Kinks (saltation)"): the
factor by which a kink event can stretch the error carried into it, for both tiers' error bounds."""

from __future__ import annotations

import math

import numpy as np


def saltation_norm(pre: float, post: float, dF: float, grad_z: float) -> float:
    """‖S‖₂ of the saltation matrix S = I + (F_post − F_pre)∇zᵀ/ż_pre of a switching surface z = 0
    (docs/theory.md F, "Kinks"): a perturbation e just before the event moves the event time by
    −∇z·e/ż_pre, during which the two fields differ by F_post − F_pre, so e ↦ S·e to first order.

    ``pre``, ``post``: the rates ż = ∇z·F before and after (post = 0 for the sliding field, which keeps
    z = 0); ``dF`` = ‖F_post − F_pre‖₂, ``grad_z`` = ‖∇z‖₂. S = I + u vᵀ is the identity off span{u, v};
    on it, with c = vᵀu = (post − pre)/pre and s = ‖u‖‖v‖ = dF·grad_z/|pre|, σ₁² + σ₂² = 2 + 2c + s² and
    σ₁σ₂ = |1 + c|, so ‖S‖₂ = max(1, σ₁) exactly (the former 1 + s ≥ it).

    Evaluated without cancellation: with D = 1 + c = post/pre, σ₁² = (T + √(T² − 4D²))/2, T = s² + 2D and
    T² − 4D² = (T − 2D)(T + 2D) = s²(s² + 4D). Where D ≥ 0 (every crossing: both rates have one sign;
    sliding entry: D = 0) all terms are ≥ 0 and σ₁ carries a few ε relative, covered by the 8ε margin.
    Where D < 0 (rates of opposite signs) s² + 4D ≥ (c + 2)² ≥ 0 (s ≥ |c|) may cancel, so each sum is
    raised by its rounding bound, 4ε times its terms' magnitudes. (The former T² − 4D² lost up to ~10⁻¹³ of
    σ₁ near σ₁ ≈ σ₂, below the exact value: found by tests/test_saltation_structure.py.)"""
    if pre == 0:
        raise ValueError("saltation_norm: the rate before the event (pre) must be nonzero")
    eps = float(np.finfo(float).eps)
    D = post / pre
    s2 = (dF * grad_z / abs(pre)) ** 2
    T = s2 + 2 * D + 4 * eps * (s2 + 2 * abs(D))
    disc = s2 * (max(0.0, s2 + 4 * D) + 4 * eps * (s2 + 4 * abs(D)))
    sigma1 = math.sqrt(max(0.0, T + math.sqrt(disc)) / 2)
    return max(1.0, sigma1 * (1 + 8 * eps))


def saltation_inputs_error(pre: float, dF: float, grad_z: float, e_dF: float, e_pre: float, e_v: float) -> float:
    """A bound on ‖S* − Ŝ‖₂ for saltation matrices S = I + uvᵀ, u = ΔF/ż_pre, v = ∇z, where Ŝ is formed from
    computed ΔF̂, ż̂_pre, v̂ (``dF`` = ‖ΔF̂‖₂, ``grad_z`` = ‖v̂‖₂, ``pre`` = ż̂_pre) and S* from any exact ones
    within ‖ΔF* − ΔF̂‖ ≤ e_dF, |ż* − ż̂| ≤ e_pre, ‖v* − v̂‖ ≤ e_v (docs/theory.md F, "Kinks (saltation)", *Its
    inputs' errors*): u*v*ᵀ − ûv̂ᵀ = (u* − û)v*ᵀ + û(v* − v̂)ᵀ, and

        ‖u* − û‖ ≤ ‖ΔF* − ΔF̂‖/|ż*| + ‖ΔF̂‖·|1/ż* − 1/ż̂| ≤ (e_dF + ‖û‖e_pre)/(|ż̂| − e_pre),

    so ‖S* − Ŝ‖ ≤ ‖u* − û‖(‖v̂‖ + e_v) + ‖û‖e_v; ×(1 + 16ε) for this evaluation's own roundings (a few
    operations on nonnegative terms). ∞ where e_pre ≥ |ż̂_pre|: the rate may be 0, S unbounded."""
    eps = float(np.finfo(float).eps)
    if not e_pre < abs(pre):
        return math.inf
    u = dF / abs(pre)
    e_u = (e_dF + u * e_pre) / (abs(pre) - e_pre)
    return (e_u * (grad_z + e_v) + u * e_v) * (1 + 16 * eps)
