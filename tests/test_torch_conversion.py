"""proofs_check.validation.torch_adapter.from_torch_sequential: a user's nn.Sequential as a gfgd objective.

Round trip: gfgd's loss and gradient on the converted objective equal torch's float64 autograd on the
same net. Both are float64 with different summation orders, so each is within γ·M of the exact value,
M the backprop chain on absolute values (tests/test_cross_entropy.magnitude_bound) and γ the count of
summed terms times ε; they agree to 2γM.
"""

from __future__ import annotations

import numpy as np
import pytest

import numerics
import theory

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from proofs_check.validation.torch_adapter import from_torch_sequential  # noqa: E402
from test_cross_entropy import EPS, magnitude_bound  # noqa: E402


def torch_loss_and_grad(model, X, target, loss):
    model = model.double()
    for p in model.parameters():
        p.grad = None
    out = model(torch.as_tensor(X, dtype=torch.float64))
    if loss == "cross_entropy":
        f = nn.functional.cross_entropy(out, torch.as_tensor(target, dtype=torch.long))
    else:
        f = 0.5 * ((out - torch.as_tensor(target, dtype=torch.float64)) ** 2).sum(dim=1).mean()
    f.backward()
    grads = [m.weight.grad.numpy() for m in model if isinstance(m, nn.Linear)]
    return float(f.detach()), grads


CASES = [
    ("linear", lambda: nn.Sequential(nn.Linear(4, 6, bias=False), nn.Linear(6, 5, bias=False),
                                     nn.Linear(5, 3, bias=False)), theory.DeepLinear, None),
    ("relu", lambda: nn.Sequential(nn.Linear(4, 6, bias=False), nn.ReLU(), nn.Linear(6, 5, bias=False),
                                   nn.ReLU(), nn.Identity(), nn.Linear(5, 3, bias=False)), theory.ReLUNet, 0.0),
    ("leaky", lambda: nn.Sequential(nn.Linear(4, 6, bias=False), nn.LeakyReLU(0.2), nn.Linear(6, 3, bias=False)),
     theory.ReLUNet, 0.2),
]


@pytest.mark.parametrize("loss", ["cross_entropy", "square"])
@pytest.mark.parametrize("name, build, kind, alpha", CASES)
def test_round_trip_loss_and_gradient(name, build, kind, alpha, loss):
    torch.manual_seed(0)
    model = build()  # float32 weights, as users usually have them
    rng = np.random.default_rng(1)
    X = rng.standard_normal((12, 4))
    target = rng.integers(0, 3, size=12) if loss == "cross_entropy" else rng.standard_normal((12, 3))
    obj, theta = from_torch_sequential(model, torch.as_tensor(X), target, loss)
    assert isinstance(obj.model, kind) and (alpha is None or obj.model.alpha == alpha)
    # weights copied exactly
    lin = [m for m in model if isinstance(m, nn.Linear)]
    for W, m in zip(theta, lin):
        assert W.dtype == np.float64 and np.array_equal(W, m.weight.detach().double().numpy())
    f, g = numerics.value_and_gradient(obj, theta)
    ft, gt = torch_loss_and_grad(model, X, target, loss)
    gamma = (2 * sum(obj.widths) + obj.loss.num_samples + 10) * EPS
    mag = magnitude_bound(obj, theta, head=None if loss == "cross_entropy" else np.abs(obj.loss.Y.T))
    worst = max(np.max(np.abs(a - b).reshape(-1) / (2 * gamma * m.reshape(-1)))
                for a, b, m in zip(g, gt, obj.unflatten(mag)))
    print(f"\n{name}/{loss}: |f - f_torch| = {abs(f - ft):.1e}, worst gradient error / bound = {worst:.1e}")
    assert abs(f - ft) <= 2 * gamma * max(1.0, abs(f), float(mag.max()))
    assert worst <= 1.0


def test_refusals_name_the_layer():
    X, y = np.zeros((3, 2)), np.array([0, 1, 1])
    with pytest.raises(TypeError, match="layer 1 is Tanh"):
        from_torch_sequential(nn.Sequential(nn.Linear(2, 3, bias=False), nn.Tanh(), nn.Linear(3, 2, bias=False)), X, y)
    with pytest.raises(ValueError, match="layer 1 .*has no bias unlike the first"):
        from_torch_sequential(nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2, bias=False)), X, y)
    with pytest.raises(ValueError, match="follows the last Linear"):
        from_torch_sequential(nn.Sequential(nn.Linear(2, 2, bias=False), nn.ReLU()), X, y)
    with pytest.raises(ValueError, match="hidden activations differ"):
        from_torch_sequential(nn.Sequential(nn.Linear(2, 3, bias=False), nn.ReLU(), nn.Linear(3, 3, bias=False),
                                            nn.LeakyReLU(0.1), nn.Linear(3, 2, bias=False)), X, y)
    with pytest.raises(ValueError, match="hidden activations differ"):
        from_torch_sequential(nn.Sequential(nn.Linear(2, 3, bias=False), nn.ReLU(), nn.Linear(3, 3, bias=False),
                                            nn.Linear(3, 2, bias=False)), X, y)
    with pytest.raises(ValueError, match="does not chain"):
        from_torch_sequential(nn.Sequential(nn.Linear(2, 3, bias=False), nn.Linear(4, 2, bias=False)), X, y)
    with pytest.raises(ValueError, match="labels out of range"):
        from_torch_sequential(nn.Sequential(nn.Linear(2, 2, bias=False)), X, np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="nn.Sequential"):
        from_torch_sequential(nn.Linear(2, 2, bias=False), X, y)
    with pytest.raises(ValueError, match="loss must be"):
        from_torch_sequential(nn.Sequential(nn.Linear(2, 2, bias=False)), X, y, loss="mse")


def _magnitude_biased(obj, theta, head=None):
    """magnitude_bound for θ = [W_1, b_1, …]: a bias is a weight on a constant input 1, so its
    chain is the weight's with |x| replaced by 1 (same derivation as magnitude_bound)."""
    Ws, bs = theta[0::2], theta[1::2]
    X = np.abs(obj.loss.X.T)
    acts, z = [X], np.abs(Ws[0]) @ X + np.abs(bs[0])[:, None]
    for W, b in zip(Ws[1:], bs[1:]):
        acts.append(z)
        z = np.abs(W) @ z + np.abs(b)[:, None]
    n = obj.loss.num_samples
    delta = (2.0 + z.sum(axis=0, keepdims=True)) / n * np.ones_like(z) if head is None else (z + head) / n
    grads = []
    for j in range(len(Ws) - 1, -1, -1):
        grads.append([delta @ acts[j].T, delta.sum(axis=1)])
        delta = np.abs(Ws[j]).T @ delta
    return [a for pair in reversed(grads) for a in pair]


@pytest.mark.parametrize("loss", ["cross_entropy", "square"])
@pytest.mark.parametrize("act", [None, nn.ReLU, lambda: nn.LeakyReLU(0.1)])
def test_round_trip_with_biases(act, loss):
    torch.manual_seed(2)
    mid = [act()] if act is not None else []
    model = nn.Sequential(nn.Linear(4, 6), *mid, nn.Linear(6, 5), *([act()] if act is not None else []), nn.Linear(5, 3))
    rng = np.random.default_rng(3)
    X = rng.standard_normal((12, 4))
    target = rng.integers(0, 3, size=12) if loss == "cross_entropy" else rng.standard_normal((12, 3))
    obj, theta = from_torch_sequential(model, torch.as_tensor(X), target, loss)
    assert obj.model.bias and len(theta) == 6
    lin = [m for m in model if isinstance(m, nn.Linear)]
    for j, m in enumerate(lin):
        assert np.array_equal(theta[2 * j], m.weight.detach().double().numpy())
        assert np.array_equal(theta[2 * j + 1], m.bias.detach().double().numpy())
    f, g = numerics.value_and_gradient(obj, theta)
    model = model.double()
    out = model(torch.as_tensor(X, dtype=torch.float64))
    ft = (nn.functional.cross_entropy(out, torch.as_tensor(target, dtype=torch.long)) if loss == "cross_entropy"
          else 0.5 * ((out - torch.as_tensor(target, dtype=torch.float64)) ** 2).sum(dim=1).mean())
    ft.backward()
    gt = [a for m in lin for a in (m.weight.grad.numpy(), m.bias.grad.numpy())]
    gamma = (2 * sum(obj.widths) + 2 * len(lin) + obj.loss.num_samples + 10) * EPS  # + one addition per bias
    mags = _magnitude_biased(obj, theta, None if loss == "cross_entropy" else np.abs(obj.loss.Y.T))
    worst = max(float(np.max(np.abs(a - b) / (2 * gamma * m))) for a, b, m in zip(g, gt, mags))
    print(f"\nbiased {loss}: worst gradient error / bound = {worst:.1e}")
    assert abs(f - float(ft.detach())) <= 2 * gamma * max(1.0, abs(f), max(float(m.max()) for m in mags))
    assert worst <= 1.0
