"""Losses of the network output matrix Z (columns are samples).

Square losses are f = (c/2)·‖Z − T‖_F²: a loss holds the network input matrix (``None`` for the
identity), the target T and the weight c, so one backpropagation formula serves every loss:
∇_Z f = c·(Z − T). The softmax cross-entropy (:class:`CrossEntropy`) replaces only that output
gradient, by c·(softmax(Z) − E) with E the one-hot labels.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from .arrays import as_matrix


class WhitenedSquare:
    """Whitened square loss φ(W) = ½‖W − Φ‖_F² of the end-to-end matrix (EC21; docs/theory.md notation).

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
    ℓ = ½‖ŷ − y‖² is convex in the prediction with ∇_ŷ ℓ = ŷ − y (docs/theory.md B2).
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


class CrossEntropy:
    """Mean softmax cross-entropy f = (1/n) Σ_i ℓ(h(x_i), c_i) over n samples (docs/theory.md E3).

    ℓ(h, c) = −h_c + log Σ_k e^{h_k}, with ∇_h ℓ = softmax(h) − e_c. ℓ is convex in the prediction h
    (its Hessian diag(p) − ppᵀ, p = softmax(h), is positive semidefinite), so docs/theory.md B1/B2 apply with
    ‖∇_ŷ ℓ_i‖ = ‖softmax(h_i) − e_{c_i}‖ ≤ √2.

    ``X`` is ``(n, d_0)`` (rows are samples); ``labels`` are n integer classes in [0, d_N) (a 1-D
    array of ints; floats are accepted only when every entry is an exact integer). ``num_classes``, if
    given, must equal the network's d_N; otherwise the range check against d_N happens when the loss
    is put into a :class:`~theory.Objective`. Internally the input matrix is Xᵀ, the target the one-hot
    matrix E (``(d_N, n)``, E[c_i, i] = 1) and c = 1/n, so the backpropagated output gradient is
    ∇_Z f = c·(softmax(Z) − E) column by column.

    exp and log have no exact rational values: gradients in exact arithmetic are refused by numerics
    (use mpmath.mpf entries at the precision you need).
    """

    def __init__(self, X: Any, labels: Any, num_classes: int | None = None) -> None:
        if X is None:
            raise ValueError("X is required: CrossEntropy(X, labels) takes the (n, d_0) inputs; it has no "
                             "identity-input form like WhitenedSquare(Phi)")
        X = as_matrix(X, "X")
        self.X = X
        self.labels = _check_labels(labels, X.shape[0])
        if num_classes is not None:
            if isinstance(num_classes, bool) or int(num_classes) != num_classes or num_classes < 2:
                raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
            num_classes = int(num_classes)
            self.check_classes(num_classes)
        self.num_classes = num_classes
        self.inputs = X.T
        self.weight = Fraction(1, X.shape[0])

    def check_classes(self, d_out: int) -> None:
        """ValueError unless every label lies in [0, d_out) and d_out >= 2."""
        if d_out < 2:
            raise ValueError(
                f"cross-entropy needs at least 2 outputs (classes); the network has d_N = {d_out} "
                "(softmax over one output is constant, so f would not depend on theta)"
            )
        bad = np.flatnonzero(self.labels >= d_out)
        if bad.size:
            raise ValueError(
                f"labels out of range: labels must lie in [0, d_N) = [0, {d_out}), but sample {int(bad[0])} "
                f"has label {int(self.labels[bad[0]])} ({bad.size} such sample(s))"
            )

    def onehot(self, d_out: int) -> np.ndarray:
        """E of shape ``(d_out, n)`` with E[c_i, i] = 1 (float64 0/1 entries: exact in every kind)."""
        self.check_classes(d_out)
        E = np.zeros((d_out, self.X.shape[0]))
        E[self.labels, np.arange(self.X.shape[0])] = 1.0
        return E

    @property
    def in_dim(self) -> int:
        return self.X.shape[1]

    @property
    def out_dim(self) -> int | None:
        """``num_classes`` if given (the network's d_N must equal it), else None (any d_N > max label)."""
        return self.num_classes

    @property
    def num_samples(self) -> int:
        return self.X.shape[0]

    def __repr__(self) -> str:
        return f"CrossEntropy(n={self.X.shape[0]}, d_in={self.in_dim}, classes={self.num_classes})"


def _check_labels(labels: Any, n: int) -> np.ndarray:
    """labels as a 1-D int64 array of length n with entries >= 0, or a clear error."""
    if isinstance(labels, (str, bytes)) or np.ndim(labels) == 0:
        raise TypeError(f"labels must be a 1-D array of integer class indices, got {type(labels).__name__}")
    arr = np.asarray(labels)
    if arr.ndim == 2 and arr.shape[1] > 1:
        raise ValueError(
            f"labels must be 1-D integer class indices, got a 2-D array of shape {arr.shape} "
            "(one-hot or regression targets? use labels.argmax(axis=1), or SquareLoss(X, Y) for targets)"
        )
    arr = arr.reshape(-1) if arr.ndim == 2 else arr
    if arr.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"X has {n} rows (samples) but labels has {arr.shape[0]} entries; they must match")
    if arr.dtype.kind == "b":
        raise TypeError("labels must be integer class indices, got booleans")
    if arr.dtype.kind in "iu":
        out = arr.astype(np.int64)
    elif arr.dtype.kind in "fO":
        try:
            vals = [float(x) for x in arr]
        except (TypeError, ValueError):
            raise TypeError(f"labels must be integer class indices, got entries of dtype {arr.dtype}") from None
        bad = [i for i, x in enumerate(vals) if not (np.isfinite(x) and x == int(x))]
        if bad:
            raise ValueError(
                f"labels must be integer class indices; sample {bad[0]} has label {arr[bad[0]]!r} "
                "(non-integer; targets belong in SquareLoss(X, Y))"
            )
        out = np.array([int(x) for x in vals], dtype=np.int64)
    else:
        raise TypeError(f"labels must be integer class indices, got dtype {arr.dtype}")
    if out.size and out.min() < 0:
        i = int(np.argmin(out))
        raise ValueError(f"labels out of range: sample {i} has label {int(out[i])} < 0 (classes are 0..d_N-1)")
    return out
