"""Balanced init, the exact GD drift identity (THEORY.md B4) in rationals, and its mutation."""

from fractions import Fraction

import numpy as np
from hypothesis import given, strategies as st

import numerics
import theory
from proofs_check import claims
from proofs_check.strategies import deep_linear_instances, relu_instances, small_rationals

etas = small_rationals(9, 50).filter(lambda x: x > 0)


@given(deep_linear_instances(kind="exact", min_depth=2), etas)
def test_gd_drift_identity_linear_exact(inst, eta):
    obj, theta = inst
    G = numerics.gradient(obj, theta)
    after = numerics.balancedness([W - eta * g for W, g in zip(theta, G)])
    before = numerics.balancedness(theta)
    for a, b, d in zip(after, before, numerics.gd_drift(G, eta)):
        assert np.array_equal(a - b, d)


@given(relu_instances(kind="exact", min_depth=2), etas)
def test_gd_drift_identity_relu_neurons_exact(inst, eta):
    """Per-neuron norm gaps change by exactly η²·gaps(G) on leaky ReLU nets (homogeneity)."""
    obj, theta = inst
    G = numerics.gradient(obj, theta)
    after = numerics.neuron_norm_gaps([W - eta * g for W, g in zip(theta, G)])
    before = numerics.neuron_norm_gaps(theta)
    for a, b, g in zip(after, before, numerics.neuron_norm_gaps(G)):
        assert np.array_equal(a - b, eta * eta * g)


def test_drift_identity_fails_for_a_wrong_exponent():
    """Mutation: predicting η¹ instead of η² must be caught (the check can fail)."""
    assert claims()["B4"].check(budget=6, seed=1).verdict == "holds"
    assert claims()["B4"].check(budget=6, seed=1, exponent=1).verdict == "violated"


@given(st.lists(st.integers(1, 5), min_size=2, max_size=5), st.integers(0, 2**31 - 1),
       st.floats(1e-3, 1.0))
def test_balanced_init_is_balanced(ws, seed, scale):
    ws[1:-1] = [max(w, min(ws[0], ws[-1])) for w in ws[1:-1]]
    obj = theory.Objective(theory.DeepLinear(tuple(ws)), theory.WhitenedSquare(np.ones((ws[-1], ws[0]))))
    theta = numerics.balanced_init(obj, scale=scale, seed=seed)
    end = theta[0]
    for W in theta[1:]:
        end = W @ end
    # float rounding of the construction: a few products of O(scale^(2/N)) entries, width ≤ 5
    tol = 64 * np.finfo(float).eps * max(scale ** (2 / obj.depth), scale)
    assert abs(np.linalg.norm(end) - scale) <= tol
    for D in numerics.balancedness(theta):
        assert np.abs(D).max() <= tol


def test_gaussian_init_seeded():
    obj = theory.Objective(theory.ReLUNet((3, 4, 2)), theory.SquareLoss(np.ones((2, 3)), np.ones((2, 2))))
    a, b = numerics.gaussian_init(obj, 0.1, seed=4), numerics.gaussian_init(obj, 0.1, seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert all(np.array_equal(x.shape, s) for x, s in zip(a, obj.shapes))


def test_homogeneous_gaps_are_exact_for_fractions():
    theta = [np.array([[Fraction(1, 2), Fraction(3)]], dtype=object), np.array([[Fraction(-2)]], dtype=object)]
    assert numerics.layer_norm_gaps(theta) == [Fraction(4) - Fraction(1, 4) - 9]
