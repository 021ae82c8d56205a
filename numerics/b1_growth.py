"""The growth rate of a deep linear net's errors from THEORY B1, with no eigensolver.

For f(θ) = φ(W_N⋯W_1) with φ convex and C² (the whitened square loss, the square loss and cross-entropy on
data are convex in the end-to-end matrix W), B1 (docs/theory.md B1, derived) gives

    max(0, −λ_min(∇²f(θ))) ≤ (N − 1)·‖∇φ(W)‖₂·max_{j<j'} Π_{i∉{j,j'}} ‖W_i‖₂ ,

so over a step of length h, with s_i ≥ sup_step ‖W_i(t)‖₂ (the float tier's layer-norm bounds) and W at
the centres t_c of k equal cells of the step,

    μ̂ = (N − 1)·(max_c ‖∇φ(W(t_c))‖₂ + δ_g + L_φ·((h/2k)·V + δ_t))·max_{j<j'} Π_{i∉{j,j'}} s_i

bounds max(0, −λ_min) on the whole step: ∇φ is L_φ-Lipschitz in W (Frobenius to Frobenius, ≥ spectral),
W(t) moves by ≤ (h/2k)·V within a cell, V ≥ sup‖Ẇ‖_F ≤ Σ_j Π_{i≠j} s_i·sup‖Ẇ_j‖_F; δ_t ≤ Σ_j Π_{i≠j} s_i·
γ_{p+2}Σ_k‖c_{j,k}‖_F h^k bounds how far the evaluated layers at t_c lie from the series' values, and δ_g
the float64 rounding of each computed ‖∇φ‖₂ (:meth:`B1Growth.gradient_norms`). L_φ: 1 for the
whitened loss (φ = ½‖W − Φ‖²), c·‖X‖₂² for the square loss and c·‖X‖₂²/2 for cross-entropy (∇²φ[V, V] =
c·Σ_i ℓ''[Vx_i, Vx_i], ℓ'' ≤ 1 and ≤ ½ (the softmax's variance), Σ‖Vx_i‖² ≤ ‖V‖_F²‖X‖₂²).

Biases (square loss and cross-entropy on data). A layer z_j = W_j a_{j−1} + b_j 1ᵀ is the bias-free layer
Ŵ_j = [[W_j, b_j], [0, 1]] (hidden; Ŵ_N = [W_N, b_N]) on the inputs X̂ = [X; 1ᵀ], so f = g∘ι with
g(Ŵ_1, …, Ŵ_N) = φ̂(Ŵ_N⋯Ŵ_1), φ̂(M) = loss(M X̂) convex, and ι the affine map θ ↦ (Ŵ_j) whose linear part E
puts each parameter into its own entry (EᵀE = I). Then ∇²f = Eᵀ∇²g E, so λ_min(∇²f) ≥ min(0, λ_min(∇²g)) and B1
for g bounds max(0, −λ_min(∇²f)): the same formula on the augmented layers (‖Ŵ_j‖₂² ≤ ‖[W_j b_j]‖₂² + 1, the
bounds :func:`numerics.hessian_lipschitz.layer_norm_bounds` gives for biased nets) and on X̂ (L_φ with ‖X̂‖₂).

It is a theorem, not a sample: unlike :class:`numerics.error_growth.MeasuredGrowth` above 800 parameters
(Lanczos, whose value bounds λ_min only if it found the lowest eigenvalue), it rests on no premise, and it
costs a few small SVDs per step. It is looser: 1.7–2.0× −λ_min along the ec21 report's linear row
(docs/theory.md G3).
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any, Sequence

import numpy as np

EPS = float(np.finfo(float).eps)


def _at(stacks: Sequence[np.ndarray], ts: np.ndarray) -> list[np.ndarray]:
    """Each layer's Taylor stack (p + 1, rows, cols) at the times ``ts``: stacks (len(ts), rows, cols)."""
    out = []
    for C in stacks:
        V = ts[:, None] ** np.arange(C.shape[0])[None, :]  # (k, p + 1)
        out.append((V @ C.reshape(C.shape[0], -1)).reshape(len(ts), *C.shape[1:]))
    return out


def applies(obj: Any) -> bool:
    """Whether B1 bounds the objective's negative curvature: a deep linear net of depth ≥ 1 (with or without
    biases: module docstring) whose loss is convex in the end-to-end matrix (whitened square, square,
    cross-entropy)."""
    from theory import DeepLinear
    from theory.losses import CrossEntropy, SquareLoss, WhitenedSquare

    return (isinstance(getattr(obj, "model", None), DeepLinear)
            and isinstance(obj.loss, (WhitenedSquare, SquareLoss, CrossEntropy)))


def augmented(blocks: Sequence[np.ndarray], bias: bool) -> list[np.ndarray]:
    """Per-layer stacks (k, rows, cols) of the bias-free net B1 is applied to (module docstring, "Biases"):
    ``blocks`` are θ's blocks as stacks (k, …) — W_1, b_1, W_2, b_2, … with biases as (k, d_j) or
    (k, d_j, 1) — and each hidden layer becomes [[W_j, b_j], [0, 1]], the output layer [W_N, b_N]. The
    constant 1 sits at index 0 of the stack only: the state itself for a stack of one state, the order-0
    coefficient for a Taylor stack (p + 1, …), whose higher coefficients of a constant are 0. Without
    biases the blocks are returned as they are."""
    if not bias:
        return [np.asarray(B, dtype=float) for B in blocks]
    Ws, bs = blocks[0::2], blocks[1::2]
    out = []
    for j, (W, b) in enumerate(zip(Ws, bs)):
        W = np.asarray(W, dtype=float)
        b = np.asarray(b, dtype=float).reshape(W.shape[0], W.shape[1], 1)
        top = np.concatenate([W, b], axis=2)
        if j < len(Ws) - 1:
            row = np.zeros((W.shape[0], 1, W.shape[2] + 1))
            row[0, 0, -1] = 1.0
            top = np.concatenate([top, row], axis=1)
        out.append(top)
    return out


class B1Growth:
    """Upper bounds of μ⁺ over the steps of a run of a deep linear net (module docstring); the interface the
    float Taylor tier uses of :class:`numerics.error_growth.MeasuredGrowth`."""

    track_norm = False
    last_norm = None
    step_norm = math.inf
    CELL_SHARE = 0.05  # the Lipschitz carry over a cell, at most this share of the sampled ‖∇φ‖₂
    CELLS_MAX = 256

    def __init__(self, obj: Any) -> None:
        from theory.losses import CrossEntropy, WhitenedSquare

        self.obj = obj
        self.N = obj.depth
        self.bias = bool(obj.model.bias)
        loss = obj.loss
        self._ce = isinstance(loss, CrossEntropy)
        if isinstance(loss, WhitenedSquare):  # (theory refuses it with biases)
            self.L_phi, self._xn = 1.0, None
            self._Phi = np.asarray(loss.Phi, dtype=float)
        else:
            X = np.asarray(loss.inputs, dtype=float)  # (d0, n)
            if self.bias:  # X̂ = [X; 1ᵀ] (module docstring, "Biases")
                X = np.vstack([X, np.ones((1, X.shape[1]))])
            self._X, self._XT, self._c = X, np.ascontiguousarray(X.T), float(loss.weight)
            self._cols = np.arange(X.shape[1])
            self._labels = np.asarray(loss.labels, dtype=int) if self._ce else None
            self._Y = None if self._ce else np.asarray(loss.target, dtype=float)
            xn = float(np.linalg.norm(X, 2)) * (1 + 4 * EPS)
            c = float(loss.weight)
            self.L_phi = c * xn * xn * (0.5 if isinstance(loss, CrossEntropy) else 1.0) * (1 + 4 * EPS)
            self._xn = (xn, float(np.linalg.norm(X)), X.shape[1], c)
        self.integral = 0.0
        self.samples: list[float] = []  # μ̂ per step
        self.cells = 0  # ‖∇φ‖₂ samples taken

    def gradient_norm(self, theta: Sequence[np.ndarray]) -> float:
        """An upper bound of ‖∇φ(W)‖₂ at W = W_N⋯W_1 of ``theta`` (:meth:`gradient_norms` of one state; with
        biases φ̂ at the augmented layers' product, module docstring)."""
        return float(self.gradient_norms(augmented([np.asarray(M, dtype=float)[None] for M in theta], self.bias))[0])

    def gradient_norms(self, layers: Sequence[np.ndarray]) -> np.ndarray:
        """Upper bounds of ‖∇φ(W)‖₂ at W = W_N⋯W_1 (exact arithmetic) for a batch of states, ``layers`` the
        stacks (k, rows, cols) of each layer (with biases, the augmented layers of :func:`augmented`), from the
        float64 evaluation: ‖fl(∇φ)‖₂ plus the rounding of the
        product W (Higham's γ over the chain, ≤ N(d_max + 2)ε·Π‖W_i‖_F) times L_φ, and of ∇φ at the computed
        W: for the whitened loss that is W − Φ (one rounding per entry); on data, ∇φ = c·R Xᵀ with
        R = WX − Y (square) or softmax(WX) − Y, whose rounding is ≤ γ_{d0}‖W‖_F‖X‖_F (the product; the
        softmax is 1-Lipschitz) plus (d_N + 4)ε per entry of the softmax, and the last product adds
        γ_n‖R‖_F‖X‖_F."""
        W = layers[0]
        for M in layers[1:]:
            W = np.matmul(M, W)
        if self._xn is None:
            g = W - self._Phi
            rnd = EPS * np.linalg.norm(g, axis=(1, 2))
        else:
            R = self._residual(W)
            g = self._c * np.matmul(R, self._XT)
            xn, xf, n, c = self._xn
            d0, dN = W.shape[2], W.shape[1]

            def gam(k: int) -> float:
                return k * EPS / (1 - k * EPS)

            dR = gam(d0 + 1) * np.linalg.norm(W, axis=(1, 2)) * xf + (dN + 4) * EPS * math.sqrt(n * dN)
            rnd = c * (dR * xn + gam(n + 1) * np.linalg.norm(R, axis=(1, 2)) * xf)
        gn = np.linalg.norm(g, 2, axis=(1, 2)) * (1 + 4 * EPS)
        dmax = max(max(M.shape[1:]) for M in layers)
        fro = np.prod([np.linalg.norm(M, axis=(1, 2)) for M in layers], axis=0)
        dW = self.N * (dmax + 2) * EPS * 1.01 * fro
        return (gn + rnd + self.L_phi * dW) * (1 + 8 * EPS)

    def _phi_gradient(self, W: np.ndarray, R: np.ndarray | None = None) -> np.ndarray:
        """∇φ(W) in float64 by the evaluation :meth:`gradient_norm`'s rounding bound describes: W − Φ, or
        c·R Xᵀ (tested against :func:`numerics.gradient` of the one-layer net); ``R``: the residual if known."""
        loss = self.obj.loss
        if self._xn is None:
            return W - self._Phi
        return self._c * ((self._residual(W) if R is None else R) @ self._XT)

    def _residual(self, W: np.ndarray) -> np.ndarray:
        """R with ∇φ = c·R Xᵀ: WX − Y (square) or softmax(WX) − onehot(labels) (cross-entropy), in float64."""
        Z = W @ self._X  # (…, d_N, n)
        if self._ce:
            Z -= Z.max(axis=-2, keepdims=True)
            np.exp(Z, out=Z)
            Z /= Z.sum(axis=-2, keepdims=True)
            Z[..., self._labels, self._cols] -= 1.0
            return Z
        return Z - self._Y

    def step(self, ym: Sequence[np.ndarray], h: float, coeffs: Sequence[np.ndarray],
             layer_norms: Sequence[float]) -> float:
        """μ̂ ≥ sup over the step of max(0, −λ_min(∇²f)) (module docstring): ``ym`` θ at the step's midpoint
        (unused: the samples below include it), ``coeffs`` the step's Taylor stacks (p + 1, rows, cols) per
        block of θ (biases as columns), ``layer_norms`` s_i ≥ sup_step ‖W_i‖₂ (with biases of the augmented
        layers, as :func:`numerics.hessian_lipschitz.layer_norm_bounds` gives them). ‖∇φ(W(t))‖₂ is sampled at the centres of k equal cells
        of the step and carried over each cell by L_φ·(h/2k)·V; k is the smallest power of two that keeps
        that term within ``CELL_SHARE`` of the midpoint's sample (at most ``CELLS_MAX``; the bound holds for
        any k)."""
        N = self.N
        if N < 2:
            mu = 0.0  # φ convex in W = W_1: f is convex
        else:
            s = [float(x) for x in layer_norms]
            pairs = max(math.prod(s[i] for i in range(N) if i not in (j, k)) for j, k in combinations(range(N), 2))
            # sup‖Ẇ_j‖_F ≤ Σ_{k≥1} k‖c_k‖_F h^{k−1}
            vel, evl = [], []
            coeffs = augmented(coeffs, self.bias)
            for C in coeffs:
                C = np.asarray(C, dtype=float)
                ks = np.arange(1, C.shape[0])
                norms = np.sqrt(np.sum(C.reshape(C.shape[0], -1) ** 2, axis=1))
                vel.append(float(np.sum(ks * norms[1:] * h ** (ks - 1.0))))
                p1 = C.shape[0] + 1  # the evaluation Σ_k c_k t^k: γ_{p+2} relative to Σ_k |c_k| t^k
                evl.append(p1 * EPS / (1 - p1 * EPS) * float(np.sum(norms * h ** np.arange(C.shape[0]))))
            V = sum(math.prod(s[i] for i in range(N) if i != j) * vel[j] for j in range(N))
            d_t = sum(math.prod(s[i] for i in range(N) if i != j) * evl[j] for j in range(N))
            # k from the midpoint's sample (the bound holds for any k; this k keeps the carry near CELL_SHARE)
            stacks = [np.asarray(C, dtype=float) for C in coeffs]
            g_m = float(self.gradient_norms(_at(stacks, np.array([h / 2])))[0])
            k = 1
            while k < self.CELLS_MAX and self.L_phi * (h / (2 * k)) * V > self.CELL_SHARE * g_m:
                k *= 2
            ts = (np.arange(k) + 0.5) * (h / k)
            g = float(self.gradient_norms(_at(stacks, ts)).max())
            env = self.L_phi * ((h / (2 * k)) * V + d_t)
            self.cells += k
            mu = (N - 1) * (g + env) * pairs * (1 + 16 * EPS)
        self.samples.append(mu)
        self.integral += mu * h
        return mu

    def jump(self, bound: float) -> None:  # pragma: no cover - a linear net has no kinks
        raise AssertionError("B1Growth is for nets without kinks")


__all__ = ["B1Growth", "applies", "augmented"]
