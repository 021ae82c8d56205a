"""Claim C2 (GD converges from balanced near-zero inits; a derived step bound against the largest
step that works), docs/theory.md section C. The flow pieces, instances and C1 are in
:mod:`proofs_check.claims.convergence`, whose docstring holds the derivations."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

import numerics
import theory

from ..engine.claim import Claim, Measurement, require
from .c1_events import taylor_event_times
from .convergence import (BISECT_PREC, DIRECT_MAX_STEPS, GD_BUDGET, RTOL, ConvInstance, _objective, _phi,
                          check_setting, decode, encode, end_to_end, first_passage, predicted_time)


class _Reached(Exception):
    pass


def gd_reaches(obj: Any, theta0: list, eta: float, eps: float, steps: int) -> bool:
    """Does float64 GD at ``eta`` get its loss ≤ ``eps`` at some step ≤ ``steps``? (stops there)"""
    if float(numerics.value(obj, theta0)) <= eps:
        return True

    def stop(k, loss):
        if float(loss) <= eps:
            raise _Reached()

    try:
        numerics.gradient_descent(obj, theta0, float(eta), int(steps), keep="last", callback=stop)
    except _Reached:
        return True
    return False


def _spectral(W) -> float:
    return float(np.linalg.norm(W, 2)) if min(W.shape) > 1 else float(np.linalg.norm(W))


_CACHE: dict = {}  # C2 and its parts C2a–C2c measure the same drawn instances: derive each once
_CACHE_SIZE = 16


def derived_step_bound(obj: Any, theta0: list, eps_rel: float) -> dict:
    """gfgd's C2 step-size bound η_d (module docstring, part (b)) and everything it is made of.

    Deterministic in (widths, Φ, θ0, ε_rel), so results are kept for the last few instances (the
    claims C2, C2a–C2c draw the same instances); a fresh dict is returned each time."""
    check_setting(obj)
    th = [np.asarray(W, dtype=float) for W in theta0]
    key = (tuple(obj.widths), np.asarray(theory.to_kind(obj.loss.Phi, "float"), dtype=float).tobytes(),
           tuple(W.tobytes() for W in th), float(eps_rel))
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = _derive(obj, th, float(eps_rel))
    return dict(_CACHE[key])


def _derive(obj: Any, theta0: list, eps_rel: float) -> dict:
    N = obj.depth
    theta0 = [np.asarray(W, dtype=float) for W in theta0]
    pr = predicted_time(obj, theta0, eps_rel / 2)
    p = pr["p"]
    eps = eps_rel * 0.5 * p * p
    T, flow = first_passage(obj, theta0, eps / 2, pr["T_pred"], 1.5 * pr["C"] * pr["T_pred"], RTOL)
    require(T is not None, "GF did not reach eps/2 within 1.5x the C1 cap")
    # T must bound the true first passage from above (the loss is ≤ ε/2 on [T, t̃]; docs/theory.md C2c): the
    # crossing located on the float64 Taylor tier, raised by its derived time error; DOP853's time only said
    # where to look (it was below the true one by up to 1.8e-10 on the ci instances)
    Ts, errs, _ = taylor_event_times(obj, theta0, [lambda th: float(numerics.value(obj, th)) - eps / 2],
                                     [("loss", eps / 2)], [T], 1.5 * pr["C"] * pr["T_pred"], _phi(obj))
    require(Ts[0] is not None and math.isfinite(errs[0]), "the Taylor tier did not place GF's first passage to eps/2")
    T_dop853, T_error, T = T, errs[0], Ts[0] + errs[0]

    def sample(ts):
        out = []
        for t in ts:
            th = flow.at(t)
            lam = np.linalg.eigvalsh(numerics.hessian(obj, th))
            g = np.concatenate([x.reshape(-1) for x in numerics.gradient(obj, th)])
            w = end_to_end(th)
            out.append((float(lam[0]), float(lam[-1]), float(np.linalg.norm(g)),
                        max(_spectral(W) for W in th), float(np.linalg.norm(w - _phi(obj)))))
        return np.array(out)

    coarse = sample(np.linspace(0.0, T, 201))
    beta0 = float(np.max(np.abs(coarse[:, :2])))
    t_tilde = T + 1.0 / beta0
    if flow.t_end < t_tilde:
        flow.extend(t_tilde, RTOL, RTOL * 1e-3 * min(float(np.abs(W).max()) for W in theta0))
    n = max(200, math.ceil(10 * beta0 * t_tilde))
    ts = np.linspace(0.0, t_tilde, n + 1)
    S = sample(ts)
    lam_min, lam_max, gn, rho_s, q_s = S.T
    dt = t_tilde / n
    beta_s = float(np.max(np.maximum(np.abs(lam_min), np.abs(lam_max))))
    g_s = float(gn.max())
    h = dt / 2 * g_s * (1 + beta_s * dt)
    after = ts >= T - dt / 2  # samples whose cells meet [T, t̃]
    gT_s = float(gn[after].max())

    def eps_prime(b, gT):  # positive root of gT·e + ½ b e² = ε/2
        return (-gT + math.sqrt(gT * gT + b * eps)) / b

    edges = np.clip(np.concatenate([[0.0], (ts[:-1] + ts[1:]) / 2, [t_tilde]]), 0.0, t_tilde)

    def j_max(ms):  # max_{t ≤ t̃} J(t), J(t) = ∫₀^t exp(−∫_s^t m) ds, m constant on the sample cells: exact
        J, Jmax = 0.0, 0.0
        for mi, a, b in zip(ms, edges[:-1], edges[1:]):
            x = mi * (b - a)
            J = J * math.exp(-x) + ((b - a) if abs(x) < 1e-12 else -math.expm1(-x) / mi)
            Jmax = max(Jmax, J)
        return Jmax

    sqN = math.sqrt(N)

    def lip3(r):  # L₃ on the balls of radius r around the samples (module docstring of convergence)
        rho = float(rho_s.max()) + r
        q = float(q_s.max()) + sqN * rho ** (N - 1) * r
        return 3 * sqN * (N - 1) * rho ** (2 * N - 3) + (q * (N - 1) * (N - 2) / sqN * rho ** (N - 3) if N >= 3 else 0.0)

    def bound(e):  # the whole bound for a tube radius ε' = e (None if e is not admissible)
        r = e + h
        L3 = lip3(r)
        beta = beta_s + L3 * r
        if e > eps_prime(beta, gT_s + beta * h):
            return None
        gamma = g_s + beta * r
        m = lam_min - L3 * r
        win = math.ceil((1.0 / beta) / dt)
        mhat = np.array([m[max(0, i - win): i + win + 1].min() for i in range(len(m))])
        Jmax = j_max(mhat)
        disc = math.exp(max(0.0, float(mhat.max())) / beta)
        eta_stab, eta_a2 = 1.0 / beta, 2 * e / (beta * gamma * Jmax * disc)
        return {"eta_d": min(eta_stab, eta_a2), "eta_stab": eta_stab, "eta_a2": eta_a2, "eps_prime": e, "beta": beta,
                "gamma": gamma, "L3": L3, "tube_radius": r, "J": Jmax, "disc_factor": disc, "m_min": float(mhat.min())}

    # any ε' up to the root works for the loss; the tube margins grow with ε' (J ~ exp(L₃ε't̃)), so
    # the bound is maximised over ε' = ε'_max·2^−k, k = 0..20 (each candidate is a valid bound)
    e_max = eps_prime(beta_s, gT_s + beta_s * h)  # β_s ≤ β: an upper end for the admissible ε'
    cands = [c for c in (bound(e_max * 2.0 ** -k) for k in range(21)) if c is not None]
    require(bool(cands), "no admissible tube radius")
    best = max(cands, key=lambda c: c["eta_d"])
    J_sampled = j_max(lam_min)  # with λ_min on the samples only: no margins, no 1/β window
    L3_path = lip3(h)  # the path itself (ε' = 0): every point is within h of a sample (claim C2b)
    return {**best, "beta_path": beta_s + L3_path * h, "L3_path": L3_path, "gamma_path": g_s + (beta_s + L3_path * h) * h, "T": T, "T_dop853": T_dop853, "T_error": T_error, "t_tilde": t_tilde, "eps": eps, "eps_prime_max": e_max, "beta_sampled": beta_s,
            "gamma_sampled": g_s, "path_gap": h, "I_minus": float(np.sum(np.maximum(0.0, -lam_min)) * dt),
            "J_sampled": J_sampled, "eta_a2_sampled": 2 * e_max / (beta_s * g_s * J_sampled),
            "lambda_T": float(lam_max[-1]), "samples": n + 1, "flow": flow, "p": p}


def largest_working_eta(obj: Any, theta0: list, eps: float, t_tilde: float, lam: float,
                        precision: float = BISECT_PREC) -> dict:
    """The largest η at which GD works (module docstring, part (a)): an upward scan from 0.25/λ_T
    by factors 1.25 to the first failure, then bisection in log scale until hi/lo ≤ 1 + precision.
    Returns lo (works; None if GD fails down to 1e-4/λ_T), hi (fails) and the number of GD runs."""
    runs = []

    def works(eta):
        ok = gd_reaches(obj, theta0, eta, eps, math.ceil(GD_BUDGET * t_tilde / eta))
        runs.append((eta, ok))
        return ok

    lo = 0.25 / lam
    while not works(lo):
        if lo * lam < 1e-4:  # GD fails down to 1e-4/λ_T: no working η found (lo = None, hi fails)
            return {"lo": None, "hi": lo, "runs": len(runs)}
        lo /= 4
    hi = lo * 1.25
    while works(hi):
        lo, hi = hi, hi * 1.25
        require(hi * lam < 1e3, "GD works beyond 1e3/lambda_T")
    while hi / lo > 1 + precision:
        mid = math.sqrt(lo * hi)
        if works(mid):
            lo = mid
        else:
            hi = mid
    return {"lo": lo, "hi": hi, "runs": len(runs)}


def c2_measure(inst: ConvInstance, bound_factor: Any = None) -> Measurement:
    """η_d (× ``bound_factor``, a mutation hook) against the bisected largest working η."""
    check_setting(inst.obj)
    obj, theta0 = inst.obj, [np.asarray(W, dtype=float) for W in inst.theta]
    d = derived_step_bound(obj, theta0, float(inst.eps_rel))
    eta_d = d["eta_d"] * (1.0 if bound_factor is None else float(bound_factor))
    emp = largest_working_eta(obj, theta0, d["eps"], d["t_tilde"], d["lambda_T"])
    k_star = math.ceil(d["T"] / eta_d)
    direct = None
    if k_star <= DIRECT_MAX_STEPS:
        gd = numerics.gradient_descent(obj, theta0, eta_d, k_star, keep="last")
        direct = (not gd.diverged) and len(gd.losses) == k_star + 1 and float(gd.losses[-1]) <= d["eps"]
    details = {k: v for k, v in d.items() if k != "flow"}
    details.update(family=inst.family, N=obj.depth, eta_emp=emp["lo"], eta_fail=emp["hi"], gd_runs=emp["runs"],
                   eta_tested=eta_d, k_star=k_star, gd_at_bound_reaches_eps=direct,
                   sharpness_limit=2.0 / d["lambda_T"],
                   stability_ratio=None if emp["lo"] is None else d["eta_stab"] / emp["lo"])
    holds = False if direct is False else None
    if emp["lo"] is None:  # violated if η_d ≥ a failing η, else undecided (err = hi: inconclusive)
        return Measurement(eta_d, emp["hi"], 0.0 if eta_d >= emp["hi"] else emp["hi"], holds=holds, details=details)
    return Measurement(eta_d, emp["lo"], emp["hi"] - emp["lo"], holds=holds, details=details)


@st.composite
def _c2_small(draw):
    """Small nets N = 2..3 (the tight regime), balanced_init with ‖w(0)‖ 10^−2..10^−0.5."""
    N = draw(st.integers(2, 3))
    obj, seed = _objective(draw, N, d0_max=4, hidden_max=4)
    r0 = 10 ** draw(st.floats(-2.0, -0.5))
    # not Φ's seed: balanced_init draws w(0)'s direction first, from the stream Φ came from, so
    # the same seed would make w(0) ∥ Φ (every instance aligned, w_⊥ ≡ 0)
    theta = numerics.balanced_init(obj, r0, seed=seed + 1)
    eps_rel = draw(st.sampled_from((1e-1, 1e-2, 1e-3)))
    assume(predicted_time(obj, theta, eps_rel)["T_pred"] * float(np.linalg.norm(obj.loss.Phi)) <= 60)
    return ConvInstance(obj, theta, eps_rel, "balanced-small")


@st.composite
def _c2_deeper(draw):
    """N = 4..5, balanced_init with ‖w(0)‖ 10^−1.5..10^−0.5 (longer plateaus, more negative curvature)."""
    N = draw(st.integers(4, 5))
    obj, seed = _objective(draw, N, d0_max=3, hidden_max=3)
    r0 = 10 ** draw(st.floats(-1.5, -0.5))
    # not Φ's seed: balanced_init draws w(0)'s direction first, from the stream Φ came from, so
    # the same seed would make w(0) ∥ Φ (every instance aligned, w_⊥ ≡ 0)
    theta = numerics.balanced_init(obj, r0, seed=seed + 1)
    eps_rel = draw(st.sampled_from((1e-1, 1e-2)))
    assume(predicted_time(obj, theta, eps_rel)["T_pred"] * float(np.linalg.norm(obj.loss.Phi)) <= 60)
    return ConvInstance(obj, theta, eps_rel, "balanced-deeper")


def c2_strategy() -> st.SearchStrategy:
    return st.one_of(_c2_small(), _c2_small(), _c2_deeper())


C2 = Claim(
    "C2", "GD converges: gfgd's step-size bound vs the largest working eta", "EC21 §5 Theorem; docs/theory.md#c2",
    "derived",
    "eta_d <= eta_emp (largest eta with GD loss <= eps within 4*t~/eta steps)",
    "eta_d = min(1/beta, 2 eps' / (beta gamma max_t J(t) exp(m+/beta))), J(t) = int_0^t exp(-int_s^t m), "
    "over GF to eps/2 (C1) + 1/beta; eps' <= root of g_T eps' + beta eps'^2/2 = eps/2, best of 21 halvings",
    "err = bisection bracket hi - lo (hi/lo <= 1 + 1e-3); tube sups = sampled + analytic Lipschitz margins",
    "balanced_init N=2..3 (d0 2..4, hidden 1..4, |w0| 1e-2..0.3) and N=4..5 (widths <= 3, |w0| 0.03..0.3); "
    "|Phi| in [0.5, 2], eps_rel in {1e-1, 1e-2, 1e-3}",
    c2_strategy, c2_measure, encode, decode, default_budget=12, resolution=1e-2, options=("bound_factor",))
