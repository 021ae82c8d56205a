"""Ground-truth flows: closed forms, precision agreement, float64 vs mp, convergence orders."""

from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import numerics
import theory
from proofs_check.strategies import deep_linear_instances, quadratics, to_kind


def maxdiff(a, b):
    return max(abs(x - y) for A, B in zip(a, b) for x, y in zip(np.asarray(A).flat, np.asarray(B).flat))


@given(st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**31 - 1), st.floats(0.0, 6.0))
def test_depth_one_closed_form_and_honest_estimate(d0, d1, seed, t):
    """N = 1: W(t) = Φ + (W0 − Φ)e^{−t}. True error ≤ error_estimate (the estimate is honest)."""
    rng = np.random.default_rng(seed)
    Phi, W0 = rng.standard_normal((d1, d0)), rng.standard_normal((d1, d0))
    obj = theory.Objective(theory.DeepLinear((d0, d1)), theory.WhitenedSquare(Phi))
    tr = numerics.gradient_flow(obj, [W0], 6.0, dps=30)
    with mpmath.workdps(40):
        tm = mpmath.mpf(t)  # floats enter exactly
        ref = to_kind([Phi], "mp")[0] + (to_kind([W0], "mp")[0] - to_kind([Phi], "mp")[0]) * mpmath.exp(-tm)
        err = maxdiff(tr.at(t), [ref])
    assert err <= tr.error_estimate
    assert tr.error_estimate <= 1e-28


@given(quadratics(kind="float", max_dim=4), st.floats(0.0, 2.0))
def test_quadratic_gf_against_closed_form(inst, t):
    q, theta0 = inst
    tr = numerics.gradient_flow(q, theta0, 2.0, dps=30)
    with mpmath.workdps(40):
        ref = q.gf(theta0, t, dps=40)
        err = maxdiff(tr.at(t), ref)
    # closed form at 40 digits: eigsy error ~1e-39·e^{|λ|t} ≪ the 30-digit run's estimate
    assert err <= tr.error_estimate + mpmath.mpf(10) ** -36


@pytest.mark.parametrize("m,t_end", [(1.0, 4.0), (3.0, 2.0)])
def test_a3_unstable_one_dimensional_example(m, t_end):
    """docs/theory.md A3: f = −(m/2)θ², θ(t) = θ0·e^{mt} (errors grow like e^{mt}, the estimate must follow)."""
    q = theory.Quadratic(np.array([[-m]]))
    tr = numerics.gradient_flow(q, [np.array([0.5])], t_end, dps=30)
    with mpmath.workdps(40):
        for t in (t_end / 3, t_end):
            ref = mpmath.mpf(0.5) * mpmath.exp(mpmath.mpf(m) * mpmath.mpf(t))
            err = abs(tr.at(t)[0][0] - ref)
            assert err <= tr.error_estimate
    assert tr.error_estimate <= 1e-28 * np.exp(m * t_end)


def test_modified_flow_of_a_quadratic_against_closed_form():
    """The integrated field −g − (η/2)Hg is, for f = ½θᵀAθ − bᵀθ, the linear system
    θ' = Mθ + c with M = −(A + (η/2)A²), c = (I + (η/2)A)b; its solution is
    θ(t) = e^{Mt}θ0 + M⁻¹(e^{Mt} − I)c (mpmath expm at 40 digits)."""
    A = np.array([[1.5, 0.25], [0.25, -0.5]])
    q = theory.Quadratic(A, np.array([0.3, -0.2]))
    th = [np.array([1.0, 2.0])]
    eta = Fraction(1, 16)
    tr = numerics.modified_flow(q, th, eta, 3.0, dps=30)
    with mpmath.workdps(40):
        e = mpmath.mpf(eta.numerator) / eta.denominator
        Am = theory.to_kind(A, "mp")
        M = mpmath.matrix((-(Am + (Am @ Am) * e / 2)).tolist())
        c = mpmath.matrix(((np.eye(2) + Am * e / 2) @ theory.to_kind(q.b, "mp")).tolist())
        x0 = mpmath.matrix(theory.to_kind(th[0], "mp").tolist())
        for t in (0.7, 3.0):
            E = mpmath.expm(M * mpmath.mpf(t))
            ref = E * x0 + mpmath.inverse(M) * ((E - mpmath.eye(2)) * c)
            # expm/inverse at 40 digits of a 2×2 with ‖Mt‖ ≤ 6: error ≲ 1e-37
            assert maxdiff(tr.at(t), [np.array([ref[0], ref[1]])]) <= tr.error_estimate + mpmath.mpf(10) ** -35


@settings(max_examples=6)
@given(deep_linear_instances(kind="float", min_depth=2, max_depth=4, max_width=4, scale=1.0),
       st.integers(0, 2**31 - 1))
def test_30_and_50_digit_runs_agree_and_conservation_holds(inst, seed):
    obj, _ = inst
    theta0 = numerics.gaussian_init(obj, 0.5, seed=seed)
    t_end = 3.0
    a = numerics.gradient_flow(obj, theta0, t_end, dps=30)
    b = numerics.gradient_flow(obj, theta0, t_end, dps=50)
    with mpmath.workdps(50):
        scale = max(1, max(abs(x) for W in b.at(t_end) for x in W.flat))
        for t in (0.5, 1.7, t_end):
            diff = maxdiff(a.at(t), b.at(t))
            assert diff <= 1e-29 * scale  # the criterion: agreement to ~1e-29
            assert diff <= a.error_estimate + b.error_estimate  # and the estimate is honest
    # B3 along GF: D_j is constant to the working precision (30 digits, relative to ‖θ‖²)
    assert max(a.conservation_defects, default=0.0) <= 1e-28 * float(scale) ** 2


SHARED = [((3, 3, 3, 1), 0.1, 9.5), ((4, 3, 2), 0.5, 4.0), ((2, 4, 4, 4, 1), 0.3, 3.0)]


@pytest.mark.parametrize("widths,scale,t_end", SHARED)
def test_float64_dop853_within_1e_10_of_mp(widths, scale, t_end):
    rng = np.random.default_rng(11)
    Phi = rng.standard_normal((widths[-1], widths[0]))
    obj = theory.Objective(theory.DeepLinear(widths), theory.WhitenedSquare(Phi / np.linalg.norm(Phi)))
    th = numerics.gaussian_init(obj, scale, seed=3)
    f = numerics.gradient_flow_float(obj, th, t_end, rtol=1e-13, atol=1e-13)
    m = numerics.gradient_flow(obj, th, t_end, dps=30)
    for t in np.linspace(0, t_end, 7):
        ref = [np.asarray(W, dtype=float) for W in m.at(t)]
        rel = max(np.abs(a - b).max() for a, b in zip(f.at(t), ref)) / max(np.abs(W).max() for W in ref)
        assert rel <= 1e-10
    assert f.error_estimate <= 1e-10


def _slope(xs, ys):
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


@pytest.mark.parametrize("seed", [0, 1])
def test_gf_gd_distance_first_order_and_modified_flow_second_order(seed):
    """At fixed t = 1, ‖θ(t) − θ_{t/η}‖ has log-log slope 1 ± 0.05 in η ∈ [1e-4, 1e-2] (A4), and the
    modified flow's distance slope 2 ± 0.1. GD runs in float64: its rounding over 10⁴ steps
    (~1e-12) is far below the smallest distance measured (~1e-8)."""
    rng = np.random.default_rng(seed)
    Phi = rng.standard_normal((1, 3))
    obj = theory.Objective(theory.DeepLinear((3, 3, 3, 1)), theory.WhitenedSquare(Phi / np.linalg.norm(Phi)))
    th = numerics.gaussian_init(obj, 0.5, seed=seed)
    t_end = Fraction(1)
    gf = numerics.gradient_flow(obj, th, t_end, dps=30)
    etas = [Fraction(1, 100), Fraction(1, 1000), Fraction(1, 10000)]
    d1, d2 = [], []
    for eta in etas:
        K = int(t_end / eta)
        gd = numerics.gradient_descent(obj, th, float(eta), K, keep="last")
        last = gd.thetas[-1]
        d1.append(float(numerics.trajectory_distances(gf, [last], 1, time_map=lambda k: t_end)[0]))
        mf = numerics.modified_flow(obj, th, eta, t_end, dps=30)
        d2.append(float(numerics.trajectory_distances(mf, [last], 1, time_map=lambda k: t_end)[0]))
    assert abs(_slope([float(e) for e in etas], d1) - 1) <= 0.05
    assert abs(_slope([float(e) for e in etas], d2) - 2) <= 0.1


def test_heavy_ball_and_nesterov_converge_to_their_odes_like_sqrt_eta():
    """HB with β = 1 − b√η at t = k√η, and NAG at t = k√s: error at t = 2 shrinks like √η (slope 1/2)."""
    rng = np.random.default_rng(5)
    Phi = rng.standard_normal((1, 3))
    obj = theory.Objective(theory.DeepLinear((3, 3, 1)), theory.WhitenedSquare(Phi / np.linalg.norm(Phi)))
    th = numerics.gaussian_init(obj, 0.5, seed=5)
    T, b = Fraction(2), 1.5
    hb_ode = numerics.heavy_ball_flow(obj, th, b, T, dps=20)
    nag_ode = numerics.nesterov_flow(obj, th, T, r=3, dps=20)
    etas, e_hb, e_nag = [], [], []
    for n in (64, 256, 1024):  # √η = T/n (exactly representable)
        h = T / n
        eta = float(h * h)
        etas.append(eta)
        hb = numerics.heavy_ball(obj, th, eta, 1 - b * float(h), n, keep="last")
        e_hb.append(float(numerics.trajectory_distances(hb_ode, [hb.thetas[-1]], 1, time_map=lambda k: T)[0]))
        nag = numerics.nesterov(obj, th, eta, n, r=3, keep="last")
        e_nag.append(float(numerics.trajectory_distances(nag_ode, [nag.thetas[-1]], 1, time_map=lambda k: T)[0]))
    assert abs(_slope(etas, e_hb) - 0.5) <= 0.1
    assert abs(_slope(etas, e_nag) - 0.5) <= 0.1


def test_nesterov_ode_bessel_closed_form():
    """docs/theory.md D4: for f = ½λθ², θ(t) = θ0·Γ(ν+1)(2/z)^ν J_ν(z), z = √λ t, ν = (r−1)/2."""
    lam = 0.7
    q = theory.Quadratic(np.array([[lam]]))
    for r in (2, 3, 6):
        tr = numerics.nesterov_flow(q, [np.array([1.0])], 12, r=r, dps=30)
        with mpmath.workdps(40):
            nu = mpmath.mpf(r - 1) / 2
            for t in (0.001, 3.3, 12):
                z = mpmath.sqrt(mpmath.mpf(lam)) * mpmath.mpf(t)
                ref = mpmath.gamma(nu + 1) * (2 / z) ** nu * mpmath.besselj(nu, z)
                assert abs(tr.at(t)[0][0] - ref) <= tr.error_estimate


@pytest.mark.parametrize("b", [0.5, 2 * np.sqrt(0.7), 3.0])
def test_heavy_ball_ode_all_damping_regimes(b):
    """θ'' + bθ' + λθ = 0, θ(0) = 1, θ'(0) = 0: under-, critically and over-damped closed forms."""
    lam = 0.7
    q = theory.Quadratic(np.array([[lam]]))
    tr = numerics.heavy_ball_flow(q, [np.array([1.0])], b, 6, dps=30)
    with mpmath.workdps(40):
        bm, lm = mpmath.mpf(b), mpmath.mpf(lam)
        disc = bm**2 - 4 * lm
        for t in (1.0, 6.0):
            tm = mpmath.mpf(t)
            if abs(disc) < mpmath.mpf(10) ** -15:  # critical (b given in float64: disc ~ 1e-16)
                ref = mpmath.exp(-bm * tm / 2) * (1 + bm * tm / 2)
                slack = abs(disc) * tm**2  # the float b is off critical by |disc|/(4·…): O(disc·t²)
            else:
                s = mpmath.sqrt(disc) if disc > 0 else mpmath.sqrt(-disc) * 1j
                r1, r2 = (-bm + s) / 2, (-bm - s) / 2
                ref = mpmath.re((r2 * mpmath.exp(r1 * tm) - r1 * mpmath.exp(r2 * tm)) / (r2 - r1))
                slack = 0
            assert abs(tr.at(t)[0][0] - ref) <= tr.error_estimate + slack


def test_bad_input_is_refused():
    obj = theory.Objective(theory.DeepLinear((2, 2, 1)), theory.WhitenedSquare(np.ones(2)))
    th = [np.ones((2, 2)) * 0.1, np.ones((1, 2)) * 0.1]
    with pytest.raises(ValueError, match="t_end must be >= 0"):
        numerics.gradient_flow(obj, th, -1.0)
    with pytest.raises(ValueError, match="dps must be an integer >= 15"):
        numerics.gradient_flow(obj, th, 1.0, dps=10)
    with pytest.raises(ValueError, match="eta must be"):
        numerics.gradient_descent(obj, th, 0.0, 3)
    with pytest.raises(ValueError, match="eta must be"):
        numerics.modified_flow(obj, th, -0.1, 1.0)
    for beta in (-0.1, 1.0):
        with pytest.raises(ValueError, match="beta must lie in"):
            numerics.heavy_ball(obj, th, 0.1, beta, 3)
    with pytest.raises(ValueError, match="r must be > 0"):
        numerics.nesterov(obj, th, 0.1, 3, r=0)
    with pytest.raises(ValueError, match="steps"):
        numerics.gradient_descent(obj, th, 0.1, -2)
    relu = theory.Objective(theory.ReLUNet((2, 2, 1)), theory.SquareLoss(np.ones((1, 2)), np.ones((1, 1))))
    with pytest.raises(ValueError, match="use numerics.gradient_flow"):
        numerics.modified_flow(relu, th, 0.1, 1.0)
    tr = numerics.gradient_flow(obj, th, 1.0)
    with pytest.raises(ValueError, match="outside the integrated range"):
        tr.at(1.5)


def test_gd_divergence_is_reported_not_nan():
    q = theory.Quadratic(np.array([[1.0]]))
    r = numerics.gradient_descent(q, [np.array([1.0])], 2.5, 200)
    assert r.diverged and "diverged at step" in r.message
    assert all(np.isfinite(float(x)) for x in r.losses)


def test_discrete_methods_agree_across_arithmetics():
    """GD/HB/NAG in exact rationals vs float64: the same iterates up to float rounding."""
    obj = theory.Objective(theory.DeepLinear((2, 2, 1)), theory.WhitenedSquare(np.array([[1.0, -0.5]])))
    th = [np.array([[0.5, 0.25], [-0.25, 0.5]]), np.array([[0.5, -0.5]])]
    ex = to_kind(th, "exact")
    for run in (lambda t, e: numerics.gradient_descent(obj, t, e, 8),
                lambda t, e: numerics.heavy_ball(obj, t, e, Fraction(1, 2) if e.__class__ is Fraction else 0.5, 8),
                lambda t, e: numerics.nesterov(obj, t, e, 8)):
        a, b = run(th, 0.125), run(ex, Fraction(1, 8))
        for Wa, Wb in zip(a.thetas[-1], b.thetas[-1]):
            # 8 steps of O(1) arithmetic on 2×2 blocks: float error ≲ 8·(2·2+4)·ε relative
            assert np.abs(Wa - Wb.astype(float)).max() <= 64 * 8 * np.finfo(float).eps
