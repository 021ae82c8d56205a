"""numerics.curvature_along against closed forms.

Scalar chain f(a, b) = ½(ab − y)² (DeepLinear((1, 1, 1)), Φ = y), balanced start a = b = u₀:
v = u² = ab follows v' = −2v(v − y), v(t) = y v₀e^{2yt}/(y − v₀ + v₀e^{2yt}); the Hessian at a = b = u is
[[v, 2v − y], [2v − y, v]], so λ_min = v − |2v − y|, λ_max = v + |2v − y|; λ_min < 0 exactly while
v < y/3, and ∫₀ᵗ v = ½ ln((y − v₀ + v₀e^{2yt})/y), hence
I₋(t) = y·t' − (3/2) ln((y − v₀ + v₀e^{2yt'})/y), t' = min(t, t*), e^{2yt*} = (y − v₀)/(2v₀)
(docs/theory.md findings, B6: I₋(∞) = ½ln(1/v₀) − ½ln(27/4) − ln(1 − v₀) for y = 1).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

import numerics
import theory

Y, V0 = 1.0, 0.01


def chain():
    obj = theory.Objective(theory.DeepLinear((1, 1, 1)), theory.WhitenedSquare(np.array([[Y]])))
    u0 = math.sqrt(V0)
    return obj, [np.array([[u0]]), np.array([[u0]])]


def v_of(t):
    e = math.exp(2 * Y * t)
    return Y * V0 * e / (Y - V0 + V0 * e)


def I_of(t):
    ts = 0.5 * math.log((Y - V0) / (2 * V0)) / Y
    tp = min(t, ts)
    return Y * tp - 1.5 * math.log((Y - V0 + V0 * math.exp(2 * Y * tp)) / Y)


def test_lambda_and_negativity_along_gf_match_closed_forms():
    obj, theta0 = chain()
    traj = numerics.gradient_flow(obj, theta0, 4, dps=30)
    res = numerics.curvature_along(obj, traj)
    assert len(res.times) == 65 and res.times[-1] == 4.0
    v = np.array([v_of(t) for t in res.times])
    lmin, lmax = v - np.abs(2 * v - Y), v + np.abs(2 * v - Y)
    # the points are rounded to float64 (relative 1e-16) and the eigenvalues carry their residual bound
    assert np.all(np.abs(res.lambda_min - lmin) <= res.lambda_min_error + 1e-14)
    assert np.all(np.abs(res.lambda_max - lmax) <= res.lambda_max_error + 1e-14)
    true_err = np.abs(res.negativity - np.array([I_of(t) for t in res.times]))
    est = res.negativity_error
    print(f"\nI-(4): {res.negativity[-1]:.6f} (closed form {I_of(4):.6f}, THEORY 1.3579), "
          f"error {true_err[-1]:.2e}, estimate {est[-1]:.2e}, ratio {est[-1] / true_err[-1]:.1f}")
    assert abs(I_of(4) - 1.3579) < 1e-4
    assert np.all(true_err <= est + 1e-15)
    assert est[-1] <= 1000 * true_err[-1]
    assert res.eta is None and res.eta_lambda_max is None


def test_finer_times_shrink_the_trapezoid_error():
    obj, theta0 = chain()
    traj = numerics.gradient_flow(obj, theta0, 3, dps=20)
    coarse = numerics.curvature_along(obj, traj, times=[Fraction(3 * i, 16) for i in range(17)], method="dense")
    fine = numerics.curvature_along(obj, traj, times=[Fraction(3 * i, 128) for i in range(129)], method="dense")
    e_c, e_f = abs(coarse.negativity[-1] - I_of(3)), abs(fine.negativity[-1] - I_of(3))
    assert e_f < e_c / 4  # at least first order (second order away from the kink at t*)
    assert e_c <= coarse.negativity_error[-1] and e_f <= fine.negativity_error[-1]


def test_gd_iterates_times_and_eta_lambda_max():
    obj, theta0 = chain()
    eta = 0.25
    it = numerics.gradient_descent(obj, theta0, eta, 12)
    res = numerics.curvature_along(obj, it)
    assert np.allclose(res.times, eta * np.arange(13), rtol=0, atol=1e-15) and res.eta == eta
    for k, th in enumerate(it.thetas):
        a, b = float(th[0][0, 0]), float(th[1][0, 0])
        H = np.array([[b * b, 2 * a * b - Y], [2 * a * b - Y, a * a]])  # closed-form Hessian of ½(ab − y)²
        w = np.linalg.eigvalsh(H)
        assert abs(res.lambda_min[k] - w[0]) <= res.lambda_min_error[k] + 1e-14
        assert abs(res.eta_lambda_max[k] - eta * w[1]) <= eta * (res.lambda_max_error[k] + 1e-14)
    sub = numerics.curvature_along(obj, it, times=[0.0, 1.0, 3.0])
    assert np.array_equal(sub.lambda_min, res.lambda_min[[0, 4, 12]])
    with pytest.raises(ValueError, match="not the time of a kept iterate"):
        numerics.curvature_along(obj, it, times=[0.3])


def test_heavy_ball_time_is_k_sqrt_eta_and_edge_of_stability_is_flagged():
    A = np.diag([4.0, 1.0])
    q = theory.Quadratic(A, np.zeros(2))
    hb = numerics.heavy_ball(q, [np.array([1.0, 1.0])], 0.04, 0.5, 10)
    res = numerics.curvature_along(q, hb)
    assert np.allclose(res.times, 0.2 * np.arange(11), rtol=0, atol=1e-15)
    assert np.allclose(res.lambda_min, 1.0) and np.allclose(res.lambda_max, 4.0)
    gd = numerics.gradient_descent(q, [np.array([1.0, 1.0])], 0.6, 5, diverge_factor=1e30)
    r = numerics.curvature_along(q, gd)
    assert np.allclose(r.eta_lambda_max, 2.4) and len(r.edge_of_stability) == 6
    assert len(numerics.curvature_along(q, hb, eta=0.04).edge_of_stability) == 0


def test_a1_bound_holds_and_is_tight_enough_on_a_quadratic():
    # convex quadratic: m_k = λ_min(A) = 0.5, M_k = ‖A(Aθ − b)‖ along GF; GF is a closed form
    A = np.array([[2.0, 0.5], [0.5, 0.5]])
    q = theory.Quadratic(A, np.array([1.0, -1.0]))
    theta0 = [np.array([2.0, 1.0])]
    eta = Fraction(1, 16)
    gd = numerics.gradient_descent(q, theta0, eta, 16)
    gf = numerics.gradient_flow(q, theta0, 16 * eta, dps=20)
    res = numerics.curvature_along(q, gf, gd=gd, method="dense")
    a1 = res.a1
    assert res.eta == 1 / 16 and np.all(a1.hypothesis_ok[:-1])
    lam = np.linalg.eigvalsh(A)
    assert np.allclose(a1.m[:-1], lam[0], rtol=0, atol=1e-12)
    assert np.all(a1.distance <= a1.b + 1e-15)
    print(f"\nA1 tightness max ||e_k||/b_k = {a1.tightness:.3f}")
    assert 0.2 < a1.tightness <= 1.0


def test_bad_input():
    obj, theta0 = chain()
    with pytest.raises(TypeError, match="path must be"):
        numerics.curvature_along(obj, theta0)
    it = numerics.gradient_descent(obj, theta0, 0.1, 4)
    with pytest.raises(ValueError, match="gd is for a gradient-flow path"):
        numerics.curvature_along(obj, it, gd=it)
    traj = numerics.gradient_flow(obj, theta0, Fraction(1, 5), dps=20)
    with pytest.raises(ValueError, match="before K"):
        numerics.curvature_along(obj, traj, gd=it)
    with pytest.raises(ValueError, match="non-decreasing"):
        numerics.curvature_along(obj, traj, times=[0.1, 0.0])


def test_float_tier_trajectory_gives_the_same_curvature():
    obj, theta0 = chain()
    ft = numerics.gradient_flow_float(obj, theta0, 4.0)
    res = numerics.curvature_along(obj, ft)
    assert res.source == "FloatTrajectory"
    true_err = abs(res.negativity[-1] - I_of(4))
    # the float flow's own error (≤ ft.error_estimate ~1e-12) moves λ_min by ≲ that × ‖D³f‖ = O(1)
    assert true_err <= res.negativity_error[-1] + 4 * ft.error_estimate
