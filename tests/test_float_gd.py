"""The in-place float64 GD path (numerics/float_gd.py) against the generic formula, and ``keep``.

Tolerance (derived, standard forward error analysis; Higham, *Accuracy and Stability*, §3.5): every
quantity of the gradient is a sum of products along a chain of at most M = Σ widths + n + N + 4
roundings, so |fl(g) − g| ≤ γ_M·G_abs, γ_M = Mu/(1 − Mu), u = 2⁻⁵³, where G_abs is the same formula
on |W_j|, |X|, all masks 1 (|α| ≤ 1) and residual |z| + |T|: the generic gradient of the objective
with |inputs| and target −|T| at |θ|. The update adds u·(|θ| + η|g|). Both paths obey this bound
against the exact step, so they differ by at most twice it. Over K steps the difference grows at
most by the Lipschitz factor 1 + η·max‖∇²f‖₂ of the GD map per step.
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import numerics
import theory
from numerics.backends import BACKENDS
from numerics.gradients import evaluate

U = 2.0**-53


def _objective(kind: str, seed: int):
    rng = np.random.default_rng(seed)
    if kind == "whitened-scalar":      # transposed vector chain (d_N < d_0)
        d = (5, 4, 3, 1)
        obj = theory.Objective(theory.DeepLinear(d), theory.WhitenedSquare(rng.standard_normal((1, 5))))
    elif kind == "whitened-wide":      # identity input, d_N ≥ d_0: the untransposed net
        d = (2, 4, 3)
        obj = theory.Objective(theory.DeepLinear(d), theory.WhitenedSquare(rng.standard_normal((3, 2))))
    else:                              # leaky ReLU with a data matrix, several outputs
        d = (3, 5, 4, 2)
        X, Y = rng.standard_normal((7, 3)), rng.standard_normal((7, 2))
        obj = theory.Objective(theory.ReLUNet(d, alpha=0.25), theory.SquareLoss(X, Y))
    return obj, numerics.gaussian_init(obj, 0.6, seed=seed)


def _abs_objective(obj):
    loss = obj.loss
    model = theory.DeepLinear(obj.widths)
    if isinstance(loss, theory.WhitenedSquare):
        return theory.Objective(model, theory.WhitenedSquare(-np.abs(loss.Phi)))
    return theory.Objective(model, theory.SquareLoss(np.abs(loss.X), -np.abs(loss.Y)))


def _step_bound(obj, theta, eta):
    """Elementwise bound on |fl step − exact step| (module docstring)."""
    n = 1 if obj.loss.inputs is None and obj.widths[-1] < obj.widths[0] else obj.loss.target.shape[1]
    M = sum(obj.widths) + n + obj.depth + 4
    gam = M * U / (1 - M * U)
    g_abs = numerics.gradient(_abs_objective(obj), [np.abs(w) for w in theta])
    g = numerics.gradient(obj, theta)
    return [U * (np.abs(w) + eta * np.abs(gi)) + gam * eta * ga for w, gi, ga in zip(theta, g, g_abs)]


def _generic_gd(obj, theta, eta, K):
    b = BACKENDS["float"]
    Ws, out = [w.copy() for w in theta], [[w.copy() for w in theta]]
    for _ in range(K):
        _, g = evaluate(obj, Ws, b, want_value=False)
        Ws = [w - gi * eta for w, gi in zip(Ws, g)]
        out.append(Ws)
    return out


KINDS = ["whitened-scalar", "whitened-wide", "relu-data"]


@settings(max_examples=15, deadline=None)
@given(st.sampled_from(KINDS), st.integers(0, 2**31 - 1), st.sampled_from([0.01, 0.1, 0.3]))
def test_one_step_equals_generic_formula(kind, seed, eta):
    obj, th = _objective(kind, seed)
    fast = numerics.gradient_descent(obj, th, eta, 1).thetas[1]
    generic = _generic_gd(obj, th, eta, 1)[1]
    bound = _step_bound(obj, th, eta)
    for a, b, e in zip(fast, generic, bound):
        assert np.all(np.abs(a - b) <= 2 * e)


@pytest.mark.parametrize("kind", KINDS)
def test_many_steps_and_losses_equal_generic_formula(kind):
    obj, th = _objective(kind, 7)
    eta, K = 0.05, 25
    fast = numerics.gradient_descent(obj, th, eta, K)
    generic = _generic_gd(obj, th, eta, K)
    # e_{k+1} ≤ (1 + ηL) e_k + 2‖b_k‖ (2-norms), L = max ‖∇²f‖₂ over the iterates (the points of the
    # two runs are within e_k ~ 1e-15 of each other, where ∇²f differs negligibly)
    L = max(np.linalg.norm(numerics.hessian(obj, t), 2) for t in generic)
    e = 0.0
    flat = lambda t: np.concatenate([w.ravel() for w in t])  # noqa: E731
    for k in range(K + 1):
        d = float(np.linalg.norm(flat(fast.thetas[k]) - flat(generic[k])))
        assert d <= e * (1 + 1e-6) + 1e-300
        # loss: |Δf| ≤ ‖∇f‖·e_k + 2γ_M·f_abs (f_abs: the loss on absolute values, as for G_abs)
        g = float(np.linalg.norm(flat(numerics.gradient(obj, generic[k]))))
        M = sum(obj.widths) + 8 + obj.depth
        f_abs = float(numerics.value(_abs_objective(obj), [np.abs(w) for w in generic[k]]))
        assert abs(fast.losses[k] - float(numerics.value(obj, generic[k]))) <= g * d + 2 * M * U * f_abs * 1.01
        if k < K:
            b = float(np.linalg.norm(flat(_step_bound(obj, generic[k], eta))))
            e = (1 + eta * L) * e + 2 * b


def test_fast_path_leaves_theta0_alone_and_returns_copies():
    obj, th = _objective("whitened-scalar", 3)
    before = [w.copy() for w in th]
    r = numerics.gradient_descent(obj, th, 0.1, 5)
    for a, b in zip(th, before):
        np.testing.assert_array_equal(a, b)
    assert not any(np.shares_memory(a, b) for a in r.thetas[0] for b in r.thetas[-1])


@pytest.mark.parametrize("kind", KINDS)
def test_keep_every_k(kind):
    obj, th = _objective(kind, 11)
    K = 23
    full = numerics.gradient_descent(obj, th, 0.05, K)
    assert full.kept == list(range(K + 1))
    thin = numerics.gradient_descent(obj, th, 0.05, K, keep=5)
    assert thin.kept == [0, 5, 10, 15, 20, 23]
    assert len(thin.losses) == K + 1
    for k in thin.kept:
        # same code on the same input: the kept iterates are the full run's, bit for bit
        for a, b in zip(thin.iterate(k), full.thetas[k]):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(KeyError, match="step 3 was not kept"):
        thin.iterate(3)
    last = numerics.gradient_descent(obj, th, 0.05, K, keep="last")
    assert last.kept == [0, K] and len(last.thetas) == 2


def test_keep_every_k_on_the_generic_path():
    """mp and momentum methods run on the generic loop: the same ``keep`` rule."""
    q = theory.Quadratic(np.array([[2.0, 0.5], [0.5, 1.0]]), np.array([1.0, -1.0]))
    hb = numerics.heavy_ball(q, [np.array([1.0, 2.0])], 0.1, 0.5, 10, keep=4)
    assert hb.kept == [0, 4, 8, 10]
    full = numerics.heavy_ball(q, [np.array([1.0, 2.0])], 0.1, 0.5, 10)
    np.testing.assert_array_equal(hb.iterate(8)[0], full.thetas[8][0])


@pytest.mark.parametrize("keep", [0, -1, 2.5, "some", True])
def test_keep_rejects_bad_values(keep):
    obj, th = _objective("whitened-scalar", 0)
    with pytest.raises(ValueError, match="keep must be"):
        numerics.gradient_descent(obj, th, 0.1, 3, keep=keep)


def test_fast_path_reports_divergence_without_nan():
    obj, th = _objective("whitened-scalar", 1)
    th = [5 * w for w in th]
    r = numerics.gradient_descent(obj, th, 10.0, 100)
    assert r.diverged and "gd diverged at step" in r.message
    assert all(np.isfinite(x) for x in r.losses)
    assert r.steps < 100


def test_fast_path_cross_entropy_is_cross_entropy():
    # Regression: after the xent/perf merge the fast path computed ½‖z − E‖² for CrossEntropy objectives.
    # Its loss at θ_0 and one step must be the cross-entropy ones; both paths run the same products, so
    # they agree within the forward-error bound γ_M of the module docstring (relative, per quantity).
    rng = np.random.default_rng(3)
    X, labels = rng.standard_normal((9, 4)), rng.integers(0, 3, 9)
    for model in (theory.DeepLinear((4, 5, 3)), theory.ReLUNet((4, 5, 3))):
        obj = theory.Objective(model, theory.CrossEntropy(X, labels))
        th = numerics.gaussian_init(obj, 0.6, seed=1)
        M = sum(obj.widths) + X.shape[0] + obj.depth + 4
        gam = M * U / (1 - M * U)
        gd = numerics.gradient_descent(obj, th, 0.1, 1)
        f0 = float(numerics.value(obj, th))
        assert abs(float(gd.losses[0]) - f0) <= 4 * gam * abs(f0)
        step = [w - 0.1 * g for w, g in zip(th, numerics.gradient(obj, th))]
        scale = max(float(np.abs(w).max()) for w in th) + 0.1 * max(float(np.abs(g).max()) for g in numerics.gradient(obj, th))
        assert max(float(np.abs(a - b).max()) for a, b in zip(gd.thetas[-1], step)) <= 4 * gam * scale
