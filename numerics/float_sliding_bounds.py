"""The float tier's error bound on a sliding stretch (docs/theory.md F, "The growth on a sliding
stretch"): on a stretch where entries S slide, both flows follow F(θ, μ(θ)) with ż_S = 0, whose Jacobian
acts on the tangent space of the sliding surface as −H_μ (the Hessian with the field's masks) does, the
rest entering through the computed state's distance ζ from the surface.

* the field's masks for the growth term's Hessian samples and how fast they move
  (:meth:`SlidingBounds._flow_masks`, :meth:`~SlidingBounds._mask_lipschitz`);
* the forcing h·ζ·(Λ/σ + ‖N‖/σ²) added to a sliding step's local error (:meth:`~SlidingBounds._normal_forcing`,
  ζ from :meth:`~SlidingBounds._surface_distance`);
* the weights' error bar and the near-exit check (:meth:`~SlidingBounds._mu_bar`,
  :meth:`~SlidingBounds._near_exits`);
* on small nets, the step's propagator as dense matrices from the Filippov field's Jacobian
  (:meth:`~SlidingBounds._sliding_factors`, :mod:`numerics.sliding_jacobian`, :mod:`numerics.dense_propagation`).

:class:`SlidingBounds` is a mixin of :class:`numerics.float_taylor._FloatFlow`; it reads the flow's ``obj``,
``y``, ``series``, ``maskv``, ``masks``, ``alpha``, ``bias``, ``growth``, ``pinned`` and the step's bounds
(``_lip_norms``, ``_bar_speed``, ``_jb``, ``_xn``, ``_step_Ainv``).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .float_steps import EPS as EPS_F
from .float_steps import _horner


class SlidingBounds:
    """The bounds of a sliding step (module docstring)."""

    def _flow_masks(self, h: float) -> tuple[list, list] | None:
        """The field's masks at the step's start, midpoint and end: the step's own pattern (one region: the
        step ends at its first event), with the sliding entries at μ(t) and the pinned ones at their side;
        and the weights' series (none off sliding stretches). The pattern read off the state would not do at
        the ends: an entry that has just switched, or is about to, has z = 0 to rounding there, so the sign of
        the computed z says nothing (a twin, seed 228 of the collinear generator, sampled its step start
        after a "leave sliding" in the region it had left: λ_min −1.62 where the step's region has −0.175, and
        its growth bound came out 3× too large). The growth term samples the Hessian with these masks
        (docs/theory.md F, "The growth on a sliding stretch", "μ along a step"). None without hidden layers."""
        if not self.masks:
            return None
        if not self.series.slide:  # one region, fixed masks: one copy serves the three samples
            m = [self.maskv[l + 1].copy() for l in range(len(self.masks))]
            return [m, m, m], []
        out = []
        for t in (0.0, h / 2, h):
            m = [self.maskv[l + 1].copy() for l in range(len(self.masks))]
            for L, S in self.series.slide.items():
                for (u, i), mus in S.items():
                    m[L - 1][u, i] = float(np.polynomial.polynomial.polyval(t, mus))
            out.append(m)
        series = [np.array(mus, dtype=float)[:, None] for S in self.series.slide.values() for mus in S.values()]
        return out, series

    def _sliding_factors(self, ys: list[np.ndarray], h: float, mask_coeffs: list) -> list | None:
        """The dense factors of a sliding step (:func:`numerics.dense_propagation.sliding_factors`): the
        Jacobian J = −H_μ + Z(ZᵀZ)⁻¹(ZᵀH_μ − N) of the Filippov field (:mod:`numerics.sliding_jacobian`) at
        times s of the step, from the step's polynomial θ(s), its derivative G = θ'(s) and the masks with the
        sliding weights μ(s); its curvature from the growth term's envelope (``mask_coeffs``: the weights'
        series). None where J's formula does not hold or the premise fails: a group sliding on tied weights
        (``_tie``), a sample outside the envelope assumption (the caller then carries the step by its norm)."""
        from .dense_propagation import norm_upper, sliding_factors
        from .hessians import hessian
        from .sliding_jacobian import entry_jet, sliding_jacobian

        keys = sorted(self._sliding())
        if self._tie:
            return None
        X = self.obj.loss.inputs
        p = ys[0].shape[0] - 1
        k = np.arange(1, p + 1, dtype=float)

        def jac_at(t: float) -> tuple[np.ndarray, float]:
            th = [_horner(Y, t) for Y in ys]
            vel = [_horner(Y[1:] * k.reshape((-1,) + (1,) * (Y.ndim - 1)), t) if p > 0 else np.zeros_like(Y[0])
                   for Y in ys]
            masks = [self.maskv[l + 1].copy() for l in range(len(self.masks))]
            for L, S in self.series.slide.items():
                for (u, i), mus in S.items():
                    masks[L - 1][u, i] = float(np.polynomial.polynomial.polyval(t, mus))
            H = hessian(self.obj, self._theta(th), masks=masks)
            if self.bias:
                Ws, bs, dWs, dbs = th[0::2], [b[:, 0] for b in th[1::2]], vel[0::2], [b[:, 0] for b in vel[1::2]]
            else:
                Ws, bs, dWs, dbs = th, None, vel, None
            cols, rows = [], []
            for (j, u, i) in keys:
                g, dg = entry_jet(Ws, bs, [m[:, i] for m in masks], X[:, i], j + 1, u, dWs, dbs)
                cols.append(np.concatenate([x.ravel() for x in g]))
                rows.append(np.concatenate([x.ravel() for x in dg]))
            return sliding_jacobian(H, np.array(cols).T, np.array(rows))

        memo: dict = {}

        def norm(mats: list, w: list) -> float:
            # (remembered per matrices and weights: the curvature's ‖J1 − J0‖ is also the step's and, on a step of
            # one piece, the piece's — the same sum −J0 + J1 = J1 − J0 in floats)
            key = (tuple(map(id, mats)), tuple(w))
            if key not in memo:
                memo[key] = norm_upper(sum(wi * M for wi, M in zip(w, mats)))
            return memo[key]

        try:
            return sliding_factors(jac_at, h, lambda J0, Jm, J1: self.growth.curvature_bound(
                J0, Jm, J1, h, ys, mask_coeffs=mask_coeffs, record=False, norm=norm),
                diff_norm=lambda A, B: norm((A, B), (-1.0, 1.0)))
        except (FloatingPointError, np.linalg.LinAlgError):  # (no matrix: the step's norm bound)
            return None

    def _mask_lipschitz(self, h: float, s: list[float], loss_bound: float) -> float:
        """L_μ ≥ sup_step ‖∂H/∂μ · μ'‖₂: the Hessian with the sliding masks fixed moves with the weights μ(t)
        too. Per sliding entry of sample i, ‖∂H/∂m_s‖₂ ≤ c·(2‖ℓ''‖(δ₁‖x̃_i‖)² + R_i·δ₂‖x̃_i‖): H's sample term
        c(J_iᵀℓ''J_i + ℓ'·D²h_i) is affine in D²h_i's and J_i's mask (at z_s = 0 the output does not depend
        on it), whose slopes are forms of the same kind with diag(m) replaced by e_ue_uᵀ (≤ δ₂‖x̃_i‖ and
        δ₁‖x̃_i‖), ‖J_i‖ ≤ δ₁‖x̃_i‖, ‖ℓ''‖ ≤ 1 (square) or ½ (cross-entropy), R_i ≥ sup‖ℓ'_i‖ on the step
        (square: (2f/c)^{1/2}; cross-entropy: √2·min(1, f/c)); sup|μ̇_s| ≤ Σ_k k|μ_k|h^{k−1}."""
        if not self.series.slide:
            return 0.0
        from theory.losses import CrossEntropy

        from .hessian_lipschitz import derivative_factors

        if self._xn is None:
            from .hessian_lipschitz import input_norms

            self._xn = input_norms(self.obj)
        c = float(self.obj.loss.weight)
        ce = isinstance(self.obj.loss, CrossEntropy)
        L2, R = (0.5, math.sqrt(2) * min(1.0, loss_bound / c)) if ce else (1.0, math.sqrt(2 * loss_bound / c))
        d1, d2, _ = derivative_factors(s)
        total = 0.0
        for (j, u, i) in self._sliding():
            mus = self.series.slide[j + 1][(u, i)]
            rate = sum(k * abs(m) * h ** (k - 1) for k, m in enumerate(mus) if k > 0)
            x = float(self._xn[i])
            total += c * (2 * L2 * (d1 * x) ** 2 + R * d2 * x) * rate
        return total * (1 + 8 * EPS_F)

    def _with_mu_masks(self, fn: Callable[[], object]) -> object:
        """``fn()`` with the sliding entries' masks set to their weights μ_0 (the masks the field uses; the
        mask array holds α there, the weight enters the pass separately)."""
        layers = set()
        for (j, u, i) in self._sliding():
            self.maskv[j + 1][u, i] = self.series.slide[j + 1][(u, i)][0]
            layers.add(j)
        try:
            return fn()
        finally:
            for j in layers:
                self._set_mask(j)

    def _sliding_geometry(self, s: list[float] | None = None) -> dict:
        """At the step's start, per sliding entry s = (j, u, i) (sorted): ‖∇_θz_s‖ (under the masks μ), ‖x̃_i‖
        and (δ₁, δ₂) of the sub-network up to z's layer, from the step's layer-norm bounds ``s`` (default: the
        step's own, ``_lip_norms``); and σ₀ = σ_min(Z), Z = [∇z_s]."""
        from .hessian_lipschitz import derivative_factors, input_norms

        if self._xn is None:
            self._xn = input_norms(self.obj)
        s = self._lip_norms[0] if s is None else s
        keys = sorted(k for k in self._sliding() if self._tie.get(k, (k, 1))[0] == k)  # (a group's constraint: its representative's)
        # the gradients and σ₀ depend on the step's start (state, masks, weights) only: computed once per pass —
        # the step cap and the forcing term both read them; the run loop clears _geo_base at every pass
        base = getattr(self, "_geo_base", None)
        if base is None or base[0] is not self.y or base[1] != keys:
            gs = self._with_mu_masks(lambda: [np.concatenate([x.ravel() for x in self._grad_z(j + 1, u, i)])
                                              for (j, u, i) in keys])
            sigma = float(np.linalg.svd(np.array(gs).T, compute_uv=False)[-1])
            base = self._geo_base = (self.y, keys, [float(np.linalg.norm(g)) for g in gs], sigma)
        facs = [derivative_factors(s[: j + 1])[:2] for (j, _, _) in keys]
        return {"keys": keys, "gz": base[2], "x": [float(self._xn[i]) for (_, _, i) in keys],
                "d1": [f[0] for f in facs], "d2": [f[1] for f in facs], "sigma": base[3]}

    def _surface_distance(self, ys: list[np.ndarray], h: float, key: tuple) -> float:
        """ζ_s ≥ sup_{t ∈ [0, h]} |z_s(θ̂(t))|, θ̂ the step's polynomial (the state is its high part on a
        sliding stretch): with the masks fixed and the lower sliding weights polynomial, φ(t) = z_s(θ̂(t)) is
        a polynomial of degree D ≤ (j + 1)p + j·deg μ, so sup|φ| ≤ Λ_D·max|φ(t_k)| over the D + 1 Chebyshev
        points of [0, h] (Λ_D ≤ (2/π)ln(D + 1) + 1, Rivlin). Each φ(t_k) is one forward pass of sample i in
        numpy's longdouble on the coefficients (exact in it), its rounding bounded by γ_n of the same pass
        on absolute values (n the summed fan-ins, power sums and products), as in :meth:`_switch_z`."""
        ld = np.longdouble
        j, u, i = key
        p = ys[0].shape[0] - 1
        lower = {(jj, uu): np.array(self.series.slide[jj + 1][(uu, ii)], dtype=ld)
                 for (jj, uu, ii) in self._sliding() if ii == i and jj < j}
        deg_mu = max((len(m) - 1 for m in lower.values()), default=0)
        n = (j + 1) * p + j * deg_mu + 1
        nodes = (h * (1 + np.cos((2 * np.arange(n) + 1) * np.pi / (2 * n))) / 2).astype(ld)
        T = nodes[:, None] ** np.arange(p + 1)  # (n, p + 1)
        blocks = (ys[0::2], ys[1::2]) if self.bias else (ys, None)
        x = self.obj.loss.inputs[:, i].astype(ld)
        a, sa = np.broadcast_to(x, (n, x.size)), np.abs(np.broadcast_to(x, (n, x.size)))
        ops = 0
        for l in range(j + 1):
            Y = blocks[0][l].astype(ld)
            z = np.einsum("tk,krc,tc->tr", T, Y, a)
            sz = np.einsum("tk,krc,tc->tr", T, np.abs(Y), sa)
            if blocks[1] is not None:
                B = blocks[1][l][:, :, 0].astype(ld)
                z, sz = z + T @ B, sz + T @ np.abs(B)
            ops += Y.shape[2] + p + 3
            if l == j:
                break
            m = np.broadcast_to(self.maskv[l + 1][:, i].astype(ld), (n, Y.shape[1])).copy()
            for (jj, uu), mus in lower.items():
                if jj == l:
                    m[:, uu] = T[:, : len(mus)] @ mus
            ops += deg_mu + 2
            a, sa = m * z, np.abs(m) * sz
        e = ops * float(np.finfo(ld).eps)
        phi = float(np.max(np.abs(z[:, u]) + e / (1 - e) * sz[:, u]))
        return (2 / math.pi * math.log(n) + 1) * phi * (1 + 1e-10)

    def _gradient_move(self, geo: dict, V: float, h: float) -> float:
        """≥ how far the sliding gradients Z = [∇z_s] can move in the 2-norm over a step of length h (whose
        speed is ≤ V): h·V·(Σ(δ₂‖x̃‖)²)^{1/2}, plus the moves of ∇z_s through the weights of lower sliding
        entries of the same sample (δ₁‖x̃‖ per unit of μ, Σ_{k≥1}|μ_k|h^k). Every term is h^k (k ≥ 1) times
        factors that do not grow when h shrinks."""
        curv = math.sqrt(sum((d2 * x) ** 2 for d2, x in zip(geo["d2"], geo["x"])))
        move = h * V * curv
        for c, (j, u, i) in enumerate(geo["keys"]):
            for (jj, uu, ii) in geo["keys"]:  # a lower sliding entry of the sample moves ∇z_s through μ
                if ii == i and jj < j:
                    mus = self.series.slide[jj + 1][(uu, ii)]
                    move += sum(abs(m) * h ** k for k, m in enumerate(mus) if k > 0) * geo["d1"][c] * geo["x"][c]
        return move

    def _sliding_cap(self, ys: list[np.ndarray], h: float) -> float:
        """The step on a sliding stretch, shortened so that the sliding gradients move by at most half their
        σ₀ = σ_min(Z) over it (:meth:`_gradient_move`): then σ ≥ σ₀/2 in :meth:`_normal_forcing`, whose
        1/σ and 1/σ² terms stay within 2× and 4× of the step start's. The move is a sum of h^k (k ≥ 1) times
        factors nondecreasing in h (the speed bound V, the layer norms' δ₁, δ₂), so h·(σ₀/2)/move(h) moves
        by at most σ₀/2. Before 2026-12-05 a long step here was refused ("nearly dependent"): the ec21
        report's default ReLU row (64-50-50-10 on 5 digits) at σ₀ = 2.12 against a move of 2.63. The layer
        norms are computed for h and the flow's carried state of them put back (the step's own follow)."""
        from .float_steps import order_norms
        from .hessian_lipschitz import velocity_bound

        saved = (self._s_ends, self._s_fresh, self._norm_age)
        try:
            s = self._layer_norms(ys, h)
        finally:
            self._s_ends, self._s_fresh, self._norm_age = saved
        geo = self._sliding_geometry(s)
        move = self._gradient_move(geo, velocity_bound(ys, h, order_norms(ys)), h)
        capped = h * geo["sigma"] / (2 * move) if move > geo["sigma"] / 2 else h
        if not (math.isfinite(capped) and capped > 0):
            # a bound past the float range (the weights' series of a degenerating sliding mode grow like a
            # pole's): no cap; the stall check and _normal_forcing say what happens there
            return h
        return capped

    def _normal_forcing(self, ys: list[np.ndarray], h: float, local: float) -> float:
        """h·ζ·(B₂/σ + ‖N‖/σ²): what the computed state's distance from the sliding surface adds to the
        error's growth over the step (docs/theory.md F, "The growth on a sliding stretch"). ζ ≥ sup_step
        ‖z_S(θ̂(t))‖₂ (:meth:`_surface_distance`); σ ≤ σ_min(Z(t)) on the step, σ₀ − h·V·(Σ(δ₂‖x̃‖)²)^{1/2} less
        the moves of Z through the weights of lower sliding entries of the same sample (δ₁‖x̃‖ per unit of
        μ); B₂ ≥ ‖∇²f_μ‖ (or the growth term's bound on ‖H_μ‖ over the step, from its samples with the field's masks:
        Λ, or the three-point bound ‖H‖ ≤ max of the three + δ²K/8, where smaller; ``local`` the step's
        local error, which decides whether the three-point bound is worth its three norms); ‖N‖ ≤
        V·(Σ(δ₂‖x̃‖)²)^{1/2}, N the rows F·∇²z_s."""
        from .hessian_lipschitz import hessian_norm_bound

        geo = self._geo = self._sliding_geometry()
        self._geo_h = h
        V = self._bar_speed
        curv = math.sqrt(sum((d2 * x) ** 2 for d2, x in zip(geo["d2"], geo["x"])))
        move = self._gradient_move(geo, V, h)
        zeta2 = sum(self._surface_distance(ys, h, key) ** 2 for key in geo["keys"])
        sigma = geo["sigma"] - move
        if sigma <= 0:  # (the step was capped for this, _sliding_cap: only where the cap's rounding misses)
            from .kink_flows import UnsupportedKinkError

            raise UnsupportedKinkError(
                f"the gradients of the sliding entries {geo['keys']} are nearly dependent on this step "
                f"(σ_min {geo['sigma']:.3g} against their possible move {move:.3g}): the error's growth on the "
                "sliding stretch is not bounded here; use the arb tier (dps=...)")
        s, loss_bound = self._lip_norms
        # ≥ ‖∇²f_μ‖ on the step: B₂, the growth term's carried Λ, and where that still makes the term more than
        # 1 % of the step's local error, its three-point bound (three norms: only then)
        b2 = min(hessian_norm_bound(self.obj, s, loss_bound, jacobian=self._jb, xn=self._xn), self.growth.step_norm)
        factor = h * math.sqrt(zeta2) * (1 + 8 * EPS_F)
        if factor * b2 / sigma > 0.01 * local:
            b2 = min(b2, self.growth.three_point_norm())
        return factor * (b2 / sigma + V * curv / sigma ** 2)

    def _mu_bar(self, err: float) -> float | None:
        """A bound on |μ̂ − μ_exact| for the weights of this step's start (docs/theory.md F, "The growth on a
        sliding stretch"): μ solves ż_S(θ, μ) = 0, so dμ = −A⁻¹∂_θż_S dθ with A = ∂ż_S/∂μ (the pass's, at
        the step's start) and ‖∂_θż_s‖ ≤ ‖∇z_s‖·‖H_μ‖ + ‖∇²z_s‖‖F‖ (ż = ∇z·F), with ‖∇z_s‖ measured at the
        start + h·V·δ₂‖x̃_i‖, ‖H_μ‖ the growth term's bound over the step (or B₂), ‖∇²z_s‖ ≤ δ₂‖x̃_i‖,
        ‖F‖ ≤ V; first order in err ≥ ‖θ̂ − θ‖; plus the solve's own rounding, ‖A⁻¹‖ times the rates'
        (u·n‖∇z_s‖V, n as in the rate bar). None off sliding steps."""
        from .hessian_lipschitz import hessian_norm_bound

        geo = self._geo
        if geo is None or self._step_Ainv is None:
            return None
        s, loss_bound = self._lip_norms
        b2 = min(hessian_norm_bound(self.obj, s, loss_bound, jacobian=self._jb, xn=self._xn), self.growth.step_norm)
        V, h = self._bar_speed, self._geo_h
        # ‖∇z_s‖ over the step: measured at its start, + h·V·δ₂‖x̃‖ (∇²z_s moves it)
        R = math.sqrt(sum(((g + h * V * d2 * x) * b2 + x * d2 * V) ** 2
                          for g, x, d2 in zip(geo["gz"], geo["x"], geo["d2"])))
        Ws = self.y[0::2] if self.bias else self.y
        n_rel = self.series.dmax + 2 + sum(W.shape[1] + 2 for W in Ws) + sum(y.size for y in self.y)
        rates = EPS_F * n_rel * V * math.sqrt(sum(g * g for g in geo["gz"]))
        return self._step_Ainv * (R * err + rates) * (1 + 8 * EPS_F)

    def _near_exits(self, h: float, err: float, exclude: tuple | None) -> None:
        """Raise UnsupportedKinkError where a sliding weight μ comes within its error bar (:meth:`_mu_bar`)
        of α or 1 on the step without reaching it (docs/theory.md F, "Near touches within the error bar"):
        the exact flow may leave sliding there. ``exclude``: (j, u, i) of a weight whose leave event ends
        this step."""
        from .float_events import first_brackets
        from .kink_flows import UnsupportedKinkError

        bar = self._last_mu_bar = self._mu_bar(err)
        if bar is None:
            return
        for (j, u, i) in self._geo["keys"]:
            if (j, u, i) == exclude or (u, i) not in self.series.slide.get(j + 1, {}):
                continue
            mus = np.array(self.series.slide[j + 1][(u, i)])
            pw = h ** np.arange(len(mus))
            for q, end in ((np.concatenate([[mus[0] - self.alpha], mus[1:]]), "α"),
                           (np.concatenate([[1 - mus[0]], -mus[1:]]), "1")):
                if q[0] <= 0:  # at the end itself: the leave event's own decision
                    continue
                try:
                    first_brackets((q * pw)[:, None], np.array([bar]), after=True)
                except UnsupportedKinkError:
                    raise UnsupportedKinkError(
                        f"the Filippov weight of unit {u} of layer {j + 1} on sample {i} comes within the run's error "
                        f"bar ({bar:.3g}) of {end} on this step without reaching it: whether the exact flow leaves "
                        "sliding there is not decided by this run; use the arb tier (dps=...)") from None

    def _leave_tau(self, j: int, u: int, i: int, h: float) -> float:
        """τ ≥ |t_leave − t_leave,exact| for a weight that reaches α or 1 at the end of the step just taken
        (length h): the bar of :meth:`_mu_bar` over |μ̇| there, first order (∞ without a bar or where μ̇ is 0;
        docs/theory.md F, "The rates' signs against the error bar": the unpin check reads it)."""
        bar = self._last_mu_bar
        mus = self.series.slide[j + 1][(u, i)]
        rate = abs(sum(k * m * h ** (k - 1) for k, m in enumerate(mus) if k > 0))
        if bar is None or rate == 0:
            return math.inf
        return bar / rate * (1 + 8 * EPS_F)
