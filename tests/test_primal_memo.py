"""The primal memo of the dual passes (numerics.duals.primal_memo): HVPs that reuse the value parts are
bit-identical to HVPs computed from scratch (numerics.hessians.hvp, no memo), in float and in exact
arithmetic, for linear, ReLU and leaky-ReLU nets with and without biases, square and cross-entropy
losses; the exact Hessian built with the memo equals the one built column by column from plain HVPs."""

from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import theory
from numerics import duals, hessians, spectra


@st.composite
def objectives(draw, exact=False):
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    depth = draw(st.integers(1, 3))
    widths = tuple(draw(st.lists(st.integers(1, 4), min_size=depth + 1, max_size=depth + 1)))
    alpha = draw(st.sampled_from([0, Fraction(1, 10), 1] if exact else [0.0, 0.1, 1.0]))
    bias = draw(st.booleans())
    n = draw(st.integers(1, 5))
    xent = draw(st.booleans()) and widths[-1] >= 2 and not exact
    if exact:
        X = [[Fraction(int(v), 2) for v in row] for row in rng.integers(-3, 4, (n, widths[0]))]
        Y = [[Fraction(int(v), 2) for v in row] for row in rng.integers(-3, 4, (n, widths[-1]))]
    else:
        X, Y = rng.standard_normal((n, widths[0])), rng.standard_normal((n, widths[-1]))
    model = theory.ReLUNet(widths, alpha, bias) if alpha != 1 or bias else theory.DeepLinear(widths)
    loss = theory.CrossEntropy(X, rng.integers(0, widths[-1], n)) if xent else theory.SquareLoss(X, Y)
    obj = theory.Objective(model, loss)
    if exact:
        theta = [np.array([Fraction(int(v), 4) for v in rng.integers(-4, 5, int(np.prod(s)))],
                          dtype=object).reshape(s) for s in obj.shapes]
    else:
        theta = [rng.standard_normal(s) for s in obj.shapes]
    return obj, theta, seed


@given(objectives())
@settings(deadline=None)
def test_float_hvp_operator_is_bit_identical_to_plain_hvps(case):
    obj, theta, seed = case
    memos = []

    def recording(memo):
        memos.append(memo)
        return duals.primal_memo(memo)

    spectra.primal_memo = recording  # the operator looks it up at call time (restored below)
    try:
        _check_operator(obj, theta, seed, memos)
    finally:
        spectra.primal_memo = duals.primal_memo


def _check_operator(obj, theta, seed, memos):
    op = spectra.hvp_operator(obj, theta)
    rng = np.random.default_rng(seed + 1)
    sizes = []
    for _ in range(4):  # the first call fills the memo, the later ones read it
        v = rng.standard_normal(obj.num_params)
        got = op.matvec(v)
        sizes.append(len(memos[-1]))
        ref = np.concatenate([np.asarray(g, dtype=np.float64).reshape(-1)
                              for g in hessians.hvp(obj, theta, obj.unflatten(v))])
        assert np.array_equal(got, ref), (seed, np.abs(got - ref).max())
    # every value part of a later call is found in the memo: nothing is added (no recomputation, and no
    # growth over the hundreds of calls of a Lanczos run; the cross-entropy head once added ~8 per call)
    assert sizes == [sizes[0]] * 4, sizes


@given(objectives(exact=True))
@settings(deadline=None, max_examples=15)
def test_exact_hessian_with_memo_equals_columns_of_plain_hvps(case):
    obj, theta, _ = case
    H = hessians.hessian(obj, theta)
    P = obj.num_params
    for p in range(P):
        e = np.array([Fraction(int(q == p)) for q in range(P)], dtype=object)
        col = np.concatenate([np.asarray(g, dtype=object).reshape(-1) for g in hessians.hvp(obj, theta, obj.unflatten(e))])
        assert all(a == b for a, b in zip(H[:, p], col))
