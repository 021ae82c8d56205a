"""Network models: layered networks x -> W_N σ(W_{N-1} ⋯ σ(W_1 x + b_1) + b_{N-1}) + b_N.

``W_j`` has shape ``(d_j, d_{j-1})``; ``widths = (d_0, ..., d_N)``; depth ``N = len(widths) - 1``.
Biases are optional (``bias=True``): b_j has shape ``(d_j,)`` and θ = [W_1, b_1, W_2, b_2, ...].
The activation σ is the leaky ReLU σ(z) = z for z > 0 and α·z otherwise (α = 0: ReLU, α = 1:
linear). Every such network is positively 1-homogeneous in each layer, which is what docs/theory.md B2,
B3 and B4 rely on.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from numbers import Real

import numpy as np

from .arrays import check_positive_int_tuple


@dataclass(frozen=True)
class LayeredNet:
    """Common part of the layered models: widths and the leaky slope ``alpha`` of the hidden layers."""

    widths: tuple[int, ...]
    alpha: Real = 1
    bias: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.bias, (bool, np.bool_)):
            raise TypeError(f"bias must be True or False, got {self.bias!r}")
        object.__setattr__(self, "bias", bool(self.bias))
        object.__setattr__(self, "widths", check_positive_int_tuple(self.widths, "widths", 2))
        if not isinstance(self.alpha, (Real, Fraction)) or isinstance(self.alpha, bool):
            raise TypeError(f"alpha must be a real number, got {self.alpha!r}")
        if not -1 <= self.alpha <= 1:
            raise ValueError(f"alpha (leaky slope) must lie in [-1, 1], got {self.alpha!r}")

    @property
    def depth(self) -> int:
        """N, the number of weight matrices."""
        return len(self.widths) - 1

    @property
    def weight_shapes(self) -> tuple[tuple[int, int], ...]:
        """``(d_j, d_{j-1})`` for j = 1..N (the weight matrices only)."""
        w = self.widths
        return tuple((w[j], w[j - 1]) for j in range(1, len(w)))

    @property
    def shapes(self) -> tuple[tuple[int, ...], ...]:
        """Shapes of the blocks of θ: ``(d_j, d_{j-1})``, and ``(d_j,)`` after it when ``bias``."""
        if not self.bias:
            return self.weight_shapes
        return tuple(s for ws in self.weight_shapes for s in (ws, (ws[0],)))

    @property
    def is_linear(self) -> bool:
        return self.alpha == 1


@dataclass(frozen=True)
class DeepLinear(LayeredNet):
    """Deep linear network: end-to-end matrix W = W_N ⋯ W_1 (EC21 §4–5, docs/theory.md B1, B3–B5, C)."""

    alpha: Real = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.alpha != 1:
            raise ValueError("DeepLinear has no activation; use ReLUNet(widths, alpha) for a leaky ReLU net")

    def __repr__(self) -> str:
        return f"DeepLinear({self.widths}{', bias=True' if self.bias else ''})"


@dataclass(frozen=True)
class ReLUNet(LayeredNet):
    """Leaky-ReLU network (docs/theory.md B2, E); ``alpha = 0`` is ReLU, ``alpha = 1`` linear; biases if ``bias``."""

    alpha: Real = 0

    def __repr__(self) -> str:
        return f"ReLUNet({self.widths}, alpha={self.alpha}{', bias=True' if self.bias else ''})"
