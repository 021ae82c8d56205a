"""Data that ships: scikit-learn's digits, and a loader for the user's own arrays (npz).

* :func:`digits` — the 1,797 8×8 handwritten digits of ``sklearn.datasets.load_digits`` (64 inputs,
  10 classes; the file ships inside scikit-learn, nothing is downloaded), with a seeded, stratified
  subsample (EC21 §6 uses a 1,000-image MNIST subset; digits is the small stand-in that ships).
  Needs the optional extra ``data``: ``python -m pip install -e ".[data]"``.
* :func:`load_npz` — ``X`` (n, d) and either ``labels`` (n,) integer classes or ``Y`` (n, k) targets.

Both return a :class:`Dataset` whose ``provenance`` records where every row came from (source, seed,
subset indices, normalisation, file hash), so a report can state exactly what it ran on.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

import numpy as np

from .losses import CrossEntropy, SquareLoss

NORMALIZE = ("none", "scale", "unit", "standardize")


@dataclass(frozen=True)
class Dataset:
    """Rows of ``X`` are samples; ``labels`` (integer classes) or ``Y`` (targets), and provenance."""

    X: np.ndarray
    labels: np.ndarray | None
    Y: np.ndarray | None
    name: str
    provenance: dict = field(default_factory=dict)

    @property
    def num_samples(self) -> int:
        return self.X.shape[0]

    @property
    def num_features(self) -> int:
        return self.X.shape[1]

    @property
    def num_classes(self) -> int | None:
        return None if self.labels is None else int(self.labels.max()) + 1

    def loss(self, kind: str = "cross_entropy", num_classes: int | None = None) -> CrossEntropy | SquareLoss:
        """The loss on this data: ``"cross_entropy"`` (needs labels) or ``"square"`` (Y, or one-hot
        labels: ½‖h(x) − e_c‖², the squared-loss classification of EC21's option)."""
        if kind == "cross_entropy":
            if self.labels is None:
                raise ValueError(f"{self.name} has targets Y, not class labels: use kind='square'")
            return CrossEntropy(self.X, self.labels, num_classes)
        if kind == "square":
            if self.Y is not None:
                return SquareLoss(self.X, self.Y)
            k = num_classes if num_classes is not None else self.num_classes
            return SquareLoss(self.X, np.eye(k)[self.labels])
        raise ValueError(f"kind must be 'cross_entropy' or 'square', got {kind!r}")


def _sklearn_digits():
    try:
        from sklearn.datasets import load_digits
        import sklearn
    except ImportError as e:
        raise ImportError(
            "theory.data.digits needs scikit-learn (it reads the digits file shipped in the package, no "
            "download): install the optional extra with  python -m pip install -e \".[data]\"  "
            "(scikit-learn>=1.3)"
        ) from e
    d = load_digits()
    return np.asarray(d.data, dtype=np.float64), np.asarray(d.target, dtype=np.int64), sklearn.__version__


def _normalize(X: np.ndarray, how: str) -> np.ndarray:
    if how == "none":
        return X
    if how == "scale":  # digits pixels are integers 0..16
        return X / 16.0
    if how == "unit":  # ‖x_i‖ = 1, as BXC21's NTK analysis assumes
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        if np.any(norms == 0):
            raise ValueError("normalize='unit': some rows are all zero and cannot be scaled to unit norm")
        return X / norms
    if how == "standardize":  # zero mean, unit variance per feature over the subset (constant features: 0)
        mu, sd = X.mean(axis=0), X.std(axis=0)
        return (X - mu) / np.where(sd > 0, sd, 1.0)
    raise ValueError(f"normalize must be one of {NORMALIZE}, got {how!r}")


def stratified_subset(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of a seeded subsample of size n with class proportions kept (largest remainder).

    Each class c gets ⌊n·n_c/N⌋ rows, the leftover rows go to the largest fractional parts (ties to the
    smaller class index); within a class the rows are the first ones of a ``numpy.random.default_rng(seed)``
    permutation.
    """
    labels = np.asarray(labels)
    N = labels.shape[0]
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    quota = n * counts / N
    take = np.floor(quota).astype(int)
    rest = n - int(take.sum())
    order = sorted(range(len(classes)), key=lambda i: (-(quota[i] - take[i]), i))
    for i in order[:rest]:
        take[i] += 1
    chosen = []
    for c, k in zip(classes, take):
        idx = np.flatnonzero(labels == c)
        chosen.append(idx[rng.permutation(idx.shape[0])[:k]])
    return np.sort(np.concatenate(chosen))


def digits(n: int | None = 500, seed: int = 0, normalize: str = "scale", stratified: bool = True) -> Dataset:
    """A seeded subsample of scikit-learn's digits (1,797 images, 8×8 → 64 features, 10 classes).

    ``n``: number of images (None or ≥ 1,797: all). ``stratified``: keep the class proportions
    (:func:`stratified_subset`), else a plain seeded sample without replacement. ``normalize``:
    ``"scale"`` (pixels/16 ∈ [0, 1], default), ``"unit"`` (each image of norm 1), ``"standardize"``
    (per feature over the subset) or ``"none"`` (raw 0..16). ``provenance`` holds the seed and the
    subset indices into ``load_digits()`` order.
    """
    if normalize not in NORMALIZE:
        raise ValueError(f"normalize must be one of {NORMALIZE}, got {normalize!r}")
    if isinstance(seed, bool) or int(seed) != seed:
        raise TypeError(f"seed must be an integer, got {seed!r}")
    X, y, version = _sklearn_digits()
    N = X.shape[0]
    if n is None or n >= N:
        idx = np.arange(N)
    else:
        if isinstance(n, bool) or int(n) != n or n < 1:
            raise ValueError(f"n must be a positive integer (or None for all {N} images), got {n!r}")
        if stratified:
            idx = stratified_subset(y, int(n), int(seed))
        else:
            idx = np.sort(np.random.default_rng(int(seed)).choice(N, size=int(n), replace=False))
    prov = {
        "source": "sklearn.datasets.load_digits",
        "scikit_learn_version": version,
        "total_images": N,
        "n": int(idx.shape[0]),
        "seed": int(seed),
        "stratified": bool(stratified),
        "normalize": normalize,
        "indices": [int(i) for i in idx],
    }
    return Dataset(_normalize(X[idx], normalize), y[idx], None, "digits", prov)


def load_npz(path: str | os.PathLike) -> Dataset:
    """Arrays from a ``.npz`` file (``numpy.savez``): ``X`` of shape (n, d), and exactly one of
    ``labels`` (n integer classes ≥ 0) or ``Y`` (n targets, or (n, k)). Nothing is unpickled
    (``allow_pickle=False``). ``provenance`` records the path and the file's SHA-256.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"path: no such file {path!r}")
    with open(path, "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError) as e:
        raise ValueError(f"path: {path!r} is not a readable .npz of plain arrays ({e})") from e
    if "X" not in arrays:
        raise ValueError(f"{path!r} has no array 'X' (found {sorted(arrays)}); expected X and labels or Y")
    has_l, has_y = "labels" in arrays, "Y" in arrays
    if has_l == has_y:
        raise ValueError(f"{path!r} must hold exactly one of 'labels' (classes) or 'Y' (targets); "
                         f"found {sorted(arrays)}")
    X = arrays["X"]
    if X.ndim != 2 or X.dtype.kind not in "fiu":
        raise ValueError(f"{path!r}: X must be a 2-D real array (rows are samples), got shape {X.shape}, "
                         f"dtype {X.dtype}")
    X = X.astype(np.float64)
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{path!r}: X has non-finite entries")
    labels = Y = None
    if has_l:
        labels = CrossEntropy(X, arrays["labels"]).labels  # the same checks as the loss
    else:
        Y = arrays["Y"]
        if Y.dtype.kind not in "fiu" or Y.ndim not in (1, 2) or Y.shape[0] != X.shape[0]:
            raise ValueError(f"{path!r}: Y must be real with {X.shape[0]} rows like X, got shape {Y.shape}")
        Y = Y.astype(np.float64)
        if not np.all(np.isfinite(Y)):
            raise ValueError(f"{path!r}: Y has non-finite entries")
    prov = {"source": "npz", "path": os.path.abspath(path), "sha256": digest, "keys": sorted(arrays),
            "n": int(X.shape[0])}
    return Dataset(X, labels, Y, os.path.basename(path), prov)
