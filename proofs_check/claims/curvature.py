"""Claims on the curvature of deep nets: docs/theory.md B1 (deep linear) and B2 (leaky ReLU).

Both bound the most negative Hessian eigenvalue: −λ_min(∇²f(θ)) ≤ rhs(θ). The measured side is
−λ_min, computed two ways:

* exact instances (rational θ, small nets): λ_min is enclosed by a certified isolating interval
  of width ≤ 1e-45 (characteristic polynomial + exact root isolation); the norms in rhs are
  computed at 50 digits (relative error < 1e-45 each). err = half the interval width + 1e-40·rhs.
* float64 instances (larger nets): λ_min from ``numerics.lambda_min`` with its residual bound
  ‖Hv − λv‖ plus LAPACK's backward error P·ε·‖H‖_F. err = that sum + 1e-40·rhs (the layer norms at 50
  digits) + the float64 end-to-end product's error carried to rhs (:func:`b1_measure`).
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np
from hypothesis import strategies as st

import numerics
import theory
from theory import symbolic
from theory.bounds import b1_rhs, spectral_norm_mp

from ..engine.claim import Claim, Measurement
from ..engine.instances import decode_instance, encode_instance
from ..engine.strategies import at_kink, matrices

EPS = np.finfo(float).eps


def _certified_neg_lambda_min(obj, theta) -> tuple[Any, Any]:
    """(midpoint, half-width) of −λ_min from a certified interval (exact θ)."""
    iv = symbolic.lambda_min_interval(numerics.hessian(obj, theta), eps=Fraction(1, 10**45))
    mid = -(iv.lo + iv.hi) / 2
    return mpmath.mpf(mid.numerator) / mid.denominator, mpmath.mpf((iv.hi - iv.lo).numerator) / (
        2 * (iv.hi - iv.lo).denominator)


def _measure(obj, theta, rhs, rhs_err: float = 0.0) -> Measurement:
    """−λ_min against ``rhs`` (module docstring). The floor is the resolution of the arithmetic at the
    instance's scale: the certified interval's target width 1e-45 plus the 50-digit norms' 1e-40·rhs
    (exact), or LAPACK's backward error P·ε·‖H‖_F (float64)."""
    if obj.kind(theta) == "exact":
        with mpmath.workdps(50):
            lhs, half = _certified_neg_lambda_min(obj, theta)
            # rhs is a product of ≤ N 50-digit norms, each to 1e-45 relative: 1e-40·rhs bounds its error
            err = half + mpmath.mpf(10) ** -40 * abs(rhs)
            floor = mpmath.mpf(10) ** -45 + mpmath.mpf(10) ** -40 * abs(rhs)
        return Measurement(float(lhs), float(rhs), float(err), details={"lambda_min": float(-lhs)},
                           floor=float(floor))
    r = numerics.lambda_min(obj, theta, return_info=True)
    H = numerics.hessian(obj, theta) if obj.num_params <= 800 else None
    backward = obj.num_params * EPS * (float(np.linalg.norm(H)) if H is not None else abs(r.value) * obj.num_params)
    # rhs: the layers' norms at 50 digits (1e-40·rhs), plus ``rhs_err`` (the float64 end-to-end product)
    err = r.residual + backward + 1e-40 * abs(float(rhs)) + rhs_err
    return Measurement(-r.value, float(rhs), err, details={"lambda_min": r.value, "method": r.method},
                       floor=backward + 1e-40 * abs(float(rhs)) + rhs_err)


def _norms(theta) -> list:
    return [spectral_norm_mp(W) for W in theta]


# ------------------------------------------------------------------------------------------ B1
def b1_measure(inst: tuple, constant: Any = None, factor: Any = None) -> Measurement:
    """−λ_min(∇²f) vs (N−1)‖∇φ(W)‖₂ max_{j<j'} ∏_{i∉{j,j'}} ‖W_i‖₂ (``constant`` replaces N−1,
    ``factor`` multiplies the bound: mutation hooks)."""
    obj, theta = inst
    with mpmath.workdps(50):
        W = theta[0]
        for M in theta[1:]:
            W = M @ W
        rhs = b1_rhs(_norms(theta), spectral_norm_mp(W - obj.loss.Phi), constant)
        if factor is not None:
            rhs = rhs * (mpmath.mpf(factor) if not isinstance(factor, Fraction) else
                         mpmath.mpf(factor.numerator) / factor.denominator)
        rhs_err = 0.0
        if obj.kind(theta) != "exact":
            # W = W_N⋯W_1 was formed in float64: ‖error‖ ≤ N·d_max·ε·∏‖W_i‖_F (matmul error bound), which
            # moves ‖∇φ‖₂ by at most as much and rhs by rhs/‖∇φ‖₂ times that
            dmax = max(obj.widths)
            prod_f = float(np.prod([np.linalg.norm(np.asarray(M, dtype=float)) for M in theta]))
            gerr = len(theta) * dmax * EPS * prod_f
            g = float(spectral_norm_mp(W - obj.loss.Phi))
            rhs_err = float(rhs) * gerr / g if g > 0 else gerr * float(rhs)
    return _measure(obj, theta, rhs, rhs_err)


@st.composite
def _b1_equality(draw):
    """N = 2 at θ = 0: −λ_min = ‖Φ‖₂ = rhs exactly (the equality case of B1)."""
    d = draw(st.lists(st.integers(1, 3), min_size=3, max_size=3))
    Phi = draw(matrices((d[2], d[0]), "exact"))
    obj = theory.Objective(theory.DeepLinear(tuple(d)), theory.WhitenedSquare(Phi))
    zero = [np.full(s, Fraction(0), dtype=object) for s in obj.shapes]
    return obj, zero


@st.composite
def _b1_exact(draw):
    """Small exact nets, θ entries up to 2 in magnitude, scaled by 1/den (near the tight regime)."""
    N = draw(st.integers(2, 4))
    d = tuple(draw(st.lists(st.integers(1, 3), min_size=N + 1, max_size=N + 1)))
    Phi = draw(matrices((d[-1], d[0]), "exact"))
    obj = theory.Objective(theory.DeepLinear(d), theory.WhitenedSquare(Phi))
    den = draw(st.sampled_from([1, 4, 16]))
    theta = [draw(matrices(s, "exact")) * Fraction(1, den) for s in obj.shapes]
    return obj, theta


@st.composite
def _b1_float(draw):
    """float64 nets N = 2..4, width 2..12, Gaussian init at scale 1e-2..1 (seeded)."""
    N = draw(st.integers(2, 4))
    w = draw(st.integers(2, 12))
    dout = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    Phi = rng.standard_normal((dout, w))
    obj = theory.Objective(theory.DeepLinear((w,) * N + (dout,)), theory.WhitenedSquare(Phi / np.linalg.norm(Phi)))
    scale = 10 ** draw(st.floats(-2, 0))
    # seed + 1: default_rng(seed) drew Φ, and the same stream would make W_1's first row ∝ Φ
    return obj, numerics.gaussian_init(obj, scale, seed=seed + 1)


def b1_strategy() -> st.SearchStrategy:
    return st.one_of(_b1_equality(), _b1_exact(), _b1_float())


# ------------------------------------------------------------------------------------------ B2
def b2_rhs(obj, theta, constant: Any = None):
    """(N−1)·max_{j<j'} ∏_{k∉{j,j'}} ‖W_k‖₂ · (1/n)Σ_i ‖ŷ_i − y_i‖·‖x_i‖ (docs/theory.md B2, ℓ = ½‖ŷ − y‖²)."""
    loss = obj.loss
    X, Y = np.asarray(loss.X), np.asarray(loss.Y)
    a = theory.to_kind(X.T, "mp")
    alpha = mpmath.mpf(obj.model.alpha) if isinstance(obj.model.alpha, float) else \
        mpmath.mpf(Fraction(obj.model.alpha).numerator) / Fraction(obj.model.alpha).denominator
    Ws = [theory.to_kind(W, "mp") for W in theta]
    for W in Ws[:-1]:
        z = W @ a
        a = np.where(np.vectorize(lambda x: x > 0)(z), z, z * alpha)
    out = Ws[-1] @ a
    R = out - theory.to_kind(Y.T, "mp")
    n = X.shape[0]
    s = mpmath.fsum(mpmath.sqrt(mpmath.fsum(x * x for x in R[:, i])) *
                    mpmath.sqrt(mpmath.fsum(x * x for x in theory.to_kind(X[i], "mp"))) for i in range(n)) / n
    norms = _norms(theta)
    N = len(theta)
    c = (N - 1) if constant is None else constant
    from itertools import combinations
    best = max(mpmath.fprod([s_ for k, s_ in enumerate(norms) if k not in pair]) for pair in combinations(range(N), 2))
    return c * best * s


def b2_measure(inst: tuple, constant: Any = None) -> Measurement:
    obj, theta = inst
    with mpmath.workdps(50):
        rhs = b2_rhs(obj, theta, constant)
    return _measure(obj, theta, rhs)


@st.composite
def _b2_exact(draw):
    """Small exact leaky-ReLU nets with square loss, away from kinks; α ∈ {0, 1/10, −1/2, 1}."""
    N = draw(st.integers(2, 3))
    d = tuple(draw(st.lists(st.integers(1, 3), min_size=N + 1, max_size=N + 1)))
    n = draw(st.integers(1, 3))
    alpha = draw(st.sampled_from([Fraction(0), Fraction(1, 10), Fraction(-1, 2), Fraction(1)]))
    X = draw(matrices((n, d[0]), "exact"))
    Y = draw(matrices((n, d[-1]), "exact"))
    obj = theory.Objective(theory.ReLUNet(d, alpha), theory.SquareLoss(X, Y))
    den = draw(st.sampled_from([1, 4, 16]))
    theta = [draw(matrices(s, "exact")) * Fraction(1, den) for s in obj.shapes]
    if at_kink(obj, theta):
        theta = [w + Fraction(1, 97) for w in theta]  # a generic shift off the kink set
        if at_kink(obj, theta):
            from hypothesis import assume
            assume(False)
    return obj, theta


def b2_strategy() -> st.SearchStrategy:
    return _b2_exact()


def _decode(d: dict):
    obj, theta, _ = decode_instance(d)
    return obj, theta


def _encode(inst):
    return encode_instance(*inst)


B1 = Claim(
    "B1", "lambda_min lower bound, deep linear", "EC21 §4; docs/theory.md#b1", "derived",
    "-lambda_min(Hess f) <= rhs", "(N-1)*||grad phi||_2*max_{j<j'} prod_{i not in {j,j'}} ||W_i||_2",
    "exact: certified interval (width <= 1e-45) + 50-digit norms, err = half-width + 1e-40*rhs; "
    "float64: residual + P*eps*||H||_F + rhs*N*d*eps*prod||W_i||_F/||grad phi|| (float64 end-to-end product)",
    "N=2 at theta=0 (equality), small exact nets near 0, float64 nets w<=12 at Gaussian scales 1e-2..1",
    b1_strategy, b1_measure, _encode, _decode, default_budget=16, options=("constant", "factor"))

B2 = Claim(
    "B2", "lambda_min lower bound, leaky ReLU", "EC21 §4; docs/theory.md#b2", "derived",
    "-lambda_min(Hess f) <= rhs",
    "(N-1)*max_{j<j'} prod_{k not in {j,j'}} ||W_k||_2*(1/n)sum_i ||yhat_i-y_i||*||x_i||",
    "certified interval (width <= 1e-45) + 50-digit norms, err = half-width + 1e-40*rhs",
    "exact leaky-ReLU nets N=2..3, widths 1..3, n<=3 samples, alpha in {0, 1/10, -1/2, 1}, away from kinks",
    b2_strategy, b2_measure, _encode, _decode, default_budget=12, options=("constant",))


# ------------------------------------------------------------------------------------------ B6
def escape_time(N: int, w0_norm: float, phi_norm: float) -> float:
    """docs/theory.md C1's escape-time estimate from ‖w(0)‖ (aligned case)."""
    if N == 2:
        return math.log(phi_norm / w0_norm) / (2 * phi_norm)
    return w0_norm ** -(1 - 2 / N) / ((N - 2) * phi_norm)


@functools.lru_cache(maxsize=64)
def b6_trajectory(widths: tuple, scale: float, seed: int, samples: int = 600) -> dict:
    """GF from balanced init (‖w(0)‖ = scale) sampled on a uniform grid until well converged, with
    λ_min(∇²f) and the unmutated B6 bound at every sample, and I₋ by the trapezoid rule (also on every
    other sample, for the rule's error estimate by halving).

    T = 3·escape time + 30/‖Φ‖ (the loss is then below 1e-8 of its start in every case tried). The flow is
    the float64 Taylor tier, whose error bound e(t) ≥ ‖θ̂(t) − θ(t)‖₂ (docs/theory.md F) gives each sample's
    errors (docs/theory.md#b6): ``lam_err`` ≥ |λ_min(θ̂) − λ_min(θ)| and ``rhs_err`` ≥ |rhs(θ̂) − rhs(θ)| (plus
    the float64 product's rounding), and ``I_minus_err`` the trapezoid rule of ``lam_err``. λ_min by dense
    eigh (P ≤ a few hundred); ``back`` the eigh backward error P·ε·‖H‖_F."""
    from numerics.hessian_lipschitz import hessian_norm_bound, third_derivative_bound

    from ..flow import step_bounds
    from .flow_errors import end_to_end_shift, power_shift

    rng = np.random.default_rng(seed)
    Phi = rng.standard_normal((1, widths[0]))
    Phi /= np.linalg.norm(Phi)
    obj = theory.Objective(theory.DeepLinear(widths), theory.WhitenedSquare(Phi))
    theta0 = numerics.balanced_init(obj, scale, seed=seed)
    N = obj.depth
    a = 1 - 2 / N
    T = 3 * escape_time(N, scale, 1.0) + 30.0
    traj = numerics.gradient_flow(obj, theta0, T, dps=None)
    ts = np.linspace(0, T, samples + 1)
    ts[-1] = traj.t_end
    errs = step_bounds(traj, list(ts))
    dmax = max(widths)
    lam, rhs, back, lam_err, rhs_err = [], [], [], [], []
    for t, e in zip(ts, errs):
        th = traj.at(t)
        H = numerics.hessian(obj, th)
        lam.append(float(np.linalg.eigvalsh(H)[0]))
        w = th[0]
        for M in th[1:]:
            w = M @ w
        nw = float(np.linalg.norm(w))
        r = float(np.linalg.norm(w - Phi))
        rhs.append((N - 1) * r * nw ** a)
        back.append(obj.num_params * EPS * float(np.linalg.norm(H)))
        # λ_min is 1-Lipschitz in H (Weyl) and ‖H(θ̂) − H(θ)‖ ≤ B₃·e with B₃ ≥ ‖D³f‖ on the segment: layer
        # norms ‖W_l‖₂ + e there, and the loss ≤ f(θ̂) + 1 (it moves by ≤ e·sup‖∇f‖ ≪ 1, checked below)
        norms = [float(np.linalg.norm(W, 2)) for W in th]
        s_seg = [x * (1 + 4 * EPS) + e for x in norms]
        f_hat = float(numerics.value(obj, th))
        g_hat = float(np.linalg.norm(np.concatenate([g.ravel() for g in numerics.gradient(obj, th)])))
        B2 = hessian_norm_bound(obj, s_seg, f_hat + 1.0)
        if not e * (g_hat + B2 * e) <= 0.5:  # the loss bound above would not be derived
            raise ArithmeticError(f"B6: the flow's error bound {e:.3g} is too large for its samples' bounds")
        lam_err.append(third_derivative_bound(obj, s_seg, f_hat + 1.0) * e)
        # ‖w − Φ‖ moves by ≤ δ (the end-to-end shift, with its rounding) and ‖w‖^a by the power shift
        dw = end_to_end_shift(th, e)
        da = power_shift(nw, dw, a)
        rhs_err.append((N - 1) * (dw * (nw ** a + da) + (r + dw) * da) * (1 + 8 * EPS)
                       + (dmax + N + 4) * EPS * rhs[-1])  # the norms' and the product's own rounding
    neg = np.maximum(0.0, -np.array(lam))
    dt = np.diff(ts)
    I_minus = float(np.sum((neg[1:] + neg[:-1]) / 2 * dt))
    I_half = float(np.sum((neg[2::2] + neg[:-2:2]) / 2 * np.diff(ts[::2])))
    le = np.array(lam_err) + np.array(back)
    I_err = float(np.sum((le[1:] + le[:-1]) / 2 * dt)) * (1 + samples * EPS)  # |max(0,x) − max(0,y)| ≤ |x − y|
    return {"obj": obj, "theta0": theta0, "ts": ts, "lam": np.array(lam), "rhs": np.array(rhs),
            "back": np.array(back), "lam_err": np.array(lam_err), "rhs_err": np.array(rhs_err),
            "I_minus": I_minus, "I_minus_half": I_half, "I_minus_err": I_err,
            "gf_error": float(traj.error_estimate),
            "prediction": (N - 1) / N * math.log(1.0 / scale), "loss_end": float(numerics.value(obj, traj.at(T))),
            "T": T}


def b6_measure(inst: tuple, constant: Any = None, factor: Any = None) -> Measurement:
    """−λ_min(θ(t)) against (N−1)‖∇φ(w)‖‖w‖^{1−2/N} at the worst sample (docs/theory.md#b6).

    Per sample err = λ_err + c·rhs_err (the flow's derived error bound carried to both sides,
    :func:`b6_trajectory`) + P·ε·‖H‖_F (eigh backward error, also the floor). The reported sample is a violated one if any,
    else the largest ratio among samples whose bound is resolved (rhs ≥ err/resolution; near
    convergence both sides sink to the float64 floor and decide nothing).
    ``constant`` replaces N − 1, ``factor`` multiplies the bound (mutation hooks)."""
    widths, scale, seed = inst
    N = len(widths) - 1
    d = b6_trajectory(tuple(widths), float(scale), int(seed))
    c = (1.0 if constant is None else float(constant) / (N - 1)) * (1.0 if factor is None else float(factor))
    lhs_s, rhs0 = -d["lam"], d["rhs"]
    err_s = d["lam_err"] + c * d["rhs_err"] + d["back"]
    rhs_s = c * rhs0
    excess = lhs_s - rhs_s - err_s
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(rhs_s > 0, lhs_s / rhs_s, np.where(lhs_s > 0, np.inf, 0.0))
    if np.any(excess > 0):
        i = int(np.argmax(np.where(excess > 0, ratio, -np.inf)))
    else:
        resolved = rhs0 * B6.resolution >= err_s
        i = int(np.argmax(np.where(resolved, ratio, -np.inf))) if np.any(resolved) else int(np.argmax(ratio))
    return Measurement(float(lhs_s[i]), float(rhs_s[i]), float(err_s[i]), floor=float(d["back"][i]),
                       details={"t": float(d["ts"][i]), "I_minus": d["I_minus"], "prediction": d["prediction"],
                                "I_minus_minus_prediction": d["I_minus"] - d["prediction"],
                                "loss_end": d["loss_end"]})


@st.composite
def _b6_instances(draw):
    N = draw(st.integers(2, 4))
    d0 = draw(st.integers(1, 4))
    hidden = [max(1, draw(st.integers(1, 4))) for _ in range(N - 1)]
    scale = draw(st.sampled_from([1e-1, 1e-2, 1e-3]))
    return (d0, *hidden, 1), scale, draw(st.integers(0, 2**16))


_b6_enc = lambda inst: {"widths": list(inst[0]), "scale": repr(float(inst[1])), "seed": int(inst[2])}  # noqa: E731
_b6_dec = lambda d: (tuple(d["widths"]), float(d["scale"]), int(d["seed"]))  # noqa: E731

B6 = Claim(
    "B6", "roughly convex along GF from balanced near-zero init", "EC21 §4 Theorem; docs/theory.md#b6", "derived",
    "-lambda_min(Hess f(theta(t))) <= (N-1)||grad phi(w)||_2 ||w||^{1-2/N}", "N-1",
    "per sample: the float Taylor tier's error bound e carried to both sides (B3*e on lambda_min; the end-to-end "
    "product's perturbation on the bound) + eigh backward error P*eps*||H||_F (also the floor); 600 samples",
    "scalar output N=2..4, widths 1..4, balanced init with ||w(0)|| in {1e-1, 1e-2, 1e-3}",
    lambda: _b6_instances(), b6_measure, _b6_enc, _b6_dec, default_budget=6, options=("constant", "factor"))


# ------------------------------------------------------------------------------------------ B6b
def b6b_measure(inst: tuple, rate: Any = None) -> Measurement:
    """The I₋ growth law (docs/theory.md#b6b): the increment Δ of I₋ per decade of 1/‖w(0)‖ tends to
    ((N−1)/N)·ln 10 (``rate`` replaces (N−1)/N, a mutation hook).

    I₋ at s, s/10, s/100 (same widths and seed): Δ₁, Δ₂. The O(1) term's dependence on s is a sum of
    powers s^a with a ≥ min(1, 2/N) (the −ln(1 − s) of the exact N = 2 solution; the residual
    misalignment ~ s^{1/N} squared), so Δ₂'s remaining error is ≤ |Δ₂ − Δ₁|·q/(1 − q),
    q = 10^{−min(1, 2/N)}, doubled for safety; plus the numerical error of each I₋: the trapezoid
    rule's halving estimate |I(600) − I(300)| and the flow's error bound carried to I₋ (``I_minus_err`` of
    :func:`b6_trajectory`).

    Aligned inits (ψ0 = angle(w(0), Φ) with sin²ψ0 ≤ 1e-20; ``numerics.balanced_init`` draws w(0)'s
    direction from the same seed as Φ, so every default instance is aligned to rounding): there is
    no misalignment term, the integrand of I₋ in r is c/r + (analytic in r), and a = 1 for every N
    (docs/theory.md#b6b)."""
    widths, scale, seed = inst
    N = len(widths) - 1
    p = (N - 1) / N if rate is None else float(rate)
    Is, num = [], []
    for s in (scale, scale / 10, scale / 100):
        a = b6_trajectory(tuple(widths), float(s), int(seed))
        Is.append(a["I_minus"])
        num.append(abs(a["I_minus"] - a["I_minus_half"]) + a["I_minus_err"])
    from .convergence import init_geometry  # the same angle C1 uses (atan2: accurate near 0 and π)

    sin_psi0 = math.sin(init_geometry(a["obj"], a["theta0"])["psi0"])
    aligned = sin_psi0 ** 2 <= 1e-20
    d1, d2 = Is[1] - Is[0], Is[2] - Is[1]
    q = 10 ** -(1.0 if aligned else min(1.0, 2.0 / N))
    model = 2 * abs(d2 - d1) * q / (1 - q)
    err_d2 = model + num[1] + num[2]
    ln10 = math.log(10)
    slope = d2 / ln10
    return Measurement(1 + abs(slope - p) / p, 1.0, err_d2 / ln10 / p,
                       details={"I_minus": Is, "slope": slope, "expected": p, "increments": [d1, d2],
                                "model_err": model, "numerical_err": num[1] + num[2], "sin_psi0": sin_psi0,
                                "aligned": aligned, "q": q})


@st.composite
def _b6b_instances(draw):
    N = draw(st.integers(2, 4))
    d0 = draw(st.integers(1, 3))
    hidden = [draw(st.integers(1, 3)) for _ in range(N - 1)]
    scale = draw(st.sampled_from([1e-1, 1e-2]))
    return (d0, *hidden, 1), scale, draw(st.integers(0, 2**16))


B6b = Claim(
    "B6b", "integrated negativity I- grows like ((N-1)/N) ln(1/||w(0)||)", "EC21 §4 Theorem; docs/theory.md#b6b",
    "derived", "dI-/d ln(1/||w0||) = (N-1)/N (lhs = 1 + relative deviation, rhs = 1)", "(N-1)/N",
    "increments over decades s, s/10, s/100: remaining O(s^min(1,2/N)) error 2|D2 - D1| q/(1-q), q = 10^-min(1,2/N); "
    "+ trapezoid halving + the flow's error bound carried to I-; resolved if <= 5%",
    "scalar output N=2..4, widths 1..3, balanced init, s in {1e-1, 1e-2}",
    lambda: _b6b_instances(), b6b_measure, _b6_enc, _b6_dec, default_budget=3, resolution=5e-2,
    options=("rate",))
