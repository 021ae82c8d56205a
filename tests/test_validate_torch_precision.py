"""Real float32 torch models under validate(precision=...): a correct float32 autograd gradient
passes at float32 and fails at float64 (with the float32 hint); MSELoss() (mean) fails at every
precision with the constant-factor hint; torch's dampening and Nesterov parameters get their hints;
torch's own flush-to-zero mode (torch.set_flush_denormal) is accepted with flush_to_zero=True."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (extra: pip install -e '.[torch]')")

from proofs_check import check_instance, validate  # noqa: E402
from proofs_check.validation import torch_adapter as ta  # noqa: E402
from proofs_check.validation.strategies import Instance  # noqa: E402


def f32(widths):
    return ta.sequential(widths, dtype=torch.float32)


def mse_mean_gradient(weights, Phi):
    """A float32 model trained with torch.nn.MSELoss() (mean over the d_N·d_0 entries, no ½)."""
    widths = (weights[0].shape[1],) + tuple(w.shape[0] for w in weights)
    net = ta.TorchNet(f32)
    module = net.build(weights)
    out = module(torch.eye(widths[0], dtype=torch.float32))
    loss = torch.nn.MSELoss()(out, torch.as_tensor(np.asarray(Phi).T, dtype=torch.float32))
    return [g.numpy() for g in torch.autograd.grad(loss, net.params(module))]


def test_correct_float32_torch_gradient_passes_at_float32_and_fails_at_float64():
    g32 = ta.gradient(f32)
    r = validate("gradient", g32, seed=0, precision="float32")
    assert r.passed, r.summary()
    assert 1e-3 < r.worst_ratio <= 1 and not r.notes  # float32 outputs accepted without a note
    r = validate("gradient", g32, seed=0)
    assert r.failure == "mismatch" and r.worst_ratio > 1e4
    assert "consistent with float32 arithmetic" in r.message
    assert any("float32" in n for n in r.notes)


@pytest.mark.parametrize("precision", ["float32", "float64", "bfloat16"])
def test_mse_mean_loss_fails_at_any_precision_with_the_factor_hint(precision):
    r = validate("gradient", mse_mean_gradient, seed=0, precision=precision)
    assert r.failure == "mismatch", r.summary()
    assert "× expected" in r.message and "MSELoss" in r.message, r.message


def test_torch_dampening_and_nesterov_parameters_get_their_hints():
    damped = ta.heavy_ball(optimizer=lambda ps, eta, beta: torch.optim.SGD(ps, lr=eta, momentum=beta, dampening=0.3))
    r = validate("heavy_ball", damped, seed=0, shrink_limit=60)
    assert r.failure == "mismatch" and "dampening=0.3" in r.message, r.message

    def raw_parameters(weights, Phi, eta, beta, steps):  # torch's p_k = y_k, not x_k
        make = (lambda ps: torch.optim.SGD(ps, lr=eta, momentum=beta, nesterov=True)) if beta > 0 else \
            (lambda ps: torch.optim.SGD(ps, lr=eta))
        return ta._run(ta.TorchNet(), weights, Phi, steps, make)

    r = validate("nesterov", raw_parameters, seed=0, shrink_limit=60)
    assert r.failure == "mismatch" and "look-ahead points y_k" in r.message, r.message


def test_torch_flush_denormal_mode():
    """torch.set_flush_denormal(True) (x86 FTZ/DAZ in the calling thread): on an instance with a
    subnormal input amplified to a normal result it needs flush_to_zero=True."""
    grad = ta.hvp()

    def ftz_hvp(weights, Phi, v):
        old = torch.set_flush_denormal(True)
        if not old and not torch.set_flush_denormal(True):
            pytest.skip("this CPU has no flush-denormal mode")
        try:
            return grad(weights, Phi, v)
        finally:
            torch.set_flush_denormal(False)

    inst = Instance((1, 1, 1), np.array([[0.0]]), [np.array([[0.0]]), np.array([[2.0**20]])],
                    v=[np.array([[2.225e-309]]), np.array([[0.0]])])
    o = check_instance("hvp", ftz_hvp, inst)
    if o.ok:
        pytest.skip("torch did not flush on this platform")
    assert check_instance("hvp", ftz_hvp, inst, flush_to_zero=True).ok
    assert validate("hvp", ftz_hvp, seed=1, flush_to_zero=True).passed
