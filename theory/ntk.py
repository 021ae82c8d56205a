"""The two-layer ReLU network of the NTK analysis and its Gram matrices (docs/theory.md D1).

Model (Du et al. 2019; Bu, Xu & Chen 2021): f(x) = m^{-1/2} Σ_r a_r relu(w_rᵀx) with a_r ∈ {±1} fixed
and the first layer W (m×d, rows w_r) trained on the loss L = ½ Σ_i (u_i − y_i)², u_i = f(x_i), over
data X (n×d) with unit rows. The Jacobian of u in W has rows ∂u_i/∂w_r = m^{-1/2} a_r 1{w_rᵀx_i ≥ 0} x_i,
so the error e = u − y obeys e' = −H(W) e under gradient flow, with the finite-width Gram

    H_ij(W) = (x_iᵀx_j / m) Σ_r 1{w_rᵀx_i ≥ 0, w_rᵀx_j ≥ 0}            (a_r² = 1),

a Monte Carlo average over w_r ~ N(0, I) at initialisation. Its expectation is the infinite-width
Gram, by the angle formula P(wᵀx_i ≥ 0, wᵀx_j ≥ 0) = (π − θ_ij)/(2π), θ_ij = arccos x_iᵀx_j:

    H^∞_ij = x_iᵀx_j (π − arccos x_iᵀx_j) / (2π),   H^∞_ii = ½,

and λ₀ = λ_min(H^∞) > 0 when no two x_i are parallel (Du et al., Theorem 3.1).

Refused input (``ValueError`` naming the problem): rows of X that are not unit vectors (to the
rounding of the arithmetic: 16·d·ε in float64, d·2^{8−prec} for mpf, exactly for rationals); two
rows that are parallel or antiparallel (|x_iᵀx_j| = 1 to that tolerance: equal rows give two equal
rows of H^∞, so λ₀ = 0; more than d antipodal pairs also give λ₀ = 0 since then
Σ_pairs c_k x_k sign(wᵀx_k) = Σ c_k x_k vanishes for some c ≠ 0 — the theorem's hypothesis excludes
both); and a λ₀ that is not positive to working precision.

Arithmetic: float64 for float input, ``mpmath.mpf`` at the caller's mpmath precision for object input
(wrap calls in ``mpmath.workdps(dps)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import Any

import mpmath
import numpy as np

from .arrays import as_matrix, entry_kind, to_kind


# ------------------------------------------------------------------------------------------ data
def _unit_tolerance(kind: str, d: int) -> Any:
    if kind == "float":
        # ‖x‖² of x/‖x‖ in float64: d products and sums plus the division, each ≤ ε relative
        return 16 * d * np.finfo(float).eps
    if kind == "mp":
        return d * mpmath.mpf(2) ** (8 - mpmath.mp.prec)
    return 0


def check_data(X: Any, name: str = "X") -> tuple[np.ndarray, str]:
    """X as a 2-D array of unit rows, no two parallel (module docstring); returns (X, kind)."""
    X = as_matrix(X, name)
    kind = entry_kind(X, name)
    n, d = X.shape
    if n < 1 or d < 1:
        raise ValueError(f"{name} must have at least one row and one column, got shape {X.shape}")
    tol = _unit_tolerance(kind, d)
    G = X @ X.T if kind != "float" else X.astype(float) @ X.astype(float).T
    if kind == "float":  # vectorised screen; the loops below then only format the message
        off = np.abs(G - np.diag(np.diag(G)))
        if np.all(np.abs(np.diag(G) - 1) <= tol) and (n < 2 or off.max() < 1 - tol):
            return X, kind
    for i in range(n):
        if abs(G[i, i] - 1) > tol:
            raise ValueError(
                f"rows of {name} must be unit vectors (the NTK Gram formula assumes ‖x_i‖ = 1); row {i} has "
                f"squared norm {float(G[i, i])!r}: normalise with X / norm(X, axis=1, keepdims=True)"
                + (" at the working precision" if kind == "mp" else ""))
    for i in range(n):
        for j in range(i + 1, n):
            if abs(G[i, j]) >= 1 - tol:
                what = "parallel (equal)" if G[i, j] > 0 else "antiparallel (x_j = -x_i)"
                raise ValueError(
                    f"rows {i} and {j} of {name} are {what}: x_i^T x_j = {float(G[i, j])!r}; the NTK analysis "
                    "needs no two parallel inputs (equal rows make lambda_0 = lambda_min(H^inf) = 0)")
    return X, kind


def sphere_data(n: int, d: int, seed: int = 0, labels: str = "sign") -> tuple[np.ndarray, np.ndarray]:
    """n seeded points on the unit sphere S^{d−1} (normalised Gaussians) and labels y.

    ``labels="sign"``: y_i = ±1 uniformly (seeded); ``"gaussian"``: y_i ~ N(0, 1). Points are drawn
    from ``numpy.random.default_rng(seed)``; a draw with two (anti)parallel rows (probability 0 for
    d ≥ 2) is refused by :func:`check_data`, never silently altered.
    """
    n, d = _pos_int(n, "n"), _pos_int(d, "d")
    if d == 1 and n > 1:
        raise ValueError("d = 1 has only two unit vectors (±1), which are antiparallel; use d >= 2")
    if labels not in ("sign", "gaussian"):
        raise ValueError(f"labels must be 'sign' or 'gaussian', got {labels!r}")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = rng.choice([-1.0, 1.0], size=n) if labels == "sign" else rng.standard_normal(n)
    check_data(X)
    return X, y


def _pos_int(v: Any, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (Integral, np.integer)):
        raise TypeError(f"{name} must be a positive integer, got {v!r}")
    if v < 1:
        raise ValueError(f"{name} must be a positive integer, got {v!r}")
    return int(v)


# ------------------------------------------------------------------------------------------ Grams
def gram_infinite(X: Any) -> np.ndarray:
    """H^∞ (n×n) of unit-row data X: x_iᵀx_j (π − arccos x_iᵀx_j)/(2π), diagonal ½.

    float64 for float X; for object X (mpf or Fraction entries) mpf at the current mpmath precision.
    Exactly symmetric.
    """
    X, kind = check_data(X)
    n = X.shape[0]
    if kind == "float":
        G = np.clip(X @ X.T, -1.0, 1.0)
        H = G * (np.pi - np.arccos(G)) / (2 * np.pi)
        np.fill_diagonal(H, 0.5)
        return np.triu(H) + np.triu(H, 1).T
    Xm = to_kind(X, "mp")
    H = np.empty((n, n), dtype=object)
    pi = mpmath.pi
    for i in range(n):
        H[i, i] = mpmath.mpf(1) / 2
        for j in range(i + 1, n):
            g = mpmath.fsum(a * b for a, b in zip(Xm[i], Xm[j]))
            g = min(max(g, mpmath.mpf(-1)), mpmath.mpf(1))
            H[i, j] = H[j, i] = g * (pi - mpmath.acos(g)) / (2 * pi)
    return H


def gram_finite(W: Any, X: Any) -> np.ndarray:
    """The finite-width Gram H(W)_ij = (x_iᵀx_j/m) Σ_r 1{w_rᵀx_i ≥ 0, w_rᵀx_j ≥ 0}, W of shape (m, d).

    X needs no unit rows here (H = JJᵀ for any data); float64 for float input, the input's arithmetic
    for object input (the counts are exact integers). Exactly symmetric.
    """
    W = as_matrix(W, "W")
    X = as_matrix(X, "X")
    m, d = W.shape
    if X.shape[1] != d:
        raise ValueError(f"W has shape {W.shape} (m, d) but X has {X.shape[1]} columns; they must share d")
    if X.dtype != object and W.dtype != object:
        A = (X @ W.T >= 0).astype(np.float64)  # n×m activation pattern
        H = (X @ X.T) * (A @ A.T) / m  # counts ≤ m are exact in float64
        return np.triu(H) + np.triu(H, 1).T
    A = (X @ W.T >= 0).astype(np.int64)
    counts = A @ A.T
    G = X @ X.T
    n = X.shape[0]
    H = np.empty((n, n), dtype=object)
    for i in range(n):
        for j in range(i, n):
            H[i, j] = H[j, i] = G[i, j] * int(counts[i, j]) / m
    return H


def lambda_0(X: Any) -> Any:
    """λ₀ = λ_min(H^∞(X)); ValueError if it is not positive to working precision."""
    H = gram_infinite(X)
    return min_eigenvalue(H, "H^inf")


def min_eigenvalue(H: Any, name: str = "H") -> Any:
    """λ_min of a symmetric Gram (float64 ``eigvalsh``, or ``mpmath.eigsy`` for object input),
    refused unless it exceeds the eigen-solver's rounding n·ε·‖H‖_F (float) / n·2^{8−prec}·‖H‖_F (mp)."""
    H = np.asarray(H)
    n = H.shape[0]
    if H.dtype != object:
        lam = float(np.linalg.eigvalsh(H)[0])
        tol = n * np.finfo(float).eps * float(np.linalg.norm(H))
    else:
        Hm = mpmath.matrix(to_kind(H, "mp").tolist())
        ev = mpmath.eigsy(Hm, eigvals_only=True)
        lam = min(ev[i] for i in range(n))
        tol = n * mpmath.mpf(2) ** (8 - mpmath.mp.prec) * mpmath.mnorm(Hm, "f")
    if lam <= tol:
        raise ValueError(
            f"lambda_min({name}) = {float(lam):.3e} is not positive to working precision (<= {float(tol):.1e}): "
            "the inputs are (nearly) parallel or degenerate; lambda_0 > 0 needs distinct, non-parallel x_i")
    return lam


# ------------------------------------------------------------------------------------------ model
@dataclass(frozen=True)
class TwoLayerReLU:
    """f(x) = m^{-1/2} Σ_r a_r relu(w_rᵀx); a_r = ±1 fixed, W (m×d) trained (docs/theory.md D1).

    Seeded: ``a`` is drawn by ``default_rng([seed, 0])`` (uniform ±1) and the initial first layer
    :meth:`init` by ``default_rng([seed, 1])`` (i.i.d. N(0, 1) entries), so a and W(0) are
    independent and reproducible. relu'(0) is taken as 1 (the indicator 1{w_rᵀx ≥ 0} of D1).
    """

    d: int
    m: int
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "d", _pos_int(self.d, "d"))
        object.__setattr__(self, "m", _pos_int(self.m, "m (width)"))
        if isinstance(self.seed, bool) or not isinstance(self.seed, (Integral, np.integer)) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")

    def __repr__(self) -> str:
        return f"TwoLayerReLU(d={self.d}, m={self.m}, seed={self.seed})"

    @property
    def a(self) -> np.ndarray:
        """The fixed output signs a_r ∈ {−1, +1} (float64, shape (m,))."""
        return np.random.default_rng([int(self.seed), 0]).choice([-1.0, 1.0], size=self.m)

    def init(self) -> np.ndarray:
        """W(0): i.i.d. N(0, 1) entries, shape (m, d)."""
        return np.random.default_rng([int(self.seed), 1]).standard_normal((self.m, self.d))

    def check_weights(self, W: Any) -> np.ndarray:
        W = as_matrix(W, "W")
        if W.shape != (self.m, self.d):
            raise ValueError(f"W must have shape (m, d) = {(self.m, self.d)}, got {W.shape}")
        return W

    def outputs(self, W: Any, X: Any) -> np.ndarray:
        """u_i = f(x_i) for the rows of X (float64)."""
        W = to_kind(self.check_weights(W), "float")
        X = to_kind(as_matrix(X, "X"), "float")
        if X.shape[1] != self.d:
            raise ValueError(f"X must have d = {self.d} columns, got shape {X.shape}")
        return np.maximum(X @ W.T, 0.0) @ self.a / np.sqrt(self.m)

    def loss(self, W: Any, X: Any, y: Any) -> float:
        """L(W) = ½ Σ_i (u_i − y_i)²."""
        e = self.outputs(W, X) - _labels(y, X)
        return 0.5 * float(e @ e)

    def gram(self, W: Any, X: Any) -> np.ndarray:
        """H(W) (:func:`gram_finite`)."""
        return gram_finite(self.check_weights(W), X)


def _labels(y: Any, X: Any) -> np.ndarray:
    y = to_kind(np.asarray(y), "float")
    n = np.asarray(X).shape[0]
    if y.shape != (n,):
        raise ValueError(f"y must be a 1-D array of length n = {n}, got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("y has non-finite entries (NaN or inf)")
    return y
