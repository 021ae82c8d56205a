"""Entry kinds of arrays and the validation of user input.

gfgd computes in three arithmetics, chosen by the entries of the arrays the user passes:

* ``"float"``  -- numpy float64 arrays (ints are accepted and promoted);
* ``"mp"``     -- numpy object arrays of ``mpmath.mpf`` (precision from the caller's mpmath context
  or an explicit ``dps``);
* ``"exact"``  -- numpy object arrays of ``fractions.Fraction`` (Python ``int`` entries count as
  exact too).

Mixing kinds inside one call is refused: a float silently entering an exact computation would make
the "exact" result a lie.
"""

from __future__ import annotations

import math
from fractions import Fraction
from numbers import Integral, Real
from typing import Any, Iterable, Sequence

import numpy as np
from .lazy import lazy_module

mpmath = lazy_module("mpmath")

KINDS = ("float", "exact", "mp")


def entry_kind(a: Any, name: str = "array") -> str:
    """Return the arithmetic kind ("float", "exact" or "mp") of the entries of ``a``.

    Raises ``TypeError`` for unsupported or mixed entry types, naming ``name``.
    """
    arr = np.asarray(a)
    if arr.dtype.kind in "fiub":
        return "float"
    if arr.dtype.kind != "O":
        raise TypeError(f"{name}: unsupported dtype {arr.dtype}; use float64, Fraction or mpmath.mpf entries")
    kinds = set()
    for x in arr.flat:
        if isinstance(x, mpmath.mpf):
            kinds.add("mp")
        elif isinstance(x, (Fraction, Integral)) and not isinstance(x, bool):
            kinds.add("int" if isinstance(x, Integral) else "exact")
        elif isinstance(x, (float, np.floating)):
            kinds.add("float")
        else:
            raise TypeError(
                f"{name}: unsupported entry {x!r} of type {type(x).__name__}; "
                "use float64, fractions.Fraction or mpmath.mpf entries"
            )
    if "int" in kinds:
        kinds.discard("int")
        if not kinds:
            return "exact"
    if len(kinds) > 1:
        raise TypeError(f"{name}: mixed entry types {sorted(kinds)}; convert every entry to one kind")
    return kinds.pop() if kinds else "float"


def common_kind(arrays: Iterable[Any], name: str = "theta") -> str:
    """The one entry kind shared by all ``arrays`` (TypeError if they differ)."""
    kinds = {}
    for i, a in enumerate(arrays):
        kinds.setdefault(entry_kind(a, f"{name}[{i}]"), i)
    if len(kinds) > 1:
        raise TypeError(
            f"{name}: mixed entry types across arrays ({', '.join(f'{k} at index {i}' for k, i in kinds.items())}); "
            "convert every array to one kind"
        )
    return next(iter(kinds)) if kinds else "float"


def to_kind(a: Any, kind: str) -> np.ndarray:
    """Convert ``a`` to an array of entry kind ``kind``.

    float -> exact is exact (every float64 is a rational); anything -> mp rounds at the current
    mpmath precision; exact/mp -> float rounds to nearest float64.
    """
    arr = np.asarray(a)
    if kind == "float":
        if arr.dtype.kind in "fiub":
            return arr.astype(np.float64)
        return np.vectorize(float, otypes=[np.float64])(arr) if arr.size else arr.astype(np.float64)
    if kind == "exact":
        def conv(x):
            if isinstance(x, Fraction):
                return x
            if isinstance(x, mpmath.mpf):
                sign, man, exp, _ = x._mpf_  # exact binary value; man_exp drops the sign
                if not man:
                    return Fraction(0)
                return (-1) ** sign * Fraction(int(man)) * Fraction(2) ** int(exp)
            if isinstance(x, (Integral, np.integer)):
                return Fraction(int(x))
            return Fraction(float(x))
        out = np.empty(arr.shape, dtype=object)
        for idx, x in np.ndenumerate(arr):
            out[idx] = conv(x)
        return out
    if kind == "mp":
        out = np.empty(arr.shape, dtype=object)
        for idx, x in np.ndenumerate(arr):
            out[idx] = mpf_of(x)
        return out
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def mpf_of(x: Any) -> mpmath.mpf:
    """``x`` (float, int, Fraction, mpf, numpy scalar) as an mpf at the current mpmath precision."""
    if isinstance(x, Fraction):
        return mpmath.mpf(x.numerator) / x.denominator
    if isinstance(x, (np.floating, np.integer)):
        return mpmath.mpf(x.item())
    return mpmath.mpf(x)


def require_finite(a: Any, name: str) -> None:
    """ValueError naming ``name`` if any entry of ``a`` is NaN or infinite."""
    arr = np.asarray(a)
    if arr.dtype.kind in "fc":
        ok = bool(np.all(np.isfinite(arr)))
    elif arr.dtype.kind == "O":
        ok = all(
            (not isinstance(x, mpmath.mpf) or mpmath.isfinite(x))
            and (not isinstance(x, (float, np.floating)) or math.isfinite(x))
            for x in arr.flat
        )
    else:
        ok = True
    if not ok:
        raise ValueError(f"{name} has non-finite entries (NaN or inf)")


def as_matrix(a: Any, name: str) -> np.ndarray:
    """A 2-D array from ``a`` (a 1-D input is taken as one row), checked finite."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "fiubO":
        raise TypeError(f"{name}: expected a real array, got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got shape {arr.shape}")
    if arr.dtype.kind in "iub":
        arr = arr.astype(np.float64)
    entry_kind(arr, name)
    require_finite(arr, name)
    return arr


def check_positive_int_tuple(values: Sequence[int], name: str, min_len: int) -> tuple[int, ...]:
    """A tuple of positive ints of length >= ``min_len``, else ValueError naming ``name``."""
    try:
        if any(isinstance(v, (bool, np.bool_)) for v in values):  # int(True) == 1 would pass silently
            raise TypeError
        out = tuple(int(v) for v in values)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a sequence of positive integers, got {values!r}") from None
    if any(o != v for o, v in zip(out, values)):
        raise TypeError(f"{name} must hold integers, got {values!r}")
    if len(out) < min_len:
        raise ValueError(f"{name} needs at least {min_len} entries (depth >= {min_len - 1}), got {values!r}")
    if any(v < 1 for v in out):
        raise ValueError(f"{name} must be positive, got {values!r}")
    return out


def is_real_scalar(x: Any) -> bool:
    return isinstance(x, (Real, mpmath.mpf)) and not isinstance(x, bool)


def check_range(x: Any, name: str, lo: Any = None, hi: Any = None, lo_strict: bool = False,
                hi_strict: bool = False) -> None:
    """TypeError unless ``x`` is a real number; ValueError (naming ``name`` and the range) unless
    lo ≤ x ≤ hi (strict where asked). NaN fails every range."""
    if isinstance(x, bool) or not is_real_scalar(x) and not isinstance(x, (np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {x!r}")
    ok = True
    if lo is not None:
        ok = ok and (x > lo if lo_strict else x >= lo)
    if hi is not None:
        ok = ok and (x < hi if hi_strict else x <= hi)
    if not ok:
        if hi is None:
            want = f"{'>' if lo_strict else '>='} {lo}"
        elif lo is None:
            want = f"{'<' if hi_strict else '<='} {hi}"
        else:
            want = f"lie in {'(' if lo_strict else '['}{lo}, {hi}{')' if hi_strict else ']'}"
        raise ValueError(f"{name} must {'be ' if hi is None or lo is None else ''}{want}, got {x!r}")


# Hard ceiling on decimal digits, and the measured cost model behind it. The mp Taylor integrator
# (numerics.flows, the most expensive consumer of dps) was timed on deep linear nets with P = 21, 200
# and 2,054 parameters at dps = 15…480 (benchmarks/dps_cost.py, 2026-12-03, CPU seconds on a quiet
# machine; table in docs/cli.md, "Cost of precision"). The seconds per step, error estimate included,
# grow like (dps/30)^a·(P/21)^b — sublinearly in P (per-node and per-order costs dominate small nets;
# the products of n×n blocks grow like P^1.5 only for large ones). Least squares on log time:
# c = 3.83e-3 s, a = 2.51, b = 0.814 over dps ≥ 30 (10 runs, all within 1.59×); c = 1.66e-3 s,
# a = 2.94, b = 0.784 over dps ≥ 120 (4 runs, within 1.50×: p² series products of dps-digit numbers,
# a → 3). The model takes the larger of the two, so large dps is not underestimated. It is used only
# to refuse hopeless precisions and to warn before long runs; the fits' spread is the "±2×" of the
# warning. (The model of 2026-12-02, linear in P and fitted on P ≤ 36 before the tier's speed-ups,
# overestimated a 2,054-parameter step at 100 digits 8× while its message said ±3×.)
FLOW_COST_FITS = ((3.83e-3, 2.51, 0.814), (1.66e-3, 2.94, 0.784))  # (c s per step at dps 30, P 21; a; b)
FLOW_COST_SPREAD = 2.0  # the fits' worst residual factors (1.59, 1.50), rounded up
MAX_DPS = 10_000  # one step of a 21-parameter flow: ~12 hours by the model; nothing in gfgd needs this


def flow_step_seconds(dps: int, parameters: int = 21) -> float:
    """Estimated CPU seconds of one mp Taylor step of a gradient flow with ``parameters`` parameters at
    ``dps`` digits: max_i c_i·(dps/30)^{a_i}·(P/21)^{b_i} (measured fits above; within ~2× on the
    deep-linear nets measured)."""
    r = max(dps, 30) / 30
    q = max(int(parameters), 1) / 21
    return max(c * r**a * q**b for c, a, b in FLOW_COST_FITS)


class CostWarning(UserWarning):
    """A requested precision makes a computation very long (estimate from :func:`flow_step_seconds`)."""


def warn_if_costly(dps: int, parameters: int, limit_seconds: float = 10.0) -> float:
    """Warn (:class:`CostWarning`) when one Taylor step is estimated above ``limit_seconds``; return
    the estimate. A run takes many steps (typically ~4 per unit time for nets of scale ~1)."""
    est = flow_step_seconds(dps, parameters)
    if est > limit_seconds:
        import warnings

        warnings.warn(f"dps={dps} with {parameters} parameters: about {est:.3g} s per Taylor step (measured "
                      f"model, within ~{FLOW_COST_SPREAD:g}x on deep linear nets); a run takes many steps. Lower "
                      "dps unless you need these digits.", CostWarning, stacklevel=4)
    return est


def check_dps(dps: Any, name: str = "dps", minimum: int = 1, allow_none: bool = False,
              maximum: int = MAX_DPS) -> int | None:
    """The one check of a decimal-precision argument: ``dps`` as an ``int`` in [minimum, maximum].

    TypeError unless an integer (bool and float refused: ``dps=30.5`` or ``dps="30"`` is a mistake,
    never rounded); ValueError naming ``name`` when below ``minimum`` (≤ 0 would otherwise make
    mpmath silently fall back to a few bits and return wrong numbers) or above ``maximum`` (the
    cost grows like dps³; see :data:`MAX_DPS`). ``None`` passes only when ``allow_none`` (float64).
    """
    if dps is None and allow_none:
        return None
    if isinstance(dps, (bool, np.bool_)) or not isinstance(dps, (Integral, np.integer)):
        extra = " (or None for float64)" if allow_none else ""
        raise TypeError(f"{name} must be an integer number of decimal digits{extra}, got {dps!r}")
    dps = int(dps)
    if dps < minimum:
        want = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {want}, got {dps!r}")
    if dps > maximum:
        raise ValueError(
            f"{name}={dps} is above gfgd's limit of {maximum} digits: the cost of high precision grows "
            f"about like dps^3 (one gradient-flow step of a 21-parameter net at {dps} digits: "
            f"~{flow_step_seconds(dps):.2g} s, against {flow_step_seconds(30):.1g} s at 30 digits; measured model); "
            f"a few hundred digits are enough for every check in gfgd")
    return dps


def check_seed(seed: Any, name: str = "seed") -> int:
    """A seed as a non-negative ``int`` (numpy's and Hypothesis' seeds); TypeError/ValueError naming ``name``."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (Integral, np.integer)):
        raise TypeError(f"{name} must be a non-negative integer, got {seed!r}")
    if seed < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {seed!r}")
    return int(seed)
