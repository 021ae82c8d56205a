"""Certified smallest eigenvalue of an exact rational symmetric matrix: characteristic polynomial
(python-flint ``fmpq_mat``), then bisection with exact sign counts (Sturm-free: Descartes' rule on
the shifted polynomial). Part of the independent exact reference (re-exported by
:mod:`theory.symbolic`)."""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from fractions import Fraction
from numbers import Rational as _RationalABC
from typing import Any

import flint
import mpmath
import numpy as np
import sympy

from .arrays import to_kind


def _exact(a: Any) -> np.ndarray:
    """Object array of ``Fraction`` (floats and mpf convert exactly: they are binary rationals)."""
    return to_kind(a, "exact")

# ---- 3. certified smallest eigenvalue --------------------------------------------------------------


@dataclass(frozen=True)
class EigenInterval:
    """An isolating interval [lo, hi] for one eigenvalue, with its exact multiplicity.

    ``lo < λ < hi``, or ``lo == hi == λ`` when λ was found exactly. Unpacks as ``lo, hi = ...``.
    """

    lo: Fraction
    hi: Fraction
    multiplicity: int

    @property
    def midpoint(self) -> Fraction:
        return (self.lo + self.hi) / 2

    @property
    def width(self) -> Fraction:
        return self.hi - self.lo

    def contains(self, x: Any, tol: Any = 0) -> bool:
        """Whether lo − tol ≤ x ≤ hi + tol, compared exactly.

        ``x`` may be int, Fraction, SymPy Rational, float or ``mpmath.mpf`` (both taken at their
        exact binary value). For an approximate x pass a ``tol`` that bounds its error.
        """
        xq, tq = _fraction_of(x, "x"), _fraction_of(tol, "tol")
        return self.lo - tq <= xq <= self.hi + tq

    def __iter__(self):
        return iter((self.lo, self.hi))

    def __float__(self) -> float:
        return float(self.midpoint)


def _fraction_of(x: Any, name: str) -> Fraction:
    if isinstance(x, sympy.Rational):
        return Fraction(int(x.p), int(x.q))
    if isinstance(x, sympy.Basic):
        raise TypeError(f"{name} must be a rational or a float/mpf number, got SymPy {x!r}")
    if isinstance(x, (Fraction, int, float, mpmath.mpf, np.floating, np.integer)) and not isinstance(x, bool):
        return _exact(np.array([x], dtype=object))[0]
    if isinstance(x, _RationalABC):
        return Fraction(int(x.numerator), int(x.denominator))
    raise TypeError(f"{name} must be a real number, got {type(x).__name__}")


def _to_fmpq_mat(H: Any) -> flint.fmpq_mat:
    """H (SymPy Matrix, numpy array, list of rows or fmpq_mat) as an exact square symmetric fmpq_mat."""
    if isinstance(H, flint.fmpq_mat):
        rows = [[Fraction(int(x.p), int(x.q)) for x in row] for row in H.tolist()]
    elif isinstance(H, sympy.MatrixBase):
        rows = [[_fraction_of(x, "H entry") for x in row] for row in H.tolist()]
    else:
        arr = np.asarray(H, dtype=object)
        if arr.ndim != 2:
            raise ValueError(f"H must be a 2-D matrix, got shape {arr.shape}")
        rows = [[_fraction_of(x, "H entry") for x in row] for row in arr]
    n = len(rows)
    if n == 0 or any(len(r) != n for r in rows):
        lengths = sorted({len(r) for r in rows})
        raise ValueError(f"H must be a non-empty square matrix, got {n} rows of lengths {lengths}")
    if any(rows[i][k] != rows[k][i] for i in range(n) for k in range(i)):
        raise ValueError("H must be exactly symmetric (H[i,k] == H[k,i]); the certificate relies on real roots")
    return flint.fmpq_mat(n, n, [flint.fmpq(x.numerator, x.denominator) for r in rows for x in r])


def _count_below(p: flint.fmpq_poly, s: Fraction) -> int:
    """#roots of the real-rooted p below s, with multiplicity: sign variations of p(s − x).

    Descartes: the number of positive roots is at most the number V of sign variations of the
    coefficients, with equality when every root is real (apply the bound to q(x) and q(−x): their
    V's add up to at most deg q minus the multiplicity of 0, which is the total number of nonzero
    roots). The positive roots of q(x) = p(s − x) are s − λ for the roots λ < s of p.
    """
    q = p(flint.fmpq_poly([flint.fmpq(s.numerator, s.denominator), -1]))
    signs = [c > 0 for c in q.coeffs() if c != 0]
    return sum(1 for a, b in zip(signs, signs[1:]) if a != b)


def lambda_min_interval(H: Any, eps: Fraction = Fraction(1, 10**12)) -> EigenInterval:
    """The smallest eigenvalue of a symmetric rational matrix H, certified: lo < λ_min < hi, hi − lo ≤ eps.

    THEORY.md B1/B2/B6 bound λ_min(∇²f); with :func:`hessian` this decides them without rounding
    (B1's equality case, λ_min = −‖Φ‖₂ at θ = 0 for N = 2, is pinned to within eps).

    Returns an :class:`EigenInterval` (``lo, hi = lambda_min_interval(H)`` works) that isolates
    λ_min from every other eigenvalue and carries its exact multiplicity. Entries may be Rational,
    Fraction, int, or float (taken at its exact binary value); H must be exactly symmetric.

    Why it is certified (every step is exact rational arithmetic; no rounding anywhere):

    1. p(x) = det(xI − H) is computed exactly over ℚ (``flint.fmpq_mat.charpoly``), and its
       squarefree part s = ∏ of the distinct factors (``factor_squarefree``) has exactly the distinct
       eigenvalues as simple roots.
    2. H symmetric ⇒ every root of p (and of s) is real ⇒ Descartes' rule of signs is an equality,
       so the number of eigenvalues < σ is an exact count for any rational σ (:func:`_count_below`).
    3. Gershgorin gives a start lo with no eigenvalue ≤ lo, and hi = min_i H_ii + 1 > λ_min
       (Rayleigh quotient of e_i); both are checked with the count, not assumed.
    4. Bisection keeps "no eigenvalue ≤ lo, some eigenvalue < hi" until hi − lo ≤ eps and s has
       exactly one root in (lo, hi). That root is λ_min; its multiplicity is the count of p below hi.
       If a midpoint is itself a root with nothing below it, λ_min is that rational and lo = hi.
    """
    eps = _fraction_of(eps, "eps")
    if eps <= 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    M = _to_fmpq_mat(H)
    n = M.nrows()
    rows = [[Fraction(int(x.p), int(x.q)) for x in row] for row in M.tolist()]
    p = M.charpoly()
    _, factors = p.factor_squarefree()
    s = functools.reduce(operator.mul, [f for f, _ in factors], flint.fmpq_poly([1]))

    gersh = min(rows[i][i] - sum(abs(rows[i][k]) for k in range(n) if k != i) for i in range(n))
    lo, hi = gersh - 1, min(rows[i][i] for i in range(n)) + 1
    lo_q = flint.fmpq(lo.numerator, lo.denominator)
    # Gershgorin and the Rayleigh quotient say this cannot fail; the exact check makes it certain.
    if _count_below(s, lo) != 0 or s(lo_q) == 0 or _count_below(s, hi) < 1:
        raise RuntimeError("internal: the Gershgorin/diagonal bracket of lambda_min failed its exact check")
    while hi - lo > eps or _count_below(s, hi) != 1:
        mid = (lo + hi) / 2
        if _count_below(s, mid) >= 1:
            hi = mid
        elif s(flint.fmpq(mid.numerator, mid.denominator)) == 0:
            # no eigenvalue below mid and mid is one: λ_min = mid exactly
            return EigenInterval(mid, mid, _multiplicity(factors, mid))
        else:
            lo = mid
    return EigenInterval(lo, hi, _count_below(p, hi))


def _multiplicity(factors: list[tuple[flint.fmpq_poly, int]], root: Fraction) -> int:
    """Multiplicity of the exact root ``root``: the exponent of the squarefree factor vanishing there."""
    r = flint.fmpq(root.numerator, root.denominator)
    return sum(e for f, e in factors if f(r) == 0)


