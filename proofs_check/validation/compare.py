"""Entrywise comparison of a float64 result with an exact or high-precision reference."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Sequence

import mpmath
import numpy as np


from .tolerance import MP_DPS

# ------------------------------------------------------------------------------------ comparisons
@dataclass
class _Cmp:
    ratio: float
    relerr: float
    where: str
    expected: str
    got: float
    error: float
    tolerance: float


def _flat_exact(arrs: Sequence[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.asarray(a, dtype=object).reshape(-1) for a in arrs])


def _num_str(x: Any, digits: int = 17) -> str:
    if isinstance(x, Fraction):
        with mpmath.workdps(digits + 10):
            return mpmath.nstr(mpmath.mpf(x.numerator) / x.denominator, digits)
    with mpmath.workdps(digits + 10):
        return mpmath.nstr(mpmath.mpf(x), digits)


def _abs_err(g: float, r: Any) -> float:
    if isinstance(r, Fraction):
        return float(abs(Fraction(g) - r))
    return float(abs(mpmath.mpf(g) - r))


def _compare(got: np.ndarray, ref: np.ndarray, tol: np.ndarray, label: Callable[[int], str],
             groups: Sequence[slice] | None = None) -> _Cmp:
    """Entrywise error of ``got`` (float64) against ``ref`` (Fractions or mpf) relative to ``tol``."""
    with mpmath.workdps(MP_DPS):
        errs = np.array([_abs_err(float(g), r) for g, r in zip(got, ref)], dtype=np.float64)
        mags = np.array([float(abs(r)) for r in ref], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratios = np.where(errs == 0, 0.0, errs / tol)
    i = int(np.argmax(ratios)) if ratios.size else 0
    groups = groups or [slice(0, len(got))]
    rel = 0.0
    for g in groups:
        e, m = (errs[g].max() if errs[g].size else 0.0), (mags[g].max() if mags[g].size else 0.0)
        rel = max(rel, 0.0 if e == 0 else (e / m if m > 0 else math.inf))
    if not ratios.size:
        return _Cmp(0.0, 0.0, "-", "-", 0.0, 0.0, 0.0)
    return _Cmp(float(ratios[i]), float(rel), label(i), _num_str(ref[i]), float(got[i]), float(errs[i]),
                float(tol[i]))


def _layer_labels(shapes: Sequence[tuple[int, int]]) -> list[str]:
    out = []
    for j, (r, c) in enumerate(shapes):
        out += [f"W_{j + 1}[{a},{b}]" for a in range(r) for b in range(c)]
    return out
