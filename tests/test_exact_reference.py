"""The generic formulas against the independent SymPy reference, exactly."""

from fractions import Fraction

import numpy as np
from hypothesis import given, settings, strategies as st

import numerics
import theory
from proofs_check.strategies import deep_linear_instances, quadratics, relu_instances, to_kind
from theory import symbolic


def as_fractions(M):
    return np.array([[Fraction(int(x.p), int(x.q)) for x in M.row(i)] for i in range(M.rows)], dtype=object)


@given(deep_linear_instances(kind="exact", min_depth=1, max_depth=4, max_width=3))
def test_deep_linear_gradient_and_hessian_equal_sympy(inst):
    obj, theta = inst
    g = obj.flatten(numerics.gradient(obj, theta))
    assert np.array_equal(g, as_fractions(symbolic.gradient(obj, theta)).reshape(-1))
    H = numerics.hessian(obj, theta)
    assert np.array_equal(H, as_fractions(symbolic.hessian(obj, theta)))


@given(relu_instances(kind="exact", min_depth=1, max_depth=3, max_width=3))
def test_relu_gradient_and_hessian_equal_sympy_away_from_kinks(inst):
    obj, theta = inst
    g = obj.flatten(numerics.gradient(obj, theta))
    assert np.array_equal(g, as_fractions(symbolic.gradient(obj, theta)).reshape(-1))
    assert np.array_equal(numerics.hessian(obj, theta), as_fractions(symbolic.hessian(obj, theta)))


@given(quadratics(kind="exact"))
def test_quadratic_value_gradient_hessian_equal_sympy(inst):
    q, theta = inst
    expr, syms = symbolic.loss_expr(q)
    val = expr.subs(dict(zip(syms, [theory.to_kind(theta[0], "exact")[i] for i in range(len(syms))])))
    assert numerics.value(q, theta) == Fraction(int(val.p), int(val.q))
    assert np.array_equal(numerics.hessian(q, theta), as_fractions(symbolic.hessian(q, theta)))


@given(deep_linear_instances(kind="exact", min_depth=1, max_depth=4, max_width=3), st.data())
def test_hvp_is_hessian_times_vector_exactly(inst, data):
    obj, theta = inst
    from proofs_check.strategies import matrices

    v = [data.draw(matrices(s, "exact")) for s in obj.shapes]
    H = numerics.hessian(obj, theta)
    assert np.array_equal(obj.flatten(numerics.hvp(obj, theta, v)), H @ obj.flatten(v))


@settings(max_examples=10)
@given(deep_linear_instances(kind="exact", min_depth=2, max_depth=3, max_width=3))
def test_certified_interval_contains_float64_lambda_min(inst):
    """The float64 λ_min lies in the certified interval widened by its own error bar (residual
    bound + the P·ε·‖H‖_F backward error of the float Hessian's eigensolver)."""
    obj, theta = inst
    iv = symbolic.lambda_min_interval(numerics.hessian(obj, theta))
    th = to_kind(theta, "float")
    r = numerics.lambda_min(obj, th, return_info=True)
    Hf = numerics.hessian(obj, th)
    err = r.error_bound + obj.num_params * np.finfo(float).eps * np.linalg.norm(Hf)
    assert float(iv.lo) - err <= r.value <= float(iv.hi) + err
