"""The extreme Hessian eigenvalues λ_min, λ_max of ∇²f(θ) in float64, dense or matrix-free.

Small problems: the Hessian from the batched dual pass and LAPACK ``eigh``. Large ones: the HVP of
:mod:`numerics.hessians` as a ``scipy.sparse.linalg.LinearOperator`` and ARPACK ``eigsh`` (Lanczos,
``which="SA"``), with no P×P matrix ever formed.

Every result carries an a-posteriori error statement: for a symmetric H, a unit vector v and
λ = vᵀHv, some eigenvalue of H lies within ‖Hv − λv‖ of λ (the residual bound; Parlett, *The
Symmetric Eigenvalue Problem*, Thm 4.5.1). The residual is recomputed here with a fresh HVP, not taken
from the solver. It bounds the distance to *an* eigenvalue; that it is the smallest one is the
solver's claim (ARPACK converged on the ``SA`` end), checked against dense ``eigh`` in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import scipy.linalg
import scipy.sparse.linalg as sla

from theory import to_kind

from .backends import BACKENDS
from .duals import Dual, primal_memo
from .gradients import check_objective, evaluate, primal_masks, to_backend
from .hessians import fixed_masks, hessian


class ConvergenceError(RuntimeError):
    """An iterative solver did not reach the requested tolerance."""


@dataclass(frozen=True)
class EigenResult:
    """λ_min with its evidence: ``residual`` = ‖Hv − λv‖ for the unit ``vector`` v."""

    value: float
    residual: float
    method: str
    matvecs: int
    vector: np.ndarray

    @property
    def error_bound(self) -> float:
        """Some eigenvalue of H lies in [value − error_bound, value + error_bound]."""
        return self.residual


def hvp_operator(obj: Any, theta: Sequence[Any], masks: Sequence[np.ndarray] | None = None) -> sla.LinearOperator:
    """v ↦ ∇²f(θ)v on flat float64 vectors, as a scipy LinearOperator (counts its calls in ``.calls``).
    ``masks`` (one (d_l, n) array per hidden layer, entries in [α, 1]): the Hessian of the loss with these
    masks fixed instead of the pattern at θ (a Filippov sliding mode's, whose weights are fractional)."""
    obj = check_objective(obj)
    arrays = [to_kind(a, "float") for a in obj.check_theta(theta)]
    b = BACKENDS["float"]
    Ws = to_backend(obj, arrays, b)
    P = obj.num_params
    # the tangent blocks as views of x (unflatten's own checks and copies cost ~25 % of an HVP)
    shapes = [w.shape for w in Ws]
    ends = np.cumsum([w.size for w in Ws]).tolist()
    starts = [0] + ends[:-1]

    # The value parts of the dual pass are the same for every v: they are computed once and then read from
    # a memo (numerics.duals.primal_memo), so an HVP costs the tangent products only. The activation
    # pattern is fixed from the primal pre-activations at θ, as evaluate itself would read it, so that
    # the masks are the same objects in every pass (a memo key is an operand's identity).
    memo: dict = {}
    masks = primal_masks(obj, Ws, b) if masks is None else fixed_masks(obj, masks)

    def matvec(x: np.ndarray) -> np.ndarray:
        op.calls += 1
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        vs = [x[i:j].reshape(s) for i, j, s in zip(starts, ends, shapes)]
        with primal_memo(memo):
            _, g = evaluate(obj, [Dual(w, t) for w, t in zip(Ws, vs)], b, want_value=False, masks=masks)
        return np.concatenate([gi.tan.reshape(-1) for gi in g])

    op = sla.LinearOperator((P, P), matvec=matvec, dtype=np.float64)
    op.calls = 0
    return op


def lambda_min(
    obj: Any,
    theta: Sequence[Any],
    method: str = "auto",
    tol: float = 1e-10,
    dense_max: int = 800,
    maxiter: int | None = None,
    seed: int = 0,
    return_info: bool = False,
    v0: np.ndarray | None = None,
) -> float | EigenResult:
    """λ_min(∇²f(θ)) in float64 (θ of any entry kind is rounded to float64 first).

    ``method``: ``"dense"`` (``eigh`` of the full Hessian), ``"eigsh"`` (matrix-free Lanczos on
    HVPs), or ``"auto"`` (dense when P ≤ ``dense_max``). ``tol`` is ARPACK's relative tolerance.
    ``seed`` fixes the Lanczos start vector (or pass ``v0``, e.g. the eigenvector at a nearby point:
    a warm start). With ``return_info`` an :class:`EigenResult` is returned
    with the residual bound. Raises :class:`ConvergenceError` when ARPACK does not converge.
    """
    return _extreme(obj, theta, "SA", method, tol, dense_max, maxiter, seed, return_info, v0)


def lambda_max(
    obj: Any,
    theta: Sequence[Any],
    method: str = "auto",
    tol: float = 1e-10,
    dense_max: int = 800,
    maxiter: int | None = None,
    seed: int = 0,
    return_info: bool = False,
    v0: np.ndarray | None = None,
) -> float | EigenResult:
    """λ_max(∇²f(θ)) in float64: as :func:`lambda_min` at the other end of the spectrum (``which="LA"``)."""
    return _extreme(obj, theta, "LA", method, tol, dense_max, maxiter, seed, return_info, v0)


def _extreme(obj: Any, theta: Sequence[Any], which: str, method: str, tol: float, dense_max: int,
             maxiter: int | None, seed: int, return_info: bool, v0: np.ndarray | None) -> float | EigenResult:
    obj = check_objective(obj)
    if method not in ("auto", "dense", "eigsh"):
        raise ValueError(f"method must be 'auto', 'dense' or 'eigsh', got {method!r}")
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol!r}")
    P = obj.num_params
    arrays = [to_kind(a, "float") for a in obj.check_theta(theta)]
    op = hvp_operator(obj, arrays)
    if method == "auto":
        method = "dense" if P <= dense_max else "eigsh"
    if method == "eigsh" and P < 3:
        method = "dense"  # ARPACK needs k < P - 1
    if method == "dense":
        H = hessian(obj, arrays)
        i = 0 if which == "SA" else P - 1
        w, V = scipy.linalg.eigh(H, subset_by_index=[i, i])
        lam, vec = float(w[0]), V[:, 0]
    else:
        if v0 is None:
            v0 = np.random.default_rng(seed).standard_normal(P)
        elif np.shape(v0) != (P,):
            raise ValueError(f"v0 must be a vector of length {P} (the number of parameters), got shape {np.shape(v0)}")
        try:
            w, V = sla.eigsh(op, k=1, which=which, tol=tol, maxiter=maxiter, v0=np.asarray(v0, dtype=np.float64))
        except sla.ArpackNoConvergence as e:
            raise ConvergenceError(
                f"eigsh did not converge to tol={tol} within maxiter={maxiter} ({op.calls} HVPs); "
                "raise maxiter, loosen tol, or use method='dense' for P <= a few thousand"
            ) from e
        lam, vec = float(w[0]), V[:, 0]
    calls = op.calls
    vec = vec / np.linalg.norm(vec)
    Hv = op.matvec(vec)
    lam = float(vec @ Hv)  # Rayleigh quotient: the best estimate for this vector
    residual = float(np.linalg.norm(Hv - lam * vec))
    res = EigenResult(lam, residual, method, calls, vec)
    return res if return_info else res.value
