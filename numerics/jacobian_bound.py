"""An upper bound of the stacked Jacobian's norm ‖J‖₂ = ‖Σ_i J_iᵀJ_i‖₂^{1/2} (J_i = ∂h_i/∂θ over all
samples) along a float-tier run, for the Hessian bounds of :mod:`numerics.hessian_lipschitz`.

B₃'s Gauss–Newton terms are c·Σ_i⟨D²h_i[u,u], J_iu⟩-sums; by Cauchy–Schwarz over the samples they are at
most c·(Σ_i‖D²h_i[u,u]‖²)^{1/2}·‖Ju‖ ≤ c·δ₂(Σ‖x̃_i‖²)^{1/2}·‖J‖₂. Without a measured ‖J‖₂ the bound takes
‖J‖₂ ≤ δ₁(Σ‖x̃_i‖²)^{1/2} — every sample's Jacobian at the product of the layer norms — ~5× ‖J‖₂ on the
64-50-50-10 digits net. Here (docs/theory.md F, "The stacked Jacobian's norm"):

* **at a point** (:func:`jacobian_norm_bound`): J = [J^{(1)} … J^{(N)}] by layers, so ‖J‖₂² ≤ Σ_l‖J^{(l)}‖₂²;
  J^{(l)}U = (G_{l,i}Uã_{l,i})_i with G_{l,i} = ∂h_i/∂z_l (per sample, its masks) and ã_{l,i} the layer's
  input (with a 1 for the bias), so ‖J^{(l)}U‖² ≤ Σ_i‖G_{l,i}‖₂²‖Uã_{l,i}‖² ≤ ‖U‖_F²·λ_max(Σ_i‖G_{l,i}‖₂²
  ã_{l,i}ã_{l,i}ᵀ): a small Gram matrix per layer and a d×d one per sample;
* **carried** (:class:`CarriedJacobian`): inside a step the masks are fixed and ‖dJ/dt‖ ≤ (Σ_i‖D²h_i[θ',·]‖²)^{1/2}
  ≤ δ₂‖θ'‖(Σ‖x̃_i‖²)^{1/2}, so ‖J‖ grows by at most h·δ₂·sup‖θ'‖·(Σ‖x̃_i‖²)^{1/2} over a step; at a plain
  crossing ‖Σ_i J_iᵀJ_i‖ changes by at most the exact rank-two bound of
  :func:`numerics.hessian_lipschitz.crossing_jump_bound` (``gauss_newton=True``). The point bound is
  computed again when the carried one has grown by ``REL`` over it, after any other event, and on sliding
  stretches (their masks move) the layer-norm bound is used.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

EPS = float(np.finfo(float).eps)


def jacobian_norm_bound(obj: Any, theta: Sequence[np.ndarray], masks: Sequence[np.ndarray]) -> float:
    """J₀ ≥ ‖J‖₂ = ‖Σ_i J_iᵀJ_i‖₂^{1/2} at θ for the activation pattern ``masks`` (one (d_l, n) array per
    hidden layer: 1 or α per unit and sample), the loss's inputs x_i (module docstring):
    J₀² = Σ_l λ_max(Σ_i g_{l,i}² ã_{l,i}ã_{l,i}ᵀ), g_{l,i} ≥ ‖G_{l,i}‖₂ from the eigenvalues of G_{l,i}G_{l,i}ᵀ.

    Rounding: each eigenvalue is raised by its backward error (8·m·ε·‖·‖_F for an m×m symmetric matrix,
    as elsewhere in gfgd), and the whole by γ_n·(the same sums on |inputs|) ≤ γ_n·shadow², shadow =
    (N·Σ‖x̃_i‖²)^{1/2}·Π_l max(1, ‖Ã_l‖_F)
    (all entries are sums of products of the inputs, |masks| ≤ 1), added to J₀² as γ_n·shadow²."""
    Ws, bs = obj.split([np.asarray(w, dtype=np.float64) for w in theta])
    N = len(Ws)
    X = np.asarray(obj.loss.inputs, dtype=np.float64)
    n = X.shape[1]
    acts = [X]
    for l in range(N - 1):
        acts.append(np.asarray(masks[l], dtype=np.float64) * (Ws[l] @ acts[-1] + (bs[l].reshape(-1, 1) if bs is not None else 0.0)))
    d = Ws[-1].shape[0]
    total = 0.0
    G = None
    for l in range(N - 1, -1, -1):
        if l == N - 1:
            g2 = np.ones(n)
        else:
            G = (np.broadcast_to(Ws[l + 1], (n,) + Ws[l + 1].shape) if G is None else np.matmul(G, Ws[l + 1])) \
                * np.asarray(masks[l], dtype=np.float64).T[:, None, :]  # (n, d, d_l): ∂h_i/∂z_l
            GG = np.matmul(G, G.transpose(0, 2, 1))
            g2 = np.linalg.eigvalsh(GG)[:, -1] + 8 * d * EPS * np.sqrt(np.sum(GG * GG, axis=(1, 2)))
        At = acts[l] if bs is None else np.vstack([acts[l], np.ones((1, n))])
        # λ_max(Ã diag(g²) Ãᵀ) = λ_max(diag(g) ÃᵀÃ diag(g)): the smaller of the two Gram matrices
        S = (At * g2) @ At.T if At.shape[0] <= n else (At * np.sqrt(g2)).T @ (At * np.sqrt(g2))
        total += float(np.linalg.eigvalsh(S)[-1]) + 8 * S.shape[0] * EPS * float(np.linalg.norm(S))
    n_chain = sum(obj.widths) + d + 8
    gam = 2 * n_chain * EPS / (1 - n_chain * EPS)
    xn2 = float(np.sum(X * X)) + (n if bs is not None else 0.0)
    # ‖|J|‖_F ≤ (N·Σ‖x̃_i‖²)^{1/2}·Π_l max(1, ‖Ã_l‖_F) bounds every sum the computation forms, in absolute values
    shadow = math.sqrt(N * xn2) * math.prod(
        max(1.0, math.sqrt(float(np.sum(W * W)) + (float(np.sum(b * b)) + 1.0 if b is not None else 0.0)))
        for W, b in zip(Ws, bs if bs is not None else [None] * N))
    return math.sqrt(total + gam * shadow * shadow) * (1 + 1e-10)


class CarriedJacobian:
    """A bound of ‖J‖₂ carried through the steps and events of a float-tier run (module docstring).

    ``step_bound(theta, masks, h, growth, sliding)`` → Jb ≥ sup over the step of ‖J‖₂ (``growth`` ≥
    sup‖dJ/dt‖ on it; None on sliding stretches: no bound), and the carried value moves to the step's
    end; ``crossing(G)`` adds G ≥ ‖ΔΣJ_iᵀJ_i‖ at a plain crossing; ``reset()`` after any other event.
    ``computed`` counts the point bounds taken."""

    REL = 0.25  # the point bound is taken again once the carried one has grown 25 % above it

    def __init__(self, obj: Any) -> None:
        self.obj = obj
        self._sq: float | None = None  # bound of ‖J‖₂² at the current time
        self._ref = 0.0
        self.computed = 0

    def step_bound(self, theta: Sequence[np.ndarray], masks: Sequence[np.ndarray], h: float, growth: float,
                   sliding: bool) -> float | None:
        if sliding:
            self._sq = None
            return None
        if self._sq is None or self._sq > (1 + self.REL) ** 2 * self._ref:
            j0 = jacobian_norm_bound(self.obj, theta, masks)
            self._sq = self._ref = j0 * j0
            self.computed += 1
        jb = math.sqrt(self._sq) + h * growth
        self._sq = jb * jb
        return jb

    def crossing(self, gn_jump: float) -> None:
        if self._sq is not None:
            self._sq += gn_jump

    def reset(self) -> None:
        self._sq = None
