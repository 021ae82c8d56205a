"""Discrete methods in every arithmetic: gradient descent, heavy ball, Nesterov.

* GD:         θ_{k+1} = θ_k − η∇f(θ_k).
* Heavy ball: θ_{k+1} = θ_k − η∇f(θ_k) + β(θ_k − θ_{k−1}), θ_{−1} = θ_0 (Polyak).
* Nesterov (Su, Boyd & Candès 2016): x_0 = y_0 = θ_0, x_k = y_{k−1} − η∇f(y_{k−1}),
  y_k = x_k + μ_k(x_k − x_{k−1}) with μ_k = (k−1)/(k+r−1) (r = 3: the classical (k−1)/(k+2), whose
  ODE limit is θ'' + (r/t)θ' + ∇f = 0 at t = k√η), or a constant μ_k = β.

The iteration runs on the backend matrices of θ's entry kind (float64 / mpf / exact rationals), with
the same gradient formula as everything else. Divergence (a non-finite loss, or a loss above
``diverge_factor``·max(1, f(θ_0))) stops the run and is reported in the result, never returned as NaN.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Sequence

import numpy as np

from theory.arrays import check_range

from . import float_gd
from .backends import ARB_MID, arb_prec
from .gradients import check_objective, evaluate, from_backend, precision, prepare, to_backend
from theory.lazy import lazy_module

mpmath = lazy_module("mpmath")


@dataclass
class Iterates:
    """Result of a discrete method: θ_0..θ_K (``thetas``), f at each (``losses``), and status."""

    method: str
    params: dict
    thetas: list[list[np.ndarray]] = field(default_factory=list)
    losses: list[Any] = field(default_factory=list)
    diverged: bool = False
    message: str = ""
    kept: list[int] = field(default_factory=list)  # the step number of each entry of ``thetas``

    @property
    def steps(self) -> int:
        return len(self.losses) - 1

    def __getitem__(self, k: int) -> list[np.ndarray]:
        return self.thetas[k]

    def iterate(self, k: int) -> list[np.ndarray]:
        """θ_k by step number (KeyError naming the kept steps if θ_k was not kept)."""
        try:
            return self.thetas[self.kept.index(k)]
        except ValueError:
            raise KeyError(f"step {k} was not kept (keep={self.params.get('keep')!r}); "
                           f"kept steps: {self.kept[:3]}...{self.kept[-2:]}") from None


def _check_steps(steps: Any) -> int:
    if isinstance(steps, bool) or int(steps) != steps or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    return int(steps)


def _check_eta(eta: Any) -> None:
    check_range(eta, "eta", lo=0, lo_strict=True)
    if isinstance(eta, float) and not math.isfinite(eta):
        raise ValueError(f"eta must be finite, got {eta!r}")


def _check_beta(beta: Any) -> None:
    check_range(beta, "beta", lo=0, hi=1, hi_strict=True)


def _finite(x: Any) -> bool:
    if isinstance(x, Fraction):
        return True
    if isinstance(x, mpmath.mpf):
        return bool(mpmath.isfinite(x))
    return math.isfinite(float(x))


def _check_keep(keep: Any) -> int:
    """``"all"`` -> 1, ``"last"`` -> 0 (θ_0 and the last only), a positive int k -> k (every k-th)."""
    if keep == "all":
        return 1
    if keep == "last":
        return 0
    if isinstance(keep, (int, np.integer)) and not isinstance(keep, bool) and keep >= 1:
        return int(keep)
    raise ValueError(f"keep must be 'all', 'last' or a positive integer k (every k-th iterate), got {keep!r}")


class _Keeper:
    """Which iterates a run stores: θ_0, every ``every``-th (0: none in between) and the last."""

    def __init__(self, res: Iterates, every: int, steps: int) -> None:
        self.res, self.every, self.steps = res, every, steps

    def wants(self, k: int) -> bool:
        return k == 0 or k == self.steps or (self.every > 0 and k % self.every == 0)

    def add(self, k: int, theta: list[np.ndarray]) -> None:
        self.res.thetas.append(theta)
        self.res.kept.append(k)


def _run(obj: Any, theta0: Sequence[Any], dps: int | None, method: str, params: dict, steps: int,
         update: Callable, diverge_factor: float, keep: Any, callback: Callable | None) -> Iterates:
    every = _check_keep(keep)
    obj = check_objective(obj)
    kind = obj.kind(theta0)
    res = Iterates(method, params)
    keeper = _Keeper(res, every, steps)
    if method == "gd" and float_gd.applies(obj, kind) and dps is None:
        return _run_float_gd(obj, theta0, params, steps, diverge_factor, keeper, callback)
    with precision(kind, dps), (arb_prec() if kind == "mp" else contextlib.nullcontext()):
        if kind == "mp":
            # mp runs on arb's C kernels at mpmath's precision, recentred every operation
            # (backends.AMat): the same formulas, mpf in and out
            b = ARB_MID
            Ws = to_backend(obj, obj.check_theta(theta0, "theta0"), b)
        else:
            obj, b, Ws = prepare(obj, theta0, "theta0")
        sc = {k: b.scalar(params[k]) for k in ("eta", "beta") if params.get(k) is not None}
        state = {"prev": Ws, "cur": Ws, "y": Ws, "k": 0}
        f0, g = evaluate(obj, Ws, b)
        limit = diverge_factor * max(1.0, float(f0))
        res.losses.append(b.scalar_out(f0))
        keeper.add(0, from_backend(obj, Ws, b))
        for k in range(1, steps + 1):
            state["k"] = k
            new = update(state, g, sc, b)
            if method == "nesterov":
                # the loss is reported at x_k; the next gradient step starts from y_k
                fk, _ = evaluate(obj, new, b)
                _, g = evaluate(obj, state["y"], b, want_value=False)
            else:
                fk, g = evaluate(obj, new, b)
            fo = b.scalar_out(fk)
            if _diverged(res, method, k, fo, diverge_factor, limit):
                break
            res.losses.append(fo)
            if keeper.wants(k):
                keeper.add(k, from_backend(obj, new, b))
            if callback is not None:
                callback(k, fo)
        return res


def _diverged(res: Iterates, method: str, k: int, fo: Any, diverge_factor: float, limit: float) -> bool:
    if _finite(fo) and float(fo) <= limit:
        return False
    res.diverged = True
    res.message = (f"{method} diverged at step {k}: loss {float(fo):.3e} exceeds "
                   f"{diverge_factor:g}·max(1, f(θ_0)) = {limit:.3e}")
    return True


def _run_float_gd(obj: Any, theta0: Sequence[Any], params: dict, steps: int, diverge_factor: float,
                  keeper: _Keeper, callback: Callable | None) -> Iterates:
    """GD on float64 layered nets in place (:mod:`numerics.float_gd`); same result as the generic loop."""
    res = keeper.res
    chain = float_gd.FloatChain(obj, obj.check_theta(theta0, "theta0"))
    eta = float(params["eta"])
    f0 = chain.forward()
    limit = diverge_factor * max(1.0, f0)
    res.losses.append(f0)
    keeper.add(0, chain.theta())
    losses, every = res.losses, keeper.every
    for k in range(1, steps + 1):
        chain.step(eta)
        fk = chain.forward()
        if not (fk <= limit) and _diverged(res, "gd", k, fk, diverge_factor, limit):
            break
        losses.append(fk)
        if k == steps or (every and k % every == 0):
            keeper.add(k, chain.theta())
        if callback is not None:
            callback(k, fk)
    return res


def gradient_descent(obj: Any, theta0: Sequence[Any], eta: Any, steps: int, dps: int | None = None,
                     diverge_factor: float = 1e8, keep: str | int = "all",
                     callback: Callable[[int, Any], None] | None = None) -> Iterates:
    """GD iterates θ_0..θ_steps, θ_{k+1} = θ_k − η∇f(θ_k), in θ's arithmetic.

    ``keep``: ``"all"`` (every iterate), ``"last"`` (θ_0 and the final one) or an int k (θ_0, every
    k-th and the final one; a 10⁴-step run on 6k parameters keeps 10⁴/k·48 kB). Losses are always all
    kept; ``Iterates.kept`` lists the step number of each stored iterate. float64 layered nets run
    in place (:mod:`numerics.float_gd`), other arithmetics and objectives on the generic formula.
    """
    _check_eta(eta)
    steps = _check_steps(steps)

    def update(state, g, sc, b):
        new = [w - gi * sc["eta"] for w, gi in zip(state["cur"], g)]
        state["cur"] = new
        return new

    return _run(obj, theta0, dps, "gd", {"eta": eta}, steps, update, diverge_factor, keep, callback)


def heavy_ball(obj: Any, theta0: Sequence[Any], eta: Any, beta: Any, steps: int, dps: int | None = None,
               diverge_factor: float = 1e8, keep: str | int = "all",
               callback: Callable[[int, Any], None] | None = None) -> Iterates:
    """Heavy ball θ_{k+1} = θ_k − η∇f(θ_k) + β(θ_k − θ_{k−1}), θ_{−1} = θ_0; β ∈ [0, 1)."""
    _check_eta(eta)
    _check_beta(beta)
    steps = _check_steps(steps)

    def update(state, g, sc, b):
        cur, prev = state["cur"], state["prev"]
        new = [w - gi * sc["eta"] + (w - p) * sc["beta"] for w, gi, p in zip(cur, g, prev)]
        state["prev"], state["cur"] = cur, new
        return new

    return _run(obj, theta0, dps, "heavy_ball", {"eta": eta, "beta": beta}, steps, update, diverge_factor,
                keep, callback)


def nesterov(obj: Any, theta0: Sequence[Any], eta: Any, steps: int, r: Any = 3, beta: Any = None,
             dps: int | None = None, diverge_factor: float = 1e8, keep: str | int = "all",
             callback: Callable[[int, Any], None] | None = None) -> Iterates:
    """Nesterov's method (module docstring): momentum (k−1)/(k+r−1), or constant ``beta`` if given.

    Returns the x_k iterates (the points where the gradient step lands).
    """
    _check_eta(eta)
    steps = _check_steps(steps)
    if beta is not None:
        _check_beta(beta)
    else:
        check_range(r, "r", lo=0, lo_strict=True)

    def update(state, g, sc, b):
        k = state["k"]
        x_prev = state["cur"]
        x = [y - gi * sc["eta"] for y, gi in zip(state["y"], g)]
        if beta is not None:
            mu = sc["beta"]
        else:
            # exact for rational r (an int or Fraction); float r gives a float momentum
            mu = b.scalar(Fraction(k - 1) / (k + r - 1) if not isinstance(r, float) else (k - 1) / (k + r - 1))
        state["y"] = [xn + (xn - xp) * mu for xn, xp in zip(x, x_prev)]
        state["cur"] = x
        return x

    params = {"eta": eta, "r": r} if beta is None else {"eta": eta, "beta": beta}
    return _run(obj, theta0, dps, "nesterov", params, steps, update, diverge_factor, keep, callback)
