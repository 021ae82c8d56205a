"""What can be validated: the call signatures an implementation must have, as typed Protocols.

Every protocol takes the instance in plain numpy, for a deep linear network with the whitened square
loss (or, with ``model="relu"`` in :func:`proofs_check.validate`, the same network with ReLU between
the layers):

* ``weights`` -- a list of N float64 arrays, ``weights[j-1]`` = W_j of shape ``(d_j, d_{j-1})``,
  W_1 first (the layout of ``torch.nn.Linear(d_{j-1}, d_j, bias=False).weight``);
* ``Phi``     -- the target, a float64 array of shape ``(d_N, d_0)``;
* the loss    -- f(W_1, ..., W_N) = ½‖W_N⋯W_1 − Φ‖_F² (linear), or ½‖h(I) − Φ‖_F² with
  h(x) = W_N σ(W_{N-1} ⋯ σ(W_1 x)), σ = ReLU, applied to every column of the identity (relu).

Flat vectors (the Hessian's rows and columns) use the order of :meth:`theory.Objective.flatten`:
W_1 row-major, then W_2, and so on. The arrays passed in are copies: an implementation may modify
them in place without affecting the validation (the report notes it if it does).

The methods, exactly as :mod:`numerics` defines them (THEORY.md):

* gradient descent  θ_{k+1} = θ_k − η∇f(θ_k);
* heavy ball        θ_{k+1} = θ_k − η∇f(θ_k) + β(θ_k − θ_{k−1}), θ_{−1} = θ_0 (Polyak);
* Nesterov          x_0 = y_0 = θ_0, x_{k+1} = y_k − η∇f(y_k), y_{k+1} = x_{k+1} + β(x_{k+1} − x_k)
  (constant momentum β; the iterates returned are the x_k);
* gradient flow     θ'(t) = −∇f(θ(t)), θ(0) = weights.

``torch.optim.SGD`` with ``momentum=μ`` (``dampening=0``) is the heavy ball with η = lr, β = μ, and
with ``nesterov=True`` its parameters are the y_k above (see :mod:`proofs_check.validation.torch_adapter`).
"""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np

Weights = list[np.ndarray]
"""W_1, ..., W_N: float64 arrays of shapes (d_j, d_{j-1})."""


@runtime_checkable
class GradientImpl(Protocol):
    """``f(weights, Phi) -> list of arrays``: ∇_{W_j} f for j = 1..N, each shaped like W_j."""

    def __call__(self, weights: Weights, Phi: np.ndarray) -> Sequence[np.ndarray]: ...


@runtime_checkable
class HvpImpl(Protocol):
    """``f(weights, Phi, v) -> list of arrays``: the Hessian-vector product ∇²f(θ)·v.

    ``v`` is a list of float64 arrays shaped like ``weights`` (a direction in parameter space); the
    result is shaped like ``weights`` too.
    """

    def __call__(self, weights: Weights, Phi: np.ndarray, v: Weights) -> Sequence[np.ndarray]: ...


@runtime_checkable
class HessianImpl(Protocol):
    """``f(weights, Phi) -> (P, P) array``: ∇²f(θ), rows and columns in ``Objective.flatten`` order.

    P = Σ_j d_j d_{j-1}. The exact Hessian is symmetric; the returned one should be too (up to
    rounding).
    """

    def __call__(self, weights: Weights, Phi: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class LambdaMinImpl(Protocol):
    """``f(weights, Phi) -> float``: the smallest eigenvalue λ_min(∇²f(θ))."""

    def __call__(self, weights: Weights, Phi: np.ndarray) -> float: ...


@runtime_checkable
class GDImpl(Protocol):
    """``f(weights, Phi, eta, steps) -> list of iterates``: θ_0, ..., θ_steps of gradient descent.

    ``steps + 1`` entries, the first equal to ``weights``; each entry is a list of arrays shaped like
    ``weights``.
    """

    def __call__(self, weights: Weights, Phi: np.ndarray, eta: float, steps: int) -> Sequence[Sequence[np.ndarray]]: ...


@runtime_checkable
class HeavyBallImpl(Protocol):
    """``f(weights, Phi, eta, beta, steps) -> list of iterates``: heavy ball with θ_{−1} = θ_0.

    ``steps + 1`` entries, the first equal to ``weights``.
    """

    def __call__(self, weights: Weights, Phi: np.ndarray, eta: float, beta: float,
                 steps: int) -> Sequence[Sequence[np.ndarray]]: ...


@runtime_checkable
class NesterovImpl(Protocol):
    """``f(weights, Phi, eta, beta, steps) -> list of iterates``: Nesterov with constant momentum β.

    Returns x_0, ..., x_steps (``steps + 1`` entries, x_0 = ``weights``), the points where the
    gradient steps land (module docstring).
    """

    def __call__(self, weights: Weights, Phi: np.ndarray, eta: float, beta: float,
                 steps: int) -> Sequence[Sequence[np.ndarray]]: ...


@runtime_checkable
class GFImpl(Protocol):
    """``f(weights, Phi, times) -> list of weights``: the gradient flow θ(t) at each of ``times``.

    ``times`` is a non-decreasing list of floats ≥ 0 (it may contain 0); the result has one entry per
    time, each a list of arrays shaped like ``weights``.
    """

    def __call__(self, weights: Weights, Phi: np.ndarray, times: Sequence[float]) -> Sequence[Sequence[np.ndarray]]: ...


PROTOCOLS: dict[str, type] = {
    "gradient": GradientImpl,
    "hvp": HvpImpl,
    "hessian": HessianImpl,
    "lambda_min": LambdaMinImpl,
    "gd": GDImpl,
    "heavy_ball": HeavyBallImpl,
    "nesterov": NesterovImpl,
    "gf": GFImpl,
}
"""Kind name -> Protocol. The kinds :func:`proofs_check.validate` accepts."""

SIGNATURES: dict[str, str] = {
    "gradient": "f(weights, Phi) -> list of arrays shaped like weights",
    "hvp": "f(weights, Phi, v) -> list of arrays shaped like weights",
    "hessian": "f(weights, Phi) -> (P, P) array",
    "lambda_min": "f(weights, Phi) -> float",
    "gd": "f(weights, Phi, eta, steps) -> list of steps+1 iterates",
    "heavy_ball": "f(weights, Phi, eta, beta, steps) -> list of steps+1 iterates",
    "nesterov": "f(weights, Phi, eta, beta, steps) -> list of steps+1 iterates (x_k)",
    "gf": "f(weights, Phi, times) -> list of weights, one per time",
}
