"""Tests of theory.symbolic, the exact SymPy reference (the parts that need no numerics).

Exact quantities are compared exactly (Rational == Rational). The only tolerance is in the B1
equality test, where the true value is irrational and is computed with mpmath; it is derived there.
"""

from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import theory
from theory import symbolic as S

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Small rationals keep exact arithmetic cheap while still exercising non-integer values.
rationals = st.fractions(min_value=-9, max_value=9, max_denominator=9)


def frac_matrix(draw, rows: int, cols: int) -> np.ndarray:
    entries = [[draw(rationals) for _ in range(cols)] for _ in range(rows)]
    return np.array(entries, dtype=object).reshape(rows, cols)


def to_sym(x) -> sympy.Rational:
    x = Fraction(x)
    return sympy.Rational(x.numerator, x.denominator)


def sym_matrix(a: np.ndarray) -> sympy.Matrix:
    return sympy.Matrix([[to_sym(x) for x in row] for row in a])


def plain_sympy_derivatives(obj, theta):
    """Gradient and Hessian the slow, obvious way: sympy.diff/sympy.hessian of loss_expr, then the point."""
    expr, syms = S.loss_expr(obj, theta)
    point = {s: to_sym(x) for s, x in zip(syms, obj.flatten(theta))}
    grad = sympy.Matrix([expr.diff(s) for s in syms]).xreplace(point)
    hess = sympy.hessian(expr, syms).xreplace(point)
    return grad, hess


# ---- gradient / Hessian against closed forms and against plain SymPy differentiation -------------


@settings(max_examples=20, **SETTINGS)
@given(st.data())
def test_quadratic_gradient_is_A_theta_minus_b(data):
    P = data.draw(st.integers(1, 4))
    M = frac_matrix(data.draw, P, P)
    A = (M + M.T) / 2  # exact symmetrisation: Fraction arithmetic
    b = np.array([data.draw(rationals) for _ in range(P)], dtype=object)
    x = np.array([data.draw(rationals) for _ in range(P)], dtype=object)
    q = theory.Quadratic(A, b)
    assert S.gradient(q, [x]) == sym_matrix(A) * sym_matrix(x.reshape(-1, 1)) - sym_matrix(b.reshape(-1, 1))
    assert S.hessian(q, [x]) == sym_matrix(A)


@settings(max_examples=20, **SETTINGS)
@given(st.data(), st.booleans())
def test_depth_one_whitened_gradient_is_W_minus_Phi(data, use_float):
    d0, d1 = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    W, Phi = frac_matrix(data.draw, d1, d0), frac_matrix(data.draw, d1, d0)
    if use_float:  # floats must enter exactly (each float64 is a binary rational)
        W, Phi = W.astype(float), Phi.astype(float)
    obj = theory.Objective(theory.DeepLinear((d0, d1)), theory.WhitenedSquare(Phi))
    expected = sympy.Matrix([to_sym(Fraction(w) - Fraction(p)) for w, p in zip(W.reshape(-1), Phi.reshape(-1))])
    assert S.gradient(obj, [W]) == expected
    assert S.hessian(obj, [W]) == sympy.eye(d0 * d1)  # f = ½‖W − Φ‖², so ∇²f = I


@settings(max_examples=6, **SETTINGS)
@given(st.data())
def test_fast_derivatives_equal_sympy_hessian_deep_linear(data):
    widths = tuple(data.draw(st.lists(st.integers(1, 2), min_size=2, max_size=4)))
    Phi = frac_matrix(data.draw, widths[-1], widths[0])
    obj = theory.Objective(theory.DeepLinear(widths), theory.WhitenedSquare(Phi))
    theta = [frac_matrix(data.draw, *s) for s in obj.shapes]
    grad, hess = plain_sympy_derivatives(obj, theta)
    assert S.gradient(obj, theta) == grad
    assert S.hessian(obj, theta) == hess


@settings(max_examples=6, **SETTINGS)
@given(st.data(), st.sampled_from([0, Fraction(1, 5), Fraction(-1, 2), 0.25]))
def test_fast_derivatives_equal_sympy_hessian_relu_square_loss(data, alpha):
    widths = (2, 2, 1)
    n = data.draw(st.integers(1, 2))
    X, Y = frac_matrix(data.draw, n, widths[0]), frac_matrix(data.draw, n, widths[-1])
    obj = theory.Objective(theory.ReLUNet(widths, alpha), theory.SquareLoss(X, Y))
    theta = [frac_matrix(data.draw, *s) for s in obj.shapes]
    try:
        grad, hess = plain_sympy_derivatives(obj, theta)
    except ValueError:  # a drawn point may sit on a kink (f not C² there); test_relu_kink_raises covers it
        assume(False)
    assert S.gradient(obj, theta) == grad
    assert S.hessian(obj, theta) == hess


def test_float_theta_is_taken_exactly():
    Phi = np.array([[0.1, -0.3]])
    obj = theory.Objective(theory.DeepLinear((2, 2, 1)), theory.WhitenedSquare(Phi))
    theta_f = [np.array([[0.5, 0.1], [-0.7, 0.2]]), np.array([[0.3, 0.9]])]
    theta_q = [np.vectorize(Fraction, otypes=[object])(w) for w in theta_f]
    assert S.hessian(obj, theta_f) == S.hessian(obj, theta_q)
    assert S.gradient(obj, theta_f) == S.gradient(obj, theta_q)


def test_relu_kink_raises():
    X = np.array([[Fraction(1), Fraction(-1)]])  # one sample x = (1, −1)
    Y = np.array([[Fraction(2)]])
    obj = theory.Objective(theory.ReLUNet((2, 1, 1), 0), theory.SquareLoss(X, Y))
    at_kink = [np.array([[Fraction(1), Fraction(1)]], dtype=object), np.array([[Fraction(3)]], dtype=object)]
    for fn in (S.hessian, S.gradient, S.loss_expr):
        with pytest.raises(ValueError, match="kink"):
            fn(obj, at_kink)
    with pytest.raises(ValueError, match="theta is required"):
        S.loss_expr(obj)
    # Off the kink it works: pre-activation 2 > 0, so f = ½(3·2 − 2)² = 8 with slope 1.
    off = [np.array([[Fraction(3), Fraction(1)]], dtype=object), at_kink[1]]
    expr, syms = S.loss_expr(obj, off)
    assert expr.xreplace({s: to_sym(x) for s, x in zip(syms, obj.flatten(off))}) == 8
    # α = 1 is linear: no kink at the same point.
    lin = theory.Objective(theory.ReLUNet((2, 1, 1), 1), theory.SquareLoss(X, Y))
    assert S.hessian(lin, at_kink).shape == (3, 3)


# ---- certified λ_min --------------------------------------------------------------------------


EPS = Fraction(1, 10**12)


@settings(max_examples=20, **SETTINGS)
@given(st.lists(rationals, min_size=1, max_size=5), st.integers(1, 3), st.randoms(use_true_random=False))
def test_lambda_min_of_diagonal_with_repeats(values, repeats, rnd):
    lam = min(values) - Fraction(1, 3)  # strictly below the others, repeated `repeats` times
    diag = values + [lam] * repeats
    rnd.shuffle(diag)
    iv = S.lambda_min_interval(sympy.diag(*[to_sym(v) for v in diag]))
    assert iv.contains(lam) and iv.width <= EPS
    assert iv.multiplicity == repeats


def cayley(skew: sympy.Matrix) -> sympy.Matrix:
    """Q = (I − S)(I + S)⁻¹ is orthogonal for skew-symmetric S (and rational for rational S)."""
    n = skew.rows
    return (sympy.eye(n) - skew) * (sympy.eye(n) + skew).inv()


@settings(max_examples=15, **SETTINGS)
@given(st.data())
def test_lambda_min_of_rotated_diagonal(data):
    n = data.draw(st.integers(1, 4))
    skew = sympy.zeros(n, n)
    for i in range(n):
        for k in range(i + 1, n):
            v = to_sym(data.draw(rationals))
            skew[i, k], skew[k, i] = v, -v
    Q = cayley(skew)
    assert Q.T * Q == sympy.eye(n)  # exact orthogonality, so Q D Qᵀ has spectrum D
    values = [data.draw(rationals) for _ in range(n)]
    H = Q * sympy.diag(*[to_sym(v) for v in values]) * Q.T
    iv = S.lambda_min_interval(H)
    assert iv.contains(min(values)) and iv.width <= EPS
    assert iv.multiplicity == values.count(min(values))


def test_lambda_min_irrational_and_input_types():
    # [[0, 1], [1, 1]]: λ_min = (1 − √5)/2, a root of x² − x − 1.
    H = np.array([[0, 1], [1, 1]], dtype=object)
    for eps in (EPS, Fraction(1, 10**40)):
        iv = S.lambda_min_interval(H, eps)
        lo, hi = iv
        assert hi - lo <= eps and iv.multiplicity == 1
        # exact containment: x² − x − 1 changes sign on [lo, hi] and both ends lie below 1/2,
        # where the only root is (1 − √5)/2
        poly = lambda x: x * x - x - 1  # noqa: E731
        assert poly(lo) > 0 > poly(hi) and hi < Fraction(1, 2)
    same = [S.lambda_min_interval(h) for h in (sympy.Matrix(H.tolist()), H.astype(float), H.tolist())]
    assert all(s == S.lambda_min_interval(H) for s in same)
    with pytest.raises(ValueError, match="symmetric"):
        S.lambda_min_interval(np.array([[0, 1], [2, 0]], dtype=object))


@settings(max_examples=15, **SETTINGS)
@given(st.data())
def test_B1_equality_two_layers_at_zero(data):
    """docs/theory.md B1: for N = 2 at θ = 0, λ_min(∇²f) = −‖Φ‖₂ exactly."""
    d0, d1, d2 = (data.draw(st.integers(1, 3)) for _ in range(3))
    Phi = frac_matrix(data.draw, d2, d0)
    obj = theory.Objective(theory.DeepLinear((d0, d1, d2)), theory.WhitenedSquare(Phi))
    zero = [np.full(s, Fraction(0), dtype=object) for s in obj.shapes]
    iv = S.lambda_min_interval(S.hessian(obj, zero))
    assert iv.width <= EPS
    # ‖Φ‖₂ independently: √λ_max(ΦΦᵀ) with mpmath.eigsy at 50 digits.
    with mpmath.workdps(50):
        G = mpmath.matrix([[mpmath.mpf(x.numerator) / x.denominator for x in row] for row in Phi])
        ev, _ = mpmath.eigsy(G * G.T)
        norm2 = mpmath.sqrt(max(max(ev), 0))
        # Tolerance: ΦΦᵀ has entries ≤ 3·9² = 243 and eigsy is backward stable, so its eigenvalue
        # error is ≲ d·243·10⁻⁵⁰ < 10⁻⁴⁶; the square root divides that by 2√λ_max ≥ 2/9 (Φ ≠ 0 has
        # an entry ≥ 1/9, so λ_max ≥ 1/81) or is exact (Φ = 0: eigsy returns exact zeros).
        # So |norm2 − ‖Φ‖₂| < 10⁻⁴⁵; 10⁻⁴⁰ leaves margin and is still 28 orders below EPS.
        assert iv.contains(-norm2, tol=Fraction(1, 10**40))


# ---- docs/theory.md B3: conservation laws as polynomial identities ---------------------------------


@settings(max_examples=10, **SETTINGS)
@given(st.lists(st.integers(1, 3), min_size=2, max_size=5))
@example([3, 3, 3, 3, 3])  # the largest case in range (N = 4, all widths 3), always run
@example([1, 1])  # N = 1: no D_j at all
def test_B3_linear_conservation_is_identity(widths):
    derivs = S.conservation_derivatives(widths)
    assert len(derivs) == len(widths) - 2
    for j, D in enumerate(derivs, start=1):
        assert D.shape == (widths[j], widths[j])
        assert all(sympy.expand(x) == 0 for x in D), f"d/dt D_{j} is not identically 0 for widths {widths}"


def test_B3_check_can_fail_for_a_perturbed_flow():
    # f + (λ/2)‖W_1‖² adds −λW_1 to Ẇ_1, so d/dt D_1 = 2λ·W_1W_1ᵀ ≠ 0, and D_2 is untouched.
    lam = Fraction(3, 7)
    widths = (2, 3, 2, 2)
    d1, d2 = S.conservation_derivatives(widths, weight_decay=[lam, 0, 0])
    W1 = sympy.Matrix(widths[1], widths[0], lambda r, c: sympy.Symbol(f"W1_{r}_{c}", real=True))
    assert d1 != sympy.zeros(*d1.shape)
    assert (d1 - 2 * to_sym(lam) * W1 * W1.T).expand() == sympy.zeros(*d1.shape)
    assert all(x == 0 for x in d2)


@settings(max_examples=5, **SETTINGS)
@given(st.lists(st.integers(1, 2), min_size=3, max_size=4), st.integers(1, 2))
def test_B3_per_neuron_conservation_relu_region(widths, n):
    derivs = S.neuron_conservation_derivatives(widths, n)
    assert [len(d) for d in derivs] == list(widths[1:-1])
    assert all(sympy.expand(x) == 0 for d in derivs for x in d)
