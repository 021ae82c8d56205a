"""Dense symmetric eigenproblems for the error growth (:mod:`numerics.error_growth`): LAPACK's eigenvalues
without scipy's per-call overhead, and a Cholesky certificate that a given number bounds the spectrum
from below (docs/theory.md F, "Certificates (dense Hessians from 64 parameters on)")."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.linalg

_SYEVR_WORK: dict[int, tuple[int, int]] = {}  # n -> (lwork, liwork) of LAPACK's workspace query


def symmetric_eig(A: np.ndarray, lowest: bool, scratch: bool = False) -> Any:
    """Eigenvalues of a symmetric float64 matrix by the very LAPACK call of ``scipy.linalg.eigh``
    (dsyevr on the lower triangle, workspace from its query; the same numbers bit for bit,
    tests/test_error_growth.py), without eigh's per-call argument handling: ~20 µs a call, as much as
    the solve itself at P = 21. ``lowest``: (w, V) with w[0] = λ_min and V[:, 0] its unit eigenvector,
    as ``eigh(A, subset_by_index=[0, 0])``; else all eigenvalues ascending, as ``eigvalsh(A)``.
    ``scratch``: A is an exactly symmetric temporary that LAPACK may overwrite (then Aᵀ = A is handed
    over, already in Fortran order: no copy)."""
    if not np.isfinite(A).all():  # eigh's check_finite: LAPACK is undefined on inf/NaN
        raise ValueError("array must not contain infs or NaNs")
    n = A.shape[0]
    drv, query = scipy.linalg.get_lapack_funcs(("syevr", "syevr_lwork"), (A,))
    if n not in _SYEVR_WORK:
        lwork, liwork, info = query(n=n, lower=1)
        if info != 0:
            raise np.linalg.LinAlgError(f"dsyevr workspace query failed (info = {info})")
        _SYEVR_WORK[n] = int(lwork), int(liwork)  # as scipy's _compute_lwork for float64
    lwork, liwork = _SYEVR_WORK[n]
    args = dict(range="I", il=1, iu=1, compute_v=1) if lowest else dict(range="A", compute_v=0)
    w, V, m, _, info = drv(A.T if scratch else A, lower=1, lwork=lwork, liwork=liwork, overwrite_a=int(scratch), **args)
    if info != 0:
        raise np.linalg.LinAlgError(f"dsyevr failed (info = {info})")
    return (w[:m], V[:, :m]) if lowest else w


def psd_defect(A: np.ndarray, diagonal_shift: float = 0.0, shifted: np.ndarray | None = None) -> float | None:
    """e ≥ 0 with λ_min(A_exact) ≥ −e when LAPACK's Cholesky factorization (dpotrf, lower triangle) of the
    symmetric float64 matrix A succeeds; None when it fails. A is overwritten.

    Backward error (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., Thm 10.3; any
    order of the inner products, so blocked LAPACK with conventional BLAS too): a successful run returns
    R̂ with R̂R̂ᵀ = A + ΔA, |ΔA| ≤ γ_{n+1}|R̂||R̂ᵀ| entrywise, γ_m = mu/(1 − mu), u = 2⁻⁵³. So A + ΔA ⪰ 0 and
    λ_min(A) ≥ −‖ΔA‖₂ ≥ −γ_{n+1}‖|R̂|‖₂² ≥ −γ_{n+1}‖R̂‖_F². When A was formed in floats as
    fl(diagonal_shift·I + X) with X's diagonal ``shifted`` (off-diagonal entries exact), its diagonal
    carries one rounding each, ≤ u·max_i|shift + x_ii|, and A_exact is the unrounded sum: that is added.
    The float sum ‖R̂‖_F² and the additions are covered by a factor 2 on the margin (their relative
    errors are ≤ n²u ≪ 1)."""
    n = A.shape[0]
    potrf = scipy.linalg.get_lapack_funcs("potrf", (A,))
    R, info = potrf(A.T, lower=0, clean=1, overwrite_a=1)  # Aᵀ = A, C order: the Fortran upper triangle
    if info != 0:
        return None
    u = np.finfo(float).eps / 2
    gamma = (n + 1) * u / (1 - (n + 1) * u)
    e = gamma * float(np.sum(R * R))
    if shifted is not None:
        e += u * float(np.max(np.abs(diagonal_shift + shifted)))
    return 2.0 * e


def psd_max_upper(M: np.ndarray, x0: np.ndarray | None = None, tol: float = 2.0**-10) -> tuple[float | None, np.ndarray | None]:
    """(β', x): β' ≥ λ_max(M) for a symmetric float64 matrix M (taken as exact; where M is symmetric only to
    rounding, the matrix of its lower triangle, the one LAPACK's eigensolvers read too), within ≈ ``tol`` relative of it,
    and the Lanczos vector x (a warm start for the next call on a nearby matrix); (None, None) where no
    certificate was had — the caller then takes LAPACK's eigenvalues.

    M is scaled by a power of two to ‖M‖_F ≈ 1 (exactly; checked), since ARPACK's convergence test is absolute
    below ε^{2/3}. Lanczos (ARPACK, the largest algebraic eigenvalue, from ``x0`` or a seeded vector) gives a Ritz
    value θ ≤ λ_max (Ritz values of a symmetric matrix lie in its spectrum's hull); β = (1 + tol)·θ is then
    certified by one Cholesky factorization: βI − M ⪰ −e·I with e from Higham's backward error
    (:func:`psd_defect`, which also counts the rounding of the diagonal shift), so λ_max(M) ≤ β + e. It fails where
    θ ≤ 0, where Lanczos stopped more than tol below λ_max, or where it did not converge. At P ≈ 1000 a
    factorization and a few dozen products Mx cost ~1/3 of LAPACK's eigenvalues (89 against ~30 ms at P = 1,170,
    one thread)."""
    import scipy.sparse.linalg as sla

    n = M.shape[0]
    fro = float(np.linalg.norm(M))
    if n < 3 or not (fro > 0 and math.isfinite(fro)):
        return None, None
    k = round(math.log2(fro))
    Ms = M * 2.0**-k
    if not np.array_equal(Ms * 2.0**k, M):  # (an entry lost bits to underflow: not the same matrix)
        return None, None
    v0 = x0 if x0 is not None and x0.shape == (n,) else np.random.default_rng(3).standard_normal(n)
    try:
        w, V = sla.eigsh(Ms, k=1, which="LA", v0=v0, tol=tol / 16, ncv=min(n - 1, 20), maxiter=200)
    except (sla.ArpackNoConvergence, sla.ArpackError):
        return None, None
    theta = float(w[0])
    if not (theta > 0 and math.isfinite(theta)):
        return None, None
    beta = theta * (1 + tol)
    A = -Ms  # (exact)
    diag = A.diagonal().copy()
    A[np.diag_indices(n)] += beta
    e = psd_defect(A, diagonal_shift=beta, shifted=diag)
    if e is None:
        return None, None
    return (beta + e) * (1 + 4 * np.finfo(float).eps) * 2.0**k, V[:, 0]
