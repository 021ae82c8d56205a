"""The float64 rounding model behind every validation tolerance (derivation: docs/validation.md).

``proofs_check.validate(kind, impl)`` draws instances with Hypothesis (the families of
:mod:`proofs_check.validation.strategies`: generic, power-of-two scaled, near-optimal and
near-singular deep linear nets), calls ``impl`` on each in plain numpy (signatures in
:mod:`proofs_check.validation.protocols`), compares the result with a reference computed exactly (rationals) or
at 50 digits (mpmath), and on the first mismatch lets Hypothesis shrink the instance to a minimal one.
It returns a :class:`ValidationReport`.

Tolerance model (docs/validation.md has the derivation). ε = 2^−53, γ_m = mε/(1 − mε), S = 2 (a
safety factor), K = 2Σ_j d_j + d_0 + 3 (the longest chain of roundings in one gradient entry), and
``_abs`` the same formula evaluated on |W_j| with −|Φ| for Φ (every monomial with a nonnegative
coefficient; it bounds the quantity and the rounding error of every partial sum of any algebraically
exact evaluation order):

* gradient:   |ĝ − g| ≤ S·γ_K·g_abs(|θ|)                       (entrywise)
* hvp:        |ĥ − Hv| ≤ S·γ_{2K+P}·(H_abs(|θ|)|v|)            (entrywise)
* hessian:    |Ĥ − H| ≤ S·γ_{2K}·H_abs(|θ|)                    (entrywise)
* lambda_min: |λ̂ − λ_min| ≤ S·(γ_{2K} + Pε)·‖H_abs‖_F (+ rtol·‖H‖₂)   (Weyl + backward-stable eigh)
* gd / heavy_ball / nesterov: an entrywise bound b_k on |θ̂_k − θ_k| propagated step by step,
  b_{k+1} = b_k + η·H_abs(M_k)·b_k + S·η·γ_K·g_abs(M_k) + S·γ_2·(M_k + η·g_abs(M_k))  (GD),
  M_k = |θ_k| + b_k; the mean-value theorem in the box |θ| ≤ M_k gives the H_abs term (local
  Lipschitz constant), the rest is the gradient's and the update's own rounding (heavy ball and
  Nesterov: the analogous recursion on two iterates);
* gf:         ‖θ̂(t) − θ(t)‖∞ ≤ rtol·‖θ(t)‖∞ + atol at every requested t (the solver's accuracy
  is the user's choice; default rtol = 1e-8), reference at ≥ 20 digits with an error estimate
  below rtol/1000.

Every bound also carries an underflow term (S·K·2^−1074 times the formula at max(|θ|, 1)), which
only matters for subnormal inputs. ``slack`` multiplies every bound. The decision quantity reported
is ``worst_ratio`` = max over instances and entries of error/tolerance (pass iff ≤ 1); the report
also gives ``worst_relative_error``, the normwise relative error ‖got − ref‖∞/‖ref‖∞ (per iterate or
time for the methods and flows).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

import numerics
import theory

from .protocols import PROTOCOLS
from .strategies import Instance




KINDS = tuple(PROTOCOLS)
EPS = 2.0**-53
UNDERFLOW = 2.0**-1074
SAFETY = 2.0
DEFAULT_GF_RTOL = 1e-8
MP_DPS = 50
EXACT_LAMBDA_MAX_P = 40
FAILURES = ("mismatch", "raised", "wrong_type", "wrong_shape", "non_finite", "nondeterministic")
DEFAULT_SHRINK_LIMIT = {"gradient": 1000, "hvp": 1000, "hessian": 600, "lambda_min": 400, "gd": 400,
                        "heavy_ball": 400, "nesterov": 400, "gf": 300}


def gamma(m: float) -> float:
    """γ_m = mε/(1 − mε), ε = 2^−53: the bound on m rounded operations in sequence."""
    return m * EPS / (1 - m * EPS)


def chain_length(widths: Sequence[int]) -> int:
    """K = 2Σ_j d_j + d_0 + 3: rounded operations in sequence along one gradient entry (forward
    products, the residual, the backward products, the final outer product)."""
    return 2 * int(sum(widths)) + int(widths[0]) + 3



# ------------------------------------------------------------------------------ abs-value formulas
class _Abs:
    """The formulas on absolute values: gradient, Hessian, HVP and hidden layers of the deep linear
    net with Φ replaced by −|Φ| at nonnegative weights M (floats)."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.obj = theory.Objective(theory.DeepLinear(inst.widths), theory.WhitenedSquare(-np.abs(inst.Phi)))
        self.K = chain_length(inst.widths)
        self.P = inst.num_params

    def unflat(self, m: np.ndarray) -> list[np.ndarray]:
        return self.obj.unflatten(np.asarray(m, dtype=np.float64))

    def grad(self, M: np.ndarray) -> np.ndarray:
        return self.obj.flatten(numerics.gradient(self.obj, self.unflat(M)))

    def hess(self, M: np.ndarray) -> np.ndarray:
        return numerics.hessian(self.obj, self.unflat(M))

    def hidden(self, M: np.ndarray) -> list[np.ndarray]:
        """|W_j|⋯|W_1| for j = 1..N−1 (bounds on the hidden pre-activations)."""
        Ws = self.unflat(M)
        out, z = [], Ws[0]
        for W in Ws[1:]:
            out.append(z)
            z = W @ z
        return out


def _up(x: np.ndarray) -> np.ndarray:
    """Absolute values nudged up by 4 ulps (a float64 value of a bound rounded to nearest may be
    slightly below the real bound)."""
    return np.abs(np.asarray(x, dtype=np.float64)) * (1 + 4 * EPS)


def frobenius(A: np.ndarray) -> float:
    """‖A‖_F without underflow or overflow (numpy squares the entries: 1e-200² is 0), rounded up."""
    m = float(np.abs(A).max()) if np.size(A) else 0.0
    if m == 0 or not np.isfinite(m):
        return m
    return m * float(np.sqrt(np.sum((np.asarray(A) / m) ** 2))) * (1 + 4 * EPS * np.size(A))


def _floor(K: int, quantity: np.ndarray) -> np.ndarray:
    """Underflow term: S·K·2^−1074·(1 + quantity), quantity the formula at max(|θ|, 1)."""
    return SAFETY * K * UNDERFLOW * (1.0 + quantity)



TOLERANCE_TEXT = {
    "gradient": "|g - g_ref| <= 2*gamma_K*g_abs(|theta|) entrywise (float64 rounding, K = 2*sum(d)+d_0+3)",
    "hvp": "|Hv - ref| <= 2*gamma_(2K+P)*H_abs(|theta|)|v| entrywise",
    "hessian": "|H - H_ref| <= 2*gamma_2K*H_abs(|theta|) entrywise",
    "lambda_min": "|lambda - [lo, hi]| <= 2*(gamma_2K + P*eps)*||H_abs||_F (Weyl + backward-stable eigh)",
    "gd": "entrywise bound propagated per step with the local Lipschitz matrix H_abs (float64 rounding)",
    "heavy_ball": "entrywise bound propagated per step (two-term recursion, H_abs local Lipschitz matrix)",
    "nesterov": "entrywise bound propagated per step on (x_k, y_k) (H_abs local Lipschitz matrix)",
    "gf": "max-norm error at each time <= rtol*||theta(t)||_inf + atol (solver accuracy is the user's choice)",
}
