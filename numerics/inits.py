"""Initialisations, seeded: near-zero balanced and Gaussian (docs/theory.md C1), and Xavier/Glorot.

Balanced (D_j = W_{j+1}ᵀW_{j+1} − W_jW_jᵀ = 0 for all j, docs/theory.md B3/B5): draw the end-to-end
matrix W(0) = scale·G/‖G‖_F (G Gaussian), take its thin SVD W(0) = U Σ Vᵀ of rank r = min(d_0, d_N),
draw orthonormal frames U_j (d_j × r) for the hidden layers and set U_0 = V, U_N = U,

    W_j = U_j Σ^{1/N} U_{j-1}ᵀ,

so that W_N⋯W_1 = UΣVᵀ = W(0) and W_{j+1}ᵀW_{j+1} = U_jΣ^{2/N}U_jᵀ = W_jW_jᵀ. For scalar output this is
the recipe of docs/theory.md C1 (u_j unit vectors, s = ‖w(0)‖^{1/N}). It needs every hidden width ≥ r.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theory import Objective
from theory.arrays import check_seed

from .gradients import check_objective


def _layered(obj: Any) -> Objective:
    obj = check_objective(obj)
    if not isinstance(obj, Objective):
        raise TypeError("initialisations are defined for layered networks (theory.Objective), not quadratics")
    return obj


def _check_scale(scale: Any) -> float:
    scale = float(scale)
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a finite number > 0, got {scale!r}")
    return scale


def balanced_init(obj: Any, scale: float = 1e-2, seed: int = 0) -> list[np.ndarray]:
    """Balanced float64 weights with ‖W_N⋯W_1‖_F = ``scale`` (module docstring has the construction)."""
    obj = _layered(obj)
    scale = _check_scale(scale)
    d = obj.widths
    N = obj.depth
    r = min(d[0], d[-1])
    if min(d[1:-1], default=r) < r:
        raise ValueError(
            f"balanced_init needs every hidden width >= min(d_0, d_N) = {r}, got widths {d}; "
            "use gaussian_init for bottleneck architectures"
        )
    rng = np.random.default_rng(check_seed(seed))
    G = rng.standard_normal((d[-1], d[0]))
    W0 = scale * G / np.linalg.norm(G)
    U, s, Vt = np.linalg.svd(W0, full_matrices=False)
    frames = [Vt.T]
    for j in range(1, N):
        Q, R = np.linalg.qr(rng.standard_normal((d[j], r)))
        frames.append(Q * np.sign(np.diag(R)))  # sign fix: Q is then Haar distributed
    frames.append(U)
    root = s ** (1.0 / N)
    Ws = [(frames[j] * root) @ frames[j - 1].T for j in range(1, N + 1)]
    if obj.model.bias:  # zero biases keep every neuron balanced in the sense of docs/theory.md E2
        return [x for W in Ws for x in (W, np.zeros(W.shape[0]))]
    return Ws


def gaussian_init(obj: Any, scale: float = 1e-2, seed: int = 0) -> list[np.ndarray]:
    """Independent N(0, scale²) entries in every layer (approximately balanced when small)."""
    obj = _layered(obj)
    scale = _check_scale(scale)
    rng = np.random.default_rng(check_seed(seed))
    return [scale * rng.standard_normal(s) for s in obj.shapes]


def xavier_init(obj: Any, seed: int = 0, distribution: str = "uniform", gain: float = 1.0) -> list[np.ndarray]:
    """Glorot & Bengio (2010) initialisation, seeded, for W_j of shape (fan_out, fan_in) = (d_j, d_{j−1}).

    ``"uniform"``: entries U(−a, a), a = gain·√(6/(fan_in + fan_out)) (their eq. 16, "normalized
    initialization"); ``"normal"``: N(0, σ²), σ² = gain²·2/(fan_in + fan_out). Both have variance
    gain²·2/(fan_in + fan_out) (uniform: a²/3). The same convention as ``torch.nn.init.xavier_*_``.
    Biases (nets with ``bias=True``, θ = [W_1, b_1, …]) start at 0, as Glorot & Bengio's, so the weights
    are those of the bias-free net with the same seed (the draws skip the biases).
    """
    obj = _layered(obj)
    if distribution not in ("uniform", "normal"):
        raise ValueError(f"distribution must be 'uniform' or 'normal', got {distribution!r}")
    gain = float(gain)
    if not (np.isfinite(gain) and gain > 0):
        raise ValueError(f"gain must be a finite number > 0, got {gain!r}")
    rng = np.random.default_rng(seed)
    out = []
    for shape in obj.shapes:
        if len(shape) == 1:  # a bias
            out.append(np.zeros(shape))
            continue
        fan_out, fan_in = shape
        if distribution == "uniform":
            a = gain * np.sqrt(6.0 / (fan_in + fan_out))
            out.append(rng.uniform(-a, a, size=(fan_out, fan_in)))
        else:
            out.append(gain * np.sqrt(2.0 / (fan_in + fan_out)) * rng.standard_normal((fan_out, fan_in)))
    return out
