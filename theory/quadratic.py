"""Quadratic objectives f(θ) = ½ θᵀAθ − bᵀθ and their closed-form GF, GD and modified flow.

These are the ground truth for docs/theory.md A1–A4. With A = Q diag(λ) Qᵀ and coordinates c = Qᵀθ,
b' = Qᵀb, every method decouples per eigen-direction (c* = b'/λ when λ ≠ 0):

* GF  c' = −λc + b':      c(t) = e^{−λt} c(0) + b'·(1 − e^{−λt})/λ      (= c(0) + b't if λ = 0)
* GD  c_{k+1} = (1 − ηλ)c_k + ηb':  c_k = (1 − ηλ)^k c(0) + b'·(1 − (1 − ηλ)^k)/λ
* the exact modified flow of GD (docs/theory.md A4), defined when ηλ < 1:
  (c − c*)' = (log(1 − ηλ)/η)(c − c*), i.e. c(t) = (1 − ηλ)^{t/η} c(0) + b'(1 − (1 − ηλ)^{t/η})/λ,
  which passes through every GD iterate at t = kη.

Two arithmetics: float64 (numpy ``eigh``) and mp (``mpmath.eigsy`` at an explicit ``dps``); the
mp path returns object arrays of ``mpf`` and does every step at that precision.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .arrays import as_matrix, check_dps, check_range, common_kind, mpf_of, to_kind
from .objective import ParamSpace
from .lazy import lazy_module

mpmath = lazy_module("mpmath")


class Quadratic(ParamSpace):
    """f(θ) = ½ θᵀAθ − bᵀθ with A symmetric (possibly indefinite or singular).

    θ is a list holding one 1-D array of length P (so the interface matches the networks').
    """

    def __init__(self, A: Any, b: Any | None = None) -> None:
        A = as_matrix(A, "A")
        if A.shape[0] != A.shape[1]:
            raise ValueError(f"A must be square, got shape {A.shape}")
        # Exact structural check, not a numerical comparison: the closed forms assume Aᵀ = A.
        if not np.array_equal(A, A.T):
            raise ValueError("A must be symmetric (A == A.T entrywise); pass (A + A.T)/2")
        P = A.shape[0]
        if b is None:
            b = np.zeros(P)
        b = np.asarray(b)
        if b.shape != (P,):
            raise ValueError(f"b must be a 1-D array of length {P}, got shape {b.shape}")
        common_kind([A, b], "A/b")
        as_matrix(b, "b")
        self.A, self.b = A, b
        self.shapes = ((P,),)

    def __repr__(self) -> str:
        return f"Quadratic(P={self.A.shape[0]})"

    # ---- closed forms ---------------------------------------------------------------------------
    def _eig(self, dps: int | None):
        if dps is None:
            lam, Q = np.linalg.eigh(to_kind(self.A, "float"))
            return lam, Q, Q.T @ to_kind(self.b, "float")
        with mpmath.workdps(dps):
            A = mpmath.matrix(to_kind(self.A, "mp").tolist())
            lam, Q = mpmath.eigsy(A)
            n = A.rows
            lam = np.array([lam[i] for i in range(n)], dtype=object)
            Q = np.array([[Q[i, j] for j in range(n)] for i in range(n)], dtype=object)
            bp = Q.T @ to_kind(self.b, "mp")
            return lam, Q, bp

    def _solve(self, theta0: Sequence[Any], dps: int | None, per_mode) -> list[np.ndarray]:
        (x0,) = self.check_theta(theta0, "theta0")
        kind = "float" if dps is None else "mp"
        ctx = mpmath.workdps(dps) if dps is not None else _nullctx()
        with ctx:
            lam, Q, bp = self._eig(dps)
            c0 = Q.T @ to_kind(x0, kind)
            c = np.array([per_mode(l, c, q) for l, c, q in zip(lam, c0, bp)], dtype=object if dps else float)
            return [Q @ c]

    def gf(self, theta0: Sequence[Any], t: Any, dps: int | None = None) -> list[np.ndarray]:
        """Exact gradient flow θ(t) from θ(0) = theta0 (float64, or mp at ``dps`` digits)."""
        check_dps(dps, allow_none=True)
        _check_time(t, "t")
        m = mpmath if dps is not None else _fl

        def mode(l, c, q):
            t_ = mpf_of(t) if dps is not None else float(t)
            # (1 − e^{−λt})/λ = t·φ₁(−λt), computed via expm1 so λ → 0 loses no digits
            return m.exp(-l * t_) * c + q * _phi1(-l * t_, m) * t_

        return self._solve(theta0, dps, mode)

    def gd(self, theta0: Sequence[Any], eta: Any, k: int, dps: int | None = None) -> list[np.ndarray]:
        """The k-th GD iterate θ_k = θ_{k−1} − η∇f(θ_{k−1}) in closed form."""
        check_dps(dps, allow_none=True)
        _check_eta(eta)
        if int(k) != k or k < 0:
            raise ValueError(f"k must be a non-negative integer, got {k!r}")
        k = int(k)
        m = mpmath if dps is not None else _fl

        def mode(l, c, q):
            e = mpf_of(eta) if dps is not None else float(eta)
            r = 1 - e * l
            geo = _geometric_sum(r, k, m)  # Σ_{i<k} r^i, exact also at r = 1
            return r**k * c + e * q * geo

        return self._solve(theta0, dps, mode)

    def modified_flow(self, theta0: Sequence[Any], eta: Any, t: Any, dps: int | None = None) -> list[np.ndarray]:
        """Exact modified flow of GD (docs/theory.md A4): interpolates GD, θ̃(kη) = θ_k.

        Needs ηλ < 1 for every eigenvalue λ (else (1 − ηλ)^{t/η} is not real).
        """
        check_dps(dps, allow_none=True)
        _check_eta(eta)
        _check_time(t, "t")
        m = mpmath if dps is not None else _fl

        def mode(l, c, q):
            e = mpf_of(eta) if dps is not None else float(eta)
            t_ = mpf_of(t) if dps is not None else float(t)
            if e * l >= 1:
                raise ValueError(f"modified flow needs eta*lambda < 1 for every eigenvalue; eta*lambda = {e * l}")
            rate = m.log1p(-e * l) / e  # log(1 − ηλ)/η
            # c* + e^{rate·t}(c − c*) = e^{rate·t}c − b'·expm1(rate·t)/λ; at λ = 0 (rate = 0) it is c + b't
            if l == 0:
                return c + q * t_
            return m.exp(rate * t_) * c - q * m.expm1(rate * t_) / l

        return self._solve(theta0, dps, mode)


class _fl:
    """float64 versions of the few functions the closed forms use (mirrors mpmath's names)."""

    exp = staticmethod(np.exp)
    expm1 = staticmethod(np.expm1)
    log1p = staticmethod(np.log1p)


def _phi1(z, m):
    """φ₁(z) = (e^z − 1)/z, with φ₁(0) = 1."""
    if z == 0:
        return 1 if m is _fl else mpmath.mpf(1)
    return m.expm1(z) / z


def _geometric_sum(r, k, m):
    """Σ_{i<k} r^i = (1 − r^k)/(1 − r), = k at r = 1."""
    if r == 1:
        return k
    if m is _fl:
        # expm1/log1p keep accuracy when r is close to 1 (small ηλ), where 1 − r^k cancels
        if r > 0:
            return -np.expm1(k * np.log(r)) / (1 - r)
        return (1 - r**k) / (1 - r)
    return (1 - r**k) / (1 - r)


class _nullctx:
    def __enter__(self):
        return None

    def __exit__(self, *a):
        return False


def _check_eta(eta: Any) -> None:
    check_range(eta, "eta", lo=0, lo_strict=True)


def _check_time(t: Any, name: str) -> None:
    check_range(t, name, lo=0)
