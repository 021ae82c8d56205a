"""Dense symmetric eigenproblems for the error growth (:mod:`numerics.error_growth`): LAPACK's eigenvalues
without scipy's per-call overhead, and a Cholesky certificate that a given number bounds the spectrum
from below (docs/theory.md F, "Certificates (dense Hessians from 64 parameters on)")."""

from __future__ import annotations

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
