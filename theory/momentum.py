"""Closed forms for the error ODEs of GF, heavy ball and Nesterov (docs/theory.md D2–D5).

In the NTK regime the error e = u − y of the two-layer ReLU net obeys a linear ODE driven by the Gram
H (D2); per eigen-direction (H = Q diag(λ) Qᵀ, c = Qᵀe) every method decouples. With e(0) = e₀ and
e'(0) = 0:

* GF   e' = −λe:                 e(t) = e₀ e^{−λt}.
* HB   e'' + b e' + λe = 0 (b > 0): with q = λ − b²/4 and S(t) = sin(√q t)/√q (q > 0, under-damped),
  t (q = 0, critical), sinh(√−q t)/√−q (q < 0, over-damped), and C = S':
      e(t) = e₀ e^{−bt/2} (C(t) + (b/2) S(t)),    e'(t) = −λ e₀ e^{−bt/2} S(t).
  Critical: e₀ e^{−bt/2}(1 + bt/2) exactly. The regime is decided exactly (b² vs 4λ compared as
  rationals from the given numbers) and the formulas are continuous across it (near-critical input
  loses nothing: sin(ωt)/ω and sinh(κt)/κ are evaluated without cancellation; the over-damped case
  uses e^{−ρt} and expm1 so nothing overflows).
* NAG  e'' + (r/t) e' + λe = 0 (r > 0): e(t) = e₀ Γ(ν+1) (2/z)^ν J_ν(z), z = √λ t, ν = (r − 1)/2
  (= ₀F₁(; ν+1; −z²/4), equal to e₀ at t = 0); r = 3: 2J₁(z)/z.

Rates and bounds:

* HB mode rate ρ_i = (b − √(b² − 4λ_i))/2 = 2λ_i/(b + √(b² − 4λ_i)) if b ≥ 2√λ_i, else b/2 (D3). It is
  nondecreasing in λ, so the worst mode is λ₀ = λ_min(H): ρ(b) = ρ(λ₀); max_b ρ(b) = √λ₀ at b = 2√λ₀.
  Every mode obeys |e_i(t)| ≤ (1 + bt/2) e^{−ρ_i t} |e_i(0)| (under: |C + (b/2)S| ≤ 1 + bt/2 since
  |sin x| ≤ |x|, |cos| ≤ 1; over: cosh κt ≤ e^{κt} and sinh(κt)/κ ≤ t e^{κt}; critical: equality), hence
  ‖e(t)‖ ≤ (1 + bt/2) e^{−ρ(b)t} ‖e₀‖ (:func:`hb_bound`), with equality at critical damping of λ₀
  (e₀ along its eigenvector): the (1 + √λ₀ t) factor of D3.
* NAG: |Γ(ν+1)(2/z)^ν J_ν(z)| ≤ Γ(ν+1) 2^ν c_ν z^{−ν−1/2} with c_ν = sup_z √z |J_ν(z)|, so
  ½‖e(t)‖² ≤ ½ Γ(ν+1)² 4^ν c_ν² ‖e₀‖² / (λ₀^{ν+1/2} t^{2ν+1}) (:func:`nag_bound`); r = 3 (ν = 1) is
  D4's 2c²‖e₀‖²/(λ₀^{3/2}t³), c = c₁ ≈ 0.8250. The exponent 2ν + 1 = r: loss ~ t^{−r}, no linear rate.
  c_ν is computed, not stored (:func:`bessel_sup`): the first critical point z* of √z J_ν(z), i.e.
  the first root of z J_{ν−1}(z) = (ν − ½) J_ν(z), is bracketed by a scan of step 1/20 from z = 1/20
  and refined with ``mpmath.findroot`` (Anderson–Björck, bracketing) at dps + 10 digits;
  c_ν = √z* |J_ν(z*)|. It is the global sup for ν > ½ by the Sonine–Pólya theorem: y = √z J_ν(z)
  solves y'' + (1 − (ν² − ¼)/z²) y = 0, whose coefficient increases in z when ν > ½, so the successive
  maxima of |y| decrease (to their limit √(2/π)). For −½ < ν ≤ ½ (0 < r ≤ 2) the maxima increase
  to √(2/π), which is then the sup (not attained for ν < ½).
* D5: the modified flow of HB with step h and momentum β is θ' = −(1/(1−β))∇[L + h(1+β)/(4(1−β)²)‖∇L‖²]
  (:func:`hb_modified_coefficient`); on L = ½λθ² its rate (:func:`hb_modified_rate`) matches
  ln μ₊/h of HB's slow characteristic root μ₊ to O(h²).

Arithmetic: ``dps=None`` is float64 (numpy; ``t`` may be an array for the per-mode functions);
an integer ``dps`` computes with mpmath at that many digits and returns ``mpf`` (scalar ``t``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np
from scipy import special

from .arrays import as_matrix, check_dps, check_range, mpf_of, to_kind

__all__ = [
    "BesselSup",
    "bessel_sup",
    "gf_bound",
    "gf_mode",
    "gf_solution",
    "hb_bound",
    "hb_discrete_rate",
    "hb_mode",
    "hb_mode_rate",
    "hb_modified_coefficient",
    "hb_modified_rate",
    "hb_optimal_damping",
    "hb_optimal_rate",
    "hb_rate",
    "hb_regime",
    "hb_solution",
    "nag_bound",
    "nag_constant",
    "nag_mode",
    "nag_solution",
    "spectrum",
]


# ------------------------------------------------------------------------------------------ helpers
def _exact(x: Any) -> Fraction:
    """The exact rational value of a float/int/Fraction/mpf (floats and mpfs are binary rationals)."""
    if isinstance(x, Fraction):
        return x
    if isinstance(x, mpmath.mpf):
        sign, man, exp, _ = x._mpf_
        return (-1) ** sign * Fraction(int(man)) * Fraction(2) ** int(exp) if man else Fraction(0)
    if isinstance(x, (np.floating, np.integer)):
        x = x.item()
    return Fraction(x)


def _check_dps(dps: Any) -> None:
    check_dps(dps, allow_none=True)


class _Ctx:
    """Precision context: float64 numpy functions, or mpmath at ``dps`` digits."""

    def __init__(self, dps: int | None):
        _check_dps(dps)
        self.dps = dps
        self._cm = mpmath.workdps(dps) if dps is not None else None

    def __enter__(self):
        if self._cm is not None:
            self._cm.__enter__()
        return self

    def __exit__(self, *a):
        if self._cm is not None:
            return self._cm.__exit__(*a)
        return False

    @property
    def mp(self) -> bool:
        return self.dps is not None

    def num(self, x: Any) -> Any:
        return mpf_of(_exact(x)) if self.mp else float(x)

    def time(self, t: Any) -> Any:
        if self.mp:
            check_range(t, "t", lo=0)
            return mpf_of(_exact(t))
        tt = np.asarray(t, dtype=float)
        if tt.size and not (np.all(np.isfinite(tt)) and tt.min() >= 0):
            raise ValueError(f"t must be finite and >= 0, got {t!r}")
        return tt if tt.ndim else float(tt)

    def __getattr__(self, name: str):  # exp, sqrt, cos, sin, expm1 ... from the right library
        lib = mpmath if self.mp else np
        return getattr(lib, name)


def _check_lam(lam: Any, name: str = "lam") -> None:
    check_range(lam, name, lo=0)


def _check_b(b: Any) -> None:
    check_range(b, "b (damping)", lo=0, lo_strict=True)


def _check_r(r: Any) -> None:
    check_range(r, "r (NAG damping r/t)", lo=0, lo_strict=True)


# ------------------------------------------------------------------------------------------ GF
def gf_mode(lam: Any, t: Any, e0: Any = 1, dps: int | None = None) -> Any:
    """e₀ e^{−λt} (GF on one eigen-direction)."""
    _check_lam(lam)
    with _Ctx(dps) as c:
        return c.num(e0) * c.exp(-c.num(lam) * c.time(t))


def gf_bound(lam0: Any, t: Any, e0_norm: Any = 1, dps: int | None = None) -> Any:
    """‖e(t)‖ ≤ e^{−λ₀t}‖e₀‖ for e' = −He, λ₀ = λ_min(H) (D2)."""
    return gf_mode(lam0, t, e0_norm, dps)


# ------------------------------------------------------------------------------------------ HB
def hb_regime(lam: Any, b: Any) -> str:
    """'under' (b² < 4λ), 'critical' (b² = 4λ) or 'over' (b² > 4λ), compared exactly."""
    _check_lam(lam)
    _check_b(b)
    q = 4 * _exact(lam) - _exact(b) ** 2
    return "under" if q > 0 else ("critical" if q == 0 else "over")


def hb_mode(lam: Any, b: Any, t: Any, e0: Any = 1, dps: int | None = None, velocity: bool = False) -> Any:
    """Solution of e'' + b e' + λe = 0, e(0) = e₀, e'(0) = 0 (module docstring); with
    ``velocity=True`` returns (e(t), e'(t))."""
    reg = hb_regime(lam, b)
    q4 = 4 * _exact(lam) - _exact(b) ** 2  # 4q, exact
    with _Ctx(dps) as c:
        lam_, b_, e0_, t_ = c.num(lam), c.num(b), c.num(e0), c.time(t)
        if reg == "over":
            k = c.sqrt(c.num(-q4)) / 2  # κ = √(b²/4 − λ), from the exact 4q (no cancellation)
            rho = lam_ / (b_ / 2 + k)  # = b/2 − κ without cancellation
            slow = c.exp(-rho * t_)
            # e^{−bt/2} S = e^{−ρt}(1 − e^{−2κt})/(2κ) = −e^{−ρt} expm1(−2κt)/(2κ)
            eS = -slow * c.expm1(-2 * k * t_) / (2 * k)  # κ > 0 strictly here
            eC = (slow + c.exp(-(b_ / 2 + k) * t_)) / 2
        else:
            damp = c.exp(-b_ * t_ / 2)
            if reg == "critical":
                eC, eS = damp, damp * t_
            else:
                w = c.sqrt(c.num(q4)) / 2
                eC, eS = damp * c.cos(w * t_), damp * c.sin(w * t_) / w
        e = e0_ * (eC + b_ / 2 * eS)
        if velocity:
            return e, -lam_ * e0_ * eS
        return e


def hb_mode_rate(lam: Any, b: Any, dps: int | None = None) -> Any:
    """ρ_i = b/2 if b ≤ 2√λ, else (b − √(b² − 4λ))/2 = 2λ/(b + √(b² − 4λ)) (D3)."""
    reg = hb_regime(lam, b)
    with _Ctx(dps) as c:
        b_ = c.num(b)
        if reg != "over":
            return b_ / 2
        return 2 * c.num(lam) / (b_ + c.sqrt(c.num(_exact(b) ** 2 - 4 * _exact(lam))))


def hb_rate(b: Any, lam0: Any, dps: int | None = None) -> Any:
    """ρ(b): the worst mode's rate, at λ₀ = λ_min (``lam0`` may be the whole spectrum)."""
    if isinstance(lam0, (list, tuple, np.ndarray)):
        lams = list(np.asarray(lam0, dtype=object).reshape(-1))
        if not lams:
            raise ValueError("lam0: empty spectrum")
        lam0 = min(lams, key=_exact)
    return hb_mode_rate(lam0, b, dps)


def hb_optimal_damping(lam0: Any, dps: int | None = None) -> Any:
    """b* = 2√λ₀, which maximises ρ(b) (critical damping of the worst mode)."""
    _check_lam(lam0, "lam0")
    with _Ctx(dps) as c:
        return 2 * c.sqrt(c.num(lam0))


def hb_optimal_rate(lam0: Any, dps: int | None = None) -> Any:
    """max_b ρ(b) = ρ(2√λ₀) = √λ₀."""
    _check_lam(lam0, "lam0")
    with _Ctx(dps) as c:
        return c.sqrt(c.num(lam0))


def hb_bound(b: Any, lam0: Any, t: Any, e0_norm: Any = 1, dps: int | None = None) -> Any:
    """(1 + bt/2) e^{−ρ(b)t} ‖e₀‖ ≥ ‖e(t)‖ for the HB error ODE (module docstring; equality at
    critical damping of λ₀ with e₀ along its eigenvector)."""
    rho = hb_rate(b, lam0, dps)
    with _Ctx(dps) as c:
        t_ = c.time(t)
        return (1 + c.num(b) * t_ / 2) * c.exp(-rho * t_) * c.num(e0_norm)


def hb_discrete_rate(lam: Any, eta: Any, b: Any) -> float:
    """Decay rate per unit time t = k√η of discrete HB with β = 1 − b√η on the mode λ:
    −ln max|μ| / √η over the roots μ of μ² − (1 + β − ηλ)μ + β (float64). Tends to ρ_i as η → 0."""
    _check_lam(lam)
    _check_b(b)
    check_range(eta, "eta", lo=0, lo_strict=True)
    h = math.sqrt(float(eta))
    beta = 1 - float(b) * h
    if not 0 <= beta < 1:
        raise ValueError(f"beta = 1 - b*sqrt(eta) = {beta!r} must lie in [0, 1); reduce eta or b")
    roots = np.roots([1.0, -(1 + beta - float(eta) * float(lam)), beta])
    return float(-math.log(max(abs(roots))) / h)


# ------------------------------------------------------------------------------------------ NAG
def nag_mode(lam: Any, t: Any, r: Any = 3, e0: Any = 1, dps: int | None = None) -> Any:
    """Solution of e'' + (r/t)e' + λe = 0, e(0) = e₀, e'(0) = 0: e₀Γ(ν+1)(2/z)^ν J_ν(z), z = √λ t."""
    _check_lam(lam)
    _check_r(r)
    with _Ctx(dps) as c:
        nu = (c.num(r) - 1) / 2
        z = c.sqrt(c.num(lam)) * c.time(t)
        e0_ = c.num(e0)
        if c.mp:
            if z == 0:
                return e0_
            return e0_ * mpmath.gamma(nu + 1) * (2 / z) ** nu * mpmath.besselj(nu, z)
        return e0_ * _nag_float(float(nu), np.asarray(z, dtype=float))


def _nag_float(nu: float, z: np.ndarray) -> Any:
    """₀F₁(; ν+1; −z²/4) in float64: its power series for z < 1/2 (term ratio ≤ (z²/4)/(k(ν+k)) ≤
    1/8 for ν > −½, 30 terms reach 1e-27), scipy's J_ν above."""
    out = np.empty(z.shape)
    small = z < 0.5
    if np.any(small):
        zs = z[small]
        x = -zs * zs / 4
        term = np.ones_like(zs)
        acc = np.ones_like(zs)
        for k in range(1, 31):
            term = term * x / (k * (nu + k))
            acc = acc + term
        out[small] = acc
    big = ~small
    if np.any(big):
        zb = z[big]
        out[big] = special.gamma(nu + 1) * (2 / zb) ** nu * special.jv(nu, zb)
    return out if out.ndim else float(out)


@dataclass(frozen=True)
class BesselSup:
    """c_ν = sup_z √z|J_ν(z)|, the maximiser z (inf when the sup is the limit √(2/π)), the method."""

    nu: Any
    c: mpmath.mpf
    z: mpmath.mpf
    dps: int
    method: str


@functools.lru_cache(maxsize=64)
def _bessel_sup(nu_q: Fraction, dps: int) -> BesselSup:
    with mpmath.workdps(dps + 10):
        nu = mpmath.mpf(nu_q.numerator) / nu_q.denominator
        if nu_q <= Fraction(1, 2):
            c = mpmath.sqrt(2 / mpmath.pi)
            method = ("nu <= 1/2: the maxima of sqrt(z)|J_nu(z)| increase to sqrt(2/pi) (Sonine-Polya), "
                      "which is the sup")
            return BesselSup(nu_q, +c, mpmath.inf, dps, method)

        def f(z):
            return z * mpmath.besselj(nu - 1, z) - (nu - mpmath.mpf(1) / 2) * mpmath.besselj(nu, z)

        step = mpmath.mpf(1) / 20
        a = step
        if not f(a) > 0:
            raise ArithmeticError(f"bessel_sup: f(1/20) = {f(a)} should be > 0 for nu = {nu}")
        while f(a + step) > 0:
            a += step
            if a > 100 + 4 * nu:  # the first critical point lies below j_{nu-1,1} < nu + 3 nu^{1/3} + 2
                raise ArithmeticError(f"bessel_sup: no critical point of sqrt(z)J_nu(z) found below {a}")
        z = mpmath.findroot(f, (a, a + step), solver="anderson")
        c = mpmath.sqrt(z) * abs(mpmath.besselj(nu, z))
        method = ("first root z* of z J_{nu-1}(z) = (nu - 1/2) J_nu(z) (critical point of sqrt(z) J_nu), "
                  "bracketed by a scan of step 1/20 and refined by mpmath.findroot (Anderson-Bjorck) at "
                  f"{dps + 10} digits; c = sqrt(z*)|J_nu(z*)|, global by the Sonine-Polya theorem")
    with mpmath.workdps(dps):
        return BesselSup(nu_q, +c, +z, dps, method)


def bessel_sup(nu: Any = 1, dps: int = 50) -> BesselSup:
    """c_ν = sup_{z>0} √z|J_ν(z)| at ``dps`` digits (module docstring: method and why it is global).

    ν > −½ (r > 0). Cached per (ν, dps).
    """
    _check_dps(dps)
    nu_q = _exact(nu)
    if nu_q <= Fraction(-1, 2):
        raise ValueError(f"nu must be > -1/2 (r > 0), got {nu!r}: sqrt(z)|J_nu(z)| is unbounded at 0")
    return _bessel_sup(nu_q, int(dps))


def nag_constant(dps: int = 50) -> mpmath.mpf:
    """c = sup_z √z|J₁(z)| ≈ 0.8250 (D4), computed at ``dps`` digits."""
    return bessel_sup(1, dps).c


def nag_bound(lam0: Any, t: Any, e0_norm: Any = 1, r: Any = 3, dps: int | None = None,
              constant: Any = None) -> Any:
    """Bound on ½‖e(t)‖² for NAG with damping r/t: ½Γ(ν+1)²4^ν c_ν²‖e₀‖²/(λ₀^{ν+½}t^{2ν+1});
    r = 3: 2c²‖e₀‖²/(λ₀^{3/2}t³). ``constant`` overrides c_ν (for mutation tests). inf at t = 0."""
    _check_dps(dps)
    check_range(lam0, "lam0", lo=0, lo_strict=True)
    _check_r(r)
    nu_q = (_exact(r) - 1) / 2
    cnu = bessel_sup(nu_q, max(30, (dps or 15) + 10)).c if constant is None else constant
    with _Ctx(dps) as c:
        nu = c.num(nu_q)
        t_ = c.time(t)
        if not c.mp and np.ndim(t_) == 0 and t_ == 0 or c.mp and t_ == 0:
            return mpmath.inf if c.mp else math.inf
        cc = c.num(cnu) if not c.mp else mpf_of(cnu)
        pref = (mpmath.gamma(nu + 1) if c.mp else special.gamma(nu + 1)) ** 2 * 4**nu * cc**2 / 2
        with np.errstate(divide="ignore"):
            return pref * c.num(e0_norm) ** 2 / (c.num(lam0) ** (nu + c.num(Fraction(1, 2))) * t_ ** (2 * nu + 1))


# ------------------------------------------------------------------------------------------ D5
def hb_modified_coefficient(h: Any, beta: Any, dps: int | None = None) -> Any:
    """The regulariser weight h(1+β)/(4(1−β)²) of HB's modified loss L + weight·‖∇L‖² (D5)."""
    check_range(h, "h (step)", lo=0, lo_strict=True)
    check_range(beta, "beta", lo=0, hi=1, hi_strict=True)
    with _Ctx(dps) as c:
        bb = c.num(beta)
        return c.num(h) * (1 + bb) / (4 * (1 - bb) ** 2)


def hb_modified_rate(lam: Any, h: Any, beta: Any, dps: int | None = None) -> Any:
    """σ with θ(t) = θ₀e^{σt} for the HB modified flow on L = ½λθ²:
    σ = −(λ/(1−β))(1 + hλ(1+β)/(2(1−β)²)) (∇‖∇L‖² = 2λ²θ)."""
    _check_lam(lam)
    w = hb_modified_coefficient(h, beta, dps)
    with _Ctx(dps) as c:
        lam_ = c.num(lam)
        return -(lam_ + 2 * w * lam_**2) / (1 - c.num(beta))


# ------------------------------------------------------------------------------------------ vectors
def spectrum(H: Any, dps: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(λ ascending, Q) with H = Q diag(λ) Qᵀ: numpy ``eigh`` (float64) or ``mpmath.eigsy`` at ``dps``.

    H must be exactly symmetric and positive semidefinite: eigenvalues in [−tol, 0) with
    tol = n·ε·‖H‖_F (float64; n·10^{−dps+2}·‖H‖_F for mp) are rounding and set to 0, more negative
    ones are refused.
    """
    _check_dps(dps)
    H = as_matrix(H, "H")
    n = H.shape[0]
    if H.shape != (n, n):
        raise ValueError(f"H must be square, got shape {H.shape}")
    if not np.array_equal(H, H.T):
        raise ValueError("H must be symmetric (H == H.T entrywise); pass (H + H.T)/2")
    if dps is None:
        lam, Q = np.linalg.eigh(to_kind(H, "float"))
        tol = n * np.finfo(float).eps * float(np.linalg.norm(to_kind(H, "float")))
        zero = 0.0
    else:
        with mpmath.workdps(dps):
            Hm = mpmath.matrix(to_kind(H, "mp").tolist())
            ev, Qm = mpmath.eigsy(Hm)
            order = sorted(range(n), key=lambda i: ev[i])
            lam = np.array([ev[i] for i in order], dtype=object)
            Q = np.array([[Qm[r, i] for i in order] for r in range(n)], dtype=object)
            tol = n * mpmath.mpf(10) ** (2 - dps) * mpmath.mnorm(Hm, "f")
            zero = mpmath.mpf(0)
    if lam[0] < -tol:
        raise ValueError(f"H must be positive semidefinite (a Gram matrix); lambda_min(H) = {float(lam[0]):.3e}")
    lam = np.array([zero if x < 0 else x for x in lam], dtype=lam.dtype)
    return lam, Q


def _solve(H: Any, e0: Any, dps: int | None, per_mode) -> np.ndarray:
    lam, Q = spectrum(H, dps)
    e0 = np.asarray(e0)
    if e0.shape != (Q.shape[0],):
        raise ValueError(f"e0 must be a 1-D array of length {Q.shape[0]}, got shape {e0.shape}")
    if dps is None:
        c0 = Q.T @ to_kind(e0, "float")
        return Q @ np.array([float(per_mode(l, ci)) for l, ci in zip(lam, c0)])
    with mpmath.workdps(dps):
        c0 = Q.T @ to_kind(e0, "mp")
        return Q @ np.array([per_mode(l, ci) for l, ci in zip(lam, c0)], dtype=object)


def gf_solution(H: Any, e0: Any, t: Any, dps: int | None = None) -> np.ndarray:
    """e(t) = exp(−Ht)e₀ via the eigendecomposition (float64, or mpf at ``dps``)."""
    return _solve(H, e0, dps, lambda l, c: gf_mode(l, t, c, dps))


def hb_solution(H: Any, e0: Any, b: Any, t: Any, dps: int | None = None) -> np.ndarray:
    """e(t) for e'' + b e' + He = 0, e(0) = e₀, e'(0) = 0, mode by mode."""
    _check_b(b)
    return _solve(H, e0, dps, lambda l, c: hb_mode(l, b, t, c, dps))


def nag_solution(H: Any, e0: Any, t: Any, r: Any = 3, dps: int | None = None) -> np.ndarray:
    """e(t) for e'' + (r/t)e' + He = 0, e(0) = e₀, e'(0) = 0, mode by mode (Bessel)."""
    _check_r(r)
    return _solve(H, e0, dps, lambda l, c: nag_mode(l, t, r, c, dps))
