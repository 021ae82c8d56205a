"""Conserved quantities of gradient flow on homogeneous networks (docs/theory.md B3, B4).

* ``balancedness``: D_j = W_{j+1}ᵀW_{j+1} − W_jW_jᵀ (j = 1..N−1), constant along GF on linear nets.
* ``layer_norm_gaps``: ‖W_{j+1}‖_F² − ‖W_j‖_F², constant along GF on any homogeneous net.
* ``neuron_norm_gaps``: for hidden neuron i of layer j, ‖W_j[i, :]‖² − ‖W_{j+1}[:, i]‖²
  (incoming minus outgoing), constant along GF on leaky-ReLU nets.
* ``gd_drift``: the exact change of D_j in one GD step, η²(G_{j+1}ᵀG_{j+1} − G_jG_jᵀ) (B4).

All run in the arithmetic of the entries (exact rationals make B4 an identity to check with ==).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def balancedness(theta: Sequence[Any]) -> list[np.ndarray]:
    """[D_1, ..., D_{N−1}], D_j = W_{j+1}ᵀW_{j+1} − W_jW_jᵀ (d_j × d_j)."""
    W = [np.asarray(w) for w in theta]
    return [W[j + 1].T @ W[j + 1] - W[j] @ W[j].T for j in range(len(W) - 1)]


def layer_norm_gaps(theta: Sequence[Any]) -> list[Any]:
    """[‖W_{j+1}‖_F² − ‖W_j‖_F²] for j = 1..N−1."""
    W = [np.asarray(w) for w in theta]
    return [(W[j + 1] * W[j + 1]).sum() - (W[j] * W[j]).sum() for j in range(len(W) - 1)]


def neuron_norm_gaps(theta: Sequence[Any], bias: bool | None = None) -> list[np.ndarray]:
    """Per hidden layer j: the vector (‖W_j[i,:]‖² − ‖W_{j+1}[:,i]‖²)_i over its d_j neurons.

    With biases (θ = [W_1, b_1, W_2, b_2, ...]; ``bias=None`` detects them by the 1-D blocks) the
    incoming part includes the bias: ‖(W_j[i,:], b_j[i])‖² − ‖W_{j+1}[:,i]‖² (docs/theory.md E2).
    """
    blocks = [np.asarray(w) for w in theta]
    if bias is None:
        bias = len(blocks) >= 2 and blocks[1].ndim == 1
    W = blocks[0::2] if bias else blocks
    out = []
    for j in range(len(W) - 1):
        gap = (W[j] * W[j]).sum(axis=1) - (W[j + 1] * W[j + 1]).sum(axis=0)
        if bias:
            gap = gap + blocks[2 * j + 1] * blocks[2 * j + 1]
        out.append(gap)
    return out


def gd_drift(grads: Sequence[Any], eta: Any) -> list[np.ndarray]:
    """η²(G_{j+1}ᵀG_{j+1} − G_jG_jᵀ): D_j(θ − η∇f) − D_j(θ) exactly, for linear nets (docs/theory.md B4).

    Why it is exact: D_j(θ − ηG) − D_j(θ) = −η(G_{j+1}ᵀW_{j+1} + W_{j+1}ᵀG_{j+1} − G_jW_jᵀ − W_jG_jᵀ)
    + η²(G_{j+1}ᵀG_{j+1} − G_jG_jᵀ), and the first bracket vanishes since W_{j+1}ᵀG_{j+1} = G_jW_jᵀ
    (both equal S_{j+1}ᵀ∇φ P_jᵀ for any loss of W_N⋯W_1). On homogeneous nets the same argument per
    neuron (⟨W_j[i,:], G_j[i,:]⟩ = ⟨W_{j+1}[:,i], G_{j+1}[:,i]⟩) gives
    neuron_norm_gaps(θ − ηG) − neuron_norm_gaps(θ) = η²·neuron_norm_gaps(G).
    """
    return [eta * eta * d for d in balancedness(grads)]
