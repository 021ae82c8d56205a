"""Closed forms of GF, GD and the modified flow of quadratics against independent computations."""

from fractions import Fraction

import mpmath
import numpy as np
import scipy.linalg
from hypothesis import given, strategies as st

import numerics
import theory
from proofs_check.strategies import quadratics, to_kind

EPS = np.finfo(float).eps


def exact_gd(q, theta0, eta, k):
    """GD iterated in exact rationals through the generic gradient (an independent route)."""
    th = theta0
    for _ in range(k):
        th = [w - eta * g for w, g in zip(th, numerics.gradient(q, th))]
    return th


@given(quadratics(kind="exact", max_dim=4), st.integers(0, 12),
       st.sampled_from([Fraction(1, 10), Fraction(1, 3), Fraction(1, 64)]))
def test_gd_closed_form_mp_vs_exact_iteration(inst, k, eta):
    q, theta0 = inst
    ref = exact_gd(q, theta0, eta, k)[0]
    with mpmath.workdps(40):
        got = q.gd(theta0, eta, k, dps=40)[0]
        scale = max([mpmath.mpf(1)] + [abs(theory.to_kind(np.array([x]), "mp")[0]) for x in ref])
        # eigsy at 40 digits: eigenvector/eigenvalue errors ~1e-39·‖A‖; (1 − ηλ)^k amplifies by
        # at most k·|ηλ|·max(1, |1 − ηλ|)^k ≤ 12·(1 + 4·9/3)^12 < 1e16 here: 1e-22 leaves margin.
        for a, b in zip(got, theory.to_kind(ref, "mp")):
            assert abs(a - b) <= mpmath.mpf(10) ** -22 * scale


@given(quadratics(kind="float", max_dim=5), st.floats(0.0, 3.0))
def test_gf_closed_form_vs_expm(inst, t):
    """θ(t) solves θ' = −(Aθ − b): compare with the augmented-matrix exponential (Van Loan), which
    needs neither invertibility of A nor its eigenvectors."""
    q, theta0 = inst
    P = q.A.shape[0]
    M = np.zeros((P + 1, P + 1))
    M[:P, :P] = -q.A
    M[:P, P] = q.b
    E = scipy.linalg.expm(M * t)
    ref = E[:P, :P] @ theta0[0] + E[:P, P]
    got = q.gf(theta0, t)[0]
    # entries of A, b, θ0 are ≤ 1, P ≤ 5, t ≤ 3: ‖e^{At}‖ ≤ e^{15}; expm and eigh are accurate to
    # ~P·ε·‖e^{|A|t}‖ each, relative to that growth
    growth = np.exp(np.abs(q.A).sum(axis=1).max() * t) * (1 + t)
    assert np.abs(got - ref).max() <= 64 * P * EPS * growth * max(1.0, np.abs(theta0[0]).max() + np.abs(q.b).max())


@given(quadratics(kind="exact", max_dim=3), st.integers(1, 6))
def test_modified_flow_interpolates_gd(inst, k):
    q, theta0 = inst
    eta = Fraction(1, 20)  # entries ≤ 9 so |λ| ≤ 27 < 1/η: the modified flow is defined
    ref = exact_gd(q, theta0, eta, k)[0]
    with mpmath.workdps(40):
        got = q.modified_flow(theta0, eta, k * eta, dps=40)[0]
        for a, b in zip(got, theory.to_kind(ref, "mp")):
            assert abs(a - b) <= mpmath.mpf(10) ** -25 * (1 + abs(b))


def test_modified_flow_matches_theory_a4_series_to_third_order():
    """docs/theory.md A4: θ' = −g − (η/2)Hg − η²(1/3)H²g + O(η³) (D³f = 0 here). The exact modified flow's
    velocity (by a 40-digit central difference) minus this series is O(η³): halving η divides it by 8."""
    A = np.array([[2.0, 0.5, 0.0], [0.5, -1.0, 0.3], [0.0, 0.3, 0.7]])
    b = np.array([0.2, -0.4, 1.0])
    q = theory.Quadratic(A, b)
    x0 = [np.array([1.0, -0.5, 0.25])]
    errs = []
    with mpmath.workdps(40):
        Am = theory.to_kind(A, "mp")
        for eta in (mpmath.mpf(1) / 40, mpmath.mpf(1) / 80, mpmath.mpf(1) / 160):
            h = mpmath.mpf(10) ** -15
            vel = (q.modified_flow(x0, eta, h, dps=40)[0] - q.modified_flow(x0, eta, 0, dps=40)[0]) / h
            g = Am @ theory.to_kind(x0[0], "mp") - theory.to_kind(b, "mp")
            series = -(g + eta / 2 * (Am @ g) + eta**2 / 3 * (Am @ (Am @ g)))
            errs.append(max(abs(v - s) for v, s in zip(vel, series)))
    # one-sided difference error ~h·|θ''| ≈ 1e-15: far below the η³ terms (≥ 1e-7)
    for e1, e2 in zip(errs, errs[1:]):
        assert 7.0 <= e1 / e2 <= 9.0


def test_quadratic_objective_through_numerics():
    A = np.array([[Fraction(2), Fraction(1)], [Fraction(1), Fraction(-3)]], dtype=object)
    b = np.array([Fraction(1), Fraction(2)], dtype=object)
    q = theory.Quadratic(A, b)
    th = [np.array([Fraction(1, 2), Fraction(-1)], dtype=object)]
    val, g = numerics.value_and_gradient(q, th)
    x = th[0]
    assert val == Fraction(1, 2) * (x @ (A @ x)) - b @ x
    assert np.array_equal(g[0], A @ x - b)
    assert np.array_equal(numerics.hessian(q, th), A)
    assert numerics.lambda_min(q, to_kind(th, "float")) < 0
