"""Claims D4 (Nesterov's ODE: sublinear rate, the constant c) and D5 (heavy ball's modified flow),
docs/theory.md section D. Instances, spectra and their JSON codec are shared with
:mod:`proofs_check.claims.momentum` (D1–D3); the derivations of D4 and D5 are in its docstring."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

import numerics
import theory
from theory import momentum as mo

from ..engine.claim import Claim, Measurement, require
from ..engine.instances import decode_objective, encode_objective



from .momentum import EPS, _dec, _dec_t, _enc, _enc_t, _gap_mp, _initial_error, _lam0_mp, _norm_mp, _spec, build_kernel


# ------------------------------------------------------------------------------------------ D4
NAG_INTEGRATE_LIMIT = 150  # integrate numerically too when √λ_max·t ≤ this (cost ~ that many steps)


def d4_measure(inst: dict, constant: Any = None, power: Any = None) -> Measurement:
    spec = inst["spec"]
    H = build_kernel(spec)
    e0 = _initial_error(H, spec)
    r = inst.get("r", 3)
    t = Fraction(inst["t"])
    require(t > 0, "t = 0: the bound is infinite")
    lmax = float(np.linalg.eigvalsh(H)[-1])
    with mpmath.workdps(30):
        tm = mpmath.mpf(t.numerator) / t.denominator
        cf = mo.nag_solution(H, e0, t, r=r, dps=30)
        lhs = _norm_mp(cf) ** 2 / 2
        lam0 = _lam0_mp(H, spec)
        n0 = _norm_mp(e0)
        z0 = mpmath.sqrt(lam0) * tm
        if power is None:
            rhs = mo.nag_bound(lam0, tm, n0, r=r, dps=30, constant=constant)
        else:
            # the same bound with the dimensionless z₀ = √λ₀t raised to ``power`` instead of r
            rhs = mo.nag_bound(lam0, tm, n0, r=r, dps=30, constant=constant) * z0 ** (r - mpmath.mpf(power))
        integrated = math.sqrt(lmax) * float(t) <= NAG_INTEGRATE_LIMIT
        ok, gap, est = True, mpmath.mpf(0), mpmath.mpf(0)
        if integrated:
            tr = numerics.nesterov_flow(theory.Quadratic(H), [e0], t, r=r, dps=20)
            gap = _gap_mp(tr.at(t)[0], cf)
            est = mpmath.mpf(tr.error_estimate)
            ok = gap <= est + mpmath.mpf(10) ** -25 * n0
        err = 1e-20 * float(lhs + rhs)
    return Measurement(float(lhs), float(rhs), err, holds=None if ok else False,
                       details={"lambda0": float(lam0), "z0": float(z0), "r": r, "integrated": integrated,
                                "closed_form_gap": float(gap), "integrator_error": float(est)})


@st.composite
def _d4_instances(draw):
    family = draw(st.sampled_from(["tight", "asymptotic", "general", "gram"]))
    r = draw(st.sampled_from([3, 3, 3, 2, 6])) if family == "general" else 3
    if family == "gram":
        spec = draw(_spec(kinds=("gram",)))
    else:
        spec = draw(_spec(kinds=("diag", "rot"), e0="aligned" if family in ("tight", "asymptotic") else None))
    H = build_kernel(spec)
    lam0 = float(np.linalg.eigvalsh(H)[0])
    assume(lam0 > 1e-5)
    if family == "tight":
        zs = float(mo.bessel_sup(1, 30).z)
        z0 = zs * (1 + draw(st.floats(-0.05, 0.05)))
    elif family == "asymptotic":
        z0 = 10 ** draw(st.floats(1, 4))
    else:
        z0 = 10 ** draw(st.floats(-1, 1.7))
    t = Fraction(z0 / math.sqrt(lam0)).limit_denominator(2**30)
    return {"family": family, "spec": spec, "r": r, "t": t}


D4 = Claim(
    "D4", "Nesterov (damping 3/t): Bessel closed form and the sublinear t^-3 bound", "BXC21 (THEORY.md D4)",
    "paper", "1/2 ||e(t)||^2 <= 2 c^2 ||e0||^2 / (lambda0^{3/2} t^3)",
    "c = sup_z sqrt(z)|J_1(z)| = 0.82503089558735... (computed by bessel_sup)",
    "Bessel closed form at 30 digits (err 1e-20 relative); mp Taylor NAG ODE cross-check where sqrt(lmax) t <= 150",
    "tight: e0 aligned, z0 = z*(1 +- 5%); asymptotic z0 in [10, 1e4]; general spectra z0 in [0.1, 50], "
    "r in {2, 3, 6}; NTK Grams",
    lambda: _d4_instances(), d4_measure, _enc_t, _dec_t, default_budget=30, resolution=1e-6,
    abs_resolution=1e-40, options=("constant", "power"))


# ------------------------------------------------------------------------------------------ D5
def on_flow_previous(obj: Any, theta0: list, h: Fraction, beta: Fraction) -> list[np.ndarray]:
    """θ_{−1} = θ̃(−h) + O(h³) for the HB modified flow (module docstring).

    With F = F₀ + hF₁, F₀ = −∇L/(1−β), F₁ = −(1+β)/(2(1−β)³)∇²L∇L: θ̃(−h) = θ₀ − hF + (h²/2)DF₀F₀ + O(h³)
    and DF₀F₀ = ∇²L∇L/(1−β)², so θ_{−1} = θ₀ + (h/(1−β))∇L + h²[(1+β)/2 + (1−β)/2]/(1−β)³ ∇²L∇L.
    """
    g = numerics.gradient(obj, theta0)
    hg = numerics.hvp(obj, theta0, g)
    hf, bf = float(h), float(beta)
    return [w + (hf / (1 - bf)) * gi + (hf * hf / (1 - bf) ** 3) * hgi for w, gi, hgi in zip(theta0, g, hg)]


def heavy_ball_positions(obj: Any, theta0: list, theta_prev: list, h: float, beta: float, steps: int,
                         every: int) -> list[list[np.ndarray]]:
    """float64 HB θ_{k+1} = θ_k − h∇L(θ_k) + β(θ_k − θ_{k−1}) from (θ_{−1}, θ₀); θ_k for k = 0, every, …"""
    prev, cur = [np.array(w, dtype=float) for w in theta_prev], [np.array(w, dtype=float) for w in theta0]
    out = [cur]
    for k in range(1, steps + 1):
        g = numerics.gradient(obj, cur)
        new = [w - h * gi + beta * (w - p) for w, gi, p in zip(cur, g, prev)]
        prev, cur = cur, new
        if k % every == 0:
            out.append(cur)
    return out


def _slope(xs, ys) -> float:
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def d5_measure(inst: dict, coefficient: Any = None, init: Any = None) -> Measurement:
    obj = decode_objective(inst["objective"]) if isinstance(inst["objective"], dict) else inst["objective"]
    theta0 = [np.array(w, dtype=float) for w in inst["theta0"]]
    beta = Fraction(inst["beta"])
    h0 = Fraction(inst["h0"])
    K0 = int(inst["K0"])  # steps at h0; T = K0·h0, K0 divisible by 16
    T = K0 * h0
    coef = (1 + beta) if coefficient is None else Fraction(coefficient)
    if init not in (None, "standard"):
        raise ValueError(f"init mutation must be 'standard', got {init!r}")
    hs = [h0, h0 / 2, h0 / 4]
    dists, dists_gf, errs = [], [], []
    gf = numerics.gradient_flow(obj, theta0, T / (1 - beta), dps=30)
    for j, h in enumerate(hs):
        K = K0 * 2**j
        prev = theta0 if init == "standard" else on_flow_previous(obj, theta0, h, beta)
        pos = heavy_ball_positions(obj, theta0, prev, float(h), float(beta), K, K // 16)
        eta_mod = h * coef / (1 - beta) ** 2
        ref = numerics.modified_flow(obj, theta0, eta_mod, T / (1 - beta), dps=30) if eta_mod > 0 else gf
        d = dg = 0.0
        scale = 1.0
        for i, th in enumerate(pos):
            tau = Fraction(i * (K // 16)) * h / (1 - beta)
            with mpmath.workdps(30):
                a = np.concatenate([np.asarray(x).reshape(-1) for x in ref.at(tau)])
                c = np.concatenate([np.asarray(x).reshape(-1) for x in gf.at(tau)])
            th_f = np.concatenate([w.reshape(-1) for w in th])
            a_f = np.array([float(x) for x in a])
            c_f = np.array([float(x) for x in c])
            d = max(d, float(np.linalg.norm(th_f - a_f)))
            dg = max(dg, float(np.linalg.norm(th_f - c_f)))
            scale = max(scale, float(np.abs(th_f).max()))
        dists.append(d)
        dists_gf.append(dg)
        # float64 HB over K steps: ≤ 8 roundings of size ε·scale per step, accumulated linearly
        errs.append(ref.error_estimate + 8 * K * EPS * scale + 1e-16 * scale)
    require(min(dists) > 0, "HB follows the flow exactly (a fixed point): no slope")
    xs = [float(h) for h in hs]
    s = _slope(xs, dists)
    s_gf = _slope(xs, dists_gf)
    err = 2 * max(errs) / min(dists) / math.log(2)
    return Measurement(abs(s - 2), 0.25, err,
                       details={"slope_modified": s, "slope_gf": s_gf, "d_h0": dists[0], "d_h0_over_4": dists[-1],
                                "beta": float(beta), "h0": float(h0), "T": float(T)})


@st.composite
def _d5_instances(draw):
    beta = draw(st.sampled_from([Fraction(1, 4), Fraction(1, 2), Fraction(3, 4)]))
    kind = draw(st.sampled_from(["quadratic", "deep_linear"]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    if kind == "quadratic":
        n = draw(st.integers(1, 3))
        lams = [draw(st.floats(0.1, 2.0)) for _ in range(n)]
        Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
        A = (Q * lams) @ Q.T
        A = (A + A.T) / 2
        obj = theory.Quadratic(A, rng.standard_normal(n) * 0.5)
        theta0 = [rng.standard_normal(n)]
        lmax = max(lams)
    else:
        d = tuple(draw(st.lists(st.integers(1, 2), min_size=3, max_size=3)))
        Phi = rng.standard_normal((d[-1], d[0]))
        obj = theory.Objective(theory.DeepLinear(d), theory.WhitenedSquare(Phi / np.linalg.norm(Phi)))
        theta0 = numerics.gaussian_init(obj, 0.7, seed=seed)
        lmax = float(np.abs(np.linalg.eigvalsh(numerics.hessian(obj, theta0))).max())
        assume(lmax > 1e-3)
    bound = float((1 - beta) ** 2) / (20 * lmax)
    h0 = Fraction(1, 2 ** math.ceil(-math.log2(bound)))
    tau = draw(st.sampled_from([1, 2]))  # GD-equivalent time T/(1−β)
    K0 = 16 * max(1, math.ceil(float(tau * (1 - beta) / h0) / 16))
    return {"objective": obj, "theta0": theta0, "beta": beta, "h0": h0, "K0": K0, "kind": kind}


def _enc_d5(inst):
    d = dict(inst)
    d["objective"] = encode_objective(inst["objective"]) if not isinstance(inst["objective"], dict) \
        else inst["objective"]
    return _enc(d)


def _dec_d5(d):
    out = _dec(d)
    out["objective"] = decode_objective(d["objective"])
    out["theta0"] = [np.array(w, dtype=float) for w in out["theta0"]]
    return out


D5 = Claim(
    "D5", "heavy-ball modified flow, second order with on-flow initialisation", "beyond BXC21 (THEORY.md D5)",
    "derived", "|slope of max_k ||theta_k - theta~(k h)|| in h - 2| <= 0.25",
    "theta' = -(1/(1-beta)) grad[L + h(1+beta)/(4(1-beta)^2) ||grad L||^2]",
    "reference mp Taylor modified flow (30 digits); float64 HB rounding 8 K eps |theta|; slope err 2 err/min d/ln 2",
    "quadratics n=1..3 (lambda 0.1..2, rotated), deep linear N=2 widths<=2; beta in {1/4, 1/2, 3/4}; "
    "h0 = 2^-j <= (1-beta)^2/(20 lambda_max), h in {h0, h0/2, h0/4}; T/(1-beta) in {1, 2}",
    lambda: _d5_instances(), d5_measure, _enc_d5, _dec_d5, default_budget=6, resolution=1e-2,
    options=("coefficient", "init"))


CLAIMS = (D4, D5)
