"""The float tier's growth rate from THEORY B1 (numerics.b1_growth; docs/theory.md F, "The growth from B1"):
its gradient norms against the generic gradient, its rate against the dense Hessian's λ_min inside every
step, the run's estimate against the arb tier, and which nets take it by default."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import numerics
import theory
from numerics.b1_growth import B1Growth, applies
from numerics.error_growth import MeasuredGrowth
from numerics.float_taylor import _FloatFlow

EPS = float(np.finfo(float).eps)


def _nets():
    """Small bias-free deep linear nets, one per loss B1 covers, each with negative curvature along its
    flow: a near-zero balanced init on the whitened loss (λ_min = −‖Φ‖-ish at t = 0), Gaussian inits on data."""
    rng = np.random.default_rng(3)
    Phi = rng.standard_normal((1, 3))
    Phi /= np.linalg.norm(Phi)
    whit = theory.Objective(theory.DeepLinear((3, 3, 3, 1)), theory.WhitenedSquare(Phi))
    X, labels = rng.standard_normal((12, 5)), np.arange(12) % 3
    ce = theory.Objective(theory.DeepLinear((5, 4, 4, 3)), theory.CrossEntropy(X, labels))
    sq = theory.Objective(theory.DeepLinear((5, 4, 3)), theory.SquareLoss(X, rng.standard_normal((12, 3))))
    # with biases (B1 on the augmented layers [[W, b], [0, 1]] and inputs [X; 1ᵀ]; numerics.b1_growth)
    ceb = theory.Objective(theory.DeepLinear((5, 4, 4, 3), bias=True), theory.CrossEntropy(X, labels))
    sqb = theory.Objective(theory.DeepLinear((5, 4, 3), bias=True), theory.SquareLoss(X, rng.standard_normal((12, 3))))
    return [("whitened", whit, numerics.balanced_init(whit, 1e-2, seed=1), 6.0),
            ("cross_entropy", ce, numerics.gaussian_init(ce, 0.3, seed=2), 2.0),
            ("square", sq, numerics.gaussian_init(sq, 0.3, seed=4), 1.0),
            ("cross_entropy_bias", ceb, numerics.gaussian_init(ceb, 0.3, seed=5), 2.0),
            ("square_bias", sqb, numerics.gaussian_init(sqb, 0.3, seed=6), 1.0)]


@pytest.mark.parametrize("name, obj, th0, T", _nets())
def test_gradient_norm_bounds_the_generic_gradient(name, obj, th0, T):
    """‖∇φ(W)‖₂ of the one-layer net on the same loss (numerics' generic gradient) is ≤ the bound, which
    exceeds it by no more than its rounding terms (≤ 1e-12 relative here)."""
    g = B1Growth(obj)
    if obj.model.bias:
        # the augmented net's end-to-end matrix [W | b] on X: the one-layer net with a bias, whose gradient
        # (∇W, ∇b) is ∇φ̂ = c·R[Xᵀ, 1]
        W = np.hstack([th0[0], np.reshape(th0[1], (-1, 1))])
        for M, b in zip(th0[2::2], th0[3::2]):
            W = np.hstack([M, np.reshape(b, (-1, 1))]) @ np.vstack([W, np.eye(1, W.shape[1], W.shape[1] - 1)])
        one = theory.Objective(theory.DeepLinear((W.shape[1] - 1, W.shape[0]), bias=True), obj.loss)
        gw, gb = numerics.gradient(one, [W[:, :-1], W[:, -1]])
        true = float(np.linalg.norm(np.hstack([gw, np.reshape(gb, (-1, 1))]), 2))
    else:
        W = th0[0]
        for M in th0[1:]:
            W = M @ W
        one = theory.Objective(theory.DeepLinear((W.shape[1], W.shape[0])), obj.loss)
        true = float(np.linalg.norm(numerics.gradient(one, [W])[0], 2))
    bound = g.gradient_norm(th0)
    assert true <= bound <= true * (1 + 1e-12) + 1e-15


@pytest.mark.parametrize("name, obj, th0, T", _nets())
def test_the_rate_bounds_the_negative_curvature_inside_every_step(name, obj, th0, T):
    """With growth 'b1' forced, each step's μ̂ ≥ max(0, −λ_min(∇²f)) at seven points of the step (dense
    eigenvalues of the exact-formula Hessian, less their backward error); and the rate is not vacuous:
    −λ_min > 0 somewhere, and μ̂ is within 100× of the sampled −λ_min on the step where that is largest."""
    flow = _FloatFlow(obj, [np.asarray(w, float) for w in th0], 20, "b1")
    traj = flow.run(T, None, 100_000)
    assert isinstance(flow.growth, B1Growth) and len(flow.growth.samples) == len(traj.steps)
    worst = 0.0
    for a, h, mu in zip(traj.starts, traj.steps, flow.growth.samples):
        neg = 0.0
        for u in np.linspace(0, 1, 7):
            H = numerics.hessian(obj, traj.at(min(a + u * h, traj.t_end)))
            lam = float(np.linalg.eigvalsh(H)[0]) - obj.num_params * EPS * float(np.linalg.norm(H))
            neg = max(neg, -lam)
        assert neg <= mu, (name, a, neg, mu)
        if neg > worst:
            worst, at_worst = neg, mu
    assert worst > 1e-3 and at_worst <= 100 * worst
    print(f"\n{name}: largest −λ_min {worst:.3g}, the step's B1 rate {at_worst:.3g}")


@pytest.mark.parametrize("name, obj, th0, T", _nets())
def test_a_b1_run_is_within_its_estimate_of_the_arb_tier(name, obj, th0, T):
    """The float tier with growth 'b1' against the arb tier at 30 digits, at eight times: the 2-norm
    error is within the estimate (honest), and the estimate within 1e5× the largest error (the ratio is
    printed: B1 is looser than the measured λ_min by design)."""
    traj = numerics.gradient_flow(obj, th0, T, dps=None, error_growth="b1")
    assert traj.growth_rate == "b1"
    assert numerics.gradient_flow(obj, th0, T / 8, dps=None).growth_rate == "measured"  # ≤ 800 parameters
    ref = numerics.gradient_flow(obj, th0, Fraction(T), dps=30)
    worst = 0.0
    for k in range(1, 9):
        t = T * k / 8
        r = obj.flatten([theory.to_kind(x, "float") for x in ref.at(Fraction(t))])
        worst = max(worst, float(np.linalg.norm(obj.flatten(traj.at(t)) - r)))
    assert worst <= traj.error_estimate
    assert traj.error_estimate <= 1e5 * max(worst, EPS)
    print(f"\n{name}: true {worst:.2e}, estimate {traj.error_estimate:.2e}, ratio {traj.error_estimate / worst:.3g}")


def test_which_nets_take_b1_by_default():
    """Deep linear nets above 800 parameters, with or without biases, take B1 (no Lanczos); at or below it, or
    with kinks, the measured λ_min; 'b1' on a net B1 does not cover is refused (and on the arb tier for a
    biased net, whose estimate is a rerun's), and so is an unknown mode."""
    digits = theory.data.digits(40, seed=0, normalize="scale")
    big = theory.Objective(theory.DeepLinear((64, 12, 12, 10)), digits.loss("cross_entropy"))
    small = theory.Objective(theory.DeepLinear((64, 3, 3, 10)), digits.loss("cross_entropy"))
    biased = theory.Objective(theory.DeepLinear((64, 12, 12, 10), bias=True), digits.loss("cross_entropy"))
    relu = theory.Objective(theory.ReLUNet((64, 12, 12, 10)), digits.loss("cross_entropy"))
    assert big.num_params > 800 >= small.num_params
    assert biased.num_params > 800
    assert applies(big) and applies(small) and applies(biased) and not applies(relu)

    def growth_of(obj, mode=True):
        return _FloatFlow(obj, numerics.xavier_init(obj, seed=0), 20, mode).growth

    assert isinstance(growth_of(big), B1Growth) and isinstance(growth_of(big, "measured"), MeasuredGrowth)
    assert isinstance(growth_of(small), MeasuredGrowth) and isinstance(growth_of(small, "b1"), B1Growth)
    assert isinstance(growth_of(biased), B1Growth) and isinstance(growth_of(relu), MeasuredGrowth)
    with pytest.raises(ValueError, match="needs a deep linear net"):
        growth_of(relu, "b1")
    with pytest.raises(ValueError, match="rerun"):
        numerics.gradient_flow(biased, numerics.xavier_init(biased, seed=0), 0.1, dps=20, error_growth="b1")
    with pytest.raises(ValueError, match="error_growth"):
        numerics.gradient_flow(small, numerics.xavier_init(small, seed=0), 0.1, dps=None, error_growth="b2")
