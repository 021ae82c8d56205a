"""PyTorch models and optimisers as implementations to validate (optional extra ``torch``).

Install with ``python -m pip install -e ".[torch]"`` (pins ``torch==2.13.0``). Importing this module
without torch raises an ``ImportError`` saying so.

What it wraps
-------------
A ``torch.nn.Sequential`` of bias-free ``nn.Linear`` layers, optionally with ``nn.ReLU`` between
every two of them (``Linear, ReLU, Linear, ..., Linear``), in float64. ``nn.Linear(d_{j-1}, d_j)``
stores W_j as ``weight`` of shape ``(d_j, d_{j-1})``: exactly gfgd's layout, W_1 first. The loss is
the whitened square loss on the identity input, ½‖model(I)ᵀ − Φ‖_F² (``model(I)`` has rows
h(e_i)ᵀ), written in torch and differentiated by autograd:

* :func:`gradient`, :func:`hvp` (double backward), :func:`hessian` (double backward on every
  basis direction), :func:`lambda_min` (``torch.linalg.eigvalsh``);
* :func:`gd`, :func:`heavy_ball`, :func:`nesterov`: ``torch.optim.SGD`` (or your optimiser factory)
  stepped ``steps`` times on that loss.

Each returns a callable with the protocol signature of :mod:`proofs_check.validation.protocols`, so
``proofs_check.validate("heavy_ball", torch_adapter.heavy_ball())`` validates torch's SGD with
momentum; :func:`validate_model` does the same for a given module (fixing its widths and choosing
``model="relu"`` when it has ReLUs).

torch's momentum convention, and THEORY's heavy ball
----------------------------------------------------
``torch.optim.SGD(lr=α, momentum=μ, dampening=τ, nesterov=False)`` keeps a buffer v (a sum of
gradients, not a velocity) and updates, with g_k = ∇f(p_k)::

    v_0 = g_0 (first step: the buffer is the raw gradient, no dampening)
    v_k = μ v_{k−1} + (1 − τ) g_k        (k ≥ 1)
    p_{k+1} = p_k − α v_k

THEORY's heavy ball is θ_{k+1} = θ_k − η∇f(θ_k) + β(θ_k − θ_{k−1}), θ_{−1} = θ_0. Since
p_k − p_{k−1} = −α v_{k−1}, for τ = 0: p_{k+1} = p_k − α g_k + μ(p_k − p_{k−1}), and p_1 = p_0 − α g_0
is the heavy-ball step with θ_{−1} = θ_0. So **with dampening 0 and a constant lr, torch's iterates
are exactly the heavy ball with η = lr, β = momentum** (the buffer is v_k = (θ_k − θ_{k+1})/η). The
conventions differ in three places that matter in practice:

1. **dampening τ > 0**: steps k ≥ 1 are the heavy ball with η = lr·(1 − τ), β = μ, but torch's
   first step uses the undamped gradient (p_1 = p_0 − lr·g_0), i.e. θ_{−1} = θ_0 + (lr·τ/μ)·g_0
   instead of θ_0. ``dampening = μ`` is the "EMA" convention v ← μv + (1 − μ)g, which is *not*
   THEORY's heavy ball with η = lr (the validator recognises it and says so).
2. **a learning-rate schedule**: torch rescales the whole buffer by the current lr, so
   β_eff,k = μ·lr_k/lr_{k−1} in the heavy-ball form; the velocity form v ← μv − lr_k g, θ ← θ + v
   (Sutskever et al. 2013) gives β = μ exactly. Both agree for a constant lr.
3. **weight decay**: g_k includes wd·p_k; that is the heavy ball on f + (wd/2)‖θ‖², not on f.

``nesterov=True`` updates v_k = μ v_{k−1} + g_k, p_{k+1} = p_k − α(g_k + μ v_k). With
u_k = −α v_k and x_{k+1} = p_k − α g_k one checks x_{k+1} − x_k = u_k and p_{k+1} = x_{k+1} +
μ(x_{k+1} − x_k): **torch's parameters are the look-ahead points y_k** of Nesterov's method
x_{k+1} = y_k − η∇f(y_k), y_{k+1} = x_{k+1} + β(x_{k+1} − x_k) with η = lr, β = μ, x_0 = y_0 = p_0
(``numerics.nesterov(..., beta=μ)``). The x_k are recovered as x_k = p_k + lr·μ·v_{k−1} (the buffer
after step k − 1; x_0 = p_0), which is what :func:`nesterov` returns.

The tests hold each of these statements to numerics' iterates and validate the adapters.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

try:
    import torch
    from torch import nn
except ImportError as e:  # pragma: no cover - exercised only without torch
    raise ImportError("proofs_check.torch_adapter needs PyTorch: python -m pip install -e \".[torch]\" "
                      "(torch==2.13.0)") from e

ModelSpec = "nn.Sequential | Callable[[tuple[int, ...]], nn.Sequential] | None"


def sequential(widths: Sequence[int], relu: bool = False, dtype: torch.dtype = torch.float64) -> nn.Sequential:
    """``nn.Sequential`` of bias-free ``nn.Linear(d_{j-1}, d_j)`` (with ``nn.ReLU`` in between if ``relu``)."""
    widths = tuple(int(w) for w in widths)
    if len(widths) < 2 or any(w < 1 for w in widths):
        raise ValueError(f"widths must be at least two positive integers, got {widths}")
    layers: list[nn.Module] = []
    for j in range(1, len(widths)):
        if j > 1 and relu:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(widths[j - 1], widths[j], bias=False, dtype=dtype))
    return nn.Sequential(*layers)


def structure(model: nn.Sequential) -> tuple[list[nn.Linear], bool]:
    """The ``nn.Linear`` layers of ``model`` and whether ReLUs sit between them.

    Accepted: ``Linear (ReLU? Linear)*`` with bias-free Linear layers, ReLU either between every two
    Linear layers or nowhere. Anything else raises ``TypeError``/``ValueError`` naming the module.
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"model must be a torch.nn.Sequential, got {type(model).__name__}")
    linears: list[nn.Linear] = []
    relus: list[int] = []  # ReLU positions, counted in Linear layers seen before them
    for i, m in enumerate(model):
        if isinstance(m, nn.Linear):
            if m.bias is not None:
                raise ValueError(f"layer {i} ({m}) has a bias; gfgd's models are bias-free (bias=False)")
            linears.append(m)
        elif isinstance(m, nn.ReLU):
            relus.append(len(linears))
        else:
            raise TypeError(f"layer {i} is {type(m).__name__}; only bias-free nn.Linear and nn.ReLU are supported")
    if not linears:
        raise ValueError("model has no nn.Linear layer")
    N = len(linears)
    if relus and sorted(relus) != list(range(1, N)):
        raise ValueError(f"ReLU must sit between every two Linear layers (after layers 1..{N - 1}) or nowhere; "
                         f"found ReLU after Linear layer(s) {relus}")
    for a, b in zip(linears, linears[1:]):
        if b.in_features != a.out_features:
            raise ValueError(f"Linear layers do not chain: {a} then {b}")
    return linears, bool(relus)


def widths_of(model: nn.Sequential) -> tuple[int, ...]:
    """(d_0, ..., d_N) of a supported Sequential."""
    linears, _ = structure(model)
    return (linears[0].in_features,) + tuple(m.out_features for m in linears)


class TorchNet:
    """A model spec turned into a torch module loaded with given weights.

    ``model``: None (build :func:`sequential` for each instance's widths), a factory
    ``widths -> nn.Sequential``, or a fixed ``nn.Sequential`` (then instances must have its widths:
    pass ``widths=widths_of(model)`` to :func:`proofs_check.validate`, or use :func:`validate_model`).
    ``relu`` applies when the module is built by gfgd (``model=None``).
    """

    def __init__(self, model: Any = None, relu: bool = False) -> None:
        if model is not None and not isinstance(model, nn.Sequential) and not callable(model):
            raise TypeError(f"model must be None, an nn.Sequential or a factory widths -> nn.Sequential, "
                            f"got {type(model).__name__}")
        if isinstance(model, nn.Sequential):
            structure(model)
        self.model = model
        self.relu = relu

    def build(self, weights: Sequence[np.ndarray]) -> nn.Sequential:
        widths = (weights[0].shape[1],) + tuple(w.shape[0] for w in weights)
        if self.model is None:
            module = sequential(widths, self.relu)
        elif isinstance(self.model, nn.Sequential):
            module = self.model
        else:
            module = self.model(widths)
        linears, _ = structure(module)
        have = (linears[0].in_features,) + tuple(m.out_features for m in linears)
        if have != widths:
            raise ValueError(f"the torch model has widths {have} but the instance has {widths}; "
                             "validate with widths=widths_of(model)")
        with torch.no_grad():
            for m, w in zip(linears, weights):
                m.weight.copy_(torch.as_tensor(np.asarray(w), dtype=m.weight.dtype))
        for p in module.parameters():
            p.grad = None
        return module

    @staticmethod
    def params(module: nn.Sequential) -> list[torch.Tensor]:
        linears, _ = structure(module)
        return [m.weight for m in linears]

    @staticmethod
    def loss(module: nn.Sequential, Phi: np.ndarray) -> torch.Tensor:
        """½‖model(I)ᵀ − Φ‖²: model(I) has rows h(e_i)ᵀ, so its transpose is the end-to-end map."""
        dtype = TorchNet.params(module)[0].dtype
        d0 = Phi.shape[1]
        out = module(torch.eye(d0, dtype=dtype))
        target = torch.as_tensor(np.asarray(Phi).T, dtype=dtype)
        return 0.5 * ((out - target) ** 2).sum()


def _numpy(ts: Sequence[torch.Tensor]) -> list[np.ndarray]:
    return [t.detach().cpu().numpy().copy() for t in ts]


def gradient(model: Any = None, relu: bool = False) -> Callable:
    """``f(weights, Phi) -> list of arrays``: autograd's gradient of the loss."""
    net = TorchNet(model, relu)

    def torch_gradient(weights, Phi):
        module = net.build(weights)
        params = net.params(module)
        grads = torch.autograd.grad(net.loss(module, Phi), params)
        return _numpy(grads)

    return torch_gradient


def _grad_graph(net: TorchNet, weights, Phi):
    module = net.build(weights)
    params = net.params(module)
    grads = torch.autograd.grad(net.loss(module, Phi), params, create_graph=True)
    return params, grads


def hvp(model: Any = None, relu: bool = False) -> Callable:
    """``f(weights, Phi, v) -> list of arrays``: ∇²f·v by double backward (reverse over reverse)."""
    net = TorchNet(model, relu)

    def torch_hvp(weights, Phi, v):
        params, grads = _grad_graph(net, weights, Phi)
        vs = [torch.as_tensor(np.asarray(x), dtype=p.dtype) for x, p in zip(v, params)]
        dot = sum((g * t).sum() for g, t in zip(grads, vs))
        return _numpy(torch.autograd.grad(dot, params, allow_unused=True, materialize_grads=True))

    return torch_hvp


def _hessian_matrix(net: TorchNet, weights, Phi) -> torch.Tensor:
    params, grads = _grad_graph(net, weights, Phi)
    flat = torch.cat([g.reshape(-1) for g in grads])
    rows = []
    for i in range(flat.numel()):
        r = torch.autograd.grad(flat[i], params, retain_graph=True, allow_unused=True, materialize_grads=True)
        rows.append(torch.cat([x.reshape(-1) for x in r]))
    return torch.stack(rows).detach()


def hessian(model: Any = None, relu: bool = False) -> Callable:
    """``f(weights, Phi) -> (P, P) array``: one double-backward row per parameter (flatten order:
    W_1 row-major first, which is torch's ``weight.reshape(-1)`` order)."""
    net = TorchNet(model, relu)

    def torch_hessian(weights, Phi):
        return _hessian_matrix(net, weights, Phi).numpy().copy()

    return torch_hessian


def lambda_min(model: Any = None, relu: bool = False) -> Callable:
    """``f(weights, Phi) -> float``: ``torch.linalg.eigvalsh`` of the autograd Hessian."""
    net = TorchNet(model, relu)

    def torch_lambda_min(weights, Phi):
        return float(torch.linalg.eigvalsh(_hessian_matrix(net, weights, Phi))[0])

    return torch_lambda_min


OptimizerFactory = Callable[..., "torch.optim.Optimizer"]


def _run(net: TorchNet, weights, Phi, steps: int, make_opt: Callable[[list], Any],
         readout: Callable[[Any, list], list[np.ndarray]] | None = None) -> list[list[np.ndarray]]:
    module = net.build(weights)
    params = net.params(module)
    opt = make_opt(params)
    out = [_numpy(params)]
    for _ in range(int(steps)):
        opt.zero_grad(set_to_none=True)
        net.loss(module, Phi).backward()
        opt.step()
        out.append(readout(opt, params) if readout else _numpy(params))
    return out


def gd(model: Any = None, optimizer: OptimizerFactory | None = None, relu: bool = False) -> Callable:
    """``f(weights, Phi, eta, steps)``: ``optimizer(params, eta)`` (default ``torch.optim.SGD(params,
    lr=eta)``) stepped ``steps`` times; returns the parameters before and after every step."""
    net = TorchNet(model, relu)
    make = optimizer or (lambda params, eta: torch.optim.SGD(params, lr=eta))

    def torch_gd(weights, Phi, eta, steps):
        return _run(net, weights, Phi, steps, lambda ps: make(ps, eta))

    return torch_gd


def heavy_ball(model: Any = None, optimizer: OptimizerFactory | None = None, relu: bool = False) -> Callable:
    """``f(weights, Phi, eta, beta, steps)``: default ``torch.optim.SGD(params, lr=eta, momentum=beta)``
    (dampening 0), which is THEORY's heavy ball with η = lr, β = momentum (module docstring)."""
    net = TorchNet(model, relu)
    make = optimizer or (lambda params, eta, beta: torch.optim.SGD(params, lr=eta, momentum=beta))

    def torch_heavy_ball(weights, Phi, eta, beta, steps):
        return _run(net, weights, Phi, steps, lambda ps: make(ps, eta, beta))

    return torch_heavy_ball


def nesterov_x(opt: Any, params: list[torch.Tensor]) -> list[np.ndarray]:
    """x_k = p_k + lr·μ·v_{k−1} from a torch SGD(nesterov=True) after a step (module docstring)."""
    group = opt.param_groups[0]
    lr, mu = group["lr"], group.get("momentum", 0)
    if not mu:
        return _numpy(params)  # no momentum: x_k = y_k = p_k (plain GD)
    out = []
    for p in params:
        buf = opt.state[p].get("momentum_buffer")
        if buf is None:
            raise ValueError("the optimiser keeps no 'momentum_buffer'; nesterov() reads x_k from torch SGD's buffer")
        out.append((p.detach() + (lr * mu) * buf).cpu().numpy().copy())
    return out


def nesterov(model: Any = None, optimizer: OptimizerFactory | None = None, relu: bool = False) -> Callable:
    """``f(weights, Phi, eta, beta, steps)``: default ``torch.optim.SGD(params, lr=eta, momentum=beta,
    nesterov=True)``; returns x_0..x_steps (x_k = p_k + lr·μ·buffer, since torch's parameters are the
    look-ahead points y_k)."""
    net = TorchNet(model, relu)
    # torch refuses nesterov=True with momentum 0; that case is plain GD (x_k = y_k)
    make = optimizer or (lambda params, eta, beta: torch.optim.SGD(params, lr=eta, momentum=beta, nesterov=True)
                         if beta > 0 else torch.optim.SGD(params, lr=eta))

    def torch_nesterov(weights, Phi, eta, beta, steps):
        return _run(net, weights, Phi, steps, lambda ps: make(ps, eta, beta), readout=nesterov_x)

    return torch_nesterov


ADAPTERS: dict[str, Callable[..., Callable]] = {
    "gradient": gradient, "hvp": hvp, "hessian": hessian, "lambda_min": lambda_min,
    "gd": gd, "heavy_ball": heavy_ball, "nesterov": nesterov,
}
"""Kind -> adapter factory (``gf`` has no torch counterpart)."""


def validate_model(kind: str, model: nn.Sequential | None = None, optimizer: OptimizerFactory | None = None,
                   relu: bool = False, **kwargs: Any):
    """Validate a torch model (and optimiser, for the methods) with :func:`proofs_check.validate`.

    A fixed ``model`` fixes the widths of the instances and selects ``model="relu"`` when it has
    ReLUs; ``model=None`` builds :func:`sequential` nets of the drawn widths (``relu`` chooses).
    Other keyword arguments go to :func:`proofs_check.validate`.
    """
    from .runner import validate

    if kind not in ADAPTERS:
        raise ValueError(f"kind must be one of {sorted(ADAPTERS)} for a torch model, got {kind!r}")
    if isinstance(model, nn.Sequential):
        _, relu = structure(model)
        kwargs.setdefault("widths", widths_of(model))
    factory = ADAPTERS[kind]
    impl = factory(model, optimizer, relu) if kind in ("gd", "heavy_ball", "nesterov") else factory(model, relu)
    kwargs.setdefault("name", f"torch {kind}" + (" (ReLU)" if relu else ""))
    return validate(kind, impl, model="relu" if relu else "linear", **kwargs)
