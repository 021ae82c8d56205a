"""Objectives f(θ): a network with a loss, or a quadratic, behind one interface.

θ is a list of 2-D arrays (one per layer, ``(d_j, d_{j-1})``, W_1 first) for a network, and a list
holding one 1-D array for a :class:`~theory.quadratic.Quadratic`. ``flatten`` concatenates the
arrays in row-major order (W_1, then W_2, ...); ``unflatten`` inverts it.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .arrays import common_kind, require_finite
from .losses import CrossEntropy, SquareLoss, WhitenedSquare
from .models import LayeredNet


class ParamSpace:
    """Shapes of θ and the flatten/unflatten maps; shared by every objective."""

    shapes: tuple[tuple[int, ...], ...]

    @property
    def num_params(self) -> int:
        return sum(math.prod(map(int, s)) for s in self.shapes)  # math.prod: ~10× np.prod on tuples

    def flatten(self, theta: Sequence[Any]) -> np.ndarray:
        """1-D array of all parameters, W_1 row-major first (entry type preserved)."""
        theta = self.check_theta(theta)
        return np.concatenate([np.asarray(w).reshape(-1) for w in theta])

    def unflatten(self, vector: Any) -> list[np.ndarray]:
        """Inverse of :meth:`flatten`."""
        v = np.asarray(vector)
        if v.ndim != 1 or v.shape[0] != self.num_params:
            raise ValueError(f"vector must be 1-D of length num_params={self.num_params}, got shape {v.shape}")
        out, i = [], 0
        for s in self.shapes:
            k = int(np.prod(s))
            out.append(v[i : i + k].reshape(s))
            i += k
        return out

    def check_theta(self, theta: Sequence[Any], name: str = "theta") -> list[np.ndarray]:
        """Validate θ: a list of arrays of the right shapes, finite, with one entry kind."""
        if isinstance(theta, np.ndarray) or not isinstance(theta, (list, tuple)):
            raise TypeError(f"{name} must be a list of arrays (one per layer), got {type(theta).__name__}")
        if len(theta) != len(self.shapes):
            raise ValueError(f"{name} must have {len(self.shapes)} arrays, got {len(theta)}")
        out = []
        for j, (w, s) in enumerate(zip(theta, self.shapes)):
            a = np.asarray(w)
            if a.shape != tuple(s):
                raise ValueError(f"{name}[{j}]{self._block_label(j)} must have shape {tuple(s)}, got {a.shape}")
            require_finite(a, f"{name}[{j}]")
            out.append(a)
        common_kind(out, name)
        return out

    def _block_label(self, j: int) -> str:
        return ""

    def kind(self, theta: Sequence[Any]) -> str:
        """Entry kind of θ ("float", "exact" or "mp")."""
        return common_kind(self.check_theta(theta))


class Objective(ParamSpace):
    """f(θ) = loss(network_θ): ``Objective(DeepLinear((3, 4, 1)), WhitenedSquare(Phi))``.

    The widths must chain with the loss: d_0 is the loss's input dimension and d_N its output one.
    """

    def __init__(self, model: LayeredNet, loss: WhitenedSquare | SquareLoss | CrossEntropy) -> None:
        if not isinstance(model, LayeredNet):
            raise TypeError(f"model must be DeepLinear or ReLUNet, got {type(model).__name__}")
        if not isinstance(loss, (WhitenedSquare, SquareLoss, CrossEntropy)):
            raise TypeError(f"loss must be WhitenedSquare, SquareLoss or CrossEntropy, got {type(loss).__name__}")
        if model.bias and isinstance(loss, WhitenedSquare):
            raise ValueError(
                "loss: WhitenedSquare is a loss of the end-to-end matrix W_N⋯W_1, which a network with "
                "biases does not have; use SquareLoss(X, Y) for a net with bias=True"
            )
        d = model.widths
        name = {WhitenedSquare: "Phi", SquareLoss: "X/Y", CrossEntropy: "X/labels"}[type(loss)]
        if isinstance(loss, CrossEntropy):
            # d_N is the number of classes; labels must index into it
            loss.check_classes(d[-1])
        if loss.in_dim != d[0] or (loss.out_dim is not None and loss.out_dim != d[-1]):
            raise ValueError(
                f"{name} does not chain with widths {d}: the loss has input dimension {loss.in_dim} and "
                f"output dimension {loss.out_dim}, the network d_0 = {d[0]} and d_N = {d[-1]}"
            )
        self.model = model
        self.loss = loss
        self.shapes = model.shapes

    def _block_label(self, j: int) -> str:
        if not self.model.bias:
            return ""
        return f" (bias b_{j // 2 + 1})" if j % 2 else f" (weight W_{j // 2 + 1})"

    @property
    def has_bias(self) -> bool:
        return self.model.bias

    def split(self, theta: Sequence[Any]) -> tuple[list[Any], list[Any] | None]:
        """(weights [W_1..W_N], biases [b_1..b_N] or None) from θ = [W_1, b_1, W_2, b_2, ...]."""
        theta = list(theta)
        if not self.model.bias:
            return theta, None
        return theta[0::2], theta[1::2]
    @property
    def depth(self) -> int:
        return self.model.depth

    @property
    def widths(self) -> tuple[int, ...]:
        return self.model.widths

    def __repr__(self) -> str:
        return f"Objective({self.model!r}, {self.loss!r})"
