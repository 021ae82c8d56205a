"""lambda_min: matrix-free Lanczos against dense eigh, and the residual bound it reports."""

import numpy as np
import pytest

import numerics
import theory


def net(widths, scale, seed):
    rng = np.random.default_rng(seed)
    Phi = rng.standard_normal((widths[-1], widths[0]))
    obj = theory.Objective(theory.DeepLinear(widths), theory.WhitenedSquare(Phi / np.linalg.norm(Phi)))
    return obj, numerics.gaussian_init(obj, scale, seed=seed)


@pytest.mark.parametrize("widths,scale", [((25, 25, 25, 25, 1), 0.3), ((20, 30, 30, 20, 2), 0.2)])
def test_eigsh_agrees_with_dense_on_2000_parameters(widths, scale):
    obj, theta = net(widths, scale, seed=1)
    assert 1800 <= obj.num_params <= 2600
    it = numerics.lambda_min(obj, theta, method="eigsh", tol=1e-12, return_info=True)
    H = numerics.hessian(obj, theta)
    lam_dense = np.linalg.eigvalsh(H)[0]
    # eigh is backward stable: |λ̂ − λ| ≤ c·P·ε·‖H‖₂ (c = 1 here; ‖H‖₂ ≤ ‖H‖_F)
    dense_err = obj.num_params * np.finfo(float).eps * np.linalg.norm(H)
    assert it.method == "eigsh" and it.matvecs > 0
    assert abs(it.value - lam_dense) <= it.error_bound + dense_err
    # the residual is an honest bound: recompute ‖Hv − λv‖ with the dense matrix
    assert abs(np.linalg.norm(H @ it.vector - it.value * it.vector) - it.residual) <= dense_err


def test_dense_and_auto_paths_and_info():
    obj, theta = net((4, 5, 5, 1), 0.5, seed=3)
    r = numerics.lambda_min(obj, theta, return_info=True)
    assert r.method == "dense"
    w = np.linalg.eigvalsh(numerics.hessian(obj, theta))
    assert abs(r.value - w[0]) <= 1e-12 * max(1.0, abs(w).max())
    assert isinstance(numerics.lambda_min(obj, theta), float)


def test_nonconvergence_is_an_error_not_a_number():
    obj, theta = net((30, 30, 30, 1), 0.3, seed=2)
    with pytest.raises(numerics.ConvergenceError, match="did not converge"):
        numerics.lambda_min(obj, theta, method="eigsh", tol=1e-15, maxiter=2)


def test_b1_equality_case_float():
    """N = 2 at θ = 0: ∇²f has λ_min = −‖Φ‖₂ (docs/theory.md B1 equality), checked against an SVD."""
    rng = np.random.default_rng(5)
    Phi = rng.standard_normal((3, 4))
    obj = theory.Objective(theory.DeepLinear((4, 5, 3)), theory.WhitenedSquare(Phi))
    theta = [np.zeros(s) for s in obj.shapes]
    lam = numerics.lambda_min(obj, theta)
    s_max = np.linalg.svd(Phi, compute_uv=False)[0]
    H = numerics.hessian(obj, theta)
    # eigh backward error P·ε·‖H‖_F, plus the SVD's own ~ε·‖Φ‖₂ (counted in the same P·ε budget)
    assert abs(lam + s_max) <= obj.num_params * np.finfo(float).eps * (np.linalg.norm(H) + s_max)
