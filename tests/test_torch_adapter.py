"""PyTorch through the adapter: autograd and torch.optim.SGD pass validation, torch's momentum
conventions correspond to THEORY's methods as documented, and a wrong convention fails."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (optional extra: pip install -e '.[torch]')")

import numerics  # noqa: E402
import theory  # noqa: E402
from proofs_check.validation import torch_adapter as ta  # noqa: E402
from proofs_check import validate  # noqa: E402


@pytest.mark.parametrize("kind", ["gradient", "hvp", "hessian", "lambda_min", "gd", "heavy_ball", "nesterov"])
def test_torch_autograd_and_sgd_pass(kind):
    r = ta.validate_model(kind, seed=0)
    assert r.passed, r.summary()
    assert r.instances >= 20


@pytest.mark.parametrize("kind", ["gradient", "hessian", "heavy_ball"])
def test_torch_relu_nets_pass(kind):
    r = ta.validate_model(kind, relu=True, seed=0)
    assert r.passed, r.summary()
    assert r.model == "relu"


def test_a_fixed_module_fixes_the_widths_and_the_model():
    model = ta.sequential((3, 4, 2), relu=True)
    assert ta.widths_of(model) == (3, 4, 2)
    r = ta.validate_model("gradient", model, budget=10)
    assert r.passed and r.model == "relu" and r.worst_instance["widths"] == [3, 4, 2]
    # without widths=..., instances of other widths cannot be loaded into it: reported as raised
    r = validate("gradient", ta.gradient(model), budget=5, model="relu")
    assert r.failure == "raised" and "widths_of" in r.message


def _instance(widths=(2, 3, 2), seed=0):
    rng = np.random.default_rng(seed)
    Phi = rng.standard_normal((widths[-1], widths[0]))
    obj = theory.Objective(theory.DeepLinear(widths), theory.WhitenedSquare(Phi))
    return obj, Phi, numerics.gaussian_init(obj, 0.8, seed=seed)


def test_sgd_momentum_is_heavy_ball_with_eta_lr_beta_mu():
    """torch: v = μv + g, p = p − lr·v (dampening 0) ≡ θ_{k+1} = θ_k − lr∇f + μ(θ_k − θ_{k−1}), θ_{−1} = θ_0."""
    obj, Phi, th = _instance()
    lr, mu, K = 0.05, 0.7, 12
    its = ta.heavy_ball()(th, Phi, lr, mu, K)
    ref = numerics.heavy_ball(obj, th, lr, mu, K).thetas
    for a, b in zip(its, ref):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-14)


def test_sgd_dampening_is_heavy_ball_after_an_undamped_first_step():
    """dampening τ: p_1 = p_0 − lr·g_0 (undamped), then heavy ball with η = lr(1 − τ), β = μ.
    So SGD(dampening=μ) (the EMA-like convention) is not THEORY's heavy ball: validation fails."""
    obj, Phi, th = _instance(seed=1)
    lr, mu, tau, K = 0.05, 0.6, 0.6, 8

    def damped(params, eta, beta):
        return torch.optim.SGD(params, lr=eta, momentum=beta, dampening=tau)

    its = ta.heavy_ball(optimizer=damped)(th, Phi, lr, mu, K)
    flat = [obj.flatten(t) for t in its]
    g = lambda x: obj.flatten(numerics.gradient(obj, obj.unflatten(x)))  # noqa: E731
    np.testing.assert_allclose(flat[1], flat[0] - lr * g(flat[0]), rtol=1e-13, atol=1e-15)
    for k in range(1, K):
        pred = flat[k] - lr * (1 - tau) * g(flat[k]) + mu * (flat[k] - flat[k - 1])
        np.testing.assert_allclose(flat[k + 1], pred, rtol=1e-12, atol=1e-14)
    r = validate("heavy_ball", ta.heavy_ball(optimizer=damped), seed=0)
    assert r.failure == "mismatch" and r.counterexample["instance"]["steps"] >= 1


def test_sgd_nesterov_parameters_are_the_lookahead_points():
    """torch nesterov=True: p_k = y_k = x_k + μ(x_k − x_{k−1}) of numerics.nesterov(beta=μ), and the
    adapter's x_k = p_k + lr·μ·buffer equals numerics' x_k."""
    obj, Phi, th = _instance(seed=2)
    lr, mu, K = 0.04, 0.8, 10
    xs = numerics.nesterov(obj, th, lr, K, beta=mu).thetas
    ps = ta._run(ta.TorchNet(), th, Phi, K,
                 lambda params: torch.optim.SGD(params, lr=lr, momentum=mu, nesterov=True))
    for k in range(1, K + 1):
        for p, x, xp in zip(ps[k], xs[k], xs[k - 1]):
            np.testing.assert_allclose(p, x + mu * (x - xp), rtol=1e-12, atol=1e-14)
    for a, b in zip(ta.nesterov()(th, Phi, lr, mu, K), xs):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-14)


def test_a_wrong_learning_rate_in_a_torch_loop_fails():
    r = validate("gd", ta.gd(optimizer=lambda params, eta: torch.optim.SGD(params, lr=eta * (1 + 1e-6))), seed=0)
    assert r.failure == "mismatch"


def test_unsupported_modules_are_refused():
    with pytest.raises(ValueError, match="bias"):
        ta.structure(torch.nn.Sequential(torch.nn.Linear(2, 2)))
    with pytest.raises(TypeError, match="Tanh"):
        ta.structure(torch.nn.Sequential(torch.nn.Linear(2, 2, bias=False), torch.nn.Tanh()))
    with pytest.raises(ValueError, match="between every two"):
        ta.structure(torch.nn.Sequential(torch.nn.Linear(2, 2, bias=False), torch.nn.ReLU()))
    with pytest.raises(ValueError, match="chain"):
        ta.structure(torch.nn.Sequential(torch.nn.Linear(2, 3, bias=False), torch.nn.Linear(2, 2, bias=False)))
    with pytest.raises(TypeError):
        ta.structure([torch.nn.Linear(2, 2, bias=False)])
    with pytest.raises(ValueError, match="gf"):
        ta.validate_model("gf")
