"""Matrix types the generic formulas run on, one backend per entry kind.

The formulas in :mod:`numerics.gradients` use only ``@``, ``.T``, ``+``, ``-``, multiplication by a
scalar or by a constant 0/1/α mask, and ``sumsq``. A backend converts user arrays to a matrix type
with those operations and back:

* ``float`` -- numpy float64 arrays (BLAS);
* ``mp``    -- numpy object arrays of ``mpmath.mpf`` at the caller's precision;
* ``exact`` -- :class:`QMat`, a thin wrapper of python-flint's ``fmpq_mat`` (C rational
  arithmetic; about 1 µs per 3×3 product against ~50 µs for numpy object arrays of Fractions).
  User-facing exact arrays stay numpy object arrays of ``fractions.Fraction``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from fractions import Fraction
from typing import Any

import numpy as np

from theory.arrays import mpf_of, to_kind
from theory.lazy import lazy_module

flint = lazy_module("flint")
mpmath = lazy_module("mpmath")


def _fmpq(x: Any) -> flint.fmpq:
    if isinstance(x, Fraction):
        return flint.fmpq(x.numerator, x.denominator)
    return flint.fmpq(x)


class QMat:
    """An exact rational matrix (``flint.fmpq_mat``) with numpy-like operators.

    ``a @ b`` is the matrix product, ``a * s`` scales by a rational ``s`` or multiplies entrywise by
    a numpy array of constants (the activation masks), ``a.T`` transposes.
    """

    __slots__ = ("m",)
    __array_priority__ = 100  # make numpy defer `mask * QMat` to QMat.__rmul__

    def __init__(self, m: flint.fmpq_mat) -> None:
        self.m = m

    @classmethod
    def from_numpy(cls, a: np.ndarray) -> "QMat":
        a = np.asarray(a)
        r, c = a.shape
        return cls(flint.fmpq_mat(r, c, [_fmpq(x) for x in a.flat]))

    def to_numpy(self) -> np.ndarray:
        r, c = self.m.nrows(), self.m.ncols()
        out = np.empty((r, c), dtype=object)
        for k, q in enumerate(self.m.entries()):
            out.flat[k] = Fraction(int(q.p), int(q.q))
        return out

    @property
    def shape(self) -> tuple[int, int]:
        return (self.m.nrows(), self.m.ncols())

    @property
    def T(self) -> "QMat":
        return QMat(self.m.transpose())

    def __matmul__(self, o: "QMat") -> "QMat":
        if isinstance(o, QMat):
            return QMat(self.m * o.m)
        return NotImplemented

    def __add__(self, o: "QMat") -> "QMat":
        if isinstance(o, QMat):
            return QMat(self.m + o.m)
        return NotImplemented

    def __sub__(self, o: "QMat") -> "QMat":
        if isinstance(o, QMat):
            return QMat(self.m - o.m)
        return NotImplemented

    def __neg__(self) -> "QMat":
        return QMat(-self.m)

    def __mul__(self, s: Any) -> "QMat":
        if isinstance(s, np.ndarray):
            if s.shape != self.shape:
                raise ValueError(f"mask shape {s.shape} does not match matrix shape {self.shape}")
            r, c = self.shape
            e = self.m.entries()
            return QMat(flint.fmpq_mat(r, c, [x * _fmpq(k) for x, k in zip(e, s.flat)]))
        return QMat(self.m * _fmpq(s))

    __rmul__ = __mul__

    def sumsq(self) -> flint.fmpq:
        return sum((x * x for x in self.m.entries()), flint.fmpq(0))

    def positive(self) -> np.ndarray:
        """Boolean array: entry > 0 (exact)."""
        return np.array([x > 0 for x in self.m.entries()], dtype=bool).reshape(self.shape)


class Backend(ABC):
    """How one entry kind is computed: conversions in and out, scalars and masks."""

    kind: str
    batched: bool  # tangents may carry a leading batch axis (numpy broadcasting)

    @abstractmethod
    def matrix(self, a: Any) -> Any:
        """A user array as this backend's matrix type."""

    @abstractmethod
    def output(self, m: Any) -> np.ndarray:
        """A backend matrix as a user-facing numpy array of this kind."""

    @abstractmethod
    def scalar(self, x: Any) -> Any:
        """A number in this backend's arithmetic."""

    def scalar_out(self, x: Any) -> Any:
        return x

    def mask(self, positive: np.ndarray, alpha: Any) -> Any:
        """The activation derivative pattern: 1 where the pre-activation is > 0, α elsewhere."""
        one, a = self.scalar(1), self.scalar(alpha)
        return np.where(positive, one, a)


class FloatBackend(Backend):
    kind = "float"
    batched = True

    def matrix(self, a: Any) -> np.ndarray:
        return to_kind(a, "float")

    def output(self, m: Any) -> np.ndarray:
        return np.asarray(m, dtype=np.float64)

    def scalar(self, x: Any) -> float:
        return float(x)

    def scalar_out(self, x: Any) -> float:
        return float(x)


class MpBackend(Backend):
    """numpy object arrays of mpf; precision is the mpmath context active during the call."""

    kind = "mp"
    batched = True

    def matrix(self, a: Any) -> np.ndarray:
        arr = np.asarray(a)
        if arr.dtype == object and all(isinstance(x, mpmath.mpf) for x in arr.flat):
            return arr
        return to_kind(arr, "mp")

    def output(self, m: Any) -> np.ndarray:
        return m

    def scalar(self, x: Any) -> mpmath.mpf:
        return mpf_of(x)


class ExactBackend(Backend):
    kind = "exact"
    batched = False

    def matrix(self, a: Any) -> QMat:
        return QMat.from_numpy(to_kind(a, "exact"))

    def output(self, m: QMat) -> np.ndarray:
        return m.to_numpy()

    def scalar(self, x: Any) -> flint.fmpq:
        return _fmpq(x if isinstance(x, Fraction) else to_kind(np.array([x]), "exact")[0])

    def scalar_out(self, x: Any) -> Fraction:
        return Fraction(int(x.p), int(x.q))

    def mask(self, positive: np.ndarray, alpha: Any) -> np.ndarray:
        a = to_kind(np.array([alpha]), "exact")[0]
        return np.where(positive, Fraction(1), a)


BACKENDS: dict[str, Backend] = {"float": FloatBackend(), "mp": MpBackend(), "exact": ExactBackend()}


class AMat:
    """A matrix of prec-bit binary floating-point numbers, computed with python-flint's ``arb_mat``
    C kernels and recentred after every operation (``.mid()``: the radius is dropped).

    So this is floating-point arithmetic at flint's working precision, like mpmath's, not interval
    arithmetic (the wrapping effect would make iterated balls useless: DESIGN.md). Products are
    formed by arb's dot products, which round once per entry, as ``mpmath.fdot`` does.
    """

    __slots__ = ("m",)
    __array_priority__ = 100

    def __init__(self, m: Any) -> None:
        self.m = m

    @property
    def shape(self) -> tuple[int, int]:
        return (self.m.nrows(), self.m.ncols())

    @property
    def T(self) -> "AMat":
        return AMat(self.m.transpose())

    def __matmul__(self, o: "AMat") -> "AMat":
        return AMat((self.m * o.m).mid()) if isinstance(o, AMat) else NotImplemented

    def __add__(self, o: "AMat") -> "AMat":
        return AMat((self.m + o.m).mid()) if isinstance(o, AMat) else NotImplemented

    def __sub__(self, o: "AMat") -> "AMat":
        return AMat((self.m - o.m).mid()) if isinstance(o, AMat) else NotImplemented

    def __neg__(self) -> "AMat":
        return AMat(-self.m)

    def __mul__(self, s: Any) -> "AMat":
        if isinstance(s, np.ndarray):  # an activation mask of constants
            if s.shape != self.shape:
                raise ValueError(f"mask shape {s.shape} does not match matrix shape {self.shape}")
            r, c = self.shape
            return AMat(flint.arb_mat(r, c, [x * _arb(k) for x, k in zip(self.m.entries(), s.flat)]).mid())
        return AMat((self.m * s).mid())

    __rmul__ = __mul__

    def sumsq(self) -> Any:
        return sum((x * x for x in self.m.entries()), flint.arb(0)).mid()

    def positive(self) -> np.ndarray:
        return np.array([x.mid() > 0 for x in self.m.entries()], dtype=bool).reshape(self.shape)


def _arb(x: Any) -> Any:
    """An exact arb for an mpf, float, int or Fraction (binary values, never decimal strings)."""
    if isinstance(x, mpmath.mpf):
        sign, man, exp, _ = x._mpf_
        return flint.arb((int(man) * (-1) ** sign, int(exp))) if man else flint.arb(0)
    if isinstance(x, Fraction):
        return flint.arb(flint.fmpq(x.numerator, x.denominator))
    if isinstance(x, (int, np.integer)):
        return flint.arb(int(x))
    return flint.arb(float(x))


def _mpf_of_arb(x: Any) -> Any:
    """The mpf of the midpoint of ``x``, at mpmath's precision (exactly, when it fits)."""
    if not x.is_finite():  # reported as a non-finite loss (divergence), never a silent NaN
        return mpmath.mpf("nan") if x.is_nan() else mpmath.mpf("inf") * (1 if x.mid() > 0 else -1)
    man, exp = x.mid().man_exp()
    return mpmath.mpf((int(man), int(exp)))


class ArbMidBackend(Backend):
    """mp arithmetic (user-facing mpf object arrays) computed on :class:`AMat` at ``mpmath.mp.prec``
    bits: the same formulas, C speed. Callers set ``flint.ctx.prec`` (:func:`arb_prec`)."""

    kind = "mp"
    variant = "arb"
    batched = False

    def matrix(self, a: Any) -> AMat:
        arr = np.asarray(a)
        r, c = arr.shape
        return AMat(flint.arb_mat(r, c, [_arb(x) for x in arr.flat]))

    def output(self, m: AMat) -> np.ndarray:
        out = np.empty(m.shape, dtype=object)
        for k, x in enumerate(m.m.entries()):
            out.flat[k] = _mpf_of_arb(x)
        return out

    def scalar(self, x: Any) -> Any:
        return _arb(x)

    def scalar_out(self, x: Any) -> Any:
        return _mpf_of_arb(x)

    def mask(self, positive: np.ndarray, alpha: Any) -> np.ndarray:
        return np.where(positive, 1, alpha)


ARB_MID = ArbMidBackend()


class arb_prec:
    """Context: flint's working precision = mpmath's current ``mp.prec`` (restored on exit)."""

    def __enter__(self) -> int:
        self.old = flint.ctx.prec
        flint.ctx.prec = mpmath.mp.prec
        return flint.ctx.prec

    def __exit__(self, *exc: Any) -> None:
        flint.ctx.prec = self.old


def sumsq(m: Any) -> Any:
    """Σ entries², the squared Frobenius norm, in the matrix's own arithmetic."""
    if isinstance(m, (QMat, AMat)):
        return m.sumsq()
    return (m * m).sum()


def positive(m: Any) -> np.ndarray:
    """Boolean array of entries > 0 (exact comparison in every kind)."""
    if isinstance(m, (QMat, AMat)):
        return m.positive()
    return np.asarray(m > 0, dtype=bool)
