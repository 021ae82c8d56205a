"""Biases (θ = [W_1, b_1, W_2, b_2, ...]) through the generic formulas, against the SymPy reference
(built from the loss definition), and docs/theory.md E2 as an exact polynomial identity."""

from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy

import numerics
import theory
from theory import symbolic


def biased(widths, alpha, n=4, seed=0, kind="exact"):
    rng = np.random.default_rng(seed)
    X = theory.to_kind(rng.integers(-4, 5, (n, widths[0])) / 4, "exact")
    Y = theory.to_kind(rng.integers(-4, 5, (n, widths[-1])) / 4, "exact")
    net = theory.ReLUNet(widths, alpha, bias=True) if alpha != 1 else theory.DeepLinear(widths, bias=True)
    obj = theory.Objective(net, theory.SquareLoss(X, Y))
    th = [theory.to_kind(rng.integers(-8, 9, s) / 8 + Fraction(1, 97), kind) for s in obj.shapes]
    return obj, th


@pytest.mark.parametrize("widths,alpha", [((2, 3, 1), 0), ((2, 2, 2, 1), Fraction(1, 4)), ((3, 2, 2), 1)])
def test_gradient_hessian_vs_sympy(widths, alpha):
    obj, th = biased(widths, alpha)
    assert obj.num_params == sum(widths[j] * (widths[j - 1] + 1) for j in range(1, len(widths)))
    g_ref = symbolic.gradient(obj, th)
    g = obj.flatten(numerics.gradient(obj, th))
    assert all(sympy.Rational(x.numerator, x.denominator) == g_ref[i] for i, x in enumerate(g))
    H_ref = symbolic.hessian(obj, th)
    H = numerics.hessian(obj, th)
    assert all(sympy.Rational(H[i, j].numerator, H[i, j].denominator) == H_ref[i, j]
               for i in range(H.shape[0]) for j in range(H.shape[1]))
    # value from the SymPy expression of the region
    f, syms = symbolic.loss_expr(obj, th)
    fv = f.subs(dict(zip(syms, [sympy.Rational(x.numerator, x.denominator) for x in obj.flatten(th)])))
    v = numerics.value(obj, th)
    assert sympy.Rational(v.numerator, v.denominator) == fv
    # hvp agrees with the Hessian; float and mp paths agree with the exact one
    v_dir = [np.full(s, Fraction(1, 3), dtype=object) for s in obj.shapes]
    hv = obj.flatten(numerics.hvp(obj, th, v_dir))
    assert all(hv[i] == sum(H[i, j] * Fraction(1, 3) for j in range(H.shape[1])) for i in range(len(hv)))
    gf = obj.flatten(numerics.gradient(obj, [theory.to_kind(w, "float") for w in th]))
    assert np.max(np.abs(gf - np.array([float(x) for x in g]))) <= 1e-13 * max(1.0, float(max(abs(x) for x in g)))


def test_e2_identity_exact():
    for widths in [(2, 2, 1), (2, 2, 2, 1)]:
        d = symbolic.neuron_conservation_derivatives(widths, 2, bias=True)
        assert all(sympy.expand(e) == 0 for row in d for e in row)
    # not vacuous: the bias-free law (without b²) is not conserved when biases exist
    obj, th = biased((2, 3, 1), 0, seed=3)
    g = numerics.gradient(obj, th)
    Ws, bs, Gw, Gb = th[0::2], th[1::2], g[0::2], g[1::2]
    with_bias = [sum(Ws[0][u] * Gw[0][u]) + bs[0][u] * Gb[0][u] - sum(Ws[1][:, u] * Gw[1][:, u]) for u in range(3)]
    without = [sum(Ws[0][u] * Gw[0][u]) - sum(Ws[1][:, u] * Gw[1][:, u]) for u in range(3)]
    assert all(x == 0 for x in with_bias) and any(x != 0 for x in without)


def test_gd_and_inits_with_bias():
    obj, th = biased((2, 3, 1), 0, kind="float")
    it = numerics.gradient_descent(obj, th, 0.05, 5)
    assert len(it.thetas[-1]) == 4 and it.thetas[-1][1].shape == (3,)
    # B4 per neuron with biases: the E2 gaps change by exactly η²·gaps(G) in one GD step (exact)
    obj, th = biased((2, 3, 1), 0)
    eta = Fraction(1, 8)
    g = numerics.gradient(obj, th)
    new = [w - eta * gi for w, gi in zip(th, g)]
    lhs = [a - b for a, b in zip(numerics.neuron_norm_gaps(new)[0], numerics.neuron_norm_gaps(th)[0])]
    rhs = [eta * eta * x for x in numerics.neuron_norm_gaps(g)[0]]
    assert lhs == rhs
    lin = theory.Objective(theory.DeepLinear((2, 3, 3, 1), bias=True),
                           theory.SquareLoss(np.ones((4, 2)), np.ones(4)))
    b = numerics.balanced_init(lin, 1e-1, seed=1)
    assert [x.shape for x in b] == [(3, 2), (3,), (3, 3), (3,), (1, 3), (1,)]
    assert all(np.all(x == 0) for x in b[1::2])
    gi = numerics.gaussian_init(lin, 1e-1, seed=1)
    assert [x.shape for x in gi] == [x.shape for x in b]


def test_biased_linear_flow_vs_odefun():
    """DeepLinear with biases (smooth, no kinks) through numerics.gradient_flow, against mpmath.odefun
    on a gradient written here from the definition."""
    rng = np.random.default_rng(7)
    X, Y = rng.standard_normal((3, 2)), rng.standard_normal(3)
    obj = theory.Objective(theory.DeepLinear((2, 2, 1), bias=True), theory.SquareLoss(X, Y))
    th = [rng.standard_normal(s) * 0.5 for s in obj.shapes]
    traj = numerics.gradient_flow(obj, th, Fraction(1, 2), dps=30)
    assert traj.events == []
    with mpmath.workdps(34):
        Xm = [[mpmath.mpf(v) for v in row] for row in X]
        Ym = [mpmath.mpf(v) for v in Y]

        def F(t, p):
            W1 = [p[0:2], p[2:4]]
            b1, W2, b2 = p[4:6], p[6:8], p[8]
            g = [mpmath.mpf(0)] * 9
            for x, y in zip(Xm, Ym):
                h = [W1[u][0] * x[0] + W1[u][1] * x[1] + b1[u] for u in range(2)]
                r = (W2[0] * h[0] + W2[1] * h[1] + b2 - y) / 3
                for u in range(2):
                    g[2 * u] += r * W2[u] * x[0]
                    g[2 * u + 1] += r * W2[u] * x[1]
                    g[4 + u] += r * W2[u]
                    g[6 + u] += r * h[u]
                g[8] += r
            return [-v for v in g]

        sol = mpmath.odefun(F, 0, [mpmath.mpf(v) for v in obj.flatten(th)])
        true = max(abs(a - b) for a, b in zip(obj.flatten(traj.at(Fraction(1, 2))), sol(mpmath.mpf(1) / 2)))
    print(f"estimate {traj.error_estimate:.3e}, true {float(true):.3e}, ratio {traj.error_estimate / float(true):.3g}")
    assert true <= traj.error_estimate <= 1000 * max(float(true), 1e-30)
    assert max(traj.conservation_defects) <= 1e-28
