"""Error propagation for the Taylor integrators with the growth measured along the run.

The error e(t) of a computed gradient flow obeys, to first order in e, the linearised equation
e' = −∇²f(θ(t))·e + (local errors). Its growth rate in the Euclidean norm is the logarithmic norm
of −∇²f, which for a symmetric Hessian is μ(t) = −λ_min(∇²f(θ(t))) (one-sided Lipschitz constant).
Hence (docs/theory.md F)

    ‖e(t)‖₂ ≤ Σ_steps exp(∫_{t_n}^t μ⁺) · ‖local_n‖₂ ,   μ⁺ = max(0, μ),

and ‖e‖∞ ≤ ‖e‖₂. This module supplies the two ingredients per step:

* :class:`MeasuredGrowth` — an upper bound of μ⁺ over a step [t, t + h]: λ_min by matrix-free
  Lanczos (ARPACK ``eigsh`` on HVPs, warm-started) or dense ``eigh`` for small P, at the step start,
  midpoint and end, lowered by the Lanczos residual, and lowered once more by the interpolation
  term K(h/2)²/8 that covers the minimum of λ_min between the samples (K bounds λ_min'' from
  above; derivation in docs/theory.md F);
* :func:`local_error_2norm` — the step's local error in the Euclidean norm over all parameters
  (the last two series terms, plus the rounding radius of the arb evaluation).

It replaces the global B1 bound exp(∫ B1) (Frobenius norms, 1e7–1e14× too loose on research
sizes) by the growth the run actually sees.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import scipy.linalg
import scipy.sparse.linalg as sla

from .hessians import hessian
from .spectra import hvp_operator

# The step is h = ρ/e² (ρ: coefficient-decay radius of the state's series), so the Taylor series of
# t ↦ ∇²f(θ(t)) about any point of the step decays like e^{−2} per order if it shares θ's radius;
# λ_min'' is then uniform over the step up to Σ_{k≥2} k(k−1)e^{−2(k−2)}/2 = (1 − e^{−2})^{−3} ≈ 1.55
# times its sampled value. We take 2 (and at least the sampled curvature of both halves).
CURVATURE_SAFETY = 2.0


class MeasuredGrowth:
    """Upper bounds of μ⁺ = max(0, −λ_min(∇²f(θ))) over the steps of a run (module docstring).

    ``step(y0, ym, y1, h)`` takes θ at the step's start, midpoint and end (float64 arrays) and
    returns the bound for the whole step; the end value is reused as the next step's start.
    ``integral`` accumulates ∫ μ⁺ (the log of the growth factor), ``samples`` the raw λ_min.
    """

    def __init__(self, obj: Any, dense_max: int = 800, tol: float = 1e-8) -> None:
        self.obj = obj
        self.dense_max = dense_max
        self.tol = tol
        self._last: tuple[bytes, float] | None = None
        self._v0: np.ndarray | None = None
        self.integral = 0.0
        self.samples: list[float] = []

    def lower_lambda_min(self, theta: Sequence[np.ndarray]) -> float:
        """A lower estimate of λ_min(∇²f(θ)): the Rayleigh quotient minus its residual ‖Hv − λv‖
        (some eigenvalue lies within the residual; that it is the smallest is the solver's claim)."""
        key = b"".join(np.ascontiguousarray(w, dtype=np.float64).tobytes() for w in theta)
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        P = self.obj.num_params
        if P <= self.dense_max or P < 3:
            H = hessian(self.obj, [np.asarray(w, dtype=np.float64) for w in theta])
            w, V = scipy.linalg.eigh(H, subset_by_index=[0, 0])
            vec = V[:, 0]
            # dense eigh: backward error ~ P·ε·‖H‖ (LAPACK); take 8·P·ε·‖H‖_F
            res = 8 * P * np.finfo(float).eps * float(np.linalg.norm(H))
            matvec = H.__matmul__  # the residual below with the same dense H (no HVP operator to build)
        else:
            op = hvp_operator(self.obj, theta)
            v0 = self._v0 if self._v0 is not None else np.random.default_rng(0).standard_normal(P)
            try:
                w, V = sla.eigsh(op, k=1, which="SA", tol=self.tol, v0=v0)
            except sla.ArpackNoConvergence as e:
                raise RuntimeError("λ_min for the error growth did not converge (eigsh)") from e
            vec = V[:, 0]
            res = 0.0
            matvec = op.matvec
        vec = vec / np.linalg.norm(vec)
        Hv = matvec(vec)
        lam = float(vec @ Hv)
        res = max(res, float(np.linalg.norm(Hv - lam * vec)))
        self._v0 = vec
        value = lam - res
        self._last = (key, value)
        self.samples.append(lam)
        return value

    def step(self, y0: Sequence[np.ndarray], ym: Sequence[np.ndarray], y1: Sequence[np.ndarray], h: float) -> float:
        l0 = self.lower_lambda_min(y0)
        lm = self.lower_lambda_min(ym)
        l1 = self.lower_lambda_min(y1)
        half = h / 2
        # sampled λ_min'' (second difference = λ_min''(ξ) for some ξ in the step, where smooth);
        # only positive curvature can put the minimum between samples (concave kinks cannot)
        K = max(0.0, (l0 - 2 * lm + l1) / half**2) * CURVATURE_SAFETY if half > 0 else 0.0
        lo = min(l0, lm, l1) - K * half**2 / 8
        mu = max(0.0, -lo)
        self.integral += mu * h
        return mu


def frobenius(m: Any) -> float:
    """‖m‖_F of an arb_mat's midpoints (or of a numpy array), as a float."""
    if isinstance(m, np.ndarray):
        return float(np.linalg.norm(m))
    return math.sqrt(sum(float(x) ** 2 for x in m.entries()))  # float(arb): its midpoint, rounded


def rounding_amplification(p: int) -> float:
    """Factor from the radii dropped by recentring a step's Taylor coefficients to their effect on
    the step's end: e^{p/10} (docs/theory.md F, "Rounding")."""
    return math.exp(p / 10)


EXTRA_PREC = 32  # bits added for the rounding check
ROUNDING_SAFETY = 2.0


def local_error_2norm(cs: list, p: int, h: Any, new: list, precise_step: Any = None, dropped: float = 0.0,
                      floor: float = 0.0) -> float:
    """‖local error‖₂ of one Taylor step over all parameters: truncation plus rounding.

    Truncation: the omitted tail Σ_{k>p} c_k h^k. With a_k = ‖c_k‖₂h^k and the observed decay
    r = max of the two-step ratios (a_p/a_{p−2})^{1/2}, (a_{p−1}/a_{p−3})^{1/2} (two-step ratios so an
    even/odd pattern cannot fake fast decay), a geometric tail is a_{p+1}/(1 − r) ≤
    max(a_p, a_{p−1}r)·r/(1 − r); the step h = ρ/e² makes r ≈ e^{−2}, i.e. the tail ≈ 0.16·a_p. We
    return max(a_p, a_{p−1}·r) + (that tail): the last computed term itself stands for the tail,
    a margin of ≥ 6 against a decay slower than observed (docs/theory.md F).

    Rounding: ``dropped`` = Σ_k d_k h^k, d_k the sum (≥ Euclidean norm) of the radii dropped when coefficient k was
    recentred to its midpoint (:func:`numerics.series.series_coefficients`), enters amplified by
    :func:`rounding_amplification`, plus the arb radius of the evaluation itself (docs/theory.md F).
    No measurement below ``floor`` (a rounding bound under the digits asked is kept as it is: a
    clipped last step has a tiny truncation term, and measuring would cost a second step).
    Without recentring: the rigorous arb radius √P·(largest radius) is a worst-case bound; over long steps it
    grows with the order (every Cauchy sum adds |A||B| radii: the wrapping effect inside the series)
    up to 1e12× the actual rounding error. When it matters (above an eighth of the truncation term)
    and ``precise_step()`` is given (the same step, same order and h, recomputed with ``EXTRA_PREC``
    more bits), the rounding error is measured: ‖y_precise − y‖₂ is the working step's rounding error
    up to the precise step's own (≈ 2^{−EXTRA_PREC} smaller). We take ``ROUNDING_SAFETY`` times it
    (never more than the rigorous radius). Not an extrapolation from a lower precision: arb rounds
    the midpoints of wide balls more coarsely, so midpoint errors do not scale linearly with 2^{−prec}
    (measured: ∝ u^0.7 on a 55-parameter step).
    """
    import flint

    from .series import max_rad

    hf = float(h)
    a = {j: math.sqrt(sum(frobenius(c[j]) ** 2 for c in cs)) * hf**j for j in range(max(0, p - 3), p + 1)}
    a0 = math.sqrt(sum(frobenius(c[0]) ** 2 for c in cs)) + math.sqrt(sum(frobenius(c[1]) ** 2 for c in cs)) * hf
    ratios = [math.sqrt(a[j] / a[j - 2]) for j in (p, p - 1) if j - 2 in a and a[j - 2] > 0]
    r = min(max(ratios, default=1.0), 0.9)  # r ≥ 0.9 means no usable decay: the step is too long
    last = max(a[p], a[p - 1] * r)
    tail = last + last * r / (1 - r)
    if max(ratios, default=1.0) >= 0.9:
        tail = max(tail, a[p - 1] + a[p])  # no decay seen: the old, cruder estimate (never smaller)
    P = sum(m.nrows() * m.ncols() for m in new)
    rounding = math.sqrt(P) * max(max_rad(m) for m in new) + rounding_amplification(p) * dropped
    if precise_step is not None and rounding > max(tail / 8, floor):
        old = flint.ctx.prec
        flint.ctx.prec = old + EXTRA_PREC
        try:
            fine = precise_step()
            diff = math.sqrt(sum(frobenius(x - y) ** 2 for x, y in zip(fine, new)))
        finally:
            flint.ctx.prec = old
        # a measurement; the radius bound is the smaller only while no coefficient was recentred
        rounding = ROUNDING_SAFETY * diff if dropped else min(rounding, ROUNDING_SAFETY * diff)
    # the dense output's Horner evaluation at the working precision (Higham: γ_{2p+2} Σ|c_k|h^k) and
    # the recentring of the state to midpoints — not in the step's radius, a few ulps of ‖θ‖
    u = 2.0 ** -flint.ctx.prec
    return tail + rounding + (2 * p + 2) * u * (a0 + sum(a.values()))
