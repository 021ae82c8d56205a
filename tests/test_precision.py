"""The float64 path against the mp path, and the dual-number HVP against finite differences at 50 digits."""

from fractions import Fraction

import mpmath
import numpy as np
from hypothesis import given, strategies as st

import numerics
import theory
from proofs_check.strategies import deep_linear_instances, relu_instances, to_kind

EPS = np.finfo(np.float64).eps


def rounding_budget(obj) -> float:
    """γ_K = Kε/(1 − Kε) for the longest chain of roundings in one gradient entry.

    The backprop formula computes each entry through the forward products (inner dimensions
    d_0..d_{N-1}), one subtraction z − T, one scaling by c, the backward products (inner dimensions
    d_N..d_1) and one final product (inner dimension n, or 1): at most K = 2·Σd_j + n + 3 rounded
    operations in sequence. The classical bound |fl(AB) − AB| ≤ γ_m |A||B| composed along the chain
    gives |ĝ − g| ≤ γ_K · g_abs, g_abs the same formula on |θ| with |Φ| added (see below).
    """
    n = obj.loss.num_samples
    K = 2 * sum(obj.widths) + n + 3
    return K * EPS / (1 - K * EPS)


def abs_gradient(obj, theta):
    """The gradient formula on absolute values: |S|ᵀ(|W| + |Φ|)|P|ᵀ, an upper bound for every
    partial product in the rounding analysis (masks have |m| ≤ 1 since |α| ≤ 1)."""
    loss = obj.loss
    lin = theory.Objective(theory.DeepLinear(obj.widths),
                           theory.SquareLoss(np.abs(loss.X), -np.abs(loss.Y)) if isinstance(loss, theory.SquareLoss)
                           else theory.WhitenedSquare(-np.abs(loss.Phi)))
    return numerics.gradient(lin, [np.abs(w) for w in theta])


@given(st.one_of(deep_linear_instances(kind="float", max_depth=4, max_width=4),
                 relu_instances(kind="float", max_depth=3, max_width=4)))
def test_float64_gradient_within_rounding_bound_of_mp(inst):
    obj, theta = inst
    g64 = numerics.gradient(obj, theta)
    with mpmath.workdps(50):
        gmp = numerics.gradient(obj, to_kind(theta, "mp"))
        gamma = rounding_budget(obj)
        bound = abs_gradient(obj, theta)
        for a, b, c in zip(g64, gmp, bound):
            err = np.abs(theory.to_kind(a, "mp") - b)
            # 1e-45: the mp reference itself is accurate to ~K·10^-50 relative
            assert all(e <= gamma * float(cc) + mpmath.mpf(10) ** -45 for e, cc in zip(err.flat, c.flat))


@given(deep_linear_instances(kind="exact", max_depth=4, max_width=3))
def test_hvp_matches_central_differences_at_50_digits(inst):
    """(∇f(θ + hv) − ∇f(θ − hv))/(2h) = Hv + (h²/6)·D³(∇f)[v,v,v] + O(h⁴).

    With h = 1e-18 and entries ≤ 9 in magnitude (depth ≤ 4, widths ≤ 3), D³∇f is bounded by a few
    thousand times the scale, so truncation is < 1e-32·scale; rounding at 60 digits is
    ~1e-60/1e-18 = 1e-42. Relative agreement 1e-30 therefore has two orders of margin.
    """
    obj, theta = inst
    rng = np.random.default_rng(len(obj.widths))
    with mpmath.workdps(60):
        th = to_kind(theta, "mp")
        v = [np.array([mpmath.mpf(x) for x in rng.standard_normal(w.size)], dtype=object).reshape(w.shape) for w in th]
        h = mpmath.mpf(10) ** -18
        gp = numerics.gradient(obj, [w + h * d for w, d in zip(th, v)])
        gm = numerics.gradient(obj, [w - h * d for w, d in zip(th, v)])
        fd = np.concatenate([((a - b) / (2 * h)).reshape(-1) for a, b in zip(gp, gm)])
        hv = obj.flatten(numerics.hvp(obj, th, v))
        scale = max(mpmath.mpf(1), max(abs(x) for x in hv))
        assert max(abs(a - b) for a, b in zip(fd, hv)) <= mpmath.mpf(10) ** -30 * scale


@given(relu_instances(kind="float", max_depth=3, max_width=3))
def test_hessian_is_jacobian_of_gradient_relu(inst):
    """Per column, float Hessian vs central differences of the float gradient, h = 1e-9.

    The strategy keeps every pre-activation at |z| > 1e-6 (entries ≤ 1, widths ≤ 3, depth ≤ 3); a
    coordinate step h moves a pre-activation by at most h·3^3 < 3e-8, so both points lie in the same
    activation region, where ∇f is a polynomial of degree ≤ 5 and the truncation h²|D³∇f|/6 is
    ~1e-17. Rounding: ε·|∇f|/h ≈ 2.2e-7·scale. The bound 1e-5·scale leaves a 40× margin.
    """
    obj, theta = inst
    H = numerics.hessian(obj, theta)
    P = obj.num_params
    x0 = obj.flatten(theta)
    h = 1e-9
    scale = max(1.0, float(np.abs(np.concatenate([g.ravel() for g in numerics.gradient(obj, theta)])).max()),
                float(np.abs(H).max()))
    for p in range(P):
        e = np.zeros(P)
        e[p] = h
        gp = obj.flatten(numerics.gradient(obj, obj.unflatten(x0 + e)))
        gm = obj.flatten(numerics.gradient(obj, obj.unflatten(x0 - e)))
        assert np.max(np.abs((gp - gm) / (2 * h) - H[:, p])) <= 1e-5 * scale


def test_hessian_kinds_agree_on_fixed_instance():
    """Exact, mp (40 digits) and float Hessians of one net: exact is symmetric, mp within 1e-38 (40
    digits, entries O(1)), float within γ_{2K}·H_abs: the dual pass doubles the chain of roundings
    of the gradient, and the same formula on absolute values bounds every partial sum."""
    Phi = np.array([[Fraction(1, 2), Fraction(-3, 4), Fraction(2)]], dtype=object)
    obj = theory.Objective(theory.DeepLinear((3, 2, 2, 1)), theory.WhitenedSquare(Phi))
    rng = np.random.default_rng(7)
    theta = [np.vectorize(lambda x: Fraction(int(x), 4), otypes=[object])(rng.integers(-4, 5, s)) for s in obj.shapes]
    He = numerics.hessian(obj, theta)
    assert (He == He.T).all()
    with mpmath.workdps(40):
        Hm = numerics.hessian(obj, to_kind(theta, "mp"))
        assert max(abs(mpmath.mpf(a.numerator) / a.denominator - b) for a, b in zip(He.flat, Hm.flat)) < mpmath.mpf(10) ** -38
    th = to_kind(theta, "float")
    Hf = numerics.hessian(obj, th)
    lin_abs = theory.Objective(obj.model, theory.WhitenedSquare(-np.abs(to_kind([Phi], "float")[0])))
    H_abs = numerics.hessian(lin_abs, [np.abs(w) for w in th])
    K = 2 * sum(obj.widths) + 4
    gamma = 2 * K * EPS / (1 - 2 * K * EPS)
    assert np.all(np.abs(Hf - He.astype(float)) <= gamma * H_abs)
