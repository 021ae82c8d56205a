"""Bad input is refused with a clear error naming the argument."""

from fractions import Fraction

import mpmath
import numpy as np
import pytest

import numerics
import theory


def obj3():
    return theory.Objective(theory.DeepLinear((3, 2, 1)), theory.WhitenedSquare(np.ones(3)))


def test_widths_depth_and_values():
    with pytest.raises(ValueError, match="widths"):
        theory.DeepLinear((3,))
    with pytest.raises(ValueError, match="widths"):
        theory.DeepLinear((3, 0, 1))
    with pytest.raises(TypeError, match="widths"):
        theory.DeepLinear((3, 2.5, 1))
    with pytest.raises(ValueError, match="alpha"):
        theory.ReLUNet((2, 2, 1), alpha=2)
    with pytest.raises(ValueError, match="ReLUNet"):
        theory.DeepLinear((2, 1), alpha=0)


def test_phi_must_chain():
    with pytest.raises(ValueError, match="Phi"):
        theory.Objective(theory.DeepLinear((3, 2, 1)), theory.WhitenedSquare(np.ones((1, 4))))
    with pytest.raises(ValueError, match="Phi"):
        theory.Objective(theory.DeepLinear((3, 2, 2)), theory.WhitenedSquare(np.ones((1, 3))))
    with pytest.raises(ValueError, match="Phi"):
        theory.WhitenedSquare(np.ones((1, 2, 3)))
    with pytest.raises(ValueError, match="X and Y"):
        theory.SquareLoss(np.ones((3, 2)), np.ones((4, 1)))


def test_non_finite_refused():
    with pytest.raises(ValueError, match="Phi.*non-finite"):
        theory.WhitenedSquare(np.array([1.0, np.nan]))
    o = obj3()
    th = [np.ones((2, 3)), np.array([[np.inf, 0.0]])]
    with pytest.raises(ValueError, match=r"theta\[1\].*non-finite"):
        numerics.gradient(o, th)
    with mpmath.workdps(20):
        th = [np.full((2, 3), mpmath.mpf(1), dtype=object), np.array([[mpmath.mpf("nan"), mpmath.mpf(0)]], dtype=object)]
    with pytest.raises(ValueError, match="non-finite"):
        numerics.gradient(o, th)


def test_shapes_that_do_not_chain():
    o = obj3()
    with pytest.raises(ValueError, match=r"theta\[0\] must have shape \(2, 3\)"):
        numerics.gradient(o, [np.ones((3, 2)), np.ones((1, 2))])
    with pytest.raises(ValueError, match="2 arrays"):
        numerics.gradient(o, [np.ones((2, 3))])
    with pytest.raises(TypeError, match="list of arrays"):
        numerics.gradient(o, np.ones(8))


def test_mixed_entry_types_refused():
    o = obj3()
    exact = np.array([[Fraction(1)] * 3] * 2, dtype=object)
    with pytest.raises(TypeError, match="mixed"):
        numerics.gradient(o, [exact, np.ones((1, 2))])
    with pytest.raises(TypeError, match="mixed"):
        numerics.gradient(o, [np.array([[Fraction(1), 1.5, mpmath.mpf(1)]] * 2, dtype=object), np.ones((1, 2))])
    with pytest.raises(TypeError, match="unsupported"):
        numerics.gradient(o, [np.array([["a"] * 3] * 2, dtype=object), np.ones((1, 2))])
    th = [np.ones((2, 3)), np.ones((1, 2))]
    v = [exact, np.array([[Fraction(1)] * 2], dtype=object)]
    with pytest.raises(TypeError, match="v has exact entries but theta has float"):
        numerics.hvp(o, th, v)
    with pytest.raises(ValueError, match="dps applies to mpmath"):
        numerics.gradient(o, th, dps=30)


def test_objective_and_other_arguments():
    with pytest.raises(TypeError, match="obj must be"):
        numerics.gradient("not an objective", [np.ones(2)])
    with pytest.raises(ValueError, match="symmetric"):
        theory.Quadratic(np.array([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="scale"):
        numerics.balanced_init(obj3(), scale=0.0)
    with pytest.raises(ValueError, match="hidden width"):
        numerics.balanced_init(
            theory.Objective(theory.DeepLinear((3, 1, 3)), theory.WhitenedSquare(np.ones((3, 3)))), 0.1)
    with pytest.raises(ValueError, match="method"):
        numerics.lambda_min(obj3(), [np.ones((2, 3)), np.ones((1, 2))], method="magic")
    q = theory.Quadratic(np.eye(2))
    with pytest.raises(ValueError, match="eta"):
        q.gd([np.ones(2)], eta=0.0, k=3)
    with pytest.raises(ValueError, match="t must be >= 0"):
        q.gf([np.ones(2)], t=-1.0)
    with pytest.raises(ValueError, match="eta\\*lambda < 1"):
        q.modified_flow([np.ones(2)], eta=2.0, t=1.0)
