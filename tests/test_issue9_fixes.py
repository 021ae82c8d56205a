"""Issue 9 fixes: gf_gd_distance for every trajectory type, xavier_init, lambda_max."""

from fractions import Fraction

import mpmath
import numpy as np
import pytest

import numerics
import theory


def _net(widths=(3, 3, 1), scale=0.5, seed=2):
    rng = np.random.default_rng(seed)
    Phi = rng.standard_normal((widths[-1], widths[0]))
    obj = theory.Objective(theory.DeepLinear(widths), theory.WhitenedSquare(Phi / np.linalg.norm(Phi)))
    return obj, numerics.gaussian_init(obj, scale, seed=seed)


# ------------------------------------------------------------------------------ gf_gd_distance
def test_gf_gd_distance_for_every_trajectory_type():
    """float64, mp Taylor and mpmath-odefun flows give the same GF–GD distances (to the float flow's
    accuracy: DOP853 at rtol 1e-12 with its own error estimate, plus float64 GD's, far below the
    distances, which are O(η) ≈ 1e-3)."""
    obj, th = _net((2, 2, 1))
    eta, K = 0.125, 2
    gd = numerics.gradient_descent(obj, th, eta, K)
    T = K * eta
    f = numerics.gradient_flow_float(obj, th, T, rtol=1e-12, atol=1e-14)
    m = numerics.gradient_flow(obj, th, Fraction(T), dps=30)
    g = numerics.gradient_flow_generic(obj, th, Fraction(T), dps=15)
    d_f = numerics.gf_gd_distance(f, gd)
    d_m = numerics.gf_gd_distance(m, gd)
    d_g = numerics.gf_gd_distance(g, gd)
    assert len(d_f) == len(d_m) == len(d_g) == K + 1
    assert all(isinstance(x, float) for x in d_f) and all(isinstance(x, mpmath.mpf) for x in d_m)
    # ‖·‖₂ over P entries of a max-norm error e is ≤ √P·e; + rounding of the 15-digit sums
    tol = f.error_estimate * np.sqrt(obj.num_params) + 1e-14
    tol_g = (g.error_estimate + float(m.error_estimate)) * np.sqrt(obj.num_params) + 1e-14
    for a, b, c in zip(d_f, d_m, d_g):
        assert abs(a - float(b)) <= tol
        assert abs(float(b) - float(c)) <= tol_g
    assert float(d_m[0]) <= 1e-25 and max(d_f) > 1e-3  # θ(0) = θ_0; and the distances are not trivial


def test_gf_gd_distance_on_kept_iterates():
    obj, th = _net()
    eta, K = 0.0625, 9
    full = numerics.gradient_descent(obj, th, eta, K)
    thin = numerics.gradient_descent(obj, th, eta, K, keep=4)
    f = numerics.gradient_flow_float(obj, th, K * eta, estimate_error=False)
    d_full, d_thin = numerics.gf_gd_distance(f, full), numerics.gf_gd_distance(f, thin)
    assert len(d_thin) == len(thin.kept) == 4  # steps 0, 4, 8, 9
    for k, d in zip(thin.kept, d_thin):
        assert abs(d - d_full[k]) <= 1e-15


# ------------------------------------------------------------------------------ xavier_init
WIDTHS = (400, 600, 1)


@pytest.mark.parametrize("distribution", ["uniform", "normal"])
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_xavier_moments(distribution, gain):
    """Glorot & Bengio (2010): Var = gain²·2/(fan_in + fan_out); uniform on ±gain·√(6/(fan_in+fan_out)).

    Tolerances: 6 standard errors of each estimator over the n entries of a layer (seeded draw, so the
    test is deterministic; a correct sampler fails it with probability ~2e-9 per check).
    SE(mean) = σ/√n; SE(s²) = √((μ₄ − σ⁴)/n) with μ₄ = 9σ⁴/5 (uniform), 3σ⁴ (normal);
    SE(kurtosis) ≈ √(24/n) for the normal (smaller for the uniform)."""
    obj = theory.Objective(theory.DeepLinear(WIDTHS), theory.WhitenedSquare(np.ones((1, WIDTHS[0]))))
    Ws = numerics.xavier_init(obj, seed=5, distribution=distribution, gain=gain)
    assert [w.shape for w in Ws] == list(obj.shapes)
    for W, (fan_out, fan_in) in zip(Ws, obj.shapes):
        x = W.ravel()
        n = x.size
        var = gain**2 * 2.0 / (fan_in + fan_out)
        mu4 = (9 / 5 if distribution == "uniform" else 3.0) * var**2
        assert abs(x.mean()) <= 6 * np.sqrt(var / n)
        assert abs(x.var() - var) <= 6 * np.sqrt((mu4 - var**2) / n)
        if n >= 10_000:
            kurt = float(((x - x.mean()) ** 4).mean() / x.var() ** 2)
            assert abs(kurt - mu4 / var**2) <= 6 * np.sqrt(24 / n)
        if distribution == "uniform":
            a = gain * np.sqrt(6.0 / (fan_in + fan_out))
            assert np.abs(x).max() <= a
            assert np.abs(x).max() >= a * (1 - 20 / n)  # the support is filled up to ±a


def test_xavier_is_seeded_and_checks_its_arguments():
    obj, _ = _net((5, 4, 1))
    a = numerics.xavier_init(obj, seed=3)
    b = numerics.xavier_init(obj, seed=3)
    c = numerics.xavier_init(obj, seed=4)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert any(np.abs(x - z).max() > 0 for x, z in zip(a, c))
    with pytest.raises(ValueError, match="distribution"):
        numerics.xavier_init(obj, 0, distribution="cauchy")
    with pytest.raises(ValueError, match="gain"):
        numerics.xavier_init(obj, 0, gain=-1.0)
    with pytest.raises(TypeError, match="obj"):
        numerics.xavier_init("net", 0)


# ------------------------------------------------------------------------------ lambda_max
@pytest.mark.parametrize("widths,scale", [((12, 12, 12, 1), 0.5), ((10, 15, 10, 2), 0.4)])
def test_lambda_max_eigsh_agrees_with_dense(widths, scale):
    obj, theta = _net(widths, scale, seed=1)
    it = numerics.lambda_max(obj, theta, method="eigsh", tol=1e-12, return_info=True)
    H = numerics.hessian(obj, theta)
    w = np.linalg.eigvalsh(H)
    dense_err = obj.num_params * np.finfo(float).eps * np.linalg.norm(H)  # eigh backward stability
    assert it.method == "eigsh"
    assert abs(it.value - w[-1]) <= it.error_bound + dense_err
    d = numerics.lambda_max(obj, theta, method="dense", return_info=True)
    assert abs(d.value - w[-1]) <= d.error_bound + dense_err
    assert abs(numerics.lambda_min(obj, theta, method="dense") - w[0]) <= dense_err


def test_xavier_init_with_biases_zero_biases_same_weights():
    """Nets with biases: the weights are the bias-free net's (same seed), every bias starts at 0."""
    from theory import CrossEntropy

    X = np.eye(4)[:, :3]
    labels = np.array([0, 1, 2, 0])
    for make in (lambda b: theory.DeepLinear((3, 5, 3), bias=b), lambda b: theory.ReLUNet((3, 5, 3), bias=b)):
        plain = numerics.xavier_init(theory.Objective(make(False), CrossEntropy(X, labels)), seed=4)
        biased = numerics.xavier_init(theory.Objective(make(True), CrossEntropy(X, labels)), seed=4)
        assert [w.shape for w in biased] == [(5, 3), (5,), (3, 5), (3,)]
        assert np.array_equal(biased[0], plain[0]) and np.array_equal(biased[2], plain[1])
        assert not biased[1].any() and not biased[3].any()
