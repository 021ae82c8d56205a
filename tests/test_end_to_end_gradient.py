"""A narrow-output linear net's gradient through its end-to-end matrix (numerics.gradients._end_to_end)
against the layer-by-layer backpropagation (_backprop): exactly equal in rational arithmetic, gradients and
Hessian-vector products alike; the dispatch follows the multiply-add counts; the float Taylor tier's tape
keeps the layer order (its head's rounding bound, docs/theory.md F) while the arb tier's tape does not."""

from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numerics
import theory
from numerics import gradients as G
from numerics.backends import BACKENDS
from numerics.duals import Dual
from proofs_check.strategies import matrices


@st.composite
def linear_fits(draw):
    """A bias-free linear net on explicit rational inputs (square loss), θ rational, and a rational tangent."""
    N = draw(st.integers(1, 4))
    ws = tuple(draw(st.lists(st.integers(1, 4), min_size=N + 1, max_size=N + 1)))
    n = draw(st.integers(1, 6))
    X, Y = draw(matrices((n, ws[0]))), draw(matrices((n, ws[-1])))
    obj = theory.Objective(theory.DeepLinear(ws), theory.SquareLoss(X, Y))
    theta = [draw(matrices(s)) for s in obj.shapes]
    tangent = [draw(matrices(s)) for s in obj.shapes]
    return obj, theta, tangent


def _both(obj, Ws, b):
    k = G._consts(obj, b)
    return (G._end_to_end(list(Ws), k, b, True),
            G._backprop(list(Ws), k["X"], k["XT"], k["T"], k, 1, b, True))


@given(linear_fits())
def test_end_to_end_gradient_and_hvp_equal_the_layer_order_exactly(inst):
    obj, theta, tangent = inst
    b = BACKENDS["exact"]
    Ws = G.to_backend(obj, theta, b)
    (v1, g1), (v2, g2) = _both(obj, Ws, b)
    assert b.scalar_out(v1) == b.scalar_out(v2)
    for x, y in zip(g1, g2):
        assert np.array_equal(b.output(x), b.output(y))  # exact rationals: the same numbers
    Ts = G.to_backend(obj, tangent, b)
    (_, h1), (_, h2) = _both(obj, [Dual(w, t) for w, t in zip(Ws, Ts)], b)
    for x, y in zip(h1, h2):
        assert np.array_equal(b.output(x.tan), b.output(y.tan))


def test_end_to_end_cross_entropy_matches_the_layer_order_at_40_digits():
    rng = np.random.default_rng(5)
    obj = theory.Objective(theory.DeepLinear((6, 5, 4, 3)),
                           theory.CrossEntropy(rng.standard_normal((9, 6)), rng.integers(0, 3, 9)))
    assert G.end_to_end_cheaper(obj.widths, 9)
    th = [np.vectorize(mpmath.mpf, otypes=[object])(w) for w in numerics.gaussian_init(obj, 0.7, seed=1)]
    # the two orders round differently at 40 digits: entries O(1–10), each formed by ≤ ~10^2 roundings of
    # relative 10^-40 in sums of terms O(10) — ≤ ~10^-37; 10^-35 leaves a factor 100 above that
    with mpmath.workdps(40):
        b = BACKENDS["mp"]
        (v1, g1), (v2, g2) = _both(obj, G.to_backend(obj, th, b), b)
        assert abs(v1 - v2) <= mpmath.mpf(10) ** -35
        for x, y in zip(g1, g2):
            assert max(abs(a - c) for a, c in zip(b.output(x).flat, b.output(y).flat)) <= mpmath.mpf(10) ** -35


@pytest.mark.parametrize("widths, n, cheaper", [((784, 50, 50, 10), 500, True), ((64, 50, 50, 10), 500, True),
                                                ((4, 10, 10, 2), 5, True), ((3, 3, 3, 1), 1, False),
                                                ((5, 3), 11, False), ((10, 10, 10, 10), 20, True)])
def test_the_dispatch_follows_the_multiply_add_counts(widths, n, cheaper):
    layer, end = G._flops_per_layer(widths, n)
    if widths == (784, 50, 50, 10):
        # by hand: forward 784·50·500 + 50·50·500 + 50·10·500, the same for the gradients and for δ (but layer 1's)
        assert layer == 3 * (19_600_000 + 1_250_000 + 250_000) - 19_600_000
        # suffixes, row products and gradients 3·10·(50·784 + 50·50), and W·X, δ·Xᵀ at 10·784·500 each
        assert end == 3 * 10 * (39_200 + 2_500) + 2 * 3_920_000
    assert G.end_to_end_cheaper(widths, n) is cheaper


def test_float_tier_tape_keeps_the_layer_order_and_the_arb_tape_goes_end_to_end(monkeypatch):
    rng = np.random.default_rng(2)
    obj = theory.Objective(theory.DeepLinear((6, 5, 5, 2)),
                           theory.SquareLoss(rng.standard_normal((12, 6)), rng.standard_normal((12, 2))))
    th = numerics.gaussian_init(obj, 0.5, seed=3)
    calls = []
    real = G._end_to_end

    def counted(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(G, "_end_to_end", counted)
    from numerics.flows import _gradient_tape
    from numerics.float_taylor import _FloatFlow

    _FloatFlow(obj, th, 4, False)
    assert not calls
    _gradient_tape(obj)
    assert calls
    # and the two tiers agree on the flow (the float tier's estimate covers the distance)
    monkeypatch.setattr(G, "_end_to_end", real)
    f = numerics.gradient_flow(obj, th, 0.5, dps=None)
    a = numerics.gradient_flow(obj, th, Fraction(1, 2), dps=30)
    d = max(float(abs(mpmath.mpf(x) - y)) for x, y in zip(obj.flatten(f.at(0.5)), obj.flatten(a.at(Fraction(1, 2)))))
    assert d <= f.error_estimate
