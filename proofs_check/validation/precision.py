"""Floating-point formats an implementation may compute in, and rounding float64 values into them.

A format is fixed by its precision p (significand bits, the implicit one included) and its
exponent range [e_min, e_max] (normal numbers 2^e_min ≤ |x| < 2^(e_max+1)). From these:

* unit roundoff u = 2^−p (round to nearest): fl(x ∘ y) = (x ∘ y)(1 + δ) + η, |δ| ≤ u;
* smallest normal ("tiny") 2^e_min;
* subnormal quantum 2^(e_min − p + 1): with gradual underflow |η| ≤ half of it;
* with flush-to-zero (FTZ/DAZ) a subnormal result or input is replaced by 0: |η| < tiny;
* overflow threshold (2 − 2^(1−p))·2^e_max.

IEEE binary64: p = 53, e_min = −1022; binary32: p = 24, e_min = −126; bfloat16: p = 8,
e_min = −126 (binary32's exponent range with 8 significand bits).

:func:`round_to` rounds float64 values to a format exactly (round half to even, gradual underflow,
overflow to ±inf): x/q and rint(x/q)·q are exact in float64 for the power-of-two quantum q of x,
so there is no double rounding (rounding to float32 first and then to bfloat16 would double-round).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Precision:
    """A binary floating-point format (see the module docstring for the derived quantities)."""

    name: str
    p: int          # significand bits, implicit bit included
    emin: int       # exponent of the smallest normal
    emax: int       # exponent of the largest finite
    container: type  # numpy dtype the inputs are handed over in

    @property
    def u(self) -> float:
        """Unit roundoff 2^−p."""
        return 2.0 ** -self.p

    @property
    def tiny(self) -> float:
        """Smallest positive normal number 2^e_min."""
        return 2.0 ** self.emin

    @property
    def subnormal_quantum(self) -> float:
        """Spacing of the subnormal numbers 2^(e_min − p + 1) (the smallest positive subnormal)."""
        return 2.0 ** (self.emin - self.p + 1)

    @property
    def overflow(self) -> float:
        """Largest finite number (2 − 2^(1−p))·2^e_max."""
        return (2.0 - 2.0 ** (1 - self.p)) * 2.0 ** self.emax

    def underflow_unit(self, flush_to_zero: bool) -> float:
        """The absolute error one operation can add through underflow, per the model of
        docs/validation.md ("Precisions"): the subnormal quantum with gradual underflow (|η| ≤
        quantum/2, taken whole); under flush-to-zero 2·tiny -- one tiny for the operation's own
        flushed result and one for a flushed input (DAZ), whose count the chain length K also bounds."""
        return 2 * self.tiny if flush_to_zero else self.subnormal_quantum


PRECISIONS: dict[str, Precision] = {
    "float64": Precision("float64", 53, -1022, 1023, np.float64),
    "float32": Precision("float32", 24, -126, 127, np.float32),
    # numpy has no bfloat16: the values are handed over in float32 arrays (exactly representable;
    # cast them with torch.tensor(x, dtype=torch.bfloat16) or ml_dtypes without any rounding)
    "bfloat16": Precision("bfloat16", 8, -126, 127, np.float32),
}


def get_precision(name: "str | Precision") -> Precision:
    """The :class:`Precision` called ``name`` (``"float64"``, ``"float32"`` or ``"bfloat16"``)."""
    if isinstance(name, Precision):
        return name
    if not isinstance(name, str) or name not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {name!r}")
    return PRECISIONS[name]


def round_to(x: "np.ndarray | float", prec: Precision, flush_to_zero: bool = False) -> np.ndarray:
    """float64 values rounded to nearest (ties to even) in ``prec``; subnormal results flushed to 0
    when ``flush_to_zero``; beyond the overflow threshold ±inf. Returned as float64 (exact)."""
    a = np.asarray(x, dtype=np.float64)
    if prec.name == "float64":
        out = a.copy()
    else:
        _, e = np.frexp(a)                      # |a| = f·2^e, f ∈ [0.5, 1): the leading bit is 2^(e−1)
        lead = np.maximum(e - 1, prec.emin)     # below the normal range the quantum stays fixed
        q = np.ldexp(1.0, lead - prec.p + 1)    # spacing of the format around a
        out = np.rint(a / q) * q                # a/q is exact (power of two, no underflow: q ≥ 2^−149)
        with np.errstate(over="ignore"):
            out = np.where(np.abs(out) > prec.overflow, np.copysign(np.inf, a), out)
    if flush_to_zero:
        out = np.where(np.abs(out) < prec.tiny, 0.0 * a, out)
    return out
