"""Slow checks, run with HYPOTHESIS_PROFILE=thorough (skipped otherwise, see conftest.py)."""

import mpmath
import numpy as np
import pytest

import numerics
import theory
from proofs_check import claims

pytestmark = pytest.mark.thorough


def test_100_digit_flow_of_the_200_parameter_case_agrees_with_120_digits():
    """The benchmark's larger case (N = 4, d = w = 8, α = 0.3, T = 6) at 100 and 120 digits."""
    rng = np.random.default_rng(0)
    Phi = rng.standard_normal((1, 8))
    obj = theory.Objective(theory.DeepLinear((8, 8, 8, 8, 1)), theory.WhitenedSquare(Phi / np.linalg.norm(Phi)))
    th = numerics.gaussian_init(obj, 0.3, seed=0)
    a = numerics.gradient_flow(obj, th, 6, dps=100)
    b = numerics.gradient_flow(obj, th, 6, dps=120)
    with mpmath.workdps(120):
        diff = max(abs(x - y) for A, B in zip(a.at(6), b.at(6)) for x, y in zip(A.flat, B.flat))
    assert diff <= a.error_estimate + b.error_estimate
    assert diff <= mpmath.mpf(10) ** -95
    assert max(a.conservation_defects) <= 1e-95


@pytest.mark.parametrize("label", ["B1", "B3", "B4"])
def test_claims_hold_with_a_large_budget(label):
    c = claims()[label]
    r = c.check(budget=10 * c.default_budget, seed=12345)
    assert r.verdict in ("holds", "holds within error"), (r.counterexample, r.error)
