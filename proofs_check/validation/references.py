"""The references an implementation is held to: exact rationals (gradient, HVP, Hessian, certified
λ_min) or 50-digit mpmath (GD, heavy ball, Nesterov, GF), each with its tolerance from
:mod:`.tolerance`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Sequence

import mpmath
import numpy as np

import numerics
import theory

from .strategies import Instance
from .tolerance import EPS, EXACT_LAMBDA_MAX_P, MP_DPS, SAFETY, UNDERFLOW, _Abs, _floor, _up, frobenius, gamma
from .compare import _flat_exact, _layer_labels

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
