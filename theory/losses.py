"""Square losses, written as f = (c/2)·‖Z − T‖_F² of the network output matrix Z.

A loss holds the network input matrix (columns are samples; ``None`` for the identity), the target
T and the weight c, so one backpropagation formula serves every loss:
∇_Z f = c·(Z − T).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from .arrays import as_matrix


class WhitenedSquare:
    """Whitened square loss φ(W) = ½‖W − Φ‖_F² of the end-to-end matrix (EC21; THEORY.md notation).

    ``Phi`` has shape ``(d_N, d_0)``; a 1-D ``Phi`` is a row (scalar output, d_N = 1). As a network
    loss this is the input matrix I_{d_0} with target Φ and weight c = 1.
    """

    def __init__(self, Phi: Any) -> None:
        self.Phi = as_matrix(Phi, "Phi")
        self.inputs = None
        self.target = self.Phi
        self.weight = Fraction(1)

    @property
    def in_dim(self) -> int:
        return self.Phi.shape[1]

    @property
    def out_dim(self) -> int:
        return self.Phi.shape[0]

    @property
    def num_samples(self) -> int:
        return self.Phi.shape[1]

    def __repr__(self) -> str:
        return f"WhitenedSquare(Phi of shape {self.Phi.shape})"


class SquareLoss:
    """Mean square loss f = (1/n) Σ_i ½‖h(x_i) − y_i‖² over n samples.

    ``X`` is ``(n, d_0)`` (rows are samples), ``Y`` is ``(n, d_N)`` (a 1-D ``Y`` is n scalar
    targets). Internally the input matrix is Xᵀ, the target Yᵀ and c = 1/n. The per-sample loss
    ℓ = ½‖ŷ − y‖² is convex in the prediction with ∇_ŷ ℓ = ŷ − y (THEORY.md B2).
    """

    def __init__(self, X: Any, Y: Any) -> None:
        X = as_matrix(X, "X")
        Yarr = np.asarray(Y)
        Y = as_matrix(Yarr.reshape(-1, 1) if Yarr.ndim == 1 else Yarr, "Y")
        if X.shape[0] != Y.shape[0]:
            raise ValueError(f"X and Y must have the same number of rows (samples): {X.shape[0]} vs {Y.shape[0]}")
        if X.shape[0] == 0:
            raise ValueError("X and Y must hold at least one sample (row); got 0 (the mean loss is undefined)")
        self.X, self.Y = X, Y
        self.inputs = X.T
        self.target = Y.T
        self.weight = Fraction(1, X.shape[0])

    @property
    def in_dim(self) -> int:
        return self.X.shape[1]

    @property
    def out_dim(self) -> int:
        return self.Y.shape[1]

    @property
    def num_samples(self) -> int:
        return self.X.shape[0]

    def __repr__(self) -> str:
        return f"SquareLoss(n={self.X.shape[0]}, d_in={self.in_dim}, d_out={self.out_dim})"
