"""Cross-entropy (docs/theory.md E3) through the generic formula: value, gradient, HVP, Hessian.

References, each computed differently from the generic backpropagation:
* SymPy: the loss expression from its definition, differentiated by ``sympy.diff``
  (:mod:`theory.symbolic_xent`), compared at 50 digits;
* central finite differences of the gradient at 80 digits (HVP check), with the truncation error
  measured from two step sizes;
* float64 against mp (same formula, different arithmetic), with a derived float tolerance.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

import numerics
import theory
from theory import symbolic as S

EPS = np.finfo(float).eps


def make(model, n=3, seed=0, d0=2):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d0))
    labels = rng.integers(0, model.widths[-1], size=n)
    obj = theory.Objective(model, theory.CrossEntropy(X, labels))
    theta = [rng.standard_normal(s) for s in obj.shapes]
    return obj, theta


def mp(theta):
    return [theory.to_kind(w, "mp") for w in theta]


@pytest.mark.parametrize("model", [theory.DeepLinear((2, 2, 2)), theory.ReLUNet((2, 2, 3), alpha=0.25)])
def test_gradient_and_hessian_equal_sympy_at_50_digits(model):
    obj, theta = make(model)
    g_ref = S.gradient_mp(obj, theta, dps=50)
    H_ref = S.hessian_mp(obj, theta, dps=50)
    with mpmath.workdps(50):
        f = numerics.value(obj, mp(theta))
        g = obj.flatten(numerics.gradient(obj, mp(theta)))
        H = numerics.hessian(obj, mp(theta))
        expr, syms = S.loss_expr(obj, theta)
        f_ref = expr.evalf(60, subs={s: theory.to_kind([x], "exact")[0] for s, x in zip(syms, obj.flatten(theta))})
        # both sides carry ~1e-50 relative rounding over a few hundred operations; 1e-45 leaves 10^5
        assert abs(f - mpmath.mpf(str(f_ref))) < mpmath.mpf(10) ** -45 * max(1, abs(f))
        scale = max(1, max(abs(x) for x in g_ref))
        assert max(abs(a - b) for a, b in zip(g, g_ref)) < mpmath.mpf(10) ** -45 * scale
        scale = max(1, max(abs(x) for x in H_ref.flat))
        assert max(abs(a - b) for a, b in zip(H.flat, H_ref.flat)) < mpmath.mpf(10) ** -45 * scale


@pytest.mark.parametrize("model", [theory.DeepLinear((3, 4, 4, 3)), theory.ReLUNet((3, 5, 4, 3), alpha=0.1)])
def test_hvp_equals_high_precision_finite_differences(model):
    obj, theta = make(model, n=6, seed=1, d0=3)
    rng = np.random.default_rng(7)
    v = [rng.standard_normal(s) for s in obj.shapes]
    dps = 80
    with mpmath.workdps(dps):
        th, vm = mp(theta), mp(v)
        hv = obj.flatten(numerics.hvp(obj, th, vm))

        def fd(eps):
            plus = numerics.gradient(obj, [w + eps * d for w, d in zip(th, vm)])
            minus = numerics.gradient(obj, [w - eps * d for w, d in zip(th, vm)])
            return obj.flatten([(a - b) / (2 * eps) for a, b in zip(plus, minus)])

        eps = mpmath.mpf(2) ** -60  # small enough to stay inside θ's activation region (ReLU)
        d1, d2 = fd(eps), fd(2 * eps)
        # central differences: error(ε) = C ε² + O(ε⁴), so error(ε) ≈ (FD(2ε) − FD(ε))/3; rounding
        # of the difference quotient is ≤ ~10^{−dps}·|∇f|/ε
        trunc = max(abs(a - b) for a, b in zip(d1, d2)) / 3
        rounding = mpmath.mpf(10) ** -dps * max(1, max(abs(x) for x in hv)) / eps
        err = max(abs(a - b) for a, b in zip(d1, hv))
        print(f"\n{model}: |FD - HVP| = {mpmath.nstr(err, 3)}, truncation estimate {mpmath.nstr(trunc, 3)}")
        assert err <= 2 * trunc + 10 * rounding
        assert err < mpmath.mpf(10) ** -30  # and the check is sharp: ε² ≈ 1e-36


@pytest.mark.parametrize("model", [theory.DeepLinear((4, 6, 5, 3)), theory.ReLUNet((4, 6, 5, 3), alpha=0.0)])
def test_float64_matches_mp(model):
    obj, theta = make(model, n=20, seed=2, d0=4)
    f, g = numerics.value_and_gradient(obj, theta)
    H = numerics.hessian(obj, theta)
    with mpmath.workdps(40):
        fm, gm = numerics.value_and_gradient(obj, mp(theta))
        Hm = numerics.hessian(obj, mp(theta))
    gm = np.array(obj.flatten(gm), dtype=float)
    Hm = np.array(Hm, dtype=float)
    # float64 backprop: a computed product of matrices satisfies |fl(AB) − AB| ≤ γ_k|A||B| with
    # γ_k ≈ kε (Higham, Accuracy and Stability, §3.5), and the softmax head errs by a few ε per entry.
    # Running the same chain on |W_j|, |X| and |P| + |E| gives the magnitudes those bounds multiply; γ
    # counts every inner dimension the chain sums over (twice: forward and backward) plus the head.
    gamma = (2 * sum(obj.widths) + obj.loss.num_samples + 10) * EPS
    mag = magnitude_bound(obj, theta)
    print(f"\n|g - g_mp| = {np.abs(obj.flatten(g) - gm).max():.2e}, worst ratio to bound "
          f"{(np.abs(obj.flatten(g) - gm) / (gamma * mag)).max():.2e}; "
          f"|H - H_mp| = {np.abs(H - Hm).max():.2e}")
    assert abs(f - float(fm)) <= gamma * max(1.0, abs(f))
    assert np.all(np.abs(obj.flatten(g) - gm) <= gamma * mag)
    # Hessian entries: one more pass of the same chain (the tangent), so the same γ on a magnitude
    # at most ‖|H|‖; taken from the mp Hessian itself, times the depth for the extra products
    assert np.abs(H - Hm).max() <= gamma * obj.depth * max(1.0, np.abs(Hm).sum(axis=1).max())


def magnitude_bound(obj, theta, head=None):
    """The backprop chain on absolute values (|W_j|, |X|, |P| + |E|), flattened: Σ|terms| per entry.

    Leaky-ReLU masks (|m| ≤ 1) are dropped, which only enlarges the magnitudes. ``head``: |T| for a
    square loss (then the output gradient is c(z − T), magnitude c(|z| + |T|)); None for cross-entropy."""
    X = np.abs(obj.loss.X.T)
    acts, z = [X], np.abs(theta[0]) @ X
    for W in theta[1:]:
        acts.append(z)
        z = np.abs(W) @ z
    # |p_k| + |e_k| ≤ 2 per entry, plus the forward error of the logits carried through the softmax
    # (its Jacobian has norm ≤ 1/2 ≤ 1): ≤ Σ_k |z|_ki in units of γ
    if head is None:
        delta = (2.0 + z.sum(axis=0, keepdims=True)) / obj.loss.num_samples * np.ones_like(z)
    else:
        delta = (z + head) / obj.loss.num_samples
    grads = []
    for j in range(obj.depth - 1, -1, -1):
        grads.append(delta @ acts[j].T)
        delta = np.abs(theta[j]).T @ delta
    return np.concatenate([g.reshape(-1) for g in reversed(grads)])


def test_large_logits_are_stable_in_float64():
    # logits of size ~1e3: exp would overflow without subtracting the column max
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    obj = theory.Objective(theory.DeepLinear((2, 3)), theory.CrossEntropy(X, [2, 0, 1]))
    theta = [np.array([[900.0, -300.0], [0.0, 800.0], [-700.0, 0.0]])]
    f, g = numerics.value_and_gradient(obj, theta)
    with mpmath.workdps(50):
        fm, gm = numerics.value_and_gradient(obj, mp(theta))
    assert np.isfinite(f) and np.all(np.isfinite(g[0]))
    # f ~ 1e3: float64 relative error ~ 1e-16 per logit
    assert abs(f - float(fm)) <= 1e3 * 8 * EPS
    assert np.abs(g[0] - np.array(gm[0], dtype=float)).max() <= 8 * EPS


def test_gradient_is_softmax_minus_onehot_for_one_layer():
    # closed form for N = 1: ∇_W f = (1/n)(P − E)Xᵀ with P = softmax(W X) (docs/theory.md E3)
    rng = np.random.default_rng(3)
    X = rng.standard_normal((4, 3))
    labels = np.array([0, 2, 1, 2])
    obj = theory.Objective(theory.DeepLinear((3, 3)), theory.CrossEntropy(X, labels))
    W = rng.standard_normal((3, 3))
    with mpmath.workdps(40):
        Z = [[sum(mpmath.mpf(W[k, l]) * mpmath.mpf(X[i, l]) for l in range(3)) for i in range(4)] for k in range(3)]
        P = [[mpmath.exp(Z[k][i]) / sum(mpmath.exp(Z[m][i]) for m in range(3)) for i in range(4)] for k in range(3)]
        G = [[sum((P[k][i] - (1 if labels[i] == k else 0)) * mpmath.mpf(X[i, l]) for i in range(4)) / 4
              for l in range(3)] for k in range(3)]
        g = numerics.gradient(obj, [theory.to_kind(W, "mp")])[0]
        assert max(abs(g[k, l] - G[k][l]) for k in range(3) for l in range(3)) < mpmath.mpf(10) ** -35


def test_exact_arithmetic_is_refused_clearly():
    obj, theta = make(theory.DeepLinear((2, 2, 2)))
    exact = [theory.to_kind(w, "exact") for w in theta]
    for fn in (numerics.gradient, numerics.value, numerics.hessian):
        with pytest.raises(TypeError, match="exp and log"):
            fn(obj, exact)
    with pytest.raises(TypeError, match="no exact rational"):
        S.gradient(obj, theta)


@pytest.mark.parametrize("labels, match", [
    ([0, 1, 5], "out of range"),
    ([0, 1, -1], "out of range"),
    ([0, 1.5, 1], "non-integer"),
    ([0, 1], "3 rows"),
    (np.eye(3), "one-hot"),
    ("abc", "1-D array"),
    ([True, False, True], "booleans"),
])
def test_bad_labels(labels, match):
    X = np.zeros((3, 2))
    with pytest.raises((ValueError, TypeError), match=match):
        theory.Objective(theory.DeepLinear((2, 3)), theory.CrossEntropy(X, labels))


def test_bad_shapes_and_classes():
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match="at least 2 outputs"):
        theory.Objective(theory.DeepLinear((2, 1)), theory.CrossEntropy(X, [0, 0, 0]))
    with pytest.raises(ValueError, match="does not chain"):
        theory.Objective(theory.DeepLinear((2, 4)), theory.CrossEntropy(X, [0, 1, 2], num_classes=3))
    with pytest.raises(ValueError, match="does not chain"):
        theory.Objective(theory.DeepLinear((5, 3)), theory.CrossEntropy(X, [0, 1, 2]))
    with pytest.raises(ValueError, match="identity-input"):
        theory.CrossEntropy(None, [0, 1])
    with pytest.raises(ValueError, match="num_classes"):
        theory.CrossEntropy(X, [0, 1, 2], num_classes=1)
    # integer-valued floats are accepted (np.loadtxt gives floats)
    loss = theory.CrossEntropy(X, np.array([0.0, 2.0, 1.0]))
    assert loss.labels.dtype == np.int64 and list(loss.labels) == [0, 2, 1]


from hypothesis import HealthCheck, given, settings, target  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(widths=st.lists(st.integers(1, 5), min_size=1, max_size=3), classes=st.integers(2, 4),
       n=st.integers(1, 8), alpha=st.sampled_from([1, 0, 0.1, -0.5]), scale=st.sampled_from([0.1, 1.0, 5.0]),
       seed=st.integers(0, 2**16))
def test_float64_gradient_within_derived_bound_of_mp_on_drawn_nets(widths, classes, n, alpha, scale, seed):
    d = (widths[0], *widths[1:], classes) if len(widths) > 1 else (widths[0], classes)
    model = theory.DeepLinear(d) if alpha == 1 else theory.ReLUNet(d, alpha=alpha)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d[0]))
    obj = theory.Objective(model, theory.CrossEntropy(X, rng.integers(0, classes, size=n)))
    theta = [scale * rng.standard_normal(s) for s in obj.shapes]
    g = obj.flatten(numerics.gradient(obj, theta))
    with mpmath.workdps(40):
        gm = np.array(obj.flatten(numerics.gradient(obj, mp(theta))), dtype=float)
    gamma = (2 * sum(obj.widths) + n + 10) * EPS
    ratio = float(np.max(np.abs(g - gm) / (gamma * magnitude_bound(obj, theta))))
    target(ratio, label="float64 error / derived bound")
    assert ratio <= 1.0
