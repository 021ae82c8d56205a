"""Ground-truth gradient flow at any precision: a Taylor-series integrator on the generic formulas.

Size: ~620 lines (the Taylor integrator, its step parts shared with numerics.kink_flows, and the growth bounds).

θ' = F(θ) with F = −∇f (or the modified flow F = −∇f − (η/2)∇²f∇f of docs/theory.md A4) is recorded
once on a tape (:mod:`numerics.series`) and expanded in power series order by order. Each step:

* order p = ⌈1.15·dps⌉ + 2 (so e^{−2p} ≤ 10^{−dps});
* radius estimate ρ = min_{j∈{p−1,p}} (s/‖c_j‖)^{1/j}, s = max(1, ‖θ‖∞), step h = ρ/e² (Jorba & Zou
  2005), rounded to a binary fraction and kept exact, so the time grid adds no error;
* every coefficient is recentred to its ball's midpoint as it is computed, the radius dropped
  recorded (no wrapping inside the series; docs/theory.md F, "Rounding"); the polynomial is kept as
  dense output, the new state is its value at h, recentred too (no wrapping over many steps);
* working precision dps·log2(10) + 32 guard bits moved to a 64-bit limb boundary (:func:`_guard_bits`).

Error estimate (``Trajectory.error_estimate``, max-norm; ``error_growth="b1"``): per step, local =
‖c_{p−1}‖h^{p−1} + ‖c_p‖h^p (the last two terms stand for the tail, which decays like e^{−2k} beyond
them) plus the arb radius of the evaluation and the amplified dropped radii; errors carried from earlier steps grow at most like
exp(∫ L), L = max(0, −λ_min(∇²f)) bounded from above by docs/theory.md B1 with Frobenius norms for linear
nets (‖·‖₂ ≤ ‖·‖_F) and by max(0, −λ_min(A)) for quadratics. That is the linearised error equation
e' = −∇²f e. It is an estimate, not a certificate: the tail term is extrapolated. The tests check it
against closed forms and against runs at higher precision.
"""

from __future__ import annotations

import bisect
import math
import time
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import combinations
from typing import Any, Callable, Sequence

import flint
import mpmath
import numpy as np

from theory import CrossEntropy, Objective, Quadratic, to_kind
from theory.arrays import check_dps, check_range, warn_if_costly

from .distances import _exact_time
from .duals import Dual
from .error_growth import coefficient_floats, order_norms
from .local_errors import local_error_2norm, rounding_amplification
from .gradients import check_objective, evaluate
from .series import (
    Tape,
    TracingBackend,
    arb_mat_to_mpf,
    arb_precision,
    max_abs,
    max_rad,
    series_coefficients,
    to_arb,
    to_arb_mat,
)
from .softmax_radius import arb_logit_cap, tape_exp_inputs

MIN_DPS = 15


@dataclass
class Trajectory:
    """Dense output of a Taylor integration: ``at(t)`` anywhere in [0, t_end] at full precision."""

    obj: Any
    dps: int
    order: int
    t_end: Fraction
    starts: list[Fraction]
    steps: list[Fraction]
    coeffs: list[list[list[flint.arb_mat]]]  # per step, per state component, coefficients 0..p
    errors: list[float]  # accumulated error estimate at the end of each step
    conservation_defects: list[float] = field(default_factory=list)
    seconds: float = 0.0
    shapes: tuple = ()
    events: list = field(default_factory=list)  # ReLU nets: KinkEvent records (numerics.kink_flows)
    growth_integral: float = math.nan  # ∫ max(0, −λ_min) along the run when the growth was measured
    # ReLU nets: mode searches at simultaneous kinks whose uniqueness was not tried (more than
    # numerics.active_sets.VERIFY_MAX entries at their kinks, not certified unique by active_sets.p_certified;
    # docs/theory.md E1, *Two ways to continue*, *One mode for certain*)
    modes_unverified: int = 0

    @property
    def times(self) -> list[Fraction]:
        """Step boundaries 0 = t_0 < t_1 < … = t_end, exact."""
        return self.starts + [self.t_end]

    @property
    def error_estimate(self) -> float:
        """Estimated bound on max-norm |computed − true| over the whole trajectory."""
        return max(self.errors, default=0.0)

    def _locate(self, t: Any) -> tuple[int, Fraction]:
        tq = _exact_time(t)
        if tq < 0 or tq > self.t_end:
            raise ValueError(
                f"t = {float(tq)!r} is outside the integrated range [0, {float(self.t_end)!r}]; "
                "integrate to at least the last time you need (e.g. K*eta, formed exactly)"
            )
        return max(0, bisect.bisect_right(self.starts, tq) - 1), tq

    def at(self, t: Any) -> list[np.ndarray]:
        """θ(t) as object arrays of mpf (``dps`` digits plus guard bits; t: float, Fraction or mpf,
        taken exactly)."""
        return self.state_at(t)[: len(self.shapes)]

    def state_at(self, t: Any) -> list[np.ndarray]:
        """The whole state at t: θ, then θ' for the second-order (momentum) flows."""
        i, tv = self._locate(t)
        shapes = self.shapes * (len(self.coeffs[i]) // len(self.shapes))
        # returned at the run's working precision (dps digits + the run's guard bits, _guard_bits), so
        # converting the result costs no digits beyond what error_estimate accounts for. (With the
        # default 32 guard bits a cross-entropy run, which works at 32 + 2p, was read out ~2^-(2p)
        # less accurately than its local errors claimed: docs/theory.md E3.)
        with arb_precision(self.dps, _guard_bits(self.obj, self.order)) as bits, mpmath.workprec(bits):
            s = to_arb(tv - self.starts[i])
            out = []
            for comp, shape in zip(self.coeffs[i], shapes):
                acc = comp[-1]
                for c in reversed(comp[:-1]):
                    acc = acc * s + c
                out.append(arb_mat_to_mpf(acc).reshape(shape))
            return out


def _b1_growth(obj: Objective) -> Callable[[list[np.ndarray]], float]:
    """L(θ) ≥ max(0, −λ_min(∇²f(θ))) for linear nets: docs/theory.md B1 with Frobenius norms."""
    loss = obj.loss
    if isinstance(loss, CrossEntropy):
        return _b1_growth_cross_entropy(obj)
    X = None if loss.inputs is None else to_kind(loss.inputs, "float")
    T = to_kind(loss.target, "float")
    c = float(loss.weight)
    N = obj.depth

    def L(Ws: list[np.ndarray]) -> float:
        if N < 2:
            return 0.0
        W = _product(Ws)
        # ∇φ(W) for φ(W) = (c/2)‖W X − T‖²: c(W X − T)Xᵀ (X = I for the whitened loss)
        gphi = c * (W - T) if X is None else c * (W @ X - T) @ X.T
        norms = [np.linalg.norm(M) for M in Ws]
        best = max(math.prod(s for i, s in enumerate(norms) if i not in pair) for pair in combinations(range(N), 2))
        return (N - 1) * float(np.linalg.norm(gphi)) * best

    return L


def _product(Ws: list[np.ndarray]) -> np.ndarray:
    """The end-to-end matrix W_N ⋯ W_1."""
    W = Ws[0]
    for M in Ws[1:]:
        W = M @ W
    return W


def _b1_growth_cross_entropy(obj: Objective) -> Callable[[list[np.ndarray]], float]:
    """L(θ) ≥ max(0, −λ_min(∇²f(θ))) for a deep linear net with cross-entropy (docs/theory.md B1, E3).

    Derivation. f(θ) = φ(W), W = W_N⋯W_1, φ(W) = (1/n)Σ_i ℓ(W x_i, c_i). φ is convex and C^∞: its
    Hessian D²φ(W)[Δ, Δ] = (1/n)Σ_i (Δx_i)ᵀ J_i (Δx_i) with J_i = diag(p_i) − p_i p_iᵀ ⪰ 0, so B1 holds:
    λ_min(∇²f) ≥ −(N−1)‖∇φ(W)‖₂ max_{j<j'} ∏_{i∉{j,j'}} ‖W_i‖₂, here with Frobenius norms (≥ spectral).
    ∇φ(W) = (1/n)Σ_i (p_i − e_{c_i}) x_iᵀ (p_i = softmax(W x_i)), and two bounds on its norm hold:
    * pointwise, evaluated at the step's endpoints (as for the square losses; the error estimate is an
      estimate, see the module docstring). Between them ∇φ moves by at most ‖D²φ‖·‖ΔW‖ with
      ‖D²φ‖ ≤ ‖X‖₂²/(2n), because ‖J_i‖₂ ≤ 1/2: for a unit u, uᵀJ_iu = Σ_k p_k u_k² − (Σ_k p_k u_k)²
      is the variance of u_K with K ~ p_i, at most (max_k u_k − min_k u_k)²/4 (Popoviciu), and
      (u_a − u_b)² ≤ 2(u_a² + u_b²) ≤ 2 for a ≠ b; with Σ_i‖Δx_i‖² ≤ ‖Δ‖_F²‖X‖₂² this gives
      D²φ[Δ, Δ] ≤ ‖X‖₂²‖Δ‖_F²/(2n). So ∇φ is (‖X‖₂²/2n)-Lipschitz and one step of size h
      (‖ΔW‖ = O(h‖Ẇ‖), h = ρ/e² a small fraction of the convergence radius) changes it little;
    * globally, ‖p_i − e_c‖² = (1 − p_c)² + Σ_{k≠c} p_k² ≤ 2(1 − p_c)² ≤ 2, so
      ‖∇φ(W)‖_F ≤ (1/n)Σ_i ‖p_i − e_{c_i}‖‖x_i‖ ≤ (√2/n)Σ_i ‖x_i‖ for every W.
    The pointwise value is used, capped by the global bound (which holds along the whole step).
    """
    loss = obj.loss
    X = to_kind(loss.inputs, "float")  # (d_0, n), columns are samples
    E = loss.onehot(obj.widths[-1])
    n = X.shape[1]
    cap = math.sqrt(2) / n * float(np.linalg.norm(X, axis=0).sum())
    N = obj.depth

    def L(Ws: list[np.ndarray]) -> float:
        if N < 2:
            return 0.0
        W = _product(Ws)
        Z = W @ X
        P = np.exp(Z - Z.max(axis=0, keepdims=True))
        P /= P.sum(axis=0, keepdims=True)
        gphi = min(float(np.linalg.norm((P - E) @ X.T)) / n, cap)
        norms = [np.linalg.norm(M) for M in Ws]
        best = max(math.prod(s for i, s in enumerate(norms) if i not in pair) for pair in combinations(range(N), 2))
        return (N - 1) * gphi * best

    return L


def _growth(obj: Any) -> Callable[[list[np.ndarray]], float]:
    if isinstance(obj, Quadratic):
        lam = float(np.linalg.eigvalsh(to_kind(obj.A, "float"))[0])
        return lambda Ws: max(0.0, -lam)
    return _b1_growth(obj)


def _gradient_tape(obj: Any, modified_eta: Any = None, end_to_end: bool = True) -> tuple[Tape, list[int], int]:
    """Record F = −∇f (or −∇f − (η/2)∇²f∇f) on a tape with one input per parameter block
    (``end_to_end``: :class:`numerics.series.TracingBackend`)."""
    tape = Tape()
    b = TracingBackend(tape, end_to_end)
    n = 1 if isinstance(obj, Quadratic) else len(obj.shapes)
    Ws = [tape.input(j) for j in range(n)]
    _, g = evaluate(obj, Ws, b, want_value=False)
    # the field is −G; the sign is applied when coefficients are formed (no negation nodes)
    if modified_eta is None:
        G = g
    else:
        _, hg = evaluate(obj, [Dual(w, gi) for w, gi in zip(Ws, g)], b, want_value=False)
        half_eta = to_arb(modified_eta) / 2
        G = [gi + d.tan * half_eta for gi, d in zip(g, hg)]
    return tape, [x.i for x in G], -1


def _has_kinks_or_bias(obj: Any) -> bool:
    return isinstance(obj, Objective) and (not obj.model.is_linear or obj.model.bias)


def _check_common(obj: Any, theta0: Sequence[Any], t_end: Any, dps: int,
                  allow_kinks: bool = False) -> tuple[Any, list, Fraction]:
    obj = check_objective(obj)
    if _has_kinks_or_bias(obj) and not allow_kinks:
        raise ValueError(
            "this flow is implemented for bias-free deep linear nets and quadratics; for ReLU nets and "
            "nets with biases use numerics.gradient_flow (exact kink events)"
        )
    theta0 = obj.check_theta(theta0, "theta0")
    check_dps(dps, minimum=MIN_DPS)  # float64 paths cover lower precision
    check_range(t_end, "t_end", lo=0)  # before Fraction(), which would accept '5' and choke on inf
    if math.isinf(float(t_end)):
        raise ValueError(f"t_end must be finite, got {t_end!r}")
    warn_if_costly(dps, sum(np.asarray(w).size for w in theta0))
    try:
        t_end_q = t_end if isinstance(t_end, Fraction) else Fraction(t_end)
    except (TypeError, ValueError):
        raise TypeError(f"t_end must be a real number, got {t_end!r}") from None
    if t_end_q < 0:
        raise ValueError(f"t_end must be >= 0, got {t_end!r}")
    return obj, theta0, t_end_q


def gradient_flow(obj: Any, theta0: Sequence[Any], t_end: Any, dps: int = 30, order: int | None = None,
                  progress: Callable[[float, float], None] | None = None,
                  error_growth: str | None = None, rtol: float | None = None,
                  propagation: str | None = None) -> Trajectory:
    """Ground-truth GF θ' = −∇f(θ), θ(0) = theta0, on [0, t_end] at ``dps`` digits (Taylor method).

    Returns a :class:`Trajectory` (dense output ``at(t)``, exact ``times``, ``error_estimate``,
    ``conservation_defects`` for linear nets). ``progress(t, t_end)`` is called after each step.

    (Leaky) ReLU nets and nets with biases: the region-by-region Taylor method with exact kink
    events (transversal crossings, Filippov sliding) of :mod:`numerics.kink_flows`; ``traj.events``
    lists the switches, ``conservation_defects`` the drift of the per-neuron law (docs/theory.md E2), and
    ``error_estimate`` comes from an independent rerun at dps + 10 (docs/theory.md E3). The flow is
    θ' ∈ −∂f(θ) (Clarke subdifferential; Filippov at kinks); a repelling kink raises
    :class:`numerics.kink_flows.NonUniqueFlowError`.

    ``dps=None`` selects the float64 tier (:mod:`numerics.float_taylor`: the same tape and parts on
    numpy arrays; deep linear and (leaky) ReLU nets with or without biases; square, whitened square
    and cross-entropy losses; kink crossings and Filippov sliding, a kink met while another entry
    slides and pushes its weight out of [α, 1] raises UnsupportedKinkError there). It returns a
    trajectory with the same interface (``at`` gives float64 arrays, ``times`` floats). ``rtol`` (float
    tier only; default 2^{−53}, the rounding level): each step's last series term relative to
    max(1, ‖θ‖∞), up to 1e-4 — faster, with the larger truncation in ``error_estimate``
    (:func:`numerics.float_taylor.float_gradient_flow`). ``propagation`` (float tier, nets with kinks): how the
    estimate carries errors — ``"set"`` (dense propagators, tight, cost ∝ P³), ``"windows"`` (norms, cost ∝ P) or
    ``"auto"`` (default: the set up to 1,024 parameters); see :func:`numerics.float_taylor.float_gradient_flow`.

    ``error_growth`` (deep linear nets): ``"measured"`` propagates local errors with max(0, −λ_min(∇²f))
    sampled along each step (:mod:`numerics.error_growth`, docs/theory.md F); ``"b1"`` with the
    docs/theory.md B1 bound instead — on the arb tier the global one (Frobenius norms; honest but far
    looser), on the float tier B1 with spectral norms sampled along each step (:mod:`numerics.b1_growth`;
    deep linear nets, with or without biases). ``None`` (default): ``"measured"``, except on the float tier
    for deep linear nets above 800 parameters, where the sampled λ_min would be Lanczos's (a premise) and
    B1's theorem is taken (docs/theory.md F, "The growth from B1"). On the arb tier a net with biases or
    kinks takes its estimate from a rerun (docs/theory.md E3), and ``"b1"`` is refused there.
    """
    if error_growth not in (None, "measured", "b1"):
        raise ValueError(f"error_growth must be None, 'measured' or 'b1', got {error_growth!r}")
    if dps is None:  # the float64 tier (numerics.float_taylor)
        from .float_taylor import float_gradient_flow

        return float_gradient_flow(obj, theta0, t_end, order, progress, rtol=rtol,
                                   growth=True if error_growth is None else error_growth,
                                   propagation="auto" if propagation is None else propagation)
    if rtol is not None:
        raise ValueError("rtol applies to the float tier (dps=None); the arb tier's accuracy is set by dps")
    if propagation is not None:
        raise ValueError("propagation applies to the float tier (dps=None); the arb tier's estimate comes from a rerun "
                         "(docs/theory.md E3) or its own bound")
    error_growth = error_growth or "measured"
    obj, theta0, t_end_q = _check_common(obj, theta0, t_end, dps, allow_kinks=True)
    if _has_kinks_or_bias(obj):
        if error_growth == "b1":
            raise ValueError("error_growth='b1' on the arb tier is for bias-free deep linear nets; with biases or "
                             "kinks its estimate comes from a rerun (docs/theory.md E3), or use the float tier (dps=None)")
        from .kink_flows import relu_gradient_flow  # kink_flows imports this module's step parts

        return relu_gradient_flow(obj, theta0, t_end_q, dps, order, progress)
    growth = _growth(obj)
    if error_growth == "measured" and not isinstance(obj, Quadratic):
        from .error_growth import MeasuredGrowth

        growth = MeasuredGrowth(obj)
    traj = _integrate(obj, theta0, None, t_end_q, dps, order, lambda: _gradient_tape(obj), progress,
                      growth=growth, conserved=True)
    traj.growth_integral = getattr(growth, "integral", math.nan)
    return traj


def modified_flow(obj: Any, theta0: Sequence[Any], eta: Any, t_end: Any, dps: int = 30, order: int | None = None,
                  progress: Callable[[float, float], None] | None = None) -> Trajectory:
    """The modified flow of GD, θ' = −∇f − (η/2)∇²f∇f (docs/theory.md A4), by the same Taylor method.

    It follows GD with global error O(η²) (vs O(η) for GF). Error growth: GF's bound L doubled, which
    covers the extra term's Jacobian (η/2)(∇²f² + D³f[∇f]) while η·‖∇²f‖ ≤ 1 and
    η‖D³f[∇f]‖ ≤ ‖∇²f‖ (small steps; the regime where the modified flow is meant).
    """
    _check_positive(eta, "eta")
    obj, theta0, t_end_q = _check_common(obj, theta0, t_end, dps)
    g = _growth(obj)
    return _integrate(obj, theta0, None, t_end_q, dps, order, lambda: _gradient_tape(obj, eta), progress,
                      growth=lambda Ws: 2.0 * g(Ws))


def heavy_ball_flow(obj: Any, theta0: Sequence[Any], b: Any, t_end: Any, v0: Sequence[Any] | None = None,
                    dps: int = 30, order: int | None = None,
                    progress: Callable[[float, float], None] | None = None) -> Trajectory:
    """θ'' + bθ' + ∇f(θ) = 0 (the heavy-ball ODE, docs/theory.md D2/D3), θ(0) = theta0, θ'(0) = v0 (default 0).

    State (θ, v = θ'); ``at(t)`` gives θ, ``state_at(t)`` gives (θ, v). The error estimate compares
    with a second run at dps + 10 on the step times (no growth bound is derived for this system).
    """
    _check_positive(b, "b")
    obj, theta0, t_end_q = _check_common(obj, theta0, t_end, dps)
    v0 = _velocity(obj, theta0, v0)

    return _integrate(obj, theta0, v0, t_end_q, dps, order, lambda: _momentum_tape(obj, b), progress,
                      growth=None)


def nesterov_flow(obj: Any, theta0: Sequence[Any], t_end: Any, r: Any = 3, dps: int = 30,
                  order: int | None = None, progress: Callable[[float, float], None] | None = None) -> Trajectory:
    """θ'' + (r/t)θ' + ∇f(θ) = 0, θ(0) = theta0, θ'(0) = 0 (Su, Boyd & Candès; docs/theory.md D4).

    The damping r/t is singular at t = 0. The first step uses the series solution there: with
    v = θ' = Σ v_k t^k, t·v' + r·v = −t·∇f gives (k + r)v_k = −[∇f]_{k−1}, v_0 = 0, a regular
    recursion on the same tape. Later steps expand 1/t = 1/(t_0 + s) = Σ (−s)^i / t_0^{i+1} around
    the step start t_0 > 0 and take the Cauchy product with v. Error estimate: rerun at dps + 10.
    """
    _check_positive(r, "r")
    obj, theta0, t_end_q = _check_common(obj, theta0, t_end, dps)
    v0 = _velocity(obj, theta0, None)

    def combine_for(t0: Fraction):
        rr = to_arb(r)
        if t0 == 0:
            def combine(k, F, ys):
                n = len(F) // 2
                # y_{k+1} = combine/(k+1): v_{k+1} = −g_k/(k+1+r) ⇒ combine = −g_k·(k+1)/(k+1+r)
                fac = to_arb(k + 1) / (to_arb(k + 1) + rr)
                return F[:n] + [f * fac for f in F[n:]]
            return combine
        inv = to_arb(t0) ** -1
        powers = [inv]  # (−1)^i / t0^{i+1}

        def combine(k, F, ys):
            n = len(F) // 2
            while len(powers) <= k:
                powers.append(-powers[-1] * inv)
            out = list(F[:n])
            for j in range(n):
                vs = ys[n + j]
                acc = vs[k] * powers[0]
                for i in range(1, k + 1):
                    acc += vs[k - i] * powers[i]
                out.append(F[n + j] - acc * rr)
            return out
        return combine

    return _integrate(obj, theta0, v0, t_end_q, dps, order, lambda: _momentum_tape(obj, None), progress,
                      growth=None, combine_for=combine_for)


def _check_positive(x: Any, name: str) -> None:
    check_range(x, name, lo=0, lo_strict=True)


def _velocity(obj, theta0, v0):
    if v0 is None:
        return [np.zeros(np.asarray(w).shape) for w in theta0]
    return obj.check_theta(v0, "v0")


def _momentum_tape(obj, damping: Any) -> tuple[Tape, list[int], int]:
    """The field of θ'' + dθ' + ∇f = 0 as a first-order system on (θ, v): θ' = v, v' = −∇f − d·v.

    Inputs θ_1..θ_n then v_1..v_n. ``damping=None`` records v' = −∇f only (Nesterov's r/t term is
    added per step by its ``combine``)."""
    tape = Tape()
    n = 1 if isinstance(obj, Quadratic) else len(obj.shapes)
    theta = [tape.input(j) for j in range(n)]
    v = [tape.input(n + j) for j in range(n)]
    _, g = evaluate(obj, theta, TracingBackend(tape), want_value=False)
    if damping is None:
        acc = [-gj for gj in g]
    else:
        d = to_arb(damping)
        acc = [-gj - vj * d for gj, vj in zip(g, v)]
    return tape, [vj.i for vj in v] + [a.i for a in acc], 1


def _to_state(obj, arrays) -> list[flint.arb_mat]:
    is_quad = isinstance(obj, Quadratic)
    return [to_arb_mat(np.asarray(w).reshape(-1, 1) if is_quad else w) for w in arrays]


def _integrate(obj, theta0, v0, t_end: Fraction, dps: int, order: int | None, build_tape: Callable, progress,
               growth: Callable | None, conserved: bool = False, combine_for: Callable | None = None,
               _rerun: bool = True) -> Trajectory:
    """Taylor steps from the initial state to t_end (module docstring).

    The tape is recorded inside the working precision (its constants, e.g. η/2 or a non-dyadic Φ
    entry, would otherwise round at 53 bits). ``growth=None`` means no error-growth bound is known:
    the estimate is then the larger of the accumulated local errors and the difference to a run at
    dps + 10 on this run's step times.
    """
    t0 = time.perf_counter()
    p = int(order) if order is not None else int(math.ceil(1.15 * dps)) + 2
    if p < 4:
        raise ValueError(f"order must be >= 4, got {p}")
    shapes = ((obj.A.shape[0],),) if isinstance(obj, Quadratic) else tuple(tuple(s) for s in obj.shapes)
    n_theta = len(shapes)
    linear_net = conserved and isinstance(obj, Objective) and obj.depth >= 2
    starts: list[Fraction] = []
    steps: list[Fraction] = []
    all_coeffs = []
    errors: list[float] = []
    defects: list[float] = []
    with arb_precision(dps, _guard_bits(obj, p, dps)):
        tape, outs, sign = build_tape()
        y = _to_state(obj, theta0) + (_to_state(obj, v0) if v0 is not None else [])
        D0 = _balancedness(y[:n_theta]) if linear_net else None
        t = Fraction(0)
        err = 0.0
        y_floats = None  # θ at the step start as float64 arrays, when known from the last step
        while t < t_end:
            combine = combine_for(t) if combine_for is not None else None
            drop: list[float] = []  # Σ radii dropped by recentring each coefficient (series.py)
            ents: list = []  # entry lists the series extracted anyway (order_norms reads them)
            logits = {z: None for z, _ in tape_exp_inputs(tape)}  # the softmax head's series, for the step's cap
            cs = series_coefficients(tape, outs, y, p, combine, sign, recentre=drop, entries=ents,
                                     watched=logits or None)
            measured = hasattr(growth, "step")
            # measured growth reads the coefficients in floats anyway (order norms): converted once, here
            fl = coefficient_floats(cs, ents) if measured else None
            h = taylor_step(cs, p, t_end - t, t, floats=fl, cap=arb_logit_cap(tape, logits))
            new, *mid = taylor_eval_many(cs, [h, h / 2] if measured else [h])
            hf = float(h)
            dropped = sum(d * hf ** (k + 1) for k, d in enumerate(drop))
            new_f = _floats(new) if measured else None
            if not (all(np.isfinite(a).all() for a in new_f) if measured
                    else all(math.isfinite(max_abs(m)) for m in new)):
                raise FloatingPointError(f"the flow left the float range near t = {float(t)}")
            L = 0.0
            if measured:  # measured growth (numerics.error_growth): Euclidean norms
                def precise(cs_args=(tape, outs, y, p, combine, sign), h=h):
                    return taylor_eval(series_coefficients(*cs_args, recentre=[]), h)

                # the step's start in floats is the last step's end: y = mid(new) has new's float midpoints
                y0f = y_floats if y_floats is not None else _floats(y)
                # no rounding measurement for a bound 1000× under the digits asked (of max(1, ‖θ‖))
                floor = 10.0 ** -(dps + 3) * max(1.0, max(_max_abs_float(a) for a in y0f))
                norms = order_norms(cs, floats=fl)
                local = local_error_2norm(norms, p, h, new, precise, dropped=dropped, floor=floor)
                y_floats = new_f
                L = growth.step(y0f[:n_theta], _floats(mid[0][:n_theta]), y_floats[:n_theta], hf,
                                norms if len(cs) == n_theta else cs[:n_theta])
            else:
                local = local_error(cs, p, h, new, dropped=dropped)
            if growth is not None and not measured:
                L = max(growth(_floats(y[:n_theta])), growth(_floats(new[:n_theta])))
            err = err * math.exp(hf * L) + local
            starts.append(t)
            steps.append(h)
            all_coeffs.append(cs)  # recentred: every coefficient is an exact midpoint already
            errors.append(err)
            y = [m.mid() for m in new]
            t += h
            if linear_net:
                defects.append(max(max_abs(a - b) for a, b in zip(_balancedness(y[:n_theta]), D0)))
            if progress:
                progress(float(t), float(t_end))
        if not starts:  # t_end = 0: a single zero-length step keeps at() working
            starts.append(Fraction(0))
            steps.append(Fraction(0))
            all_coeffs.append([[m] for m in y])
            errors.append(0.0)
    traj = Trajectory(obj, dps, p, t_end, starts, steps, all_coeffs, errors, defects,
                      time.perf_counter() - t0, shapes)
    if growth is None and _rerun and t_end > 0:
        fine = _integrate(obj, theta0, v0, t_end, dps + 10, None, build_tape, None, None,
                          combine_for=combine_for, _rerun=False)
        with mpmath.workdps(dps + 10):
            for i, tk in enumerate(traj.times[1:]):
                a, b = traj.state_at(tk), fine.state_at(tk)
                diff = max(abs(x - z) for A, B in zip(a, b) for x, z in zip(A.flat, B.flat))
                traj.errors[i] = max(traj.errors[i], float(diff))
        traj.seconds = time.perf_counter() - t0
    return traj


def _guard_bits(obj: Any, order: int, dps: int | None = None) -> int:
    """Guard bits of the tape's arb arithmetic: 32, and 2 more per order for cross-entropy; with
    ``dps`` given, moved to the nearest 64-bit limb boundary that leaves at least 8 bits fewer.

    Limbs: arb stores and multiplies mantissas in 64-bit limbs, so every precision from 64(L−1) + 1
    to 64L bits costs the same, and one limb more costs ≈ 1.5–2× in a dot product (measured: a
    26×494 by 494×1 arb_mat product at 128 and at 132 bits, 2.0×). So the working precision is rounded
    up to a limb boundary (free bits), or down to the one below when that keeps ≥ 24 guard bits (30
    digits: 100 + 28 = 128 bits instead of 132). The rounding error is not assumed small: the arb
    radii and the measured rounding of :func:`numerics.local_errors.local_error_2norm` enter the
    error estimate, so fewer guard bits can only show up there, never be hidden.

    Why: the exp and quotient recurrences (:mod:`numerics.series_elementwise`) feed each coefficient's
    ball into every later one, and ball arithmetic bounds that feedback by the majorant series, whose
    radius of convergence is smaller than the true one. The radii then grow geometrically with the order
    (measured ≈ 1.3 bits per order on a 3-4-3-3 net: radius/|coefficient| ≈ 10^3 at order 37 from
    2^{−132} relative input radii), and the radius term of the error estimate — rigorous, but for this
    reason ~10^4 times the true rounding error — swamped the truncation term. Two bits per order
    absorb that growth; the radius stays in the estimate, so this only tightens it.
    """
    guard = 32 + 2 * order if isinstance(obj, Objective) and isinstance(obj.loss, CrossEntropy) else 32
    if dps is None:
        return guard
    need = int(math.ceil(dps * math.log2(10)))  # as in series.arb_precision
    return 64 * math.ceil((need + guard - 8) / 64) - need


# ---- the parts of a Taylor step, shared with the kink integrator (numerics.kink_flows) ----------
def taylor_step(cs: list[list[flint.arb_mat]], p: int, remaining: Fraction, t: Fraction,
                floats: list[np.ndarray] | None = None, cap: Callable[[float], float] | None = None) -> Fraction:
    """Step controller: h = ρ/e², ρ = min_{j∈{p−1,p}} (s/‖c_j‖)^{1/j}, s = max(1, ‖y_0‖∞) (Jorba & Zou
    2005), as an exact binary fraction, at most ``remaining``. ``floats``: the coefficients'
    :func:`numerics.error_growth.coefficient_floats`, read instead of converting them again (the same
    max-norms, bit for bit). ``cap(ρ)``: ρ lowered to a radius the state's coefficients cannot show (the
    softmax head's, :func:`numerics.softmax_radius.arb_logit_cap`)."""
    if floats is not None:
        def norm(j: int) -> float:
            return max(_max_abs_float(F[j]) for F in floats)
    else:
        def norm(j: int) -> float:
            return max(max_abs(c[j]) for c in cs)
    scale = max(1.0, norm(0))
    rho = math.inf
    for j in (p - 1, p):
        nj = norm(j)
        if nj > 0:
            rho = min(rho, (scale / nj) ** (1.0 / j))
    if cap is not None:
        rho = cap(rho)
    h = Fraction(min(rho / math.exp(2), 1e6)) if math.isfinite(rho) else remaining
    h = min(h, remaining)
    if h <= 0:
        raise FloatingPointError(f"step size underflow at t = {float(t)} (the solution may blow up)")
    return h


def taylor_eval(cs: list[list[flint.arb_mat]], h: Fraction) -> list[flint.arb_mat]:
    """Dense output: every component's polynomial at offset ``h`` (Horner, in arb)."""
    return taylor_eval_many(cs, [h])[0]


def taylor_eval_many(cs: list[list[flint.arb_mat]], hs: Sequence[Fraction]) -> list[list[flint.arb_mat]]:
    """Every component's polynomial at each offset in ``hs`` (Horner, in arb). Measured faster than
    one stacked product [h^j]·[vec(c_0); …] per component (entry extraction dominates that), 3–4×
    on 21–2,054 parameters with recentred (exact-midpoint) coefficients."""
    out = []
    for h in hs:
        ha = to_arb(h)
        new = []
        for comp in cs:
            acc = comp[-1]
            for c in reversed(comp[:-1]):
                acc = acc * ha + c
            new.append(acc)
        out.append(new)
    return out


def local_error(cs: list[list[flint.arb_mat]], p: int, h: Fraction, new: list[flint.arb_mat],
                dropped: float = 0.0) -> float:
    """Local error estimate of one step: ‖c_{p−1}‖h^{p−1} + ‖c_p‖h^p (the tail) + the arb radius of
    the evaluation + the radii dropped by recentring the coefficients (``dropped`` = Σ_k d_k h^k,
    amplified as in docs/theory.md F)."""
    hf = float(h)
    local = sum(max(max_abs(c[j]) for c in cs) * hf**j for j in (p - 1, p))
    return local + max(max_rad(m) for m in new) + rounding_amplification(p) * dropped


def _max_abs_float(a: np.ndarray) -> float:
    """max |entry| of a float array, 0 for an empty one (as :func:`numerics.series.max_abs`)."""
    return float(np.abs(a).max()) if a.size else 0.0


def _floats(ms: list[flint.arb_mat]) -> list[np.ndarray]:
    return [np.fromiter(map(float, m.entries()), np.float64, m.nrows() * m.ncols()).reshape(m.nrows(), m.ncols())
            for m in ms]


def _balancedness(Ws: list[flint.arb_mat]) -> list[flint.arb_mat]:
    return [Ws[j + 1].transpose() * Ws[j + 1] - Ws[j] * Ws[j].transpose() for j in range(len(Ws) - 1)]
