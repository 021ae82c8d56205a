"""Validate an implementation against gfgd's exact and high-precision references.

``proofs_check.validate(kind, impl)`` draws instances with Hypothesis (the families of
:mod:`proofs_check.validation_strategies`: generic, power-of-two scaled, near-optimal and
near-singular deep linear nets), calls ``impl`` on each in plain numpy (signatures in
:mod:`proofs_check.protocols`), compares the result with a reference computed exactly (rationals) or
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

import contextlib
import json
import math
import time
import traceback
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any, Callable, Sequence

import mpmath
import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, given, reject, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import Flaky, Unsatisfiable

import numerics
import theory

from . import validation_strategies as vs
from .protocols import PROTOCOLS, SIGNATURES
from .validation_strategies import Instance

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


# ----------------------------------------------------------------------------------------- report
@dataclass
class ValidationReport:
    """The outcome of :func:`validate`.

    ``verdict``: ``"pass"`` (every instance within tolerance), ``"fail"`` (a counterexample was
    found and shrunk: see ``failure``, ``message`` and ``counterexample``) or ``"error"`` (the
    validation itself could not run, e.g. no valid instance could be drawn; ``message`` says why).
    ``failure``: ``"mismatch"``, ``"raised"``, ``"wrong_type"``, ``"wrong_shape"``, ``"non_finite"``
    or ``"nondeterministic"`` (None on a pass).
    """

    kind: str
    target: str
    model: str
    verdict: str
    failure: str | None
    message: str
    instances: int
    rejected: int
    shrink_evaluations: int
    budget: int
    seed: int
    worst_ratio: float | None
    worst_relative_error: float | None
    rtol: float | None
    atol: float | None
    tolerance: str
    seconds: float
    counterexample: dict | None = None
    worst_instance: dict | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def __bool__(self) -> bool:
        return self.passed

    def to_json(self) -> dict:
        """A JSON-safe dict (schema ``gfgd.validation``, version 1; infinities as the string "inf")."""
        return _json_safe({"version": 1, "schema": "gfgd.validation", **asdict(self)})

    def summary(self) -> str:
        """A readable multi-line summary (what ``gfgd validate`` prints)."""
        head = f"gfgd validate {self.kind} {self.target}: {self.verdict.upper()}"
        lines = [head, "-" * len(head)]
        shrink = f", then {self.shrink_evaluations} while shrinking" if self.shrink_evaluations else ""
        lines.append(f"model: {self.model} net, whitened square loss; {self.instances} instance(s) checked{shrink}"
                     f" ({self.rejected} rejected), budget {self.budget}, seed {self.seed}, {self.seconds:.1f}s")
        if self.worst_ratio is not None:
            lines.append(f"worst error/tolerance: {self.worst_ratio:.3g}   "
                         f"worst normwise relative error: {_fmt(self.worst_relative_error)}")
        if self.kind == "gf":
            lines.append(f"accuracy asked: rtol = {self.rtol:g}" + (f", atol = {self.atol:g}" if self.atol else "")
                         + f"; achieved (worst relative error): {_fmt(self.worst_relative_error)}")
        elif self.kind == "lambda_min" and self.rtol:
            lines.append(f"eigensolver tolerance allowed: rtol = {self.rtol:g} (relative to ‖H‖₂)")
        lines.append(f"tolerance: {self.tolerance}")
        if self.message:
            lines.append("")
            lines.append(self.message)
        if self.counterexample is not None:
            lines.append("")
            lines.append("minimal failing instance (JSON):")
            lines.append(json.dumps(self.counterexample.get("instance"), separators=(",", ":")))
        for n in self.notes:
            lines.append(f"note: {n}")
        return "\n".join(lines)


def _json_safe(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, (np.floating, np.integer)):
        return _json_safe(x.item())
    return x


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


# ----------------------------------------------------------------------------------------- errors
class _ImplProblem(Exception):
    """The implementation's output is unusable (failure kind + message)."""

    def __init__(self, failure: str, message: str) -> None:
        super().__init__(message)
        self.failure = failure
        self.message = message


class _Failed(Exception):
    """Raised inside the Hypothesis test to mark a failing instance (so that it shrinks)."""


class _InternalError(Exception):
    """A reference computation failed: gfgd's problem, not the implementation's."""


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


# -------------------------------------------------------------------------- output normalisation
def _as_array(x: Any, what: str) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu") and hasattr(x, "numpy"):  # a torch tensor
        x = x.detach().cpu().numpy()
    try:
        a = np.asarray(x)
    except Exception as e:  # noqa: BLE001 - anything the user returns
        raise _ImplProblem("wrong_type", f"{what} is not array-like ({type(x).__name__}: {e})") from None
    if a.dtype == object:
        try:
            a = a.astype(np.float64)
        except (TypeError, ValueError):
            entry = type(a.flat[0]).__name__ if a.size else "?"
            raise _ImplProblem("wrong_type", f"{what} is not a numeric array (got entries of type {entry}; "
                                             f"shape {a.shape})") from None
    if a.dtype.kind == "c":
        raise _ImplProblem("wrong_type", f"{what} is complex ({a.dtype}); expected real float64")
    if a.dtype.kind not in "fiub":
        raise _ImplProblem("wrong_type", f"{what} has dtype {a.dtype}; expected float64")
    return a


class _Out:
    """Normalises what an implementation returned into one flat float64 vector, or raises
    :class:`_ImplProblem` naming what is wrong (type, shape, NaN/inf) and where."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.shapes = [tuple(w.shape) for w in inst.weights]
        self.P = inst.num_params
        self.dtypes: set[str] = set()

    def _seq(self, x: Any, what: str) -> list:
        if isinstance(x, np.ndarray) or (hasattr(x, "detach") and hasattr(x, "shape")):
            return None  # an array, not a list: caller decides
        if isinstance(x, (str, bytes, dict)) or not hasattr(x, "__iter__"):
            raise _ImplProblem("wrong_type", f"{what} must be a list, got {type(x).__name__}")
        return list(x)

    def layers(self, x: Any, what: str) -> np.ndarray:
        seq = self._seq(x, what)
        N = len(self.shapes)
        if seq is None:
            a = _as_array(x, what)
            hint = " (a flat vector of all parameters: return a list shaped like weights, e.g. with " \
                   "Objective.unflatten)" if a.ndim == 1 and a.size == self.P else ""
            raise _ImplProblem("wrong_shape", f"{what} must be a list of {N} arrays shaped like weights, "
                                              f"got one array of shape {a.shape}{hint}")
        if len(seq) != N:
            raise _ImplProblem("wrong_shape", f"{what} must be a list of {N} arrays (one per layer), got {len(seq)}")
        out = []
        for j, (a, s) in enumerate(zip(seq, self.shapes)):
            arr = _as_array(a, f"{what}[{j}]")
            self.dtypes.add(str(arr.dtype))
            if arr.shape != s:
                hint = " (transposed?)" if arr.shape == s[::-1] and s[0] != s[1] else ""
                raise _ImplProblem("wrong_shape", f"{what}[{j}] (W_{j + 1}) must have shape {s}, got {arr.shape}{hint}")
            out.append(arr.astype(np.float64).reshape(-1))
        flat = np.concatenate(out)
        self._finite(flat, what, _layer_labels(self.shapes))
        return flat

    def matrix(self, x: Any, what: str) -> np.ndarray:
        a = _as_array(x, what)
        self.dtypes.add(str(a.dtype))
        if a.shape != (self.P, self.P):
            raise _ImplProblem("wrong_shape", f"{what} must have shape ({self.P}, {self.P}) (P = number of "
                                              f"parameters), got {a.shape}")
        flat = a.astype(np.float64).reshape(-1)
        labels = _layer_labels(self.shapes)
        self._finite(flat, what, [f"[{i},{k}] ({labels[i]}, {labels[k]})"
                                  for i in range(self.P) for k in range(self.P)])
        return flat

    def scalar(self, x: Any, what: str) -> np.ndarray:
        a = _as_array(x, what)
        self.dtypes.add(str(a.dtype))
        if a.ndim != 0:
            raise _ImplProblem("wrong_shape", f"{what} must be a scalar float, got an array of shape {a.shape}")
        flat = a.astype(np.float64).reshape(1)
        self._finite(flat, what, [""])
        return flat

    def sequence(self, x: Any, count: int, what: str, noun: str) -> np.ndarray:
        seq = self._seq(x, what)
        if seq is None:
            raise _ImplProblem("wrong_type", f"{what} must be a list of {count} {noun}s (each a list of arrays), "
                                             f"got an array of shape {np.shape(x)}")
        if len(seq) != count:
            hint = ""
            if noun == "iterate" and len(seq) == count - 1:
                hint = " (θ_0 = weights must come first: steps + 1 entries)"
            elif noun == "iterate" and len(seq) == count + 1:
                hint = " (one iterate too many: steps + 1 entries, θ_0 first)"
            raise _ImplProblem("wrong_shape", f"{what} must have {count} {noun}s, got {len(seq)}{hint}")
        return np.concatenate([self.layers(e, f"{noun} {k}") for k, e in enumerate(seq)])

    def _finite(self, flat: np.ndarray, what: str, labels: Sequence[str]) -> None:
        bad = ~np.isfinite(flat)
        if bad.any():
            i = int(np.argmax(bad))
            where = f" at {labels[i]}" if labels[i] else ""
            raise _ImplProblem("non_finite", f"{what} contains {int(bad.sum())} non-finite value(s) "
                                             f"({float(flat[i])!r}{where})")


# ----------------------------------------------------------------------------------- references
@dataclass
class _Ref:
    """A reference for one instance: flat values (Fractions or mpf), flat tolerances, labels."""

    values: np.ndarray
    tol: np.ndarray
    label: Callable[[int], str]
    groups: list[slice] | None = None
    extra: dict = field(default_factory=dict)


def _exact(ws: Sequence[np.ndarray]) -> list[np.ndarray]:
    return [theory.to_kind(w, "exact") for w in ws]


def _relu_margin_ok(inst: Instance, theta: Sequence[np.ndarray], bound: np.ndarray | None, A: _Abs) -> bool:
    """ReLU: every hidden pre-activation z of the reference point must be farther from 0 than a
    float64 evaluation at a point within ``bound`` can move it, so both take the same branch."""
    if len(inst.widths) < 3:
        return True
    M0 = np.concatenate([_up(np.array([float(x) for x in np.asarray(w).flat])) for w in theta])
    M = M0 if bound is None else M0 + bound
    za_M, za_0 = A.hidden(M), A.hidden(M0)
    z = theta[0]
    margin_ok = True
    for j, W in enumerate(theta[1:]):
        zf = np.array([float(abs(x)) for x in np.asarray(z).flat]).reshape(np.shape(z))
        need = SAFETY * (za_M[j] - za_0[j] + gamma(A.K) * za_M[j]) + _floor(A.K, 0 * za_M[j])
        if not np.all(zf > need):
            margin_ok = False
            break
        z = np.asarray(W) @ np.where(np.vectorize(lambda x: x > 0, otypes=[bool])(np.asarray(z)), z, 0 * np.asarray(z))
    return margin_ok


def _ref_gradient(inst: Instance, model: str, opts: dict) -> _Ref | None:
    obj, A = inst.objective(model), _Abs(inst)
    ex = _exact(inst.weights)
    if model == "relu" and not _relu_margin_ok(inst, ex, None, A):
        return None
    g = _flat_exact(numerics.gradient(obj, ex))
    M = np.concatenate([_up(w).reshape(-1) for w in inst.weights])
    tol = SAFETY * gamma(A.K) * A.grad(M) + _floor(A.K, A.grad(np.maximum(M, 1.0)))
    labels = _layer_labels([w.shape for w in inst.weights])
    return _Ref(g, tol, lambda i: labels[i])


def _ref_hvp(inst: Instance, model: str, opts: dict) -> _Ref | None:
    obj, A = inst.objective(model), _Abs(inst)
    ex = _exact(inst.weights)
    if model == "relu" and not _relu_margin_ok(inst, ex, None, A):
        return None
    hv = _flat_exact(numerics.hvp(obj, ex, _exact(inst.v)))
    M = np.concatenate([_up(w).reshape(-1) for w in inst.weights])
    V = np.concatenate([_up(w).reshape(-1) for w in inst.v])
    K2 = 2 * A.K + A.P
    tol = SAFETY * gamma(K2) * (A.hess(M) @ V) + _floor(K2, A.hess(np.maximum(M, 1.0)) @ np.maximum(V, 1.0))
    labels = _layer_labels([w.shape for w in inst.weights])
    return _Ref(hv, tol, lambda i: labels[i])


def _ref_hessian(inst: Instance, model: str, opts: dict) -> _Ref | None:
    obj, A = inst.objective(model), _Abs(inst)
    ex = _exact(inst.weights)
    if model == "relu" and not _relu_margin_ok(inst, ex, None, A):
        return None
    H = numerics.hessian(obj, ex)
    M = np.concatenate([_up(w).reshape(-1) for w in inst.weights])
    tol = SAFETY * gamma(2 * A.K) * A.hess(M) + _floor(2 * A.K, A.hess(np.maximum(M, 1.0)))
    labels, P = _layer_labels([w.shape for w in inst.weights]), A.P
    return _Ref(H.reshape(-1), tol.reshape(-1), lambda i: f"H[{i // P},{i % P}] ({labels[i // P]}, {labels[i % P]})",
                extra={"tol_matrix": tol})


def _quantize(H: np.ndarray) -> tuple[np.ndarray, Fraction]:
    """H rounded to multiples of 2^−k with 2^−k ≈ 2^−110·max|H|, and a bound on ‖H − H_q‖₂
    (Frobenius: P·2^−k−1). Keeps the certified eigenvalue computation cheap whatever the inputs'
    denominators (subnormal floats give 2^1074)."""
    m = max(abs(x) for x in H.flat)
    if m == 0:
        return H, Fraction(0)
    k = 110 - (m.numerator.bit_length() - m.denominator.bit_length())
    scale = Fraction(2) ** k

    def q(x: Fraction) -> Fraction:
        return Fraction(round(x * scale)) / scale

    Hq = np.vectorize(q, otypes=[object])(H)
    return Hq, Fraction(H.shape[0]) / (2 * scale)


def lambda_min_reference(H: np.ndarray) -> tuple[Fraction, Fraction, str]:
    """A certified enclosure [lo, hi] of λ_min of an exact rational symmetric H (P ≤ 40), or for
    larger P an enclosure [λ_R − r, λ_R] from the exact Rayleigh quotient λ_R of the float64 eigh
    eigenvector and its residual r (some eigenvalue lies within r of λ_R, and λ_min ≤ λ_R; that the
    nearby eigenvalue is the smallest rests on LAPACK). Returns (lo, hi, method)."""
    from theory import symbolic

    P = H.shape[0]
    if all(x == 0 for x in H.flat):
        return Fraction(0), Fraction(0), "exact"
    if P <= EXACT_LAMBDA_MAX_P:
        Hq, delta = _quantize(H)
        m = max(abs(x) for x in H.flat)
        eps = max(m * Fraction(1, 2**90), Fraction(1, 2**1100))
        iv = symbolic.lambda_min_interval(Hq, eps=eps)
        return iv.lo - delta, iv.hi + delta, "certified"
    Hf = np.vectorize(float, otypes=[np.float64])(H)
    _, V = np.linalg.eigh(Hf)
    v = [Fraction(float(x)) for x in V[:, 0]]
    Hv = [sum((H[i, k] * v[k] for k in range(P)), Fraction(0)) for i in range(P)]
    vv = sum(x * x for x in v)
    lam = sum(a * b for a, b in zip(v, Hv)) / vv
    with mpmath.workdps(40):
        res2 = sum((mpmath.mpf(d.numerator) / d.denominator) ** 2 for d in (a - lam * b for a, b in zip(Hv, v)))
        r = mpmath.sqrt(res2 / (mpmath.mpf(vv.numerator) / vv.denominator)) * (1 + mpmath.mpf(10) ** -30)
        r_q = Fraction(mpmath.nstr(r, 35))
    return lam - r_q, lam, "rayleigh"


def _ref_lambda_min(inst: Instance, model: str, opts: dict) -> _Ref | None:
    obj, A = inst.objective(model), _Abs(inst)
    ex = _exact(inst.weights)
    if model == "relu" and not _relu_margin_ok(inst, ex, None, A):
        return None
    H = numerics.hessian(obj, ex)
    lo, hi, method = lambda_min_reference(H)
    M = np.concatenate([_up(w).reshape(-1) for w in inst.weights])
    Habs = frobenius(A.hess(M))
    under = float(_floor(2 * A.K, frobenius(A.hess(np.maximum(M, 1.0)))))
    tol = SAFETY * (gamma(2 * A.K) + A.P * EPS) * Habs + under
    if opts.get("rtol"):
        Hf = np.vectorize(float, otypes=[np.float64])(H)
        m = float(np.abs(Hf).max())
        tol += opts["rtol"] * (m * float(np.linalg.norm(Hf / m, 2)) if m > 0 else 0.0)
    # the comparison measures the distance to the enclosure; values hold its midpoint for display
    return _Ref(np.array([(lo + hi) / 2], dtype=object), np.array([tol]), lambda i: "lambda_min",
                extra={"lo": lo, "hi": hi, "method": method})


def _mp(ws: Sequence[np.ndarray]) -> list[np.ndarray]:
    return [theory.to_kind(w, "mp") for w in ws]


def _flat_float_abs(ws: Sequence[np.ndarray]) -> np.ndarray:
    return np.concatenate([_up(np.vectorize(float, otypes=[np.float64])(np.asarray(w))).reshape(-1) for w in ws])


def _iterate_label(shapes, count_name="iterate"):
    labels = _layer_labels(shapes)
    P = len(labels)
    return lambda i: f"{count_name} {i // P}, {labels[i % P]}"


def _run_method(kind: str, obj: theory.Objective, inst: Instance, steps: int, eta: Any = None):
    eta = mpmath.mpf(inst.eta) if eta is None else eta
    th = _mp(inst.weights)
    if kind == "gd":
        return numerics.gradient_descent(obj, th, eta, steps, dps=MP_DPS)
    if kind == "heavy_ball":
        return numerics.heavy_ball(obj, th, eta, mpmath.mpf(inst.beta), steps, dps=MP_DPS)
    return numerics.nesterov(obj, th, eta, steps, beta=mpmath.mpf(inst.beta), dps=MP_DPS)


def _ref_method(kind: str):
    def ref(inst: Instance, model: str, opts: dict) -> _Ref | None:
        obj, A = inst.objective(model), _Abs(inst)
        steps, eta = int(inst.steps), float(inst.eta)
        beta = float(inst.beta or 0.0)
        with mpmath.workdps(MP_DPS):
            run = _run_method(kind, obj, inst, steps + 1)
            if run.diverged and run.steps < steps:
                return None
            xs = [np.concatenate([np.asarray(w).reshape(-1) for w in th]) for th in run.thetas]
            P, K = A.P, A.K
            absx = [_up(np.vectorize(float, otypes=[np.float64])(x)) for x in xs]
            if kind == "nesterov":
                ys = [xs[0]] + [xs[k] + (xs[k] - xs[k - 1]) * mpmath.mpf(inst.beta) for k in range(1, len(xs))]
                absy = [_up(np.vectorize(float, otypes=[np.float64])(y)) for y in ys]
            bx = [np.full(P, SAFETY * UNDERFLOW)]  # θ_0 must be returned as given
            by = [np.full(P, SAFETY * UNDERFLOW)]
            for k in range(steps):
                base = absy[k] + by[k] if kind == "nesterov" else absx[k] + bx[k]
                bcur = by[k] if kind == "nesterov" else bx[k]
                if model == "relu":
                    pt = obj.unflatten(ys[k] if kind == "nesterov" else xs[k])
                    if not _relu_margin_ok(inst, pt, bcur, A):
                        return None
                Hk, gk = A.hess(base), A.grad(base)
                floor = _floor(K + 4, A.grad(np.maximum(base, 1.0)) * max(eta, 1.0) + np.maximum(base, 1.0))
                common = eta * (Hk @ bcur) + SAFETY * eta * gamma(K) * gk + floor
                if kind == "gd":
                    bnew = bx[k] + common + SAFETY * gamma(2) * (base + eta * gk)
                elif kind == "heavy_ball":
                    prev = bx[k - 1] if k > 0 else bx[0]
                    Mprev = (absx[k - 1] + prev) if k > 0 else base
                    bnew = (1 + beta) * bx[k] + beta * prev + common + \
                        SAFETY * gamma(4) * (base + eta * gk + beta * (base + Mprev))
                else:
                    bnew = by[k] + common + SAFETY * gamma(2) * (base + eta * gk)
                bx.append(bnew)
                if kind == "nesterov":
                    Mx1, Mx0 = absx[k + 1] + bnew, absx[k] + bx[k]
                    by.append((1 + beta) * bnew + beta * bx[k] + SAFETY * gamma(3) * ((1 + beta) * Mx1 + beta * Mx0))
            if kind == "nesterov":
                # the x_k may be reconstructed from another state (e.g. torch: x = p + lr·μ·buf)
                tol = [bx[0]] + [bx[k] + SAFETY * gamma(3) * (absy[k] + by[k] + absx[k] + bx[k]
                                                              + absx[k - 1] + bx[k - 1])
                                 for k in range(1, steps + 1)]
            else:
                tol = bx
            tol = np.concatenate(tol)
            if not np.all(np.isfinite(tol)):
                return None
            values = np.concatenate(xs[: steps + 1])
            groups = [slice(k * P, (k + 1) * P) for k in range(steps + 1)]
            extra = {"next": xs[steps + 1] if len(xs) > steps + 1 else None, "xs": xs}
        return _Ref(values, tol, _iterate_label([w.shape for w in inst.weights]), groups, extra)

    return ref


def _ref_gf(inst: Instance, model: str, opts: dict) -> _Ref | None:
    rtol, atol = opts["rtol"], opts.get("atol") or 0.0
    obj = inst.objective(model)
    times = list(inst.times)
    t_end = max(times)
    dps = max(20, int(math.ceil(-math.log10(rtol))) + 12) if rtol > 0 else 30
    P = inst.num_params
    for _attempt in range(2):
        if t_end > 0:
            traj = numerics.gradient_flow(obj, inst.weights, Fraction(t_end), dps=dps)
            err = traj.error_estimate
        else:
            traj, err = None, 0.0
        with mpmath.workdps(dps + 10):
            at = [traj.at(Fraction(t)) if t > 0 else _mp(inst.weights) for t in times]
            states = [np.concatenate([np.asarray(w).reshape(-1) for w in th]) for th in at]
            scales = [float(max(abs(x) for x in s)) for s in states]
        if all(err <= 1e-3 * (rtol * s + atol) for s in scales):
            break
        dps += 15
    else:
        return None  # the reference cannot be made accurate enough: skip this instance
    tol = np.concatenate([np.full(P, rtol * s + atol) for s in scales])
    values = np.concatenate(states)
    groups = [slice(k * P, (k + 1) * P) for k in range(len(times))]
    labels = _layer_labels([w.shape for w in inst.weights])
    return _Ref(values, tol, lambda i: f"t = {times[i // P]!r}, {labels[i % P]}", groups,
                {"error_estimate": err, "dps": dps})


REFERENCES: dict[str, Callable[[Instance, str, dict], _Ref | None]] = {
    "gradient": _ref_gradient,
    "hvp": _ref_hvp,
    "hessian": _ref_hessian,
    "lambda_min": _ref_lambda_min,
    "gd": _ref_method("gd"),
    "heavy_ball": _ref_method("heavy_ball"),
    "nesterov": _ref_method("nesterov"),
    "gf": _ref_gf,
}

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


# ------------------------------------------------------------------------------------- one instance
def _copy(ws: Sequence[np.ndarray] | None) -> list[np.ndarray] | None:
    return None if ws is None else [np.array(w, dtype=np.float64, copy=True) for w in ws]


def _call(kind: str, impl: Callable, inst: Instance) -> tuple[Any, bool]:
    """Call ``impl`` on copies of the instance's arrays; returns (output, modified_inputs)."""
    ws, Phi, v = _copy(inst.weights), np.array(inst.Phi, dtype=np.float64, copy=True), _copy(inst.v)
    if kind in ("gradient", "hessian", "lambda_min"):
        out = impl(ws, Phi)
    elif kind == "hvp":
        out = impl(ws, Phi, v)
    elif kind == "gd":
        out = impl(ws, Phi, float(inst.eta), int(inst.steps))
    elif kind in ("heavy_ball", "nesterov"):
        out = impl(ws, Phi, float(inst.eta), float(inst.beta), int(inst.steps))
    else:
        out = impl(ws, Phi, [float(t) for t in inst.times])
    modified = any(not np.array_equal(a, b) for a, b in zip(ws, inst.weights)) or not np.array_equal(Phi, inst.Phi) \
        or (v is not None and any(not np.array_equal(a, b) for a, b in zip(v, inst.v)))
    return out, modified


def _normalize(kind: str, out: Any, inst: Instance, norm: _Out) -> np.ndarray:
    if kind in ("gradient", "hvp"):
        return norm.layers(out, "the result")
    if kind == "hessian":
        return norm.matrix(out, "the Hessian")
    if kind == "lambda_min":
        return norm.scalar(out, "lambda_min")
    if kind == "gf":
        return norm.sequence(out, len(inst.times), "the result", "state")
    return norm.sequence(out, int(inst.steps) + 1, "the result", "iterate")


@dataclass
class Outcome:
    """The result of one instance: ``failure`` is None when the output was usable; ``ratio`` is
    max error/tolerance (pass iff ≤ 1)."""

    ratio: float
    relerr: float
    failure: str | None
    message: str
    detail: dict
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failure is None and self.ratio <= 1.0


def check_instance(kind: str, impl: Callable, instance: Instance | dict, model: str = "linear",
                   rtol: float | None = None, atol: float = 0.0, slack: float = 1.0) -> Outcome | None:
    """Validate ``impl`` on one instance (an :class:`Instance` or its JSON, e.g. a report's
    counterexample). Returns None if the instance is outside the reference's domain (a ReLU kink
    within rounding distance, a diverging method, an unreachable GF accuracy)."""
    _check_kind(kind)
    inst = Instance.from_json(instance["instance"] if "instance" in instance else instance) \
        if isinstance(instance, dict) else instance
    opts = _options(kind, rtol, atol, model)
    return _run_one(kind, impl, inst, model, opts, slack)


def _run_one(kind: str, impl: Callable, inst: Instance, model: str, opts: dict, slack: float) -> Outcome | None:
    try:
        ref = REFERENCES[kind](inst, model, opts)
    except Exception as e:  # noqa: BLE001
        raise _InternalError(f"reference computation failed on {inst!r}: {type(e).__name__}: {e}") from e
    if ref is None:
        return None
    notes: list[str] = []
    try:
        out, modified = _call(kind, impl, inst)
    except Exception as e:  # noqa: BLE001 - report whatever the implementation raised
        tb = traceback.format_exception(type(e), e, e.__traceback__)
        return Outcome(math.inf, math.inf, "raised", f"the implementation raised {type(e).__name__}: {e}",
                       {"traceback": "".join(tb[-3:])})
    if modified:
        notes.append("the implementation modified its input arrays in place (validation passes copies)")
    norm = _Out(inst)
    try:
        got = _normalize(kind, out, inst, norm)
    except _ImplProblem as p:
        return Outcome(math.inf, math.inf, p.failure, p.message, {}, notes)
    if norm.dtypes - {"float64"}:
        notes.append(f"the implementation returned dtype(s) {sorted(norm.dtypes)}; the tolerance model assumes float64")
    tol = ref.tol * slack
    if kind == "lambda_min":
        lo, hi = ref.extra["lo"], ref.extra["hi"]
        gq = Fraction(float(got[0]))
        dist = float(max(lo - gq, gq - hi, Fraction(0)))
        mid = (lo + hi) / 2
        ratio = 0.0 if dist == 0 else (dist / tol[0] if tol[0] > 0 else math.inf)
        relerr = float(abs(gq - mid) / abs(mid)) if mid != 0 else (0.0 if gq == 0 else math.inf)
        cmp = _Cmp(ratio, relerr, "lambda_min", f"[{_num_str(lo)}, {_num_str(hi)}] ({ref.extra['method']})",
                   float(got[0]), dist, float(tol[0]))
    else:
        cmp = _compare(got, ref.values, tol, ref.label, ref.groups)
    detail = {"where": cmp.where, "expected": cmp.expected, "got": repr(cmp.got), "error": cmp.error,
              "tolerance": cmp.tolerance}
    if kind == "gf":
        detail["reference_error_estimate"] = ref.extra["error_estimate"]
    msg = ""
    if cmp.ratio > 1:
        msg = (f"mismatch at {cmp.where}: expected {cmp.expected}, got {cmp.got!r}; error {cmp.error:.3g} "
               f"exceeds the tolerance {cmp.tolerance:.3g} by a factor {cmp.ratio:.3g}")
    o = Outcome(cmp.ratio, cmp.relerr, None, msg, detail, notes)
    o._ref, o._got = ref, got  # kept for the diagnosis of the final counterexample
    return o


# --------------------------------------------------------------------------------- diagnosis hints
def _diagnose(kind: str, impl: Callable, inst: Instance, model: str, o: Outcome) -> list[str]:
    """Hints for a mismatch on the minimal instance: shifted iterates, wrong sign, asymmetry, the
    EMA momentum convention."""
    hints: list[str] = []
    ref: _Ref | None = getattr(o, "_ref", None)
    got = getattr(o, "_got", None)
    if ref is None or got is None:
        return hints
    P = inst.num_params
    if kind == "hessian":
        G = got.reshape(P, P)
        asym = np.abs(G - G.T)
        tolm = ref.extra["tol_matrix"]
        if np.any(asym > tolm + tolm.T):
            i, k = np.unravel_index(int(np.argmax(asym - (tolm + tolm.T))), asym.shape)
            hints.append(f"the returned Hessian is not symmetric: |H[{i},{k}] − H[{k},{i}]| = {asym[i, k]:.3g} "
                         "(the exact Hessian is symmetric; did you fill only one triangle or forget to symmetrise?)")
    if kind in ("gd", "heavy_ball", "nesterov"):
        steps = int(inst.steps)
        xs = ref.extra["xs"]
        nxt = ref.extra["next"]
        with mpmath.workdps(MP_DPS):
            # shifted by one: got[k] ≈ ref[k+1]
            if nxt is not None:
                shifted = np.concatenate(xs[1: steps + 2])
                c = _compare(got, shifted, np.concatenate([ref.tol[P:], 2 * ref.tol[-P:]]) * 4 + 1e-300, ref.label)
                if c.ratio <= 1:
                    hints.append("the iterates are shifted by one: entry k matches θ_{k+1} (return θ_0 = weights "
                                 "first, then θ_1..θ_steps)")
            obj = inst.objective(model)
            alts: list[tuple[str, Callable[[], list]]] = []
            if kind == "gd":
                alts.append(("a step with the wrong sign (θ + η∇f, gradient ascent)",
                             lambda: _ascent(obj, inst, steps)))
            if kind == "heavy_ball" and inst.beta:
                eta_ema = mpmath.mpf(inst.eta) * (1 - mpmath.mpf(inst.beta))
                alts.append(("the EMA convention v ← βv + (1−β)∇f, θ ← θ − ηv (= heavy ball with η(1−β); "
                             "THEORY's heavy ball is v ← βv + ∇f, θ ← θ − ηv, which is torch.optim.SGD(momentum=β))",
                             lambda: _run_method(kind, obj, inst, steps, eta=eta_ema).thetas))
            for text, make in alts:
                try:
                    thetas = make()
                except Exception:  # noqa: BLE001 - a hint is optional
                    continue
                if len(thetas) == steps + 1:
                    alt = np.concatenate([np.concatenate([np.asarray(w).reshape(-1) for w in th]) for th in thetas])
                    if _compare(got, alt, ref.tol * 4 + 1e-300, ref.label).ratio <= 1:
                        hints.append(f"the iterates match {text}")
    return hints


def _ascent(obj: theory.Objective, inst: Instance, steps: int) -> list:
    """θ_{k+1} = θ_k + η∇f(θ_k) at MP_DPS digits (the wrong-sign GD, for the hint)."""
    th, eta, out = _mp(inst.weights), mpmath.mpf(inst.eta), []
    out.append(th)
    for _ in range(steps):
        th = [w + g * eta for w, g in zip(th, numerics.gradient(obj, th))]
        out.append(th)
    return out


# ------------------------------------------------------------------------------------- the driver
def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")


def _options(kind: str, rtol: float | None, atol: float, model: str) -> dict:
    if model not in vs.MODELS:
        raise ValueError(f"model must be one of {vs.MODELS}, got {model!r}")
    if model == "relu" and kind == "gf":
        raise ValueError("kind 'gf' is validated for model='linear' only (ReLU flows cross kinks)")
    if rtol is not None and kind not in ("gf", "lambda_min"):
        raise ValueError(f"rtol applies to kinds 'gf' and 'lambda_min' only (kind {kind!r} is judged by the "
                         "float64 rounding model; use slack= to loosen it)")
    if kind == "gf":
        rtol = DEFAULT_GF_RTOL if rtol is None else rtol
    if rtol is not None and not (isinstance(rtol, (int, float)) and 0 <= rtol < 1 and (rtol > 0 or kind != "gf")):
        raise ValueError(f"rtol must be a number in {'(0' if kind == 'gf' else '[0'}, 1), got {rtol!r}")
    if not (isinstance(atol, (int, float)) and atol >= 0 and math.isfinite(atol)):
        raise ValueError(f"atol must be a finite number >= 0, got {atol!r}")
    if atol and kind != "gf":
        raise ValueError("atol applies to kind 'gf' only")
    return {"rtol": rtol, "atol": float(atol)}


def default_strategy(kind: str, model: str = "linear", families: Sequence[str] | None = None,
                     widths: Sequence[int] | None = None, max_depth: int = 3,
                     max_width: int = 3) -> st.SearchStrategy[Instance]:
    """The instance strategy :func:`validate` uses for ``kind`` (see
    :mod:`proofs_check.validation_strategies`)."""
    _check_kind(kind)
    if kind == "gf":
        return vs.flow_instances(max_depth, max_width, widths, model)
    base = vs.instances(families or vs.FAMILIES, max_depth, max_width, widths, model)
    if kind == "hvp":
        return vs.with_direction(base)
    if kind == "gd":
        return vs.with_steps(base)
    if kind in ("heavy_ball", "nesterov"):
        return vs.with_steps(base, momentum=True)
    return base


@contextlib.contextmanager
def _without_local_constants():
    """Hypothesis (≥ 6.13x) seeds its draws with literals found in the *local* modules imported so
    far, so the instances drawn for a seed would depend on what else the process has imported.
    Validation must be reproducible from (seed, versions) alone: this hides those constants for
    the duration of a run (Hypothesis internals; a no-op if they are not there)."""
    try:
        from hypothesis.internal.conjecture import providers as _prov

        empty = _prov.Constants()
        saved = _prov._get_local_constants
        cache = _prov.CONSTANTS_CACHE.cache
    except (ImportError, AttributeError):  # pragma: no cover - other Hypothesis versions
        yield
        return
    _prov._get_local_constants = lambda: empty
    cache.clear()
    try:
        yield
    finally:
        _prov._get_local_constants = saved
        cache.clear()


def _impl_name(impl: Any) -> str:
    mod = getattr(impl, "__module__", None)
    name = getattr(impl, "__qualname__", None) or getattr(impl, "__name__", None) or type(impl).__name__
    return f"{mod}:{name}" if mod else str(name)


def validate(kind: str, impl: Callable, *, budget: int | None = None, seed: int = 0, rtol: float | None = None,
             atol: float = 0.0, model: str = "linear", families: Sequence[str] | None = None,
             widths: Sequence[int] | None = None, max_depth: int = 3, max_width: int = 3, slack: float = 1.0,
             strategy: st.SearchStrategy[Instance] | None = None, shrink_limit: int | None = None,
             name: str | None = None) -> ValidationReport:
    """Validate ``impl`` (a callable with the signature of ``kind``, see :mod:`proofs_check.protocols`)
    against gfgd's references on ``budget`` Hypothesis-drawn instances; shrink the first failure.

    Parameters
    ----------
    kind:     ``"gradient"``, ``"hvp"``, ``"hessian"``, ``"lambda_min"``, ``"gd"``, ``"heavy_ball"``,
              ``"nesterov"`` or ``"gf"``.
    budget:   instances to draw (default: the active Hypothesis profile's ``max_examples``, 20 in ``ci``).
    seed:     seed of the draw (same seed, same instances).
    rtol:     ``gf``: the accuracy asked of the solver (default 1e-8); ``lambda_min``: an allowance for
              an iterative eigensolver, relative to ‖H‖₂ (default 0). Not accepted for other kinds.
    atol:     ``gf`` only: an absolute allowance added to rtol·‖θ(t)‖∞.
    model:    ``"linear"`` (deep linear net) or ``"relu"`` (ReLU between the layers; not for gf).
    families: subset of ``validation_strategies.FAMILIES`` (default all); ``widths`` fixes the
              architecture; ``max_depth``/``max_width`` bound the drawn ones.
    slack:    multiplies every tolerance (1 = the derived float64 model).
    strategy: a Hypothesis strategy of :class:`Instance` replacing the default one.
    shrink_limit: evaluations allowed after the first failure while shrinking (deterministic cap).

    Returns a :class:`ValidationReport` (truthy iff it passed).
    """
    _check_kind(kind)
    if not callable(impl):
        raise TypeError(f"impl must be callable with signature {SIGNATURES[kind]}, got {type(impl).__name__}")
    opts = _options(kind, rtol, atol, model)
    if budget is None:
        budget = settings().max_examples
    if isinstance(budget, bool) or int(budget) != budget or budget < 1:
        raise ValueError(f"budget must be a positive integer, got {budget!r}")
    budget = int(budget)
    if not (isinstance(slack, (int, float)) and slack > 0 and math.isfinite(slack)):
        raise ValueError(f"slack must be a finite number > 0, got {slack!r}")
    if widths is not None:
        widths = tuple(int(w) for w in widths)
        theory.DeepLinear(widths)  # validates
    strat = strategy if strategy is not None else default_strategy(kind, model, families, widths, max_depth, max_width)
    limit = DEFAULT_SHRINK_LIMIT[kind] if shrink_limit is None else int(shrink_limit)
    target_name = name or _impl_name(impl)

    state: dict[str, Any] = {"n": 0, "rejected": 0, "worst": None, "worst_rel": 0.0, "worst_inst": None,
                             "fail": None, "fail_keys": set(), "after_fail": 0, "notes": set(), "n_first_fail": None}
    t0 = time.perf_counter()

    @settings(max_examples=budget, deadline=None, database=None, derandomize=False, report_multiple_bugs=False,
              suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet, print_blob=False,
              # no Phase.target: Hypothesis' hill climbing on error/tolerance spun for minutes on
              # some 1000-instance gd runs without finding anything the generate phase misses
              phases=(Phase.explicit, Phase.generate, Phase.shrink))
    @hypothesis_seed(seed)
    @given(strat)
    def run(inst: Instance) -> None:
        key = json.dumps(inst.to_json(), sort_keys=True)
        if state["fail"] is not None:
            state["after_fail"] += 1
            if state["after_fail"] > limit and key not in state["fail_keys"]:
                return  # shrink budget spent: only known failures still fail (see docstring)
        o = _run_one(kind, impl, inst, model, opts, slack)
        if o is None:
            state["rejected"] += 1
            reject()
        state["n"] += 1
        for n in o.notes:
            state["notes"].add(n)
        if not o.ok:
            if state["fail"] is None or _smaller(inst, state["fail"][0]) or key in state["fail_keys"]:
                state["fail"] = (inst, o)
            state["fail_keys"].add(key)
            if state["n_first_fail"] is None:
                state["n_first_fail"] = state["n"]
            raise _Failed(o.message)
        if state["worst"] is None or o.ratio > state["worst"]:
            state["worst"], state["worst_inst"] = o.ratio, inst
        state["worst_rel"] = max(state["worst_rel"], o.relerr)

    verdict, failure, message, cex = "pass", None, "", None
    notes: list[str] = []
    try:
        with _without_local_constants():
            run()
    except _Failed:
        verdict = "fail"
    except Flaky:
        verdict, failure = "fail", "nondeterministic"
    except Unsatisfiable:
        verdict = "error"
        message = (f"no valid instance could be drawn ({state['rejected']} rejected: ReLU kinks within rounding "
                   "distance, diverging methods or unreachable flow accuracy); widen the families or the widths")
    except _InternalError as e:
        verdict, message = "error", f"internal error in gfgd's reference (please report): {e}"
    if verdict == "fail":
        inst, o = state["fail"] if state["fail"] is not None else (None, None)
        if o is not None:
            if failure == "nondeterministic":
                message = ("the implementation gave different results on the same instance (a failure did not "
                           f"reproduce); last failure: {o.message}")
            else:
                failure = o.failure or "mismatch"
                what = {"mismatch": "wrong result", "raised": "the implementation raised an exception",
                        "wrong_type": "wrong output type", "wrong_shape": "wrong output shape",
                        "non_finite": "the output contains NaN or inf"}[failure]
                message = f"FAILED ({what}) on a minimal instance {inst!r}: {o.message}"
                if failure == "raised" and o.detail.get("traceback"):
                    message += "\n" + o.detail["traceback"].rstrip()
                hints = _diagnose(kind, impl, inst, model, o) if failure == "mismatch" else []
                for h in hints:
                    message += f"\nhint: {h}"
            cex = {"instance": inst.to_json(), "failure": failure, "detail": o.detail,
                   "replay": f"proofs_check.check_instance({kind!r}, impl, counterexample)"}
            if o.failure is None:  # a numeric mismatch: its ratio is the worst one seen
                state["worst_rel"] = max(state["worst_rel"], o.relerr)
                state["worst"] = max(state["worst"] or 0.0, o.ratio)
    elif verdict == "pass":
        message = (f"PASSED: {state['n']} instance(s) within the tolerance (worst error/tolerance "
                   f"{_fmt(state['worst'])}).")
        if kind == "gf":
            message += f" Achieved accuracy: worst relative error {_fmt(state['worst_rel'])} (rtol {opts['rtol']:g})."
    if state["rejected"]:
        notes.append(f"{state['rejected']} drawn instance(s) were outside the reference's domain and skipped")
    notes += sorted(state["notes"])
    worst = state["worst"]
    return ValidationReport(
        kind=kind, target=target_name, model=model, verdict=verdict, failure=failure, message=message,
        instances=state["n"] if state["n_first_fail"] is None else state["n_first_fail"], rejected=state["rejected"],
        shrink_evaluations=0 if state["n_first_fail"] is None else state["n"] - state["n_first_fail"],
        budget=budget, seed=seed,
        worst_ratio=None if worst is None else float(worst),
        worst_relative_error=float(state["worst_rel"]) if worst is not None else None,
        rtol=opts["rtol"], atol=opts["atol"] if kind == "gf" else None,
        tolerance=TOLERANCE_TEXT[kind] + ("" if slack == 1 else f", times slack {slack:g}"),
        seconds=time.perf_counter() - t0, counterexample=cex,
        worst_instance=None if state["worst_inst"] is None else state["worst_inst"].to_json(), notes=notes)


def _smaller(a: Instance, b: Instance) -> bool:
    """Instance a is simpler than b (fewer parameters, then fewer steps/times): the one to report when
    the shrink budget stops Hypothesis before its final replay settles it."""
    ka = (a.num_params, a.steps or 0, len(a.times or ()))
    kb = (b.num_params, b.steps or 0, len(b.times or ()))
    return ka < kb


# --------------------------------------------------------------------- gfgd's own float64 path
def float64_implementation(kind: str, model: str = "linear") -> Callable:
    """gfgd's own float64 implementation of ``kind`` with the protocol's signature (numerics on
    float64 arrays; ``gf`` via scipy DOP853 at rtol = atol = 1e-13). Useful as a template and as the
    'correct' control in tests: ``validate(kind, float64_implementation(kind))`` passes."""
    _check_kind(kind)

    def objective(weights, Phi):
        ws = tuple([weights[0].shape[1]] + [w.shape[0] for w in weights])
        net = theory.DeepLinear(ws) if model == "linear" else theory.ReLUNet(ws, 0)
        return theory.Objective(net, theory.WhitenedSquare(Phi))

    def gradient(weights, Phi):
        return numerics.gradient(objective(weights, Phi), weights)

    def hvp(weights, Phi, v):
        return numerics.hvp(objective(weights, Phi), weights, v)

    def hessian(weights, Phi):
        return numerics.hessian(objective(weights, Phi), weights)

    def lambda_min(weights, Phi):
        return numerics.lambda_min(objective(weights, Phi), weights)

    def gd(weights, Phi, eta, steps):
        return numerics.gradient_descent(objective(weights, Phi), weights, eta, steps).thetas

    def heavy_ball(weights, Phi, eta, beta, steps):
        return numerics.heavy_ball(objective(weights, Phi), weights, eta, beta, steps).thetas

    def nesterov(weights, Phi, eta, beta, steps):
        return numerics.nesterov(objective(weights, Phi), weights, eta, steps, beta=beta).thetas

    def gf(weights, Phi, times):
        t_end = max(times) if len(times) else 0.0
        if t_end == 0:
            return [[w.copy() for w in weights] for _ in times]
        traj = numerics.gradient_flow_float(objective(weights, Phi), weights, t_end, rtol=1e-13, atol=1e-13,
                                            estimate_error=False)
        return [traj.at(t) for t in times]

    impls = {"gradient": gradient, "hvp": hvp, "hessian": hessian, "lambda_min": lambda_min, "gd": gd,
             "heavy_ball": heavy_ball, "nesterov": nesterov, "gf": gf}
    f = impls[kind]
    f.__qualname__ = f"float64_implementation({kind!r})"
    f.__module__ = __name__
    return f
