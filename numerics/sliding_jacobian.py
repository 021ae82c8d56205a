"""The Jacobian of the Filippov field on a sliding stretch, as a dense matrix (small nets).

On a stretch where the entries S slide, the flow follows G(θ) = F(θ, μ(θ)), F(θ, μ) = −∇f_μ(θ) the gradient with
the masks fixed (μ at S) and μ(θ) solving ż_S = Z(θ)ᵀF = 0, Z = [∇_θz_s]. Its Jacobian (docs/theory.md F, "The
growth on a sliding stretch") is

    J = −(I − Π)H_μ − Z(ZᵀZ)⁻¹N = −H_μ + Z(ZᵀZ)⁻¹(ZᵀH_μ − N),

H_μ = ∇²f_μ, Π = Z(ZᵀZ)⁻¹Zᵀ, N the rows (∇²z_s·G)ᵀ: C = ∂F/∂μ has range Z and ∂ż/∂μ = ZᵀC on the surface, also
where a sliding entry lies below another of its sample (∇z of the upper one moves with the lower one's weight, by
(∂z_upper/∂a_lower)·∇z_lower, which meets F in ż_lower = 0). The error of the float tier's
state obeys e' = Je to first order (both it and the exact flow follow G; the computed state's small distance
z_S(θ̂) to the surface does not enter a linear propagator), which :mod:`numerics.dense_propagation` multiplies
as matrices. :func:`entry_jet` gives ∇_θz of one pre-activation and its derivative along a direction, by
forward-mode differentiation of the backward pass written out (z is a polynomial in θ with the masks fixed).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

EPS = float(np.finfo(float).eps)


def entry_jet(Ws: Sequence[np.ndarray], bs: Sequence[np.ndarray] | None, masks: Sequence[np.ndarray],
              x: np.ndarray, layer: int, unit: int, dWs: Sequence[np.ndarray],
              dbs: Sequence[np.ndarray] | None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(∇_θz, ∇²z·d) for z = z_layer[unit] of the sample with input ``x`` (``layer`` ≥ 1: z_1 = W_0x + b_0,
    a_l = m_l ⊙ z_l, z_{l+1} = W_la_l + b_l), the masks m_l = ``masks[l − 1]`` (this sample's column) fixed;
    d = (``dWs``, ``dbs``) a direction in θ. Blocks in θ's order (W_0, b_0, W_1, b_1, … or W_0, W_1, …), zero
    above the layer. Forward: ż_{l+1} = Ẇ_la_l + W_lȧ_l + ḃ_l, ȧ_l = m_l ⊙ ż_l; backward: the signal g_l at
    z_{l+1} starts as e_unit at z_layer, ∂z/∂W_l = g_la_lᵀ, ∂z/∂b_l = g_l, g_{l−1} = m_l ⊙ (W_lᵀg_l); the
    tangents follow by the product rule (ġ_{l−1} = m_l ⊙ (Ẇ_lᵀg_l + W_lᵀġ_l))."""
    a, da = [np.asarray(x, dtype=float)], [np.zeros(len(x))]
    for l in range(layer - 1):
        z = Ws[l] @ a[l] + (bs[l] if bs is not None else 0.0)
        dz = dWs[l] @ a[l] + Ws[l] @ da[l] + (dbs[l] if dbs is not None else 0.0)
        a.append(masks[l] * z)
        da.append(masks[l] * dz)
    g = np.zeros(Ws[layer - 1].shape[0])
    g[unit] = 1.0
    dg = np.zeros_like(g)
    nb = 2 if bs is not None else 1
    blocks = [B for W, b in zip(Ws, bs) for B in (W, b)] if bs is not None else list(Ws)
    grad = [np.zeros_like(B, dtype=float) for B in blocks]
    dgrad = [np.zeros_like(B, dtype=float) for B in blocks]
    for l in range(layer - 1, -1, -1):
        grad[nb * l] = np.outer(g, a[l])
        dgrad[nb * l] = np.outer(dg, a[l]) + np.outer(g, da[l])
        if bs is not None:
            grad[nb * l + 1] = g.copy()
            dgrad[nb * l + 1] = dg.copy()
        if l > 0:
            g, dg = masks[l - 1] * (Ws[l].T @ g), masks[l - 1] * (dWs[l].T @ g + Ws[l].T @ dg)
    return grad, dgrad


def sliding_jacobian(H: np.ndarray, Z: np.ndarray, N: np.ndarray) -> tuple[np.ndarray, float]:
    """(J̃, ε_J): J̃ = fl(−H + Z(ZᵀZ)⁻¹(ZᵀH − N)) for the dense Hessian H with the field's masks (P × P),
    Z = [∇z_s] (P × k) and N = [∇²z_s·G]ᵀ (k × P); ε_J ≥ ‖J̃ − J‖₂ given H, Z, N within 8Pε of their
    Frobenius norms (the dense path's floor, the premise of the λ_min samples): with σ = σ_min(Z) (from the
    SVD, its own backward error in the floor), ‖Z(ZᵀZ)⁻¹‖ ≤ 1/σ and the rounding of the solve and products
    taken as 8Pε·κ(Z)² relative to each term's size, ε_J = 8Pε·[‖H‖_F(1 + 2κ²)·(1 + ‖Z‖_F/σ) +
    ‖N‖_F(1 + 2κ²)/σ]. These are 10⁻¹³-relative terms beside the pieces' move."""
    P = H.shape[0]
    sv = np.linalg.svd(Z, compute_uv=False)
    if not sv[-1] > 0:
        raise FloatingPointError("sliding Jacobian: the sliding gradients are dependent")
    sigma, kap = float(sv[-1]), float(sv[0] / sv[-1])
    G = Z.T @ Z
    X = np.linalg.solve(G, Z.T @ H - N)
    J = Z @ X - H
    floor = 8 * P * EPS * (1 + 2 * kap * kap)
    hf, zf, nf = (float(np.linalg.norm(M)) for M in (H, Z, N))
    eps = floor * (hf * (1 + zf / sigma) + nf / sigma) * (1 + 1e-10)
    return J, eps


__all__ = ["entry_jet", "sliding_jacobian"]
