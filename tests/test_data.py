"""theory.data: shipped digits (seeded, stratified subsets with provenance) and the npz loader."""

from __future__ import annotations

import builtins

import numpy as np
import pytest

import numerics
import theory
from theory import data

sklearn = pytest.importorskip("sklearn")


def test_digits_subset_is_seeded_stratified_and_recorded():
    from sklearn.datasets import load_digits

    full = load_digits()
    d = data.digits(n=500, seed=3)
    assert d.X.shape == (500, 64) and d.labels.shape == (500,) and d.num_classes == 10
    idx = np.array(d.provenance["indices"])
    assert d.provenance["seed"] == 3 and len(set(idx.tolist())) == 500
    # the rows are exactly the recorded images (pixels/16) with their labels
    assert np.array_equal(d.X * 16, full.data[idx]) and np.array_equal(d.labels, full.target[idx])
    # stratified: each class within one image of its proportional share
    counts = np.bincount(d.labels, minlength=10)
    share = 500 * np.bincount(full.target, minlength=10) / full.target.shape[0]
    assert np.all(np.abs(counts - share) < 1)
    # seeded: same seed, same subset; another seed, another subset
    assert data.digits(n=500, seed=3).provenance["indices"] == d.provenance["indices"]
    assert data.digits(n=500, seed=4).provenance["indices"] != d.provenance["indices"]


def test_digits_normalisations_and_all_images():
    u = data.digits(n=50, seed=0, normalize="unit")
    assert np.allclose(np.linalg.norm(u.X, axis=1), 1.0, rtol=0, atol=4 * np.finfo(float).eps)
    s = data.digits(n=50, seed=0, normalize="standardize")
    assert np.allclose(s.X.mean(axis=0), 0.0, atol=1e-12)
    raw = data.digits(n=None, normalize="none", stratified=False)
    assert raw.X.shape == (1797, 64) and raw.X.max() == 16
    with pytest.raises(ValueError, match="normalize"):
        data.digits(normalize="l2")
    with pytest.raises(ValueError, match="n must be"):
        data.digits(n=0)


def test_digits_cross_entropy_objective_runs():
    d = data.digits(n=40, seed=0)
    obj = theory.Objective(theory.DeepLinear((64, 5, 10)), d.loss())
    theta = numerics.gaussian_init(obj, scale=0.1, seed=0)
    f = numerics.value(obj, theta)
    assert np.isfinite(f)
    sq = d.loss("square")
    assert sq.Y.shape == (40, 10)


def test_missing_sklearn_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("sklearn"):
            raise ImportError("no sklearn")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"\.\[data\]"):
        data.digits()


def test_load_npz_roundtrip_and_provenance(tmp_path):
    rng = np.random.default_rng(0)
    X, labels = rng.standard_normal((6, 3)), np.array([0, 1, 2, 1, 0, 2])
    p = tmp_path / "mine.npz"
    np.savez(p, X=X, labels=labels)
    d = data.load_npz(p)
    assert np.array_equal(d.X, X) and np.array_equal(d.labels, labels) and d.Y is None
    assert len(d.provenance["sha256"]) == 64 and d.provenance["n"] == 6
    q = tmp_path / "reg.npz"
    np.savez(q, X=X, Y=rng.standard_normal((6, 2)))
    assert data.load_npz(q).loss("square").Y.shape == (6, 2)


@pytest.mark.parametrize("arrays, match", [
    ({"labels": np.zeros(3, int)}, "no array 'X'"),
    ({"X": np.zeros((3, 2))}, "exactly one of"),
    ({"X": np.zeros((3, 2)), "labels": np.zeros(3, int), "Y": np.zeros(3)}, "exactly one of"),
    ({"X": np.zeros(3), "labels": np.zeros(3, int)}, "2-D real array"),
    ({"X": np.zeros((3, 2)), "labels": np.zeros(4, int)}, "3 rows"),
    ({"X": np.zeros((3, 2)), "labels": np.array([0.5, 1, 2])}, "non-integer"),
    ({"X": np.full((3, 2), np.nan), "Y": np.zeros(3)}, "non-finite"),
    ({"X": np.zeros((3, 2)), "Y": np.zeros(4)}, "3 rows"),
])
def test_load_npz_errors(tmp_path, arrays, match):
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)
    with pytest.raises(ValueError, match=match):
        data.load_npz(p)


def test_load_npz_missing_file(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        data.load_npz(tmp_path / "nope.npz")
