"""Error propagation for the Taylor integrators with the growth measured along the run.

The error e(t) of a computed gradient flow obeys, to first order in e, the linearised equation
e' = −∇²f(θ(t))·e + (local errors). Its growth rate in the Euclidean norm is the logarithmic norm
of −∇²f, which for a symmetric Hessian is μ(t) = −λ_min(∇²f(θ(t))) (one-sided Lipschitz constant).
Hence (docs/theory.md F)

    ‖e(t)‖₂ ≤ Σ_steps exp(∫_{t_n}^t μ⁺) · ‖local_n‖₂ ,   μ⁺ = max(0, μ),

and ‖e‖∞ ≤ ‖e‖₂. This module supplies the two ingredients per step:

* :class:`MeasuredGrowth` — an upper bound of μ⁺ over a step [t, t + h]: λ_min by matrix-free
  Lanczos (ARPACK ``eigsh`` on HVPs, warm-started) or, up to 800 parameters, on the dense Hessian
  (from 64 parameters on a lower bound certified by a Cholesky factorization, :func:`numerics.dense_spectra.psd_defect`;
  below, LAPACK's eigenvalues), at the step start,
  midpoint and end, lowered by the Lanczos residual, and lowered once more by the interpolation
  term K(h/2)²/8 that covers the minimum of λ_min between the samples (K bounds ‖d²∇²f(θ(t))/dt²‖₂
  over the step: κ(r) times the norm of the sampled second difference of the Hessian, κ derived from
  the coefficients' decay ratio r; docs/theory.md F);
* :func:`numerics.local_errors.local_error_2norm` — the step's local error in the Euclidean norm over all parameters
  (the last two series terms, plus the rounding radius of the arb evaluation).

It replaces the global B1 bound exp(∫ B1) (Frobenius norms, 1e7–1e14× too loose on research
sizes) by the growth the run actually sees.
"""

from __future__ import annotations

import math
from itertools import chain, repeat
from typing import Any, Callable, Sequence

import numpy as np
import scipy.sparse.linalg as sla

from .dense_spectra import psd_defect, symmetric_eig
from .hessians import hessian
from .spectra import hvp_operator

# Between samples λ_min is bounded through sup_step ‖d²/dt² ∇²f(θ(t))‖₂ (docs/theory.md F, "μ along a
# step"), from the sampled Hessians and the geometric envelope r of the state's Taylor coefficients on
# the step (the assumption the truncation estimate already rests on): anchored at order 2 (κ(r) times
# the second difference) while r ≤ R_MAX, else at order 1 (φ(r) times the first difference) while
# r ≤ R1_MAX; r is taken at least e^{−2}, the step rule's design ratio.
R_DESIGN = math.exp(-2.0)
R_MAX = 0.35
R1_MAX = 0.4


def curvature_factor(r: float) -> float:
    """κ(r) = 1/((1 − r)³·(1 − S(r)/2)), S(r) = 4r/(1 − r) − r/(1 − r/2): sup_step ‖H''‖₂ ≤ κ(r)·‖Δ²H‖₂
    when the Taylor coefficients H_k of t ↦ ∇²f(θ(t)) about the step start obey ‖H_k‖h^k ≤
    ‖H_2‖h²r^{k−2} (k ≥ 2), Δ²H = (H(0) − 2H(h/2) + H(h))/(h/2)² (docs/theory.md F). κ(e^{−2}) = 2.04."""
    r = max(r, R_DESIGN)
    S = 4 * r / (1 - r) - r / (1 - r / 2)
    return 1.0 / ((1 - r) ** 3 * (1 - S / 2))


def first_order_factor(r: float) -> float:
    """φ(r) = 2r/((1 − r)²(1 − 2r)): sup_step ‖H''‖₂ ≤ φ(r)·‖H(h) − H(0)‖₂/h² when ‖H_k‖h^k ≤
    ‖H_1‖h·r^{k−1} (k ≥ 1) (docs/theory.md F). φ(e^{−2}) = 0.50; finite for r < 1/2."""
    r = max(r, R_DESIGN)
    return 2 * r / ((1 - r) ** 2 * (1 - 2 * r))


class OrderNorms(tuple):
    """n_k = ‖c_k‖₂ over all state blocks (the Euclidean norm of (vec c_k^{(1)}, vec c_k^{(2)}, …)),
    k = 0..p, of one step's Taylor coefficients, unscaled by h^k (:func:`order_norms`). Accepted wherever
    a step's coefficients are (:func:`coefficient_envelope`, :meth:`MeasuredGrowth.step`,
    :func:`numerics.local_errors.local_error_2norm`), so a step converts its coefficients to floats once, not once per use."""

    __slots__ = ()


def coefficient_floats(coeffs: Sequence[Sequence[Any]], entries: Sequence[Sequence[Any]] | None = None) -> list[np.ndarray]:
    """Per state block, the midpoints of its arb_mat coefficients c_0..c_p in float64 (float(arb) is its
    midpoint, rounded): an array (p+1, rows·cols), row k = c_k's entries in row-major order. One
    conversion per step for all float uses of the coefficients (:func:`order_norms` with ``floats``, the
    step controller's max-norms). ``entries`` as for :func:`order_norms`."""
    ents = entries if entries is not None else [()] * len(coeffs)
    out = []
    for C, E in zip(coeffs, ents):
        n = C[0].nrows() * C[0].ncols()
        it = chain.from_iterable(E[k] if k < len(E) else C[k].entries() for k in range(len(C)))
        out.append(np.fromiter(map(float, it), np.float64, len(C) * n).reshape(len(C), n))
    return out


def order_norms(coeffs: Sequence[Any], entries: Sequence[Sequence[Any]] | None = None,
                floats: Sequence[np.ndarray] | None = None) -> OrderNorms:
    """n_k = √(Σ_blocks ‖c_k‖_F²), k = 0..p, for float64 stacks (p+1, rows, cols) or lists of arb_mat
    coefficients (midpoints, :func:`frobenius`). An :class:`OrderNorms` is returned as it is.
    ``entries``: per block, the entry lists of its first coefficients where already extracted
    (:func:`numerics.series.series_coefficients`), read instead of extracting them again. ``floats``: the
    arb coefficients' :func:`coefficient_floats`, read instead of the coefficients (the same bits as from
    the arb_mat: squares x·x = pow(x, 2) and a sequential sum — a cumulative sum — as :func:`frobenius`).
    ∞ past float64's range for the squares (≳ 2^512): no finite bound, for every consumer."""
    if isinstance(coeffs, OrderNorms):
        return coeffs
    if floats is not None:
        with np.errstate(over="ignore"):
            per_block = [np.sqrt(np.cumsum(F * F, axis=1)[:, -1]) for F in floats]
        return OrderNorms(math.sqrt(sum(float(b[k]) ** 2 for b in per_block)) for k in range(len(per_block[0])))
    p = len(coeffs[0]) - 1
    if not hasattr(coeffs[0][0], "entries"):
        with np.errstate(over="ignore"):  # ∞ past 2^512: no finite bound (coefficient_envelope, truncation_tail)
            return OrderNorms(math.sqrt(sum(float(np.sqrt(np.sum(np.asarray(C[k], dtype=np.float64) ** 2))) ** 2
                                            for C in coeffs)) for k in range(p + 1))
    ents = entries if entries is not None else [()] * len(coeffs)
    return OrderNorms(
        math.sqrt(sum(_frobenius(E[k] if k < len(E) else C[k].entries()) ** 2 for C, E in zip(coeffs, ents)))
        for k in range(p + 1))


def coefficient_envelope(coeffs: Sequence[Any], h: float, base: int) -> float:
    """r = max_{k>base} (a_k/a_base)^{1/(k−base)} for a_k = ‖c_k‖₂h^k over all state blocks (float64
    stacks (p+1, rows, cols), lists of arb_mat coefficients, or their :class:`OrderNorms`): the smallest
    r with a_k ≤ a_base·r^{k−base} for every computed order (an envelope, so isolated dips of single
    coefficients do not matter). ∞ if a_base = 0 while a later one is not, or a norm is ∞ (∞/∞ = nan in the max)."""
    n = order_norms(coeffs)
    p = len(n) - 1
    a = [n[k] * h**k for k in range(p + 1)]
    if base > p:
        return 0.0
    if not all(math.isfinite(x) for x in a[base:]):
        return math.inf
    later = [x for x in a[base + 1:] if x > 0]
    if not later:
        return 0.0
    if a[base] == 0:
        return math.inf
    return max((a[k] / a[base]) ** (1.0 / (k - base)) for k in range(base + 1, p + 1) if a[k] > 0)


class MeasuredGrowth:
    """Upper bounds of μ⁺ = max(0, −λ_min(∇²f(θ))) over the steps of a run (module docstring).

    ``SLACK``, ``REL``: the extra growth accepted from a Lipschitz-carried bound before λ_min is sampled
    again (:meth:`step`): SLACK of log-growth per step (1e-4: over 10⁴ steps at most a factor e on the
    estimate) or REL = 5 % of the sampled rate.

    ``step(y0, ym, y1, h)`` takes θ at the step's start, midpoint and end (float64 arrays; the end is the next
    start) and returns the bound for the whole step. ``integral`` accumulates ∫ μ⁺, ``samples`` the raw λ_min.
    """

    SLACK = 1e-4
    REL = 0.05
    # track_norm: Λ ≥ ‖∇²f‖ carried while within NORM_REL of its last sample. Λ enters the windows'
    # bound only through Σh·Λ (numerics.error_windows), a small part of it; at 5 % the 6,200-parameter
    # ReLU run sampled every ~4.5 steps (+38 % CPU to t = 0.02), the jump bounds per event being large
    NORM_REL = 0.25
    # ‖Σ wᵢHᵢ‖₂ of dense Hessians from P = CERTIFY_MIN on: a certified bound ≤ (1 + NORM_TOL)·‖·‖₂
    # (_certified_norm: power iteration and two Cholesky factorizations, ~0.5 ms at P = 200) instead of
    # all eigenvalues (dsyevr, ~1.5 ms); below, the eigenvalues cost less than the power iteration
    CERTIFY_MIN = 64
    NORM_TOL = 0.05
    POWER_STEPS = 30
    # λ_min of dense Hessians from P = CERTIFY_MIN on: certified within LAMBDA_TOL·|λ| (_certified_lambda_min)
    LAMBDA_TOL = 1e-4
    LANCZOS_STEPS = 12
    # ARPACK's Lanczos basis for k = 1: scipy's default 20, doubled (up to NCV_MAX) after a sample that
    # took more than 3 restart cycles, halved back after one that converged in its first cycle (ARPACK
    # fills the whole basis before it checks, so a sample costs at least ncv HVPs). A clustered low end
    # (a deep linear net leaving a saddle, λ_min ≈ −0.47 among many eigenvalues near 0, 42,200
    # parameters) took 4,241 HVPs with 20 vectors and 505 with 40 for the same value; a well-separated end
    # converges within the first cycle of 20, where a larger basis only costs its minimum (+80 % HVPs on
    # the 6,200-parameter ReLU run at 40). Measured 2026-12-03 (docs/theory.md F, "Cost of the growth term").
    # A sample warm-started from the last one's vector on a well-separated end converges in the first
    # cycle of a smaller basis too: the basis halves down to NCV_MIN (the 6,200-parameter ReLU run to
    # t = 0.03 took 9,820 HVPs with 20 vectors, 5,934 with 8, 5,123 with 5, its ∫μ⁺ the same to 4 digits;
    # 2026-12-03), and a sample that restarts more than twice doubles it again — and the basis it restarted
    # at becomes the floor of later halvings (a clustered end — the deep linear net above — oscillated
    # 8 ↔ 16 ↔ 32 without it: 5,923 HVPs to T = 0.5 against 3,985 with the floor at 20)
    NCV = 20
    NCV_MIN = 8
    NCV_MAX = 80

    def __init__(self, obj: Any, dense_max: int = 800, tol: float = 1e-3) -> None:
        # ARPACK stops when ‖Hv − λv‖ ≤ tol·|λ|; the residual is subtracted from λ (``_sample``), so tol
        # moves μ by at most tol·|λ_min|: 0.1 % of it, 50× below the REL = 5 % a carried bound may lose
        # before λ_min is sampled again. 1e-5 (before 2026-12-03) cost 2–2.7× the HVPs on a clustered low
        # end for a 0.001 % tighter μ (measured: 186 vs 505 HVPs for one sample at 42,200 parameters)
        self.obj = obj
        self.dense_max = dense_max
        self.tol = tol
        self._cache: dict[bytes, tuple[float, Any]] = {}  # state -> (λ_min lower value, H or HVP operator)
        self._v0: np.ndarray | None = None
        self._w0: dict[Any, np.ndarray] = {}  # Lanczos start vectors of _norm on HVP operators, per kind
        self._ncv = self.NCV  # Lanczos basis size for λ_min, doubled when a sample needed many restarts
        self._ncv_floor = self.NCV_MIN  # it never halves below a basis that needed restarts
        self.integral = 0.0
        self.samples: list[float] = []
        self.kappas: list[float] = []  # κ(r₂) per step, nan where the order-1 bound was used
        # steps whose coefficient envelope exceeded R1_MAX even from order 1: their factor is the capped
        # one, outside the assumption of docs/theory.md F (counted, not hidden)
        self.beyond_assumption = 0
        self.midpoint_steps = 0  # steps bounded from a midpoint sample alone (step(..., lipschitz=...))
        self.carried_steps = 0  # steps bounded by the carried bound, no sample (step(..., lipschitz=...))
        self._pw: dict[Any, np.ndarray] = {}  # power-iteration vectors of _certified_norm, per kind of sum
        self.norm_fallbacks = 0  # _certified_norm's failed certificates (eigenvalues taken instead)
        self.lambda_fallbacks = 0  # _certified_lambda_min's failed certificates (dsyevr taken instead)
        self._carried: float | None = None  # lower bound of λ_min at the next step's start
        self._last = 0.0  # the last λ_min sample the carried bound descends from
        # Λ ≥ ‖∇²f‖₂ per step, for the windows through lone crossings (numerics.error_windows): sampled
        # with λ_min at a step's midpoint, carried like it (+ L·h per step, + the jump bound per event)
        self.track_norm = False
        self.last_norm: float | None = None  # Λ of the last step (lipschitz path with track_norm), else None
        self.step_norm = math.inf  # ≥ ‖H‖ over the last step given masks (step(..., masks=...)), else ∞
        self._three: tuple | None = None  # that step's three samples and δ²K/8 (or _mid: midpoint, masks, (h/2)L)
        self._mid: tuple | None = None
        self._carried_norm: float | None = None
        self.norm_samples: list[float] = []

    def _sample(self, theta: Sequence[np.ndarray], masks: Sequence[np.ndarray] | None = None) -> tuple[float, Any]:
        key = b"".join(np.ascontiguousarray(w, dtype=np.float64).tobytes() for w in list(theta) + list(masks or []))
        if key in self._cache:
            return self._cache[key]
        P = self.obj.num_params
        H = None
        if P <= self.dense_max or P < 3:
            H = hessian(self.obj, [np.asarray(w, dtype=np.float64) for w in theta], masks=masks)
            got = self._certified_lambda_min(H) if P >= self.CERTIFY_MIN else None
            if got is not None:
                return self._keep(key, got[0], H, got[1], got[2])
            w, V = symmetric_eig(H, lowest=True)
            vec = V[:, 0]
            # dense eigh: backward error ~ P·ε·‖H‖ (LAPACK); take 8·P·ε·‖H‖_F
            res = 8 * P * np.finfo(float).eps * float(np.linalg.norm(H))
            matvec = H.__matmul__  # the residual below with the same dense H (no HVP operator to build)
        else:
            op = hvp_operator(self.obj, theta, masks)
            v0 = self._v0 if self._v0 is not None else np.random.default_rng(0).standard_normal(P)
            calls = [0]

            def counted(x: np.ndarray) -> np.ndarray:
                calls[0] += 1
                return op.matvec(x)

            ncv = min(P - 1, self._ncv)
            try:
                w, V = sla.eigsh(sla.LinearOperator((P, P), matvec=counted, dtype=np.float64), k=1, which="SA",
                                 tol=self.tol, v0=v0, ncv=ncv)
            except sla.ArpackNoConvergence as e:
                raise RuntimeError("λ_min for the error growth did not converge (eigsh)") from e
            if calls[0] > 3 * ncv:  # restarted more than twice: a larger basis for the next samples
                self._ncv_floor = max(self._ncv_floor, ncv)
                self._ncv = min(self.NCV_MAX, 2 * self._ncv)
            elif calls[0] <= ncv + 1:  # converged in its first cycle (warm start): the basis can shrink back
                self._ncv = max(self._ncv_floor, self._ncv // 2)
            vec = V[:, 0]
            res = 0.0
            matvec = op.matvec
        vec = vec / np.linalg.norm(vec)
        Hv = matvec(vec)
        lam = float(vec @ Hv)
        res = max(res, float(np.linalg.norm(Hv - lam * vec)))
        return self._keep(key, lam - res, H if H is not None else op, lam, vec)

    def _keep(self, key: bytes, lower: float, mat: Any, lam: float, vec: np.ndarray) -> tuple[float, Any]:
        self._v0 = vec
        value = (lower, mat)
        if len(self._cache) >= 3:  # a step needs its three points; the end is the next step's start
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = value
        self.samples.append(lam)
        return value

    def _certified_lambda_min(self, H: np.ndarray) -> tuple[float, float, np.ndarray] | None:
        """(ℓ, θ, v) with ℓ ≤ λ_min(H) certified and θ ≥ λ_min(H) the Ritz value of the unit vector v,
        θ − ℓ ≤ LAMBDA_TOL·|θ| + 8Pε‖H‖_F (+ the Cholesky margin); or None. Lanczos (full
        reorthogonalization, LANCZOS_STEPS steps, warm-started from the last sample's vector) gives θ;
        σ = θ − LAMBDA_TOL·|θ| − 8Pε‖H‖_F is certified by a Cholesky factorization of H − σI
        (:func:`numerics.dense_spectra.psd_defect`: λ_min(H) ≥ σ − e; docs/theory.md F, "Certificates"). None when it fails
        (the caller then takes dsyevr's eigenpair)."""
        P = H.shape[0]
        m = min(self.LANCZOS_STEPS, P)
        v = self._v0 if self._v0 is not None and self._v0.shape == (P,) else np.random.default_rng(0).standard_normal(P)
        Q = np.empty((P, m))
        Q[:, 0] = v / np.linalg.norm(v)
        for j in range(1, m):
            w = H @ Q[:, j - 1]
            # full reorthogonalization (classical Gram–Schmidt, once: a loss of orthogonality only costs
            # accuracy of θ, never the certificate, which is about the Rayleigh quotient of vec below)
            w -= Q[:, :j] @ (Q[:, :j].T @ w)
            nw = np.linalg.norm(w)
            if nw <= 1e-10 * np.linalg.norm(H @ Q[:, j - 1]):  # an invariant subspace: Krylov space complete
                m = j
                break
            Q[:, j] = w / nw
        Q = Q[:, :m]
        T = Q.T @ (H @ Q)
        theta, S = np.linalg.eigh((T + T.T) / 2)
        vec = Q @ S[:, 0]
        vec /= np.linalg.norm(vec)
        ritz = float(vec @ (H @ vec))  # θ ≥ λ_min(H) (Courant–Fischer; the exact Rayleigh quotient of vec)
        sigma = ritz - self.LAMBDA_TOL * abs(ritz) - 8 * P * np.finfo(float).eps * float(np.linalg.norm(H))
        A = H.copy()
        A[np.diag_indices(P)] -= sigma
        e = psd_defect(A, diagonal_shift=-sigma, shifted=H.diagonal())
        if e is None:
            self.lambda_fallbacks += 1
            return None
        # σ − e rounds once more: lowered by one ulp of its magnitude
        lower = sigma - e
        return lower - 2 * np.finfo(float).eps * abs(lower), ritz, vec

    def lower_lambda_min(self, theta: Sequence[np.ndarray]) -> float:
        """A lower estimate of λ_min(∇²f(θ)): the Rayleigh quotient minus its residual ‖Hv − λv‖
        (some eigenvalue lies within the residual; that it is the smallest is the solver's claim)."""
        return self._sample(theta)[0]

    def norm_upper(self, theta: Sequence[np.ndarray], masks: Sequence[np.ndarray] | None = None) -> float:
        """An upper estimate of ‖∇²f(θ)‖₂ (:meth:`_norm` of the sampled Hessian or HVP operator: certified
        for dense Hessians from ``CERTIFY_MIN`` parameters on, else the solver's largest magnitude plus
        its residual — that it is the largest is the solver's claim, as for λ_min)."""
        value = self._norm_upper_of(self._sample(theta, masks)[1])
        self.norm_samples.append(value)
        return value

    def _norm_upper_of(self, mat: Any) -> float:
        value = self._norm((mat,), (1.0,), key="H")
        if isinstance(mat, np.ndarray):
            # below CERTIFY_MIN (or where a certificate failed) _norm returns LAPACK's eigenvalues: raised by
            # their backward error, as in _sample (a relative ~1e-12 on the certified ones, harmless)
            value += 8 * mat.shape[0] * np.finfo(float).eps * float(np.linalg.norm(mat))
        return value

    def _norm(self, mats: Sequence[Any], weights: Sequence[float], key: Any = None) -> float:
        """‖Σ w_i H_i‖₂: dense eigenvalues, or Lanczos (largest magnitude, plus its residual; that it is
        the largest is the solver's claim, as for λ_min) on the HVP operators. ``key`` names the kind
        of sum, whose last vector warm-starts the next (default: the number of terms for dense power
        iterations, one shared vector for the Lanczos runs on HVP operators)."""
        if isinstance(mats[0], np.ndarray):
            D = sum(w * H for w, H in zip(weights, mats))
            # each dense Hessian entry carries ~P·ε·‖H‖ rounding: not curvature, but kept (it only adds)
            if D.shape[0] >= self.CERTIFY_MIN:
                bound = self._certified_norm(D, len(weights) if key is None else key)
                if bound is not None:
                    return bound
            ev = symmetric_eig(D, lowest=False, scratch=True)
            return float(max(abs(ev[0]), abs(ev[-1])))
        P = self.obj.num_params

        def mv(x: np.ndarray) -> np.ndarray:
            return sum(w * H.matvec(x) for w, H in zip(weights, mats))

        op = sla.LinearOperator((P, P), matvec=mv, dtype=np.float64)
        key = "sums" if key is None else key
        w0 = self._w0.get(key)
        if w0 is None:
            w0 = np.random.default_rng(1).standard_normal(P)
        try:
            _, V = sla.eigsh(op, k=1, which="LM", tol=1e-2, ncv=6, v0=w0)
        except sla.ArpackNoConvergence as e:
            raise RuntimeError("the Hessian's variation for the error growth did not converge (eigsh)") from e
        vec = V[:, 0] / np.linalg.norm(V[:, 0])
        Dv = mv(vec)
        lam = float(vec @ Dv)
        self._w0[key] = vec
        return abs(lam) + float(np.linalg.norm(Dv - lam * vec))

    def _certified_norm(self, D: np.ndarray, key: Any) -> float | None:
        """An upper bound of ‖D‖₂ (D symmetric) within ``NORM_TOL`` of it, or None: power iteration gives
        ν = ‖Dx‖ ≤ ‖D‖₂ (x a unit vector, warm-started per ``key``), and two Cholesky factorizations
        certify β = (1 + NORM_TOL)ν: βI ∓ D ⪰ 0 up to their backward error (:func:`numerics.dense_spectra.psd_defect`,
        docs/theory.md F, "Norm certificates"). None when ν = 0 or a factorization fails (the caller
        then takes the eigenvalues)."""
        x = self._pw.get(key)
        if x is None:
            x = np.random.default_rng(2).standard_normal(D.shape[0])
        x = x / np.linalg.norm(x)
        nu = 0.0
        for _ in range(self.POWER_STEPS):
            y = D @ x
            nu_new = float(np.linalg.norm(y))
            if nu_new == 0.0:
                return None
            x = y / nu_new
            done = nu_new - nu <= 0.1 * self.NORM_TOL * nu_new
            nu = nu_new
            if done:
                break
        self._pw[key] = x
        beta = (1.0 + self.NORM_TOL) * nu
        n = D.shape[0]
        defects = []
        for sign in (-1.0, 1.0):  # βI − D, then βI + D
            A = D * sign
            A[np.diag_indices(n)] += beta
            e = psd_defect(A, diagonal_shift=beta, shifted=D.diagonal() * sign)
            if e is None:
                self.norm_fallbacks += 1
                return None
            defects.append(e)
        return (beta + max(defects)) * (1 + 4 * np.finfo(float).eps)

    def curvature_bound(self, H0: Any, Hm: Any, H1: Any, h: float, coeffs: Sequence[Any] | None,
                        mask_coeffs: Sequence[np.ndarray] | None = None, record: bool = True,
                        norm: Callable[[Sequence[Any], Sequence[float]], float] | None = None) -> float:
        """K ≥ sup_step ‖d²/dt² ∇²f(θ(t))‖₂ from the Hessians (or HVP operators) at the step's start,
        midpoint and end (docs/theory.md F): the larger of φ(r)·‖H(h) − H(0)‖₂/h² (envelope anchored at
        order 1) and κ(r)·‖Δ²H‖₂ (anchored at order 2; skipped when the state's envelope from order 2
        exceeds R_MAX), r the state's coefficient envelope (at least e^{−2}; r = e^{−2} without ``coeffs``).
        ``mask_coeffs``: the series of masks that move along the step (sliding weights μ, arrays (k + 1, 1)),
        on which H depends too: r is the larger of the two envelopes. ``record``: append κ to ``kappas`` (the
        per-step diagnosis; False for other callers, e.g. :mod:`numerics.dense_propagation`, which get ∞ where r
        exceeds the assumption's range instead of a count in ``beyond_assumption``). ``norm(mats, weights)`` ≥
        ‖Σ w_iM_i‖₂ (default: the certified norm of symmetric sums; :mod:`numerics.dense_propagation` passes one
        for the nonsymmetric Jacobians of sliding stretches, whose coefficients it assumes under the same
        envelope)."""
        half = h / 2
        norms = order_norms(coeffs) if coeffs is not None else None  # once for both envelopes
        r2 = coefficient_envelope(norms, h, 2) if norms is not None else R_DESIGN
        r1 = coefficient_envelope(norms, h, 1) if norms is not None else R_DESIGN
        if mask_coeffs:
            n = min(len(c) for c in mask_coeffs)
            mn = order_norms([np.asarray(c[:n], dtype=np.float64) for c in mask_coeffs])
            r1 = max(r1, coefficient_envelope(mn, h, 1))
            r2 = max(r2, coefficient_envelope(mn, h, 2))
        # The Hessian's coefficients are assumed to lie under the geometric envelope through the larger
        # of its orders 1 and 2; then one of the two single-anchor bounds holds, so their maximum does.
        # One ratio r for both anchors: the larger envelope (r₂ only where it is finite-κ, ≤ R_MAX; a
        # larger r₂ means the state's order 2 is anomalously small: r₁ then, and κ at most κ(R_MAX) = 27).
        r = max(r1, r2) if r2 <= R_MAX else r1
        if r > R1_MAX:
            if not record:  # (other callers take no bound outside the assumption)
                return math.inf
            self.beyond_assumption += 1
        nrm = self._norm if norm is None else norm
        K = first_order_factor(min(r, R1_MAX)) * nrm((H0, H1), (-1.0, 1.0)) / h**2
        # the order-2 anchor always, with r at most R_MAX: a large r₂ of the *state* (its order-2 coefficient
        # small) does not make the Hessian's small — D²H[θ₁, θ₁] stays. Skipping it there (until 2026-12-07) let
        # K fall 1.5–1.7× below sup‖H''‖ on two long steps of a digits (8,6,6,3) run (square seed 1 of
        # tests/test_soak_tightness.py: H'' decaying 7.2 → 1.8 along the step while ‖H(h) − H(0)‖/h was 0.14)
        kappa = curvature_factor(min(r, R_MAX)) if r2 > R_MAX else curvature_factor(r)
        K = max(K, kappa * nrm((H0, Hm, H1), (1.0, -2.0, 1.0)) / half**2)
        if record:
            self.kappas.append(kappa)
        return K

    def step(self, y0: Sequence[np.ndarray], ym: Sequence[np.ndarray], y1: Sequence[np.ndarray], h: float,
             coeffs: Sequence[Any] | None = None, lipschitz: float | None = None,
             masks: Sequence[Sequence[np.ndarray]] | None = None,
             mask_coeffs: Sequence[np.ndarray] | None = None) -> float:
        """Upper bound of μ⁺ over the step (docs/theory.md F, "μ along a step").

        ``masks``: the flow's masks at the step's start, midpoint and end where they are not the pattern read
        off the state (sliding entries, at their weights μ(t), and pinned ones, whose z is 0 to rounding); the
        samples are then Hessians with these masks fixed, ``lipschitz`` must cover their move along the step
        too, and ``mask_coeffs`` (the weights' series) join the envelope of :meth:`curvature_bound`
        (docs/theory.md F, "The growth on a sliding stretch").

        Three samples: on each half [t_a, t_b] (length δ = h/2), λ_min(∇²f(θ(t))) ≥ min(λ_min(t_a),
        λ_min(t_b)) − δ²/8·sup‖H''‖₂, with sup‖H''‖₂ ≤ :meth:`curvature_bound`. ``coeffs``: the step's
        state Taylor coefficients or their :class:`OrderNorms` (for the envelope ratio r; without them
        r = e^{−2}, the step rule's design ratio).

        Carried lower bound (``lipschitz`` = L ≥ sup_step ‖dH/dt‖₂,
        :func:`numerics.hessian_lipschitz.hessian_time_lipschitz`; docs/theory.md F, "μ along a step from
        the midpoint"): by Weyl's inequality ‖H(t) − H(t')‖₂ ≤ L·|t − t'| inside a step, and at an event
        the Hessian jumps by at most the bound passed to :meth:`jump`. So a lower bound ℓ of λ_min at the
        step's start gives ℓ − hL over the whole step, and at its end. It is carried from step to step
        while its deficit against the last sample stays below max(``REL``·|λ_sample|, ``SLACK``/h) (the
        extra growth it costs: a fraction REL of the measured rate, or SLACK of log-growth per step);
        otherwise λ_min is sampled again at the step's midpoint (ℓ = λ_m − (h/2)L on the step, no sample
        at the ends, where an event may sit on a region boundary), and when even that costs more than
        SLACK (long steps) the three-sample bound is computed too and the larger lower bound kept."""
        half = h / 2
        # with masks: a bound of ‖H‖ over the step for the sliding forcing term: the carried Λ or three_point_norm
        self.step_norm = math.inf
        self._three, self._mid = None, (ym, masks[1], half * lipschitz) if masks and lipschitz is not None else None
        if lipschitz is None:
            lo = self._three_sample(y0, ym, y1, h, coeffs, masks, mask_coeffs)
        else:
            lo = None
            if self._carried is not None:
                cand = self._carried - h * lipschitz
                # with track_norm, Λ is carried too while it stays within NORM_REL of its last sample
                norm_ok = not self.track_norm or (self._carried_norm is not None and self.norm_samples and
                                                  self._carried_norm + h * lipschitz
                                                  <= (1 + self.NORM_REL) * self.norm_samples[-1])
                if norm_ok and self._last - cand <= max(self.REL * abs(self._last), self.SLACK / max(h, 1e-300)):
                    lo = cand
                    self.carried_steps += 1
            if lo is None:
                lm, _ = self._sample(ym, masks[1] if masks else None)
                self._last = lm
                lo = lm - half * lipschitz
                if h * half * lipschitz > self.SLACK:
                    lo = max(lo, self._three_sample(y0, ym, y1, h, coeffs, masks, mask_coeffs))
                else:
                    self.midpoint_steps += 1
                if self.track_norm:  # ‖H(t)‖ ≤ ‖H(t_m)‖ + L·|t − t_m| on the step (Weyl)
                    self._carried_norm = self.norm_upper(ym, masks[1] if masks else None) + half * lipschitz
            elif self.track_norm and self._carried_norm is not None:
                self._carried_norm += h * lipschitz
            self._carried = lo
            self.last_norm = self._carried_norm if self.track_norm else None
            if masks and self.last_norm is not None:
                self.step_norm = min(self.step_norm, self.last_norm)
        mu = max(0.0, -lo)
        self.integral += mu * h
        return mu

    def jump(self, bound: float) -> None:
        """An event changed the activation pattern: the carried lower bound of λ_min drops by ``bound``
        ≥ ‖∇²f_after − ∇²f_before‖₂ (:func:`numerics.hessian_lipschitz.sample_jump_bound`)."""
        if self._carried is not None:
            self._carried -= bound
        if self._carried_norm is not None:
            self._carried_norm += bound

    def _three_sample(self, y0: Sequence[np.ndarray], ym: Sequence[np.ndarray], y1: Sequence[np.ndarray], h: float,
                      coeffs: Sequence[Any] | None, masks: Sequence[Sequence[np.ndarray]] | None = None,
                      mask_coeffs: Sequence[np.ndarray] | None = None) -> float:
        m0, mm, m1 = masks if masks else (None, None, None)
        l0, H0 = self._sample(y0, m0)
        lm, Hm = self._sample(ym, mm)
        l1, H1 = self._sample(y1, m1)
        half = h / 2
        lo = min(l0, lm, l1)
        K = self.curvature_bound(H0, Hm, H1, h, coeffs, mask_coeffs) if half > 0 else 0.0
        lo -= K * half**2 / 8
        if masks:  # for three_point_norm, on demand
            self._three = (H0, Hm, H1, K * half**2 / 8)
        return lo

    def three_point_norm(self) -> float:
        """≥ ‖H(t)‖₂ over the last step taken with ``masks``: where its three-point bound was computed, on each half
        ‖H(t)‖ ≤ ‖the linear interpolation‖ + δ²/8·sup‖H''‖ (the norm is convex), so the largest of the three
        samples' norms + δ²K/8, K from :meth:`curvature_bound`; else ‖H(t_m)‖ + (h/2)·L (Weyl, as for the carried Λ;
        without it a set-propagated run, which carries no Λ, fell back on the global B₂: docs/theory.md F, "The
        growth on a sliding stretch"). On demand (the caller asks where the carried Λ costs too much); else ∞."""
        if self._three is None:
            return math.inf if self._mid is None else self._norm_upper_of(self._sample(self._mid[0], self._mid[1])[1]) \
                + self._mid[2]
        *mats, extra = self._three
        return max(self._norm_upper_of(H) for H in mats) + extra


def frobenius(m: Any) -> float:
    """‖m‖_F of an arb_mat's midpoints (or of a numpy array), as a float."""
    if isinstance(m, np.ndarray):
        return float(np.linalg.norm(m))
    return _frobenius(m.entries())


def _frobenius(entries: Any) -> float:
    # float(arb) is its midpoint, rounded; pow(x, 2) is x ** 2 (the same float power), mapped in C
    return math.sqrt(sum(map(pow, map(float, entries), repeat(2))))
