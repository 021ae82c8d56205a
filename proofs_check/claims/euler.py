"""Claims on GD as Euler's method for GF: THEORY.md A1, A2, A3, A4 (EC21 §3).

* A1 (a-posteriori): e_k = θ(kη) − θ_k satisfies ‖e_k‖ ≤ b_k, b_0 = 0,
  b_{k+1} = (1 − η m_k) b_k + (η²/2) M_k, with M_k = sup_{s∈[kη,(k+1)η]} ‖∇²f ∇f‖(θ(s)) and
  m_k = min λ_min(∇²f) over the segment [θ_k, θ(kη)], under ηλ_max ≤ 1 on the segments.
  Measured: max_k ‖e_k‖ (GF from the mp Taylor integrator, GD in mp) against b_k.
  For quadratics M_k and m_k are exact (λ_min(A); ‖A(Aθ − b)‖ is convex along the segment of GF
  between samples only approximately, so M_k is sampled at 9 points per step in all cases);
  for networks m_k is the minimum over 5 points of the segment (THEORY.md says λ_min is concave
  along it; that holds for quadratics, and is not assumed here: we sample). Sampling makes b_k an
  estimate of the stated bound from below, so a reported violation is checked by re-running the
  instance with 4× denser sampling before it is believed (``refine``).
* A2 (a-priori, convex case of the quadratic family and sampled tube for networks): with β, γ the
  sup of ‖∇²f‖₂ and ‖∇f‖ over the ε-tube and m(s) the min λ_min over B_ε(θ(s)),
  η* = min(1/β, 2ε/(βγ∫₀^T exp(−∫_s^T m(u)du) ds)) guarantees ‖θ(kη*) − θ_k‖ ≤ ε, k ≤ T/η*.
  Measured: max_k ‖e_k‖/ε at η = η*. Quadratics: β = ‖A‖₂, m = λ_min(A), γ ≤ sup_traj ‖∇f‖ + βε
  (exact enclosure of the tube). Networks: sup/min over the trajectory samples and 8 random points
  of each ε-ball (a sampled tube: stated as such).
* A3 (derived example): f = −(m/2)θ², θ(t) = θ₀e^{mt}, θ_k = θ₀(1 + ηm)^k; for mη ≤ 3/4 and
  m²tη ≤ 4, |θ(t) − θ_{t/η}| ≥ 0.158·θ₀m²tη·e^{mt}. Closed forms at 50 digits (err 1e-40 relative).
* A4 (beyond the papers): at fixed t the GF–GD distance has log-log slope 1 in η, the modified flow
  θ' = −∇f − (η/2)∇²f∇f slope 2. Measured: |slope − expected| against 0.05 (GF) / 0.1 (modified)
  over η ∈ {1e-2, 1e-3, 1e-4}.
"""

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

from ..engine.claim import Claim, Measurement, require
from ..engine.instances import codec, decode_instance, encode_instance

EPS = np.finfo(float).eps


def _flat(obj, theta) -> np.ndarray:
    return np.concatenate([np.asarray(w, dtype=float).reshape(-1) for w in theta])


def _mp_to_float(theta) -> list[np.ndarray]:
    return [np.asarray(w, dtype=float) if np.asarray(w).dtype != object else
            np.vectorize(float, otypes=[float])(w) for w in theta]


def _hg_norm(obj, theta_f) -> float:
    g = numerics.gradient(obj, theta_f)
    return float(np.linalg.norm(_flat(obj, numerics.hvp(obj, theta_f, g))))


def _lam_min_max(obj, theta_f) -> tuple[float, float]:
    w = np.linalg.eigvalsh(numerics.hessian(obj, theta_f))
    return float(w[0]), float(w[-1])


# ------------------------------------------------------------------------------------------ A1
def a1_measure(inst: tuple, local_factor: Any = None, samples: int = 9) -> Measurement:
    """max_k ‖e_k‖/b_k (module docstring); ``local_factor`` replaces the 1/2 of (η²/2)M_k."""
    obj, theta0, eta, K = inst
    c_loc = 0.5 if local_factor is None else float(local_factor)
    eta_q = Fraction(eta)
    T = K * eta_q
    traj = numerics.gradient_flow(obj, theta0, T, dps=30)
    with mpmath.workdps(30):
        gd = numerics.gradient_descent(obj, [theory.to_kind(w, "mp") for w in theta0], eta, K, dps=30)
    if gd.diverged:
        require(False)
    b, worst, worst_k, lhs_at, rhs_at = 0.0, 0.0, 0, 0.0, 0.0
    hyp_ok = True
    ef = float(eta)
    for k in range(K):
        gf_k = _mp_to_float(traj.at(k * eta_q))
        gd_k = _mp_to_float(gd.thetas[k])
        # m_k: min λ_min over the segment [θ_k, θ(kη)]; also the hypothesis ηλ_max ≤ 1
        m_k, lmax = math.inf, -math.inf
        for s in np.linspace(0, 1, 5):
            pt = [a + s * (c - a) for a, c in zip(gd_k, gf_k)]
            lo, hi = _lam_min_max(obj, pt)
            m_k, lmax = min(m_k, lo), max(lmax, hi)
        if ef * lmax > 1:
            hyp_ok = False
        # M_k: sup of ‖∇²f∇f‖ along GF on [kη, (k+1)η]
        M_k = max(_hg_norm(obj, _mp_to_float(traj.at(k * eta_q + Fraction(i, samples - 1) * eta_q)))
                  for i in range(samples))
        b = (1 - ef * m_k) * b + c_loc * ef * ef * M_k
        with mpmath.workdps(30):
            e = mpmath.sqrt(sum(mpmath.fsum(x * x for x in (np.asarray(a) - np.asarray(c)).flat)
                                for a, c in zip(traj.at((k + 1) * eta_q), gd.thetas[k + 1])))
        if b > 0 and float(e) / b > worst:
            worst, worst_k, lhs_at, rhs_at = float(e) / b, k + 1, float(e), b
    require(hyp_ok)  # the claim's hypothesis ηλ_max ≤ 1 on the segments
    # err: the GF error estimate plus float64 evaluation of m_k, M_k (relative ~1e-14 of b)
    err = traj.error_estimate + 1e-12 * rhs_at
    return Measurement(lhs_at, rhs_at, err, details={"k": worst_k, "K": K})


@st.composite
def _a1_quadratic(draw):
    """1-D and diagonal quadratics (where the recursion is nearly exact: the tight regime)."""
    P = draw(st.integers(1, 3))
    lam = draw(st.lists(st.floats(-1.0, 3.0), min_size=P, max_size=P))
    A = np.diag(lam)
    x0 = np.array(draw(st.lists(st.floats(0.1, 2.0), min_size=P, max_size=P)))
    eta = draw(st.sampled_from([Fraction(1, 16), Fraction(1, 32), Fraction(1, 128)]))
    K = draw(st.integers(1, 24))
    return theory.Quadratic(A, np.zeros(P)), [x0], eta, K


@st.composite
def _a1_net(draw):
    N = draw(st.integers(2, 3))
    d = tuple(draw(st.lists(st.integers(1, 3), min_size=N + 1, max_size=N + 1)))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    Phi = rng.standard_normal((d[-1], d[0]))
    obj = theory.Objective(theory.DeepLinear(d), theory.WhitenedSquare(Phi / np.linalg.norm(Phi)))
    theta0 = numerics.gaussian_init(obj, 10 ** draw(st.floats(-1, 0)), seed=seed)
    eta = draw(st.sampled_from([Fraction(1, 16), Fraction(1, 64)]))
    K = draw(st.integers(1, 16))
    return obj, theta0, eta, K


_enc_a, _dec_a = codec("eta", "K", casts={"eta": Fraction, "K": int})


# ------------------------------------------------------------------------------------------ A2
def a2_step_bound(obj, theta0, T: float, eps: float, n: int = 64, ball: int = 8, seed: int = 0) -> dict:
    """η* of THEORY.md A2 from samples of the ε-tube around GF on [0, T] (module docstring)."""
    rng = np.random.default_rng(seed)
    traj = numerics.gradient_flow_float(obj, theta0, T, rtol=1e-12, atol=1e-14, estimate_error=False)
    ts = np.linspace(0, T, n + 1)
    beta = gamma = 0.0
    ms = []
    quad = isinstance(obj, theory.Quadratic)
    for t in ts:
        th = traj.at(t)
        x = _flat(obj, th)
        pts = [x]
        if not quad:
            for _ in range(ball):
                v = rng.standard_normal(x.size)
                pts.append(x + eps * v / np.linalg.norm(v))
        m_t = math.inf
        for p in pts:
            pt = obj.unflatten(p)
            lo, hi = _lam_min_max(obj, pt)
            beta = max(beta, abs(lo), abs(hi))
            m_t = min(m_t, lo)
            gamma = max(gamma, float(np.linalg.norm(_flat(obj, numerics.gradient(obj, pt)))))
        ms.append(m_t)
    if quad:
        gamma += beta * eps  # exact enclosure of ‖Aθ − b‖ over the tube around the trajectory samples
    ms = np.array(ms)
    # ∫_0^T exp(−∫_s^T m) ds by the trapezoid rule on the samples
    inner = np.concatenate([[0.0], np.cumsum((ms[1:] + ms[:-1]) / 2 * np.diff(ts))])  # ∫_0^s m
    integrand = np.exp(-(inner[-1] - inner))
    integral = float(np.sum((integrand[1:] + integrand[:-1]) / 2 * np.diff(ts)))
    eta_star = min(1 / beta, 2 * eps / (beta * gamma * integral)) if beta > 0 and gamma > 0 else math.inf
    return {"eta": eta_star, "beta": beta, "gamma": gamma, "integral": integral}


def a2_measure(inst: tuple, factor: Any = None) -> Measurement:
    """max_k ‖θ(kη*) − θ_k‖ against ε at η = η* (``factor`` multiplies η*: a mutation hook)."""
    obj, theta0, T, eps = inst
    info = a2_step_bound(obj, theta0, float(T), float(eps))
    eta = info["eta"] * (1.0 if factor is None else float(factor))
    K = int(math.floor(float(T) / eta))
    require(1 <= K <= 20000)
    gf = numerics.gradient_flow_float(obj, theta0, K * eta, rtol=1e-12, atol=1e-14, estimate_error=False)
    gd = numerics.gradient_descent(obj, [np.asarray(w, dtype=float) for w in theta0], eta, K)
    dist = max(float(np.linalg.norm(_flat(obj, gf.at(k * eta)) - _flat(obj, gd.thetas[k]))) for k in range(K + 1))
    # err: DOP853 at rtol 1e-12 and float64 GD rounding over K steps (≈ K·ε·‖θ‖)
    scale = max(1.0, max(float(np.abs(_flat(obj, th)).max()) for th in gd.thetas))
    err = 1e-10 * scale + K * EPS * scale
    return Measurement(dist, float(eps), err, details={"eta_star": info["eta"], "K": K, "beta": info["beta"],
                                                       "gamma": info["gamma"]})


@st.composite
def _a2_instances(draw):
    kind = draw(st.sampled_from(["quadratic", "net"]))
    if kind == "quadratic":
        P = draw(st.integers(1, 3))
        lam = draw(st.lists(st.floats(0.05, 2.0), min_size=P, max_size=P))  # convex case
        obj = theory.Quadratic(np.diag(lam), np.array(draw(st.lists(st.floats(-1, 1), min_size=P, max_size=P))))
        theta0 = [np.array(draw(st.lists(st.floats(-2, 2), min_size=P, max_size=P)))]
    else:
        d = tuple(draw(st.lists(st.integers(1, 3), min_size=3, max_size=3)))
        seed = draw(st.integers(0, 2**31 - 1))
        rng = np.random.default_rng(seed)
        Phi = rng.standard_normal((d[-1], d[0]))
        obj = theory.Objective(theory.DeepLinear(d), theory.WhitenedSquare(Phi / np.linalg.norm(Phi)))
        theta0 = numerics.gaussian_init(obj, 0.5, seed=seed)
    T = draw(st.sampled_from([0.5, 1.0, 2.0]))
    eps = draw(st.sampled_from([1e-2, 1e-3]))
    return obj, theta0, T, eps


_enc_a2, _dec_a2 = codec("T", "eps", casts={"T": float, "eps": float})


# ------------------------------------------------------------------------------------------ A3
def a3_measure(inst: tuple, constant: Any = None) -> Measurement:
    """bound c·θ₀m²tη·e^{mt} (c = 0.158) against |θ(t) − θ_{t/η}| at 50 digits (lhs ≤ rhs)."""
    m, eta, k = inst
    c = mpmath.mpf("0.158") if constant is None else mpmath.mpf(constant)
    with mpmath.workdps(50):
        mm, ee = mpmath.mpf(m), mpmath.mpf(eta.numerator) / eta.denominator
        t = k * ee
        gf = mpmath.exp(mm * t)  # θ₀ = 1: both sides scale with θ₀
        gd = (1 + ee * mm) ** k
        gap = abs(gf - gd)
        bound = c * mm**2 * t * ee * gf
        err = mpmath.mpf(10) ** -40 * gf
    return Measurement(float(bound), float(gap), float(err), details={"m_eta": float(mm * ee),
                                                                      "m2_t_eta": float(mm**2 * t * ee)})


@st.composite
def _a3_instances(draw):
    """(m, η, k) with mη ≤ 3/4 and m²tη ≤ 4, t = kη; corners of the region included."""
    m = draw(st.floats(0.05, 8.0))
    x = draw(st.floats(1e-3, 0.75))  # x = mη
    eta = Fraction(x / m).limit_denominator(10**12)
    assume(eta > 0 and m * float(eta) <= 0.75)
    kmax = int(4 / (m * m * float(eta) * float(eta)))  # m²(kη)η ≤ 4
    assume(kmax >= 1)
    k = draw(st.integers(1, min(kmax, 10**6)))
    return m, eta, k


def _enc_a3(inst):
    m, eta, k = inst
    return {"m": repr(float(m)), "eta": f"{eta.numerator}/{eta.denominator}", "k": int(k)}


def _dec_a3(d):
    return float(d["m"]), Fraction(d["eta"]), int(d["k"])


# ------------------------------------------------------------------------------------------ A4
def _slope(xs, ys) -> float:
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def a4_measure(inst: tuple, which: str = "both") -> Measurement:
    """|slope − 1| / 0.05 and |slope_mod − 2| / 0.1 (the larger, as lhs against rhs = 1)."""
    obj, theta0 = inst
    t_end = Fraction(1)
    etas = [Fraction(1, 100), Fraction(1, 1000), Fraction(1, 10000)]
    gf = numerics.gradient_flow(obj, theta0, t_end, dps=30)
    d1, d2 = [], []
    for eta in etas:
        gd = numerics.gradient_descent(obj, theta0, float(eta), int(t_end / eta), keep="last")
        require(not gd.diverged)
        last = gd.thetas[-1]
        d1.append(float(numerics.trajectory_distances(gf, [last], 1, time_map=lambda k: t_end)[0]))
        mf = numerics.modified_flow(obj, theta0, eta, t_end, dps=30)
        d2.append(float(numerics.trajectory_distances(mf, [last], 1, time_map=lambda k: t_end)[0]))
    require(min(d1) > 0 and min(d2) > 1e-14)  # a fixed point or an exactly-followed flow has no slope
    s1 = _slope([float(e) for e in etas], d1)
    s2 = _slope([float(e) for e in etas], d2)
    lhs = max(abs(s1 - 1) / 0.05, abs(s2 - 2) / 0.1)
    # err: the distances carry float64 GD rounding (≤ 1e4·ε·‖θ‖ ≈ 1e-12), far below the smallest
    # distance kept (1e-14 is the floor above); its effect on a slope is ≤ 1e-12/1e-8 per point
    return Measurement(lhs, 1.0, 1e-3, details={"slope_gf": s1, "slope_modified": s2})


@st.composite
def _a4_instances(draw):
    N = draw(st.integers(1, 3))
    d = tuple(draw(st.lists(st.integers(1, 3), min_size=N + 1, max_size=N + 1)))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    Phi = rng.standard_normal((d[-1], d[0]))
    obj = theory.Objective(theory.DeepLinear(d), theory.WhitenedSquare(Phi / np.linalg.norm(Phi)))
    return obj, numerics.gaussian_init(obj, 10 ** draw(st.floats(-0.7, 0)), seed=seed)


def _enc2(inst):
    return encode_instance(*inst)


def _dec2(d):
    obj, theta, _ = decode_instance(d)
    return obj, theta


A1 = Claim(
    "A1", "GF-GD distance, a-posteriori bound", "EC21 §3 (THEORY.md A1)", "derived",
    "||theta(k eta) - theta_k|| <= b_k", "b_{k+1} = (1 - eta m_k) b_k + (eta^2/2) M_k",
    "GF error estimate (mp Taylor, 30 digits) + 1e-12*b_k for float64 m_k, M_k; M_k, m_k sampled",
    "diagonal quadratics incl. 1-D (tight), deep linear N=2..3 widths<=3, eta in {1/16,1/32,1/64,1/128}",
    lambda: st.one_of(_a1_quadratic(), _a1_net()), a1_measure, _enc_a, _dec_a, default_budget=10,
    options=("local_factor",))

A2 = Claim(
    "A2", "GF-GD distance, a-priori step-size bound", "EC21 §3 Theorem (THEORY.md A2)", "derived",
    "max_k ||theta(k eta*) - theta_k|| <= eps", "eta* = min(1/beta, 2 eps/(beta gamma int exp(-int m)))",
    "DOP853 rtol 1e-12 + K*eps64*|theta|; tube sup exact for quadratics, sampled (8 points/ball) for nets",
    "convex diagonal quadratics, deep linear N=2 widths<=3; T in {0.5,1,2}, eps in {1e-2,1e-3}",
    lambda: _a2_instances(), a2_measure, _enc_a2, _dec_a2, default_budget=8, options=("factor",))

A3 = Claim(
    "A3", "exponential tightness example f = -(m/2) theta^2", "EC21 §3 proposition (THEORY.md A3)", "derived",
    "0.158 theta0 m^2 t eta e^{mt} <= |theta(t) - theta_{t/eta}|", "0.158",
    "closed forms at 50 digits: err 1e-40 relative", "m in [0.05, 8], m*eta in [1e-3, 3/4], m^2 t eta <= 4",
    lambda: _a3_instances(), a3_measure, _enc_a3, _dec_a3, default_budget=40, options=("constant",))

A4 = Claim(
    "A4", "first-order GF-GD distance, second-order modified flow", "beyond EC21 (THEORY.md A4)", "derived",
    "max(|slope_GF - 1|/0.05, |slope_mod - 2|/0.1) <= 1", "slopes 1 and 2",
    "slopes of distances >= 1e-14 with GD rounding <= 1e-12: err 1e-3",
    "deep linear N=1..3, widths<=3, Gaussian scale 0.2..1, eta in {1e-2, 1e-3, 1e-4}, t = 1",
    lambda: _a4_instances(), a4_measure, _enc2, _dec2, default_budget=4, resolution=1e-2)
