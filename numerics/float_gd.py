"""Gradient descent on float64 layered nets, in place: the generic backpropagation with its buffers kept.

This is :func:`numerics.gradients._backprop` (the one formula for the gradient of a layered net) run
on preallocated float64 buffers, with the GD update fused into the backward pass:

    forward:   z_j = V_j a_{j-1},  a_j = m_j ⊙ z_j,  r = z_N − T,  f = (c/2)‖r‖²
               (cross-entropy, docs/theory.md E3: r = softmax(z_N) − E, f = c Σ_i [lse(z_i) − z_{c_i i}])
    backward:  δ_N = c·r;  for j = N..1:  δ_{j-1} = m_{j-1} ⊙ (V_jᵀ δ_j)  (with V_j before its update),
               then V_j ← V_j − η δ_j a_{j-1}ᵀ  (BLAS ger/gemm on V_j's memory: no temporary).

The update of V_j waits until δ_{j-1} has used it, and a_{j-1} (an alias of V_{j-1} for the linear
identity-input net) is changed only later in the loop, so the step is exactly θ − η∇f(θ) up to
rounding. V is the net :func:`numerics.gradients.evaluate` chooses (the transposed one for an
identity-input linear net with d_N < d_0), as views of the user's C-ordered copies W_j.

Rounding differs from the generic path only in the update: ger forms w + (−ηδ_i)a_k where the
generic path forms w − (δ_i a_k)η; the tests hold the two equal to a derived bound.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theory import Objective

from . import cross_entropy
from .backends import BACKENDS, positive, sumsq
from .gradients import _consts


def applies(obj: Any, kind: str) -> bool:
    """The fast path serves float64 layered nets (deep linear and leaky ReLU; square losses and
    cross-entropy)."""
    # biases (θ = [W_1, b_1, ...]) take the generic formula: the chain below holds weights only
    return kind == "float" and isinstance(obj, Objective) and not obj.model.bias


_BLAS: list = []


def _blas() -> tuple:
    """(dger, dgemm), imported on first use: scipy.linalg costs ~0.1 s of import time."""
    if not _BLAS:
        from scipy.linalg.blas import dgemm, dger

        _BLAS[:] = [dger, dgemm]
    return tuple(_BLAS)


def _rank_update(W: np.ndarray, alpha: float, D: np.ndarray, A: np.ndarray) -> None:
    """W += alpha·D Aᵀ in W's own memory (W C- or F-contiguous; D (m×n), A (p×n) C-contiguous)."""
    dger, dgemm = _BLAS
    n = D.shape[1]
    if W.flags.f_contiguous:
        if n == 1:
            out = dger(alpha, D.reshape(-1), A.reshape(-1), a=W, overwrite_a=1)
        else:  # D = (Dᵀ)ᵀ with Dᵀ F-contiguous: no copy on the way into BLAS
            out = dgemm(alpha, D.T, A.T, beta=1.0, c=W, trans_a=1, overwrite_c=1)
    else:  # Wᵀ += alpha·A Dᵀ on the F-contiguous view Wᵀ
        Wt = W.T
        if n == 1:
            out = dger(alpha, A.reshape(-1), D.reshape(-1), a=Wt, overwrite_a=1)
        else:
            out = dgemm(alpha, A.T, D.T, beta=1.0, c=Wt, trans_a=1, overwrite_c=1)
        W = Wt
    if out is not W and not np.shares_memory(out, W):  # BLAS wrapper had to copy: write back
        W[...] = out


class FloatChain:
    """The state θ of a float64 layered net with the buffers of one GD step (module docstring)."""

    def __init__(self, obj: Objective, Ws: list[np.ndarray]) -> None:
        b = BACKENDS["float"]
        k = _consts(obj, b)
        _blas()
        # owned C-ordered copies: the user's θ_0 is never written to
        self.W = [np.array(w, dtype=np.float64, order="C") for w in Ws]
        self.alpha = obj.model.alpha
        self.half_c, self.c = k["half_c"], k["c"]
        self.labels = k["labels"]  # cross-entropy: the head is softmax − one-hot, not z − T
        # the same choice of net as numerics.gradients.evaluate
        if k["X"] is None and self.alpha == 1 and obj.widths[-1] < obj.widths[0]:
            self.V, self.X, self.T = [w.T for w in reversed(self.W)], None, k["TT"]
        else:
            self.V, self.X, self.T = list(self.W), k["X"], k["T"]
        n = self.T.shape[1]
        N = len(self.V)
        self.z = [np.empty((v.shape[0], n)) for v in self.V]          # forward outputs
        self.d = [np.empty((v.shape[1], n)) for v in self.V[1:]]      # δ_{j} for j = 1..N−1
        self.r = np.empty((self.V[-1].shape[0], n))
        self.acts: list[Any] = [None] * N
        self.masks: list[Any] = [None] * max(N - 1, 0)

    def forward(self) -> float:
        """f at the current θ (leaves the activations for :meth:`step`)."""
        V, X, alpha = self.V, self.X, self.alpha
        N = len(V)
        self.acts[0] = X
        if X is None:
            z = V[0]
        else:
            z = np.matmul(V[0], X, out=self.z[0])
        for j in range(1, N):
            if alpha != 1:
                m = BACKENDS["float"].mask(positive(z), alpha)
                self.masks[j - 1] = m
                z = np.multiply(z, m, out=self.z[j - 1])
            self.acts[j] = z
            z = np.matmul(V[j], z, out=self.z[j])
        if self.labels is not None:
            f = float(cross_entropy.value(z, self.labels, self.c))
            np.subtract(cross_entropy.softmax(z), self.T, out=self.r)
            return f
        r = np.subtract(z, self.T, out=self.r)
        return float(self.half_c * sumsq(r))

    def step(self, eta: float) -> None:
        """θ ← θ − η∇f(θ) after :meth:`forward` at θ."""
        V, acts, alpha = self.V, self.acts, self.alpha
        delta = np.multiply(self.r, self.c, out=self.r)
        for j in range(len(V) - 1, -1, -1):
            nxt = np.matmul(V[j].T, delta, out=self.d[j - 1]) if j > 0 else None
            a = acts[j]
            if a is None:
                np.multiply(delta, -eta, out=delta)
                V[j] += delta
            else:
                _rank_update(V[j], -eta, delta, a)
            if j > 0:
                if alpha != 1:
                    np.multiply(nxt, self.masks[j - 1], out=nxt)
                delta = nxt

    def theta(self) -> list[np.ndarray]:
        """A copy of θ (C-ordered float64 arrays)."""
        return [w.copy() for w in self.W]
