"""Hints for the common mistakes: each is triggered by an implementation making that mistake, and
is not given for correct output or for a different bug."""

import numpy as np
import pytest

from proofs_check import check_instance, float64_implementation, validate
from proofs_check.validation import hints as H
from proofs_check.validation.runner import _options
from proofs_check.validation.strategies import Instance, degenerate_instances

F = float64_implementation


# ------------------------------------------------------------------------- buggy implementations
def sgd_damped(tau):
    """torch.optim.SGD(lr=η, momentum=β, dampening=τ) written out in numpy (β = 0: no buffer, GD)."""
    def run(weights, Phi, eta, beta, steps):
        if beta == 0:
            return F("gd")(weights, Phi, eta, steps)
        th, v, out = [w.copy() for w in weights], None, [[w.copy() for w in weights]]
        for _ in range(steps):
            g = F("gradient")(th, Phi)
            v = g if v is None else [beta * a + (1 - tau) * b for a, b in zip(v, g)]
            th = [w - eta * a for w, a in zip(th, v)]
            out.append([w.copy() for w in th])
        return out
    return run


def nesterov_lookahead(weights, Phi, eta, beta, steps):
    """Returns y_k (torch's parameters under nesterov=True) instead of x_k."""
    x, y, out = [w.copy() for w in weights], [w.copy() for w in weights], [[w.copy() for w in weights]]
    for _ in range(steps):
        g = F("gradient")(y, Phi)
        x_new = [a - eta * b for a, b in zip(y, g)]
        y = [a + beta * (a - b) for a, b in zip(x_new, x)]
        x = x_new
        out.append([w.copy() for w in y])
    return out


def gradient_times(c):
    return lambda w, P: [c * g for g in F("gradient")(w, P)]


def gradient_float32(weights, Phi):
    return F("gradient")([w.astype(np.float32) for w in weights], Phi.astype(np.float32))


def _end_to_end(weights):
    z = weights[0]
    for W in weights[1:]:
        z = W @ z
    return z


def gauss_newton_hessian(weights, Phi):
    """JᵀJ: the Hessian at a target equal to the network's own output (zero residual)."""
    return F("hessian")(weights, _end_to_end(weights))


def gauss_newton_lambda_min(weights, Phi):
    return float(np.linalg.eigvalsh(gauss_newton_hessian(weights, Phi))[0])


def lambda_smallest_magnitude(weights, Phi):
    """What eigsh(which='SM') returns: the eigenvalue closest to zero."""
    ev = np.linalg.eigvalsh(F("hessian")(weights, Phi))
    return float(ev[np.argmin(np.abs(ev))])


# -------------------------------------------------------------------------------- each triggers
@pytest.mark.parametrize("kind,impl,text", [
    ("heavy_ball", sgd_damped(0.5), "dampening=0.5"),
    ("nesterov", nesterov_lookahead, "look-ahead points y_k"),
    ("gradient", gradient_times(2.0), "got = 2 × expected"),
    ("gradient", gradient_float32, "consistent with float32 arithmetic"),
    ("hessian", gauss_newton_hessian, "Gauss–Newton part JᵀJ"),
    ("lambda_min", gauss_newton_lambda_min, "Gauss–Newton part JᵀJ"),
    ("lambda_min", lambda_smallest_magnitude, "smallest in magnitude"),
    ("gd", lambda w, P, e, s: F("gd")(w, P, 0.5 * e, s), "step size 1/2 × η"),
])
def test_each_common_mistake_gets_its_hint(kind, impl, text):
    r = validate(kind, impl, seed=0, shrink_limit=100)
    assert r.failure == "mismatch", r.summary()
    assert "hint: " in r.message and text in r.message, r.message


def test_missing_half_and_mse_mean_are_named():
    r = validate("gradient", gradient_times(2.0), seed=0)
    assert "missing ½" in r.message
    # MSELoss(mean) on a d_N·d_0 = 6 output: factor 2/6
    inst = Instance((2, 2, 3), np.array([[0.5, -1.0], [0.25, 0.75], [1.0, 0.5]]),
                    [np.array([[1.0, 0.5], [-0.5, 0.25]]), np.array([[0.5, 1.0], [-1.0, 0.25], [0.75, 0.5]])])
    h = _hints("gradient", gradient_times(2 / 6), inst)
    assert any("got = 1/3 × expected" in x and "MSELoss" in x for x in h), h


def test_dampening_equal_to_momentum_is_recognised_with_the_fitted_value():
    r = validate("heavy_ball", sgd_damped(0.9), seed=0, families=("generic",), shrink_limit=60)
    assert r.failure == "mismatch" and "dampening=0.9" in r.message, r.message


# ------------------------------------------------------------------------------- and only then
def _hints(kind, impl, inst, ignore_ratio=False):
    o = check_instance(kind, impl, inst)
    assert o is not None
    if ignore_ratio:
        o.ratio = np.inf  # ask for hints although the output is within tolerance
    return H._diagnose(kind, impl, o._inst, "linear", o, _options(kind, None, 0.0, "linear"))


def _instances(kind):
    from hypothesis import find, settings, strategies as st  # noqa: F401

    from proofs_check.validation.runner import default_strategy

    strat = default_strategy(kind)
    rng_examples = []
    import hypothesis

    @hypothesis.settings(max_examples=6, database=None, derandomize=True,
                         suppress_health_check=list(hypothesis.HealthCheck))
    @hypothesis.given(strat)
    def collect(inst):
        rng_examples.append(inst)

    collect()
    return degenerate_instances(kind) + rng_examples


@pytest.mark.parametrize("kind", ["hessian", "lambda_min", "gd", "heavy_ball", "nesterov", "gradient"])
def test_correct_output_gets_no_mistake_hint(kind):
    """The checks for a mistake never claim that correct output (on drawn and degenerate instances,
    stationary ones included) looks like the mistake. (The precision hint is left out: a correct
    float64 result is consistent with float32 rounding too; it is only consulted on a failure.)"""
    checks = H._CHECKS.get(kind, []) + [H._factor_hint]
    for inst in _instances(kind):
        o = check_instance(kind, F(kind), inst)
        if o is None:
            continue
        assert o.ok
        opts = _options(kind, None, 0.0, "linear")
        for check in checks:
            assert check(kind, o._inst, "linear", o._ref, o._got, opts, opts["tiny"]) is None, (check, inst)
    # and through validate: a pass carries no hint
    r = validate(kind, F(kind), budget=5, seed=0)
    assert r.passed and "hint" not in r.message


def test_a_different_bug_gets_no_misleading_hint():
    def transposed(weights, Phi):  # W_j instead of W_jᵀ in backprop: not a constant factor
        P = [np.eye(weights[0].shape[1])]
        for W in weights:
            P.append(W @ P[-1])
        delta, out = P[-1] - Phi, [None] * len(weights)
        for j in range(len(weights) - 1, -1, -1):
            out[j] = delta @ P[j].T
            delta = weights[j] @ delta if weights[j].shape[0] == weights[j].shape[1] else weights[j].T @ delta
        return out

    r = validate("gradient", transposed, seed=0, shrink_limit=100)
    assert r.failure == "mismatch" and "hint" not in r.message, r.message

    # on a one-entry minimal instance any wrong value is "c × expected": the confirmation
    # instances refuse the factor for an additive error
    r = validate("gradient", lambda w, P: [g + 0.1 for g in F("gradient")(w, P)], seed=0)
    assert r.failure == "mismatch" and r.counterexample["instance"]["widths"] == [1, 1]
    assert "× expected" not in r.message, r.message
    # the linear-net Hessian on a ReLU net: a 3/2 ratio on the minimal instance, not a factor
    r = validate("hessian", F("hessian"), model="relu", seed=0, shrink_limit=100)
    assert r.failure == "mismatch" and "× expected" not in r.message, r.message

    def noisy_hessian(weights, Phi):
        Hm = F("hessian")(weights, Phi)
        return Hm + 1e-3 * np.abs(Hm).max() * np.eye(Hm.shape[0])

    r = validate("hessian", noisy_hessian, seed=0, shrink_limit=100)
    assert r.failure == "mismatch" and "Gauss" not in r.message and "×" not in r.message, r.message
