"""Training the two-layer ReLU net of docs/theory.md D1 in float64: GD, heavy ball, Nesterov, and GF.

Only the first layer W (m×d) is trained (a = ±1 fixed). With Z = XWᵀ (n×m), u = m^{-1/2} relu(Z) a,
e = u − y, the gradient of L = ½‖e‖² is

    ∂L/∂w_r = m^{-1/2} a_r Σ_i e_i 1{z_ir ≥ 0} x_i,   i.e.  G = diag(a/√m) (1{Z ≥ 0} ⊙ e 1ᵀ)ᵀ X,

two (n×m)·(m×d)-sized products per step (vectorised numpy). The methods and their time maps
(docs/theory.md D2–D4):

* GD   W_{k+1} = W_k − η∇L(W_k);                               t = kη   (→ GF  e' = −He)
* HB   W_{k+1} = W_k − η∇L(W_k) + β(W_k − W_{k−1}), W_{−1} = W_0, β = 1 − b√η;
                                                                t = k√η  (→ e'' + be' + He = 0)
* NAG  x_k = y_{k−1} − η∇L(y_{k−1}), y_k = x_k + ((k−1)/(k+r−1))(x_k − x_{k−1}), x_0 = y_0 = W_0;
       the loss is reported at x_k;                             t = k√η  (→ e'' + (r/t)e' + He = 0)

The same iterations as :mod:`numerics.discrete` (which runs them on the generic formulas in every
arithmetic); here they are specialised to this model so that widths of thousands train in seconds.
Divergence (a non-finite loss, or one above ``diverge_factor``·max(1, L(W_0))) stops a run and is
reported in the result, never returned as NaN.

:func:`network_gradient_flow` integrates the weight-space GF W' = −∇L(W) with fixed-step RK4 (the
field jumps where some w_rᵀx_i changes sign and can slide along such a boundary, which stalls adaptive
solvers; the error estimate compares step h with h/2).
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import math
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

from theory.arrays import check_range
from theory.ntk import TwoLayerReLU, _labels, check_data, gram_finite

METHODS = ("gd", "heavy_ball", "nesterov")


def _openblas() -> Any:
    """numpy's bundled scipy-openblas (ctypes handle) if present, else None."""
    libdir = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libdir, "*openblas*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for suffix in ("64_", ""):
            get = getattr(lib, f"scipy_openblas_get_num_threads{suffix}", None)
            put = getattr(lib, f"scipy_openblas_set_num_threads{suffix}", None)
            if get is not None and put is not None:
                return get, put
    return None


@contextlib.contextmanager
def blas_threads(n: int | None) -> Iterator[None]:
    """Limit numpy's OpenBLAS to ``n`` threads inside the block, then restore (no-op for ``None`` or
    another BLAS). The products here are small (n ≤ a few hundred rows): a second thread gains ~10%
    on an idle machine, and with other processes on the cores its spin-waiting made runs 3–5× slower
    (measured), so the experiment uses one thread."""
    fns = _openblas() if n is not None else None
    if fns is None:
        yield
        return
    get, put = fns
    old = int(get())
    put(int(n))
    try:
        yield
    finally:
        put(old)


@dataclass
class TrainingRun:
    """A training run: ``losses[k]`` = L after k steps (all k), ``errors[j]`` = e = u − y after
    ``record_every``·j steps, ``times`` the matching t_k (``loss_times`` for every step)."""

    method: str
    params: dict
    losses: np.ndarray
    loss_times: np.ndarray
    errors: np.ndarray
    times: np.ndarray
    W: np.ndarray  # the final weights (x_K for Nesterov)
    diverged: bool = False
    message: str = ""
    info: dict = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return len(self.losses) - 1


def loss_and_gradient(model: TwoLayerReLU, W: np.ndarray, X: np.ndarray, y: np.ndarray,
                      a_scaled: np.ndarray | None = None) -> tuple[float, np.ndarray, np.ndarray]:
    """(L, ∇_W L, e) at W (float64; module docstring). ``a_scaled`` = a/√m may be passed to save work."""
    if a_scaled is None:
        a_scaled = model.a / math.sqrt(model.m)
    Z = X @ W.T
    act = Z >= 0
    e = np.where(act, Z, 0.0) @ a_scaled - y
    G = (act * e[:, None]).T @ X
    G *= a_scaled[:, None]
    return 0.5 * float(e @ e), G, e


def _errors_only(W, X, y, a_scaled):
    return np.maximum(X @ W.T, 0.0) @ a_scaled - y


def _prepare(model, X, y, W0):
    if not isinstance(model, TwoLayerReLU):
        raise TypeError(f"model must be a theory.TwoLayerReLU, got {type(model).__name__}")
    X = np.asarray(check_data(X)[0], dtype=float)
    if X.shape[1] != model.d:
        raise ValueError(f"X must have d = {model.d} columns, got shape {X.shape}")
    y = _labels(y, X)
    W0 = model.init() if W0 is None else np.array(model.check_weights(W0), dtype=float)
    return X, y, W0


def _check_steps(steps: Any, name: str = "steps") -> int:
    if isinstance(steps, bool) or int(steps) != steps or steps < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {steps!r}")
    return int(steps)


def train(model: TwoLayerReLU, X: Any, y: Any, method: str, eta: float, steps: int, b: float | None = None,
          r: float = 3, W0: Any = None, record_every: int = 1, diverge_factor: float = 1e8,
          callback: Callable[[int, float], None] | None = None) -> TrainingRun:
    """Train W from ``W0`` (default ``model.init()``) by ``method`` in {"gd", "heavy_ball", "nesterov"}
    (module docstring). Heavy ball needs the damping ``b`` (β = 1 − b√η ∈ [0, 1)); Nesterov takes ``r``.

    ``callback(k, loss)`` is called after each step (e.g. for progress).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    check_range(eta, "eta", lo=0, lo_strict=True)
    if not math.isfinite(float(eta)):
        raise ValueError(f"eta must be finite, got {eta!r}")
    steps = _check_steps(steps)
    record_every = _check_steps(record_every, "record_every")
    if record_every < 1:
        raise ValueError("record_every must be >= 1")
    eta = float(eta)
    params: dict = {"eta": eta}
    if method == "heavy_ball":
        if b is None:
            raise ValueError("heavy_ball needs the damping b (beta = 1 - b*sqrt(eta))")
        check_range(b, "b (damping)", lo=0, lo_strict=True)
        beta = 1 - float(b) * math.sqrt(eta)
        if not 0 <= beta < 1:
            raise ValueError(f"beta = 1 - b*sqrt(eta) = {beta!r} must lie in [0, 1): need b*sqrt(eta) <= 1")
        params.update(b=float(b), beta=beta)
    if method == "nesterov":
        check_range(r, "r", lo=0, lo_strict=True)
        params["r"] = float(r)
    X, y, W = _prepare(model, X, y, W0)
    a_s = model.a / math.sqrt(model.m)
    dt = eta if method == "gd" else math.sqrt(eta)

    L0, G, e = loss_and_gradient(model, W, X, y, a_s)
    limit = diverge_factor * max(1.0, L0)
    losses, errors, rec_k = [L0], [e], [0]
    W_prev = W  # HB: W_{k−1}; Nesterov: x_{k−1}
    Y = W  # Nesterov's y_k
    diverged, message = False, ""
    for k in range(1, steps + 1):
        if method == "gd":
            W = W - eta * G
            L, G, e = loss_and_gradient(model, W, X, y, a_s)
        elif method == "heavy_ball":
            W, W_prev = W - eta * G + params["beta"] * (W - W_prev), W
            L, G, e = loss_and_gradient(model, W, X, y, a_s)
        else:
            x = Y - eta * G
            mu = (k - 1) / (k + params["r"] - 1)
            Y = x + mu * (x - W)
            W = x
            e = _errors_only(W, X, y, a_s)
            L = 0.5 * float(e @ e)
            _, G, _ = loss_and_gradient(model, Y, X, y, a_s)
        if not math.isfinite(L) or L > limit:
            diverged = True
            message = f"{method} diverged at step {k}: loss {L:.3e} exceeds {diverge_factor:g}*max(1, L0) = {limit:.3e}"
            break
        losses.append(L)
        if k % record_every == 0 or k == steps:
            errors.append(e)
            rec_k.append(k)
        if callback is not None:
            callback(k, L)
    losses = np.array(losses)
    return TrainingRun(method, params, losses, np.arange(len(losses)) * dt, np.array(errors),
                       np.array(rec_k) * dt, W, diverged, message)


def train_gd(model, X, y, eta, steps, **kw) -> TrainingRun:
    """GD (t = kη); see :func:`train`."""
    return train(model, X, y, "gd", eta, steps, **kw)


def train_heavy_ball(model, X, y, eta, b, steps, **kw) -> TrainingRun:
    """Heavy ball with β = 1 − b√η (t = k√η); see :func:`train`."""
    return train(model, X, y, "heavy_ball", eta, steps, b=b, **kw)


def train_nesterov(model, X, y, eta, steps, r=3, **kw) -> TrainingRun:
    """Nesterov with momentum (k−1)/(k+r−1) (t = k√η); see :func:`train`."""
    return train(model, X, y, "nesterov", eta, steps, r=r, **kw)


def initial_gram(model: TwoLayerReLU, X: Any, W0: Any = None) -> np.ndarray:
    """H(W(0)), the finite-width Gram at the initialisation (float64)."""
    W0 = model.init() if W0 is None else W0
    return gram_finite(model.check_weights(W0), np.asarray(X, dtype=float))


@dataclass
class NetworkFlow:
    """Weight-space GF of the finite net on the grid t_k = k·h: ``at(t)`` -> W(t) (linear interpolation
    between grid points), ``error_at(t)`` -> e(t) = u(t) − y."""

    model: TwoLayerReLU
    X: np.ndarray
    y: np.ndarray
    h: float
    states: np.ndarray  # (K+1, m, d)
    t_end: float
    error_estimate: float

    @property
    def times(self) -> np.ndarray:
        return np.arange(self.states.shape[0]) * self.h

    def at(self, t: float) -> np.ndarray:
        t = float(t)
        if not 0 <= t <= self.t_end * (1 + 4 * np.finfo(float).eps):
            raise ValueError(f"t = {t!r} is outside the integrated range [0, {self.t_end!r}]")
        x = min(t / self.h, self.states.shape[0] - 1)
        k = min(int(x), self.states.shape[0] - 2) if self.states.shape[0] > 1 else 0
        if self.states.shape[0] == 1:
            return self.states[0]
        s = x - k
        return (1 - s) * self.states[k] + s * self.states[k + 1]

    def error_at(self, t: float) -> np.ndarray:
        return _errors_only(self.at(t), self.X, self.y, self.model.a / math.sqrt(self.model.m))


def _rk4(model, X, y, a_s, W0, h, K):
    def F(W):
        return -loss_and_gradient(model, W, X, y, a_s)[1]

    out = [W0]
    W = W0
    for _ in range(K):
        k1 = F(W)
        k2 = F(W + (h / 2) * k1)
        k3 = F(W + (h / 2) * k2)
        k4 = F(W + h * k3)
        W = W + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
        out.append(W)
    return np.array(out)


def network_gradient_flow(model: TwoLayerReLU, X: Any, y: Any, t_end: float, W0: Any = None, steps: int = 400,
                          estimate_error: bool = True) -> NetworkFlow:
    """W' = −∇L(W), W(0) = W0 (default ``model.init()``) on [0, t_end]: classical RK4 with ``steps``
    fixed steps h = t_end/steps.

    Why fixed steps: the field jumps where some w_rᵀx_i changes sign, and where it points into the
    boundary from both sides the solution slides along it (a Filippov solution); adaptive solvers
    (``solve_ivp``) then chatter with ever smaller steps and stall (observed: 4e3 → 1.4e5 field
    evaluations between t = 1 and t = 2 for m = 50). A fixed-step method steps over the
    discontinuities; its order drops to 1 near them. ``error_estimate``: max over the grid of
    |W_h − W_{h/2}| (max-norm) against a second run with 2·steps — an estimate of the error of the
    h-run, honest for first-order convergence too.
    """
    X, y, W0 = _prepare(model, X, y, W0)
    t_end = float(t_end)
    if not (math.isfinite(t_end) and t_end > 0):
        raise ValueError(f"t_end must be a finite number > 0, got {t_end!r}")
    steps = _check_steps(steps)
    if steps < 1:
        raise ValueError("steps must be >= 1")
    a_s = model.a / math.sqrt(model.m)
    h = t_end / steps
    states = _rk4(model, X, y, a_s, W0, h, steps)
    if not np.all(np.isfinite(states)):
        raise FloatingPointError("the weight-space flow produced non-finite values")
    err = float("nan")
    if estimate_error:
        fine = _rk4(model, X, y, a_s, W0, h / 2, 2 * steps)[::2]
        err = float(np.abs(states - fine).max())
    return NetworkFlow(model, X, y, h, states, t_end, err)
