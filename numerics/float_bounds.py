"""The bounds a float-tier run carries besides its local errors (docs/theory.md F, "μ along a step from the
midpoint", "The state in two parts", "Near touches within the error bar"): an upper bound of the loss on
the step (:meth:`FloatBounds._loss_start`), the layers' norms (:meth:`~FloatBounds._layer_norms`), the
Hessian's Lipschitz constant in time L for the carried λ_min bound (:meth:`~FloatBounds._hessian_lipschitz`,
with the stacked Jacobian's norm carried by :mod:`numerics.jacobian_bound`), the low part's error term
(:meth:`~FloatBounds._low_term`), the Hessian's jumps at events (:meth:`~FloatBounds._jumps`) and the
pre-activations' error bars (:meth:`~FloatBounds._z_error`).

:class:`FloatBounds` is a mixin of :class:`numerics.float_taylor._FloatFlow`; it reads the flow's ``obj``,
``y``, ``growth``, ``jac``, ``masks``, ``maskv``, ``series``, ``events`` and the bounds it keeps
(``_loss_bound``, ``_loss_age``, ``_s_ends``, ``_norm_age``, ``_lip_norms``, ``_jb``, ``_xn``) and the step's
coefficient norms ``_step_norms`` (:func:`numerics.float_steps.order_norms`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

LOSS_EVERY = 64  # steps between fresh evaluations of f for the loss bound (_loss_start)
# steps between fresh SVDs of the layers for their norm bounds (_layer_norms): in between, the last step's
# bound at its end serves as the next start's, growing by Σ_k‖A_k‖_F h^k per step (~1e-4 relative per step
# on the 6,200-parameter digits net, so ≤ 0.3 % over 32 steps)
NORM_EVERY = 32


class FloatBounds:
    def _loss_start(self) -> float:
        """An upper bound of f at the current step's start: carried from the last step's bound (f does not
        increase along the flow, and each computed step is the flow up to its local error e, so
        f ≤ f(θ₀) + sup‖∇f‖·e on it, sup‖∇f‖ taken as 2·sup‖θ'‖: θ' = −∇f off the sliding stretches), and
        f evaluated afresh every ``LOSS_EVERY`` steps (a pass over the data; once per step it was ~4 % of a
        research-size run), the smaller kept; f carries its float rounding (≤ 1e-12 relative, a wide
        margin)."""
        from .gradients import value

        self._loss_age += 1
        if self._loss_bound is None or self._loss_age >= LOSS_EVERY:
            fresh = float(value(self.obj, self._theta(self.y))) * (1 + 1e-12)
            self._loss_bound = fresh if self._loss_bound is None else min(self._loss_bound, fresh)
            self._loss_age = 0
        return self._loss_bound

    def _layer_norms(self, ys: list[np.ndarray], h: float) -> list[float]:
        """s_l ≥ sup_step ‖A_l(t)‖₂ (:func:`numerics.hessian_lipschitz.layer_norm_bounds`), from a fresh SVD of
        the step's start every ``NORM_EVERY`` steps or when a carried bound has grown 1 % over the last SVD,
        and otherwise from the last step's bound at its end."""
        from .hessian_lipschitz import layer_norm_bounds

        self._norm_age += 1
        start = self._s_ends
        # a fresh SVD every NORM_EVERY steps, and as soon as a carried bound has grown 1 % over the last fresh
        # one (long steps: the coefficients' Frobenius norms overstate how far ‖A_l‖₂ moves)
        if start is None or self._norm_age >= NORM_EVERY or any(e > 1.01 * f for e, f in zip(start, self._s_fresh)):
            start = None
            self._norm_age = 0
        ends: list = []
        fresh: list = []
        s = layer_norm_bounds(self.obj, ys, h, start, ends, fresh)
        if fresh:
            self._s_fresh = fresh
        self._s_ends = ends
        return s

    def _hessian_lipschitz(self, ys: list[np.ndarray], h: float, s: list[float]) -> float:
        """L ≥ sup_step ‖d/dt ∇²f(θ(t))‖₂ (:mod:`numerics.hessian_lipschitz`) for the carried growth bound,
        given the step's layer-norm bounds ``s`` and its loss bound (set by the caller: f at the start +
        2·sup‖θ'‖·local, :meth:`_loss_start`); keeps both for the kink jumps after it (:meth:`_jumps`)."""
        from .hessian_lipschitz import third_derivative_bound, velocity_bound

        self._lip_norms = (s, self._loss_bound)
        return third_derivative_bound(self.obj, *self._lip_norms, jacobian=self._jb, xn=self._xn) * velocity_bound(ys, h, self._step_norms)

    def _jacobian(self, ys: list[np.ndarray], h: float, s: list[float]) -> float | None:
        """Jb ≥ sup_step ‖J‖₂, the stacked Jacobian's norm (:class:`numerics.jacobian_bound.CarriedJacobian`,
        growing by at most h·δ₂·sup‖θ'‖·(Σ‖x̃_i‖²)^{1/2} over the step), or None (no ReLU masks or inputs, no
        growth term, a sliding stretch)."""
        if self.jac is None:
            return None
        from .hessian_lipschitz import derivative_factors, input_norms, velocity_bound

        if self._xn is None:
            self._xn = input_norms(self.obj)
        rate = derivative_factors(s)[1] * velocity_bound(ys, h, self._step_norms) * math.sqrt(float(np.sum(self._xn ** 2)))
        return self.jac.step_bound(self._theta(self.y), [self.maskv[l + 1] for l in range(len(self.masks))], h, rate,
                                   bool(self.series.slide))

    def _low_term(self, ys: list[np.ndarray], h: float, s: list[float], f0: float, lo_norm: float,
                  local: float) -> float:
        """(e^{hΛ} − 1)·‖lo‖: the series is taken at hi while the state is hi + lo, and the increments of
        the flow from two states differ by at most (e^{hΛ} − 1)·‖lo‖ over a step, Λ ≥ the field's Lipschitz
        constant there — Λ = B₂ (:func:`numerics.hessian_lipschitz.hessian_norm_bound`) with f ≤ f0 +
        2·sup‖θ'‖·(local + this term) on the step (docs/theory.md F, "The state in two parts")."""
        from .hessian_lipschitz import hessian_norm_bound, velocity_bound

        if lo_norm == 0.0:
            return 0.0
        V = velocity_bound(ys, h, self._step_norms)
        guess = 1e-6 + local
        for _ in range(8):
            lam = hessian_norm_bound(self.obj, s, f0 + 2 * V * guess, jacobian=self._jb, xn=self._xn)
            if h * lam >= math.log(2.0):  # the term would reach ‖lo‖ (and expm1 overflows past h·λ ≈ 710)
                return math.inf
            term = math.expm1(h * lam) * lo_norm
            if term >= lo_norm:
                return math.inf  # dropping the low part (an error ‖lo‖ at the start) costs less
            if local + term <= guess:
                return term
            guess = 2 * (local + term)
        raise FloatingPointError("the low part's error term did not settle (the field's Lipschitz bound "
                                 "grows with the loss bound it depends on)")

    def _jumps(self, first: int) -> int:
        """Lower the carried λ_min bound by the Hessian's jump at every event from ``first`` on
        (:func:`numerics.hessian_lipschitz.sample_jump_bound`, a mask entry changes by at most |1 − α|);
        returns the new event count."""
        if self.growth is not None and self._lip_norms is not None and len(self.events) > first:
            from .hessian_lipschitz import crossing_jump_bound, sample_jump_bound

            s, _ = self._lip_norms
            th = self._theta(self.y)
            sliding = self._sliding()
            for ev in self.events[first:]:
                i = ev.sample
                masks = [self.maskv[l + 1][:, i] for l in range(len(self.masks))]
                free = sorted({(ev.layer - 1, ev.unit)} | {(j, u) for (j, u, ii) in sliding if ii == i})
                if ev.kind == "cross" and len(free) == 1:  # the entry flips α ↔ 1, all else fixed: exact
                    J, G = crossing_jump_bound(self.obj, th, masks, free[0], i, s, gauss_newton=True)
                    self.growth.jump(J)
                    if self.jac is not None:
                        self.jac.crossing(G)
                else:
                    self.growth.jump(sample_jump_bound(self.obj, th, masks, free, i, s))
                    if self.jac is not None:
                        self.jac.reset()
        return len(self.events)

    def _kink_error_bar(self, carried: Any) -> float | None:
        """≥ ‖θ_exact − θ̂‖ at a kink decided now on the state's high part: the carried bound
        (:class:`numerics.error_windows.CarriedError`) and the low part; None without the growth term (no
        bound: :meth:`numerics.float_crossings.FloatCrossings._rates_within_bar` does not check)."""
        if self.growth is None:
            return None
        return carried.value + math.sqrt(sum(float(np.sum(x * x)) for x in self.lo))

    def _z_error(self, err: float) -> list[np.ndarray]:
        """Per hidden layer, per sample: a bound on |z_exact − z| for every pre-activation of the layer on
        the step just taken, from the state's error bound err: ‖∇_θ z‖·err + ½‖∇²_θ z‖·err², with ‖∇_θ z‖ ≤
        δ₁‖x̃_i‖ and ‖∇²_θ z‖ ≤ δ₂‖x̃_i‖ for the sub-network up to the layer (:func:`numerics.hessian_lipschitz.
        derivative_factors` with the step's layer-norm bounds, kept by :meth:`_hessian_lipschitz` for this
        step; docs/theory.md F, "Near touches within the error bar")."""
        from .hessian_lipschitz import derivative_factors, input_norms

        s = self._lip_norms[0]
        if self._xn is None:
            self._xn = input_norms(self.obj)
        xn = self._xn
        out = []
        for j in range(len(self.masks)):
            d1, d2, _ = derivative_factors(s[: j + 1])
            out.append(xn * (d1 * err + 0.5 * d2 * err * err))
        return out
