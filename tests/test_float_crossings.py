"""Lone kink crossings of the float tier through the next step's pass (numerics.float_crossings) against
the general path (two order-1 passes per kink, FAST_LONE off): the same events, states, saltation
factors and error estimates, on nets with many crossings, with sliding stretches (where the lone path
must hand back to the general one), biases, leaky slopes and cross-entropy. And the one-sample
gradients it rests on (numerics.gradients.sample_gradient) against the whole-data gradient."""

import numpy as np
import pytest

import numerics
import theory
from numerics.backends import BACKENDS
from numerics.float_crossings import FloatCrossings
from numerics.gradients import evaluate, primal_masks, sample_gradient, to_backend


def _instance(seed, widths, alpha, bias, n, xent=False, scale=0.5):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, widths[0]))
    loss = (theory.CrossEntropy(X, list(rng.integers(0, widths[-1], n))) if xent
            else theory.SquareLoss(X, rng.standard_normal((n, widths[-1]))))
    obj = theory.Objective(theory.ReLUNet(widths, alpha, bias), loss)
    return obj, obj.unflatten(rng.standard_normal(obj.num_params) * scale)


@pytest.mark.parametrize("alpha,bias,xent", [(0.0, False, False), (0.1, True, False), (0.0, True, True)])
def test_sample_gradients_sum_to_the_gradient(alpha, bias, xent):
    """Σ_i sample_gradient(i) = ∇f: one column at a time against the whole data matrix at once."""
    obj, th = _instance(3, (5, 7, 6, 3), alpha, bias, 17, xent)
    b = BACKENDS["float"]
    Ws = to_backend(obj, [np.asarray(x, float) for x in th], b)
    _, g = evaluate(obj, Ws, b, want_value=False)
    masks = primal_masks(obj, Ws, b)
    acc = [np.zeros_like(x) for x in g]
    for i in range(obj.loss.num_samples):
        acc = [a + x for a, x in zip(acc, sample_gradient(obj, Ws, i, [m[:, i:i + 1] for m in masks]))]
    for a, x in zip(acc, g):
        assert np.abs(a - x).max() <= 1e-13 * max(1.0, float(np.abs(x).max()))


# (seed, widths, α, bias, samples, cross-entropy, T): crossings on all; seed 44 (the windows test's net)
# has sliding stretches that end, so crossings next to sliding go the general way
CASES = [(44, (4, 8, 8, 2), 0.0, False, 12, False, 0.5),
         (5, (6, 10, 10, 3), 0.1, True, 30, False, 0.3),
         (7, (6, 10, 10, 3), 0.0, False, 30, True, 1.0)]


@pytest.mark.parametrize("case", CASES, ids=["sliding", "leaky-bias", "xent"])
def test_lone_path_matches_general_path(case, monkeypatch):
    seed, widths, alpha, bias, n, xent, T = case
    obj, th = _instance(seed, widths, alpha, bias, n, xent)
    used = {"fast": 0, "back": 0}
    lone_fast = FloatCrossings._lone_fast

    def counting(self, *a):
        out = lone_fast(self, *a)
        used["fast" if out is not None else "back"] += 1
        return out

    monkeypatch.setattr(FloatCrossings, "_lone_fast", counting)
    fast = numerics.gradient_flow(obj, th, T, dps=None)
    monkeypatch.setattr(FloatCrossings, "FAST_LONE", False)
    general = numerics.gradient_flow(obj, th, T, dps=None)
    key = [(e.kind, e.layer, e.sample, e.unit) for e in general.events]
    assert [(e.kind, e.layer, e.sample, e.unit) for e in fast.events] == key
    assert used["fast"] >= 5 and used["fast"] <= sum(k[0] == "cross" for k in key), (used, len(key))
    if seed == 44:
        assert any(k[0] == "enter sliding" for k in key) and used["back"] >= 1, used  # the hand-back is exercised
    scale = max(1.0, max(float(np.abs(W).max()) for W in general.at(T)))
    for a, b in zip(fast.events, general.events):
        assert abs(float(a.t - b.t)) <= 1e-12 * T
    for t in np.linspace(0, T, 7):
        d = max(float(np.abs(x - y).max()) for x, y in zip(fast.at(t), general.at(t)))
        assert d <= 1e-12 * scale
    sf = np.array([s[4] for s in fast.saltations])
    sg = np.array([s[4] for s in general.saltations])
    assert len(sf) == len(sg) and np.all(np.abs(sf - sg) <= 1e-9 * sg)
    assert abs(fast.error_estimate - general.error_estimate) <= 1e-6 * general.error_estimate
    print(f"{widths} T={T}: {len(key)} events, lone path {used['fast']}, handed back {used['back']}; estimates "
          f"{fast.error_estimate:.3g} / {general.error_estimate:.3g}")
