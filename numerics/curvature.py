"""Curvature along a trajectory, in one call: λ_min, λ_max, η·λ_max, I₋(t) and the A1 bound.

:func:`curvature_along` takes a gradient-flow trajectory (any tier: :class:`~numerics.flows.Trajectory`,
:class:`~numerics.float_flows.FloatTrajectory`, :class:`~numerics.generic_flow.GenericTrajectory`) or the
iterates of GD / heavy ball / Nesterov (:class:`~numerics.discrete.Iterates`) and returns, at chosen times:

* λ_min(∇²f) and λ_max(∇²f) (float64; matrix-free Lanczos on HVPs by default, :mod:`numerics.spectra`),
  each with its residual bound ‖Hv − λv‖ (some eigenvalue lies that close; Parlett Thm 4.5.1);
* η·λ_max when a step size η is known: the A1 hypothesis η·λ_max ≤ 1 and GD's stability edge 2
  (docs/theory.md A1; EC21 §3);
* the running integral I₋(t) = ∫₀ᵗ max(0, −λ_min(∇²f(θ(s)))) ds (docs/theory.md A2, B6), by the trapezoid
  rule on the chosen times, with an error estimate (below);
* with ``gd`` (GD iterates from the same θ_0) beside a GF ``path``: the a-posteriori bound b_k of
  docs/theory.md A1 and the measured distance e_k = ‖θ(kη) − θ_k‖.

Times. For a flow, ``times`` default to 65 equally spaced points of [0, t_end] (exact fractions for the
Taylor tier). For iterates, the time of iterate k is t_k = kη for GD and t_k = k√η for heavy ball and
Nesterov (the time of their ODE limits, docs/theory.md D3/D4); ``times`` then selects kept iterates.

Error of I₋. Fine trapezoid T_h on all points and coarse T_{2h} on every other point (plus the last).
For a C² integrand T_h − I ≈ (T_{2h} − T_h)/3 (Richardson), so |T_h − T_{2h}| over-estimates the
discretisation error by about 3; at a kink of max(0, −λ_min) (where λ_min crosses 0) the rule is first
order and the same difference still measures it. Added to it: Σ (trapezoid weight)·(residual bound of
λ_min), which covers the eigenvalue errors (max(0, ·) is 1-Lipschitz). With fewer than 3 points there
is no coarse rule and the error is reported as inf.

A1 (docs/theory.md A1): b_0 = 0, b_{k+1} = (1 − η m_k) b_k + (η²/2) M_k, with m_k the minimum of λ_min over
the segment [θ_k, θ(kη)] and M_k = sup over [kη, (k+1)η] of ‖∇²f ∇f‖(θ(s)); ‖e_k‖ ≤ b_k holds where
η·λ_max ≤ 1 on the segments. Here m_k is the minimum over ``segment_points`` points of the segment and
M_k the maximum over ``flow_points`` points of the GF step: sampled, not certified (as in
``proofs_check.claims.euler``); ``hypothesis_ok[k]`` records whether η·λ_max ≤ 1 held at the sampled points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Sequence

import numpy as np

from theory import to_kind

from .discrete import Iterates
from .gradients import check_objective, gradient
from .hessians import hvp


@dataclass
class A1Bound:
    """docs/theory.md A1 along GD: per step k = 0..K, the bound ``b[k]`` and the distance ``distance[k]`` =
    ‖θ(kη) − θ_k‖; ``m[k]``, ``M[k]`` the sampled curvature and local-error terms of step k → k+1,
    ``hypothesis_ok[k]`` whether η·λ_max ≤ 1 held on step k's samples."""

    eta: float
    b: np.ndarray
    distance: np.ndarray
    m: np.ndarray
    M: np.ndarray
    hypothesis_ok: np.ndarray

    @property
    def tightness(self) -> float:
        """max_k ‖e_k‖/b_k over the steps up to the first violation of the hypothesis (≤ 1 if A1 holds)."""
        bad = np.flatnonzero(~self.hypothesis_ok)
        stop = len(self.b) if bad.size == 0 else int(bad[0]) + 1
        b, d = self.b[1:stop], self.distance[1:stop]
        ok = b > 0
        return float(np.max(d[ok] / b[ok])) if np.any(ok) else 0.0


@dataclass
class CurvatureAlong:
    """What :func:`curvature_along` measured (module docstring); arrays are indexed like ``times``."""

    times: np.ndarray
    lambda_min: np.ndarray
    lambda_max: np.ndarray
    lambda_min_error: np.ndarray
    lambda_max_error: np.ndarray
    negativity: np.ndarray
    negativity_error: np.ndarray
    eta: float | None
    eta_lambda_max: np.ndarray | None
    a1: A1Bound | None
    source: str

    @property
    def edge_of_stability(self) -> np.ndarray | None:
        """Times where η·λ_max > 2 (GD is unstable in the top direction there), or None without η."""
        return None if self.eta_lambda_max is None else self.times[self.eta_lambda_max > 2]


def _is_flow(path: Any) -> bool:
    return hasattr(path, "at") and hasattr(path, "t_end")


def _flow_times(path: Any, times: Any) -> list:
    if times is None:
        t_end = path.t_end
        if isinstance(t_end, Fraction):
            return [t_end * i / 64 for i in range(65)]
        return list(np.linspace(0.0, float(t_end), 65))
    ts = list(times)
    if not ts:
        raise ValueError("times must not be empty")
    return ts


def _iterate_points(path: Iterates, times: Any) -> tuple[list[float], list[list[np.ndarray]], float]:
    eta = path.params.get("eta")
    if eta is None:
        raise ValueError("the iterates carry no step size eta in their params")
    kept = len(path.thetas)
    if kept < 1:
        raise ValueError("the iterates hold no theta")
    # thetas are θ_0, θ_s, θ_2s, ... (keep="all": s = 1; keep="last": θ_0 and θ_K)
    stride = 0 if kept == 1 else path.steps / (kept - 1)
    if kept > 1 and stride != int(stride):
        raise ValueError(f"{kept} kept iterates do not divide {path.steps} steps evenly; keep every k-th iterate")
    unit = float(eta) if path.method == "gd" else math.sqrt(float(eta))  # t = kη, or k√η (D3/D4)
    all_t = [i * int(stride) * unit for i in range(kept)]
    if times is None:
        return all_t, list(path.thetas), float(eta)
    ts, thetas = [], []
    for t in times:
        i = int(round(float(t) / (unit * max(int(stride), 1))))
        if not (0 <= i < kept) or abs(all_t[i] - float(t)) > 1e-9 * max(1.0, abs(float(t))):
            raise ValueError(f"time {t!r} is not the time of a kept iterate (t_k = k·{unit:g} for "
                             f"{path.method}; kept every {int(stride)} step(s))")
        ts.append(all_t[i])
        thetas.append(path.thetas[i])
    return ts, thetas, float(eta)


def _floats(theta: Sequence[Any]) -> list[np.ndarray]:
    return [to_kind(w, "float") for w in theta]


def _running_trapezoid(t: np.ndarray, g: np.ndarray) -> np.ndarray:
    out = np.zeros_like(g)
    if len(t) > 1:
        out[1:] = np.cumsum(np.diff(t) * (g[1:] + g[:-1]) / 2)
    return out


def negativity_integral(times: Any, lam_min: Any, lam_err: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """(I₋(t_i), error estimate) for I₋(t) = ∫₀ᵗ max(0, −λ_min) ds sampled at ``times`` (module docstring)."""
    t = np.asarray(times, dtype=float)
    lam = np.asarray(lam_min, dtype=float)
    if t.ndim != 1 or t.shape != lam.shape:
        raise ValueError(f"times and lam_min must be 1-D of equal length, got {t.shape} and {lam.shape}")
    if np.any(np.diff(t) < 0):
        raise ValueError("times must be non-decreasing")
    g = np.maximum(0.0, -lam)
    fine = _running_trapezoid(t, g)
    if len(t) < 3:
        return fine, np.full_like(fine, np.inf)
    idx = list(range(0, len(t), 2))
    if idx[-1] != len(t) - 1:
        idx.append(len(t) - 1)
    coarse = _running_trapezoid(t[idx], g[idx])
    diff = np.abs(fine[idx] - coarse)
    err = np.empty_like(fine)
    # each point takes the running maximum of the difference at the coarse points up to the next one
    j = 0
    running = 0.0
    for i in range(len(t)):
        while j < len(idx) and idx[j] <= i + 1:
            running = max(running, diff[j])
            j += 1
        err[i] = running
    if lam_err is not None:
        e = np.asarray(lam_err, dtype=float)
        err += _running_trapezoid(t, e)
    return fine, err


def curvature_along(obj: Any, path: Any, times: Sequence[Any] | None = None, eta: Any = None,
                    gd: Iterates | None = None, method: str = "eigsh", tol: float = 1e-10, seed: int = 0,
                    segment_points: int = 5, flow_points: int = 9) -> CurvatureAlong:
    """Curvature of f along ``path`` at ``times`` (module docstring for every quantity and its error).

    ``path``: a GF trajectory (any tier) or :class:`~numerics.discrete.Iterates`. ``eta``: step size for
    η·λ_max (default: the iterates' own η; for a flow, the η of ``gd`` if given). ``gd``: GD iterates
    (keep="all") from the same θ_0, with a flow ``path``: adds the A1 bound b_k (needs kη ≤ t_end).
    ``method``/``tol``/``seed``: passed to :func:`numerics.lambda_min` / :func:`numerics.lambda_max`.
    """
    from .spectra import lambda_max, lambda_min  # scipy.sparse on first use (issue 9: import budget)

    obj = check_objective(obj)
    if _is_flow(path):
        ts = _flow_times(path, times)
        thetas = [_floats(path.at(t)) for t in ts]
        source = type(path).__name__
        if eta is None and gd is not None:
            eta = gd.params.get("eta")
    elif isinstance(path, Iterates):
        if gd is not None:
            raise ValueError("gd is for a gradient-flow path; pass the flow as path and the GD iterates as gd")
        ts, thetas, own_eta = _iterate_points(path, times)
        thetas = [_floats(th) for th in thetas]
        eta = own_eta if eta is None else eta
        source = f"Iterates({path.method})"
    else:
        raise TypeError(f"path must be a gradient-flow trajectory (with .at and .t_end) or numerics.Iterates, "
                        f"got {type(path).__name__}")
    tf = np.array([float(t) for t in ts])
    if np.any(np.diff(tf) < 0):
        raise ValueError("times must be non-decreasing")
    if eta is not None and not float(eta) > 0:
        raise ValueError(f"eta must be > 0, got {eta!r}")
    lo = [lambda_min(obj, th, method=method, tol=tol, seed=seed, return_info=True) for th in thetas]
    hi = [lambda_max(obj, th, method=method, tol=tol, seed=seed, return_info=True) for th in thetas]
    lmin = np.array([r.value for r in lo])
    lmax = np.array([r.value for r in hi])
    emin = np.array([r.error_bound for r in lo])
    emax = np.array([r.error_bound for r in hi])
    neg, neg_err = negativity_integral(tf, lmin, emin)
    etaf = None if eta is None else float(eta)
    a1 = None
    if gd is not None:
        a1 = a1_bound(obj, path, gd, method=method, tol=tol, seed=seed, segment_points=segment_points,
                      flow_points=flow_points)
    return CurvatureAlong(tf, lmin, lmax, emin, emax, neg, neg_err, etaf,
                          None if etaf is None else etaf * lmax, a1, source)


def a1_bound(obj: Any, flow: Any, gd: Iterates, method: str = "eigsh", tol: float = 1e-10, seed: int = 0,
             segment_points: int = 5, flow_points: int = 9) -> A1Bound:
    """docs/theory.md A1's b_k beside ‖θ(kη) − θ_k‖ for GD iterates ``gd`` (every step kept) and a GF ``flow``
    from the same θ_0 (module docstring: m_k and M_k are sampled)."""
    from .spectra import lambda_max, lambda_min  # scipy.sparse on first use (issue 9: import budget)

    if gd.method != "gd":
        raise ValueError(f"A1 is about gradient descent; got {gd.method} iterates")
    K = gd.steps
    if len(gd.thetas) != K + 1:
        raise ValueError("A1 needs every GD iterate: run gradient_descent(..., keep='all')")
    if segment_points < 2 or flow_points < 2:
        raise ValueError("segment_points and flow_points must be >= 2")
    eta = gd.params["eta"]
    eq = Fraction(eta) if not isinstance(eta, Fraction) else eta
    if K * eq > Fraction(flow.t_end) * (1 + Fraction(1, 10**12)):
        raise ValueError(f"the flow ends at t = {float(flow.t_end)} before K·η = {float(K * eq)}")
    # kη formed exactly from η's binary value may pass t_end by rounding (η = 0.05 is not 1/20): clamp
    # times within 1e-12 relative of t_end to it
    t_end = Fraction(flow.t_end)

    def at(t: Fraction) -> list[np.ndarray]:
        return _floats(flow.at(min(t, t_end)))

    ef = float(eta)
    b = np.zeros(K + 1)
    dist = np.zeros(K + 1)
    m = np.full(K + 1, np.nan)
    M = np.full(K + 1, np.nan)
    ok = np.ones(K + 1, dtype=bool)
    for k in range(K + 1):
        gf_k = at(k * eq)
        gd_k = _floats(gd.thetas[k])
        dist[k] = math.sqrt(sum(float(np.sum((a - c) ** 2)) for a, c in zip(gf_k, gd_k)))
        if k == K:
            break
        m_k, lmax = math.inf, -math.inf
        for s in np.linspace(0.0, 1.0, segment_points):
            th = [c + s * (a - c) for a, c in zip(gf_k, gd_k)]
            m_k = min(m_k, lambda_min(obj, th, method=method, tol=tol, seed=seed))
            lmax = max(lmax, lambda_max(obj, th, method=method, tol=tol, seed=seed))
        M_k = 0.0
        for i in range(flow_points):
            th = at(k * eq + Fraction(i, flow_points - 1) * eq)
            hg = hvp(obj, th, gradient(obj, th))
            M_k = max(M_k, math.sqrt(sum(float(np.sum(x * x)) for x in hg)))
        m[k], M[k], ok[k] = m_k, M_k, ef * lmax <= 1
        b[k + 1] = (1 - ef * m_k) * b[k] + ef * ef / 2 * M_k
    return A1Bound(ef, b, dist, m, M, ok)
