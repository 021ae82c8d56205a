"""A bound on how fast the Hessian ∇²f(θ(t)) can move along one Taylor step of a network's flow.

Used by :class:`numerics.error_growth.MeasuredGrowth` to bound λ_min(∇²f) over a step from a single
λ_min sample at the step's midpoint (Weyl's inequality, docs/theory.md F, "μ along a step from the
midpoint"):

    λ_min(H(t)) ≥ λ_min(H(t_m)) − |t − t_m|·sup_step ‖dH/dt‖₂,   ‖dH/dt‖₂ = ‖D³f(θ)[θ']‖₂ ≤ B₃·‖θ'‖₂.

B₃ bounds the trilinear norm of D³f on the step (:func:`third_derivative_bound`), ‖θ'‖₂ the state's
velocity on the step (:func:`velocity_bound`); :func:`hessian_time_lipschitz` is their product. At a kink
event the Hessian jumps; :func:`sample_jump_bound` bounds the jump, so a lower bound of λ_min can be
carried across events as well as along steps.

Inside a step the activation pattern is fixed (kink events end steps), so f is the loss of a fixed
product of matrices: h_i(θ) = A_N D_{N−1,i} A_{N−1} ⋯ D_{1,i} A_1 x̃_i with the masks D (diagonal,
entries in [α, 1] ⊂ [−1, 1], Filippov weights included: ‖D‖₂ ≤ 1) and, with biases, the augmented
A_l = [[W_l, b_l], [0, 1]] (l < N), A_N = [W_N, b_N], x̃_i = (x_i, 1).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Sequence

import numpy as np

EPS_HALF = 2.0 ** -53  # u, the unit roundoff of float64


def _sym_sums(s: Sequence[float], k: int) -> float:
    """σ_k = Σ_{|S| = k} Π_{m ∉ S} s_m over the k-subsets S of the layers (by direct enumeration:
    N ≤ 10 layers in practice, at most C(N, 3) terms)."""
    from itertools import combinations

    N = len(s)
    if k > N:
        return 0.0
    return float(sum(math.prod(s[m] for m in range(N) if m not in S) for S in combinations(range(N), k)))


def derivative_factors(s: Sequence[float]) -> tuple[float, float, float]:
    """(δ₁, δ₂, δ₃) with |D^k h[u, …, u]| ≤ δ_k·‖x̃‖ for every unit direction u (‖u‖₂ = 1), given
    s_l ≥ ‖A_l‖₂ on the step (module docstring).

    D^k h[u^k] = k!·Σ_{|S|=k} (the product with A_l replaced by U_l for l ∈ S), each term ≤
    Π_{l∈S}‖U_l‖_F·Π_{m∉S} s_m·‖x̃‖ (‖D‖₂ ≤ 1). With g_l = ‖U_l‖_F, Σ g_l² = 1: k = 1 by Cauchy–Schwarz,
    δ₁ = (Σ_l Π_{m≠l} s_m²)^{1/2}; k ≥ 2 by Π_{l∈S} g_l ≤ k^{−k/2} (AM–GM on k of the g_l²),
    δ_k = k!·k^{−k/2}·σ_k (σ_k of :func:`_sym_sums`)."""
    # a run asks for the same norms several times per step and event (rate bars, jumps, B₂, B₃): memoised
    return _derivative_factors(tuple(float(x) for x in s))


@functools.lru_cache(maxsize=256)
def _derivative_factors(s: tuple[float, ...]) -> tuple[float, float, float]:
    N = len(s)
    d1 = math.sqrt(sum(math.prod(s[m] ** 2 for m in range(N) if m != l) for l in range(N)))
    d2 = 2 * 0.5 * _sym_sums(s, 2)
    d3 = 6 * 3 ** -1.5 * _sym_sums(s, 3)
    return d1, d2, d3


def third_derivative_bound(obj: Any, s: Sequence[float], loss_bound: float, jacobian: float | None = None,
                           xn: np.ndarray | None = None) -> float:
    """B₃ ≥ sup_{‖u‖₂=1} |D³f(θ)[u, u, u]| = ‖D³f(θ)‖ (Banach: for a symmetric trilinear form the norm
    is that of its cubic polynomial), for θ on a step where ‖A_l‖₂ ≤ s_l and f ≤ ``loss_bound``.

    With φ(τ) = f(θ + τu) = c·Σ_i ℓ(h_i(θ + τu), ·):
    φ''' = c·Σ_i (ℓ'''[h_i', h_i', h_i'] + 3·ℓ''[h_i'', h_i'] + ℓ'[h_i''']), |h_i^{(k)}| ≤ δ_k·‖x̃_i‖.

    * square loss ℓ = ½‖h − y‖²: ℓ''' = 0, ‖ℓ''‖ = 1, ℓ' = r_i, and Σ_i ‖r_i‖‖x̃_i‖ ≤ (Σ‖r_i‖²)^{1/2}
      (Σ‖x̃_i‖²)^{1/2} with c·Σ‖r_i‖² = 2f ≤ 2·loss_bound;
    * cross-entropy ℓ = lse(h) − h_c: ℓ'[v] = ⟨p − e_c, v⟩, ℓ''[v, v] = Var_p(v) ≤ ‖v‖²/2 and
      |ℓ'''[v, v, v]| = |E_p(v − v̄)³| ≤ range(v)·Var_p(v) ≤ range³/4 ≤ 2^{−1/2}‖v‖³ (Popoviciu;
      range(v) ≤ √2‖v‖); ‖p − e_c‖ ≤ √2·(1 − p_c) ≤ √2·ℓ_i, so Σ_i ‖ℓ_i'‖‖x̃_i‖ ≤ √2·max_i‖x̃_i‖·f/c.

    WhitenedSquare (no inputs): x̃_i = e_i, i = 1..d₀, c = 1.

    ``jacobian``: Jb ≥ ‖J‖₂ on the step (the stacked Jacobian, :mod:`numerics.jacobian_bound`). The
    ℓ'' terms are Σ_i ℓ''[h_i'', h_i'] ≤ ‖ℓ''‖·(Σ_i‖h_i''‖²)^{1/2}(Σ_i‖J_iu‖²)^{1/2} ≤ ‖ℓ''‖·δ₂(Σ‖x̃_i‖²)^{1/2}·Jb
    (Cauchy–Schwarz over the samples), and Σ_i‖J_iu‖³ ≤ max_i‖J_iu‖·Σ_i‖J_iu‖² ≤ δ₁max‖x̃_i‖·Jb²; without
    it Jb = δ₁(Σ‖x̃_i‖²)^{1/2}, which gives the formulas above."""
    c, xn, ce, resid = _loss_terms(obj, loss_bound, xn)
    d1, d2, d3 = derivative_factors(s)
    root = math.sqrt(float(np.sum(xn**2)))
    jb = d1 * root if jacobian is None else min(d1 * root, jacobian)
    if ce:
        cubic = min(d1**3 * float(np.sum(xn**3)), d1 * float(xn.max()) * jb * jb)
        return c * (2 ** -0.5 * cubic + 3 * 0.5 * d2 * root * jb) + c * d3 * resid
    return c * 3 * d2 * root * jb + c * d3 * resid


def _loss_terms(obj: Any, loss_bound: float, xn: np.ndarray | None = None) -> tuple[float, np.ndarray, bool, float]:
    """(c, ‖x̃_i‖ per sample, cross-entropy?, R ≥ Σ_i ‖ℓ_i'‖‖x̃_i‖) for the bounds B₂ and B₃: the
    first-order loss term, R = (2·loss_bound/c)^{1/2}(Σ‖x̃_i‖²)^{1/2} for the square loss and
    √2·min(max_i‖x̃_i‖·loss_bound/c, Σ‖x̃_i‖) for cross-entropy (:func:`third_derivative_bound`). ``xn``:
    :func:`input_norms` of ``obj`` where the caller holds them (a run calls this at every step and event)."""
    from theory.losses import CrossEntropy

    c = float(obj.loss.weight)
    xn = input_norms(obj) if xn is None else xn
    if isinstance(obj.loss, CrossEntropy):
        return c, xn, True, math.sqrt(2) * min(float(xn.max()) * loss_bound / c, float(np.sum(xn)))
    return c, xn, False, math.sqrt(2 * loss_bound / c) * math.sqrt(float(np.sum(xn**2)))


def hessian_norm_bound(obj: Any, s: Sequence[float], loss_bound: float, jacobian: float | None = None,
                       xn: np.ndarray | None = None) -> float:
    """B₂ ≥ sup_{‖u‖₂=1} |D²f(θ)[u, u]| = ‖∇²f(θ)‖₂, for θ on a step where ‖A_l‖₂ ≤ s_l and f ≤
    ``loss_bound`` (the second-order sibling of :func:`third_derivative_bound`, same notation):
    φ'' = c·Σ_i (ℓ''[h_i', h_i'] + ℓ'[h_i'']), |h_i^{(k)}| ≤ δ_k·‖x̃_i‖, so

    * square loss: B₂ = c·δ₁²·Σ‖x̃_i‖² + c·δ₂·(2·loss_bound/c)^{1/2}·(Σ‖x̃_i‖²)^{1/2} (‖ℓ''‖ = 1, ℓ' = r_i,
      Cauchy–Schwarz over the samples as in B₃);
    * cross-entropy: ℓ''[v, v] = Var_p(v) ≤ ‖v‖²/2, and the ℓ' term as in B₃:
      B₂ = c·½·δ₁²·Σ‖x̃_i‖² + c·δ₂·√2·min(max_i‖x̃_i‖·loss_bound/c, Σ‖x̃_i‖).

    It bounds the Lipschitz constant of the region's field −∇f on the step (the float tier's low part of
    the state, docs/theory.md F, "The state in two parts"). Measured on the 64-50-50-10 ReLU net on 500
    digits at its start: B₂ = 1.66e3 against λ_max = 68.9 (Lanczos): a factor 24, mostly the
    Gauss–Newton part's δ₁² (a product of layer norms over all samples). ``jacobian``: Jb ≥ ‖J‖₂ on the
    step (:mod:`numerics.jacobian_bound`): the Gauss–Newton part is then ≤ c·‖ℓ''‖·Jb² (Σ_i‖J_iu‖² = ‖Ju‖²)."""
    c, xn, ce, resid = _loss_terms(obj, loss_bound, xn)
    d1, d2, _ = derivative_factors(s)
    gn = d1**2 * float(np.sum(xn**2))
    if jacobian is not None:
        gn = min(gn, jacobian * jacobian)
    return c * (0.5 if ce else 1.0) * gn + c * d2 * resid


def layer_norm_bounds(obj: Any, coeffs: Sequence[np.ndarray], h: float, start: Sequence[float] | None = None,
                      ends: list | None = None, fresh: list | None = None) -> list[float]:
    """s_l ≥ sup_step ‖A_l(t)‖₂ from the step's Taylor coefficients (float64 stacks (p+1, rows, cols),
    one per block of θ, biases as columns): ‖[W b](t)‖₂ ≤ ‖[W b](t₀)‖₂ + Σ_{k≥1} ‖[W b]_k‖_F h^k, and
    ‖[[W, b], [0, 1]]‖₂² ≤ ‖[W b]‖₂² + 1 for the augmented hidden layers. The series tail beyond order p
    is the step's local error, ≤ 1e-10 relative by the step rule; a factor 1 + 1e-8 covers it.

    ``start``: upper bounds of ‖[W b](t₀)‖₂ already known, in place of the SVD — the ``ends`` of the last
    step: a list that receives the bounds of ‖[W b]‖₂ over the step before the augmentation, which hold
    at its end, the next step's start (whose state hi differs from the series at h by the low parts,
    ~1e-16 relative, inside the 1 + 1e-8). ``fresh``: a list that receives ‖[W b](t₀)‖₂ where it was
    computed (no ``start``)."""
    N = obj.depth
    blocks = [coeffs[2 * l: 2 * l + 2] if obj.model.bias else coeffs[l: l + 1] for l in range(N)]
    out = []
    for l, bl in enumerate(blocks):
        if start is None:
            M0 = np.concatenate([np.asarray(C[0]).reshape(C.shape[1], -1) for C in bl], axis=1)
            s0 = float(np.linalg.norm(M0, 2))
            if fresh is not None:
                fresh.append(s0)
        else:
            s0 = start[l]
        hk = h ** np.arange(1, len(bl[0]))
        rest = np.sqrt(sum(np.sum(np.asarray(C[1:]).reshape(len(C) - 1, C[0].size) ** 2, axis=1) for C in bl))
        s = (s0 + float(rest @ hk)) * (1 + 1e-8)
        if ends is not None:
            ends.append(s)
        if obj.model.bias and l < N - 1:
            s = math.sqrt(s * s + 1.0) * (1 + 1e-15)
        out.append(s)
    return out


def velocity_bound(coeffs: Sequence[np.ndarray], h: float, norms: np.ndarray | None = None) -> float:
    """sup_step ‖θ'(t)‖₂ ≤ Σ_{k≥1} k·‖c_k‖₂·h^{k−1} (‖c_k‖₂ over all blocks; ``norms``: those of k = 0 … p,
    if already computed), times 1 + 1e-8 for the tail (:func:`layer_norm_bounds`)."""
    p = len(coeffs[0]) - 1
    nk = np.asarray(norms)[1:] if norms is not None else \
        np.sqrt(sum(np.sum(np.asarray(C[1:]).reshape(p, C[0].size) ** 2, axis=1) for C in coeffs))
    k = np.arange(1, p + 1)
    return float(nk @ (k * h ** (k - 1))) * (1 + 1e-8)


def hessian_time_lipschitz(obj: Any, coeffs: Sequence[np.ndarray], h: float, loss_bound: float) -> float:
    """L ≥ sup_step ‖d/dt ∇²f(θ(t))‖₂ = sup ‖D³f(θ)[θ']‖₂ ≤ B₃·sup‖θ'‖₂ (module docstring), for a step
    of length h with Taylor coefficients ``coeffs`` on which f ≤ ``loss_bound`` (f does not increase
    along the flow: the value at the step's start, with a margin for the local error, serves)."""
    s = layer_norm_bounds(obj, coeffs, h)
    return third_derivative_bound(obj, s, loss_bound) * velocity_bound(coeffs, h)


def input_norms(obj: Any) -> np.ndarray:
    """‖x̃_i‖₂ per sample (x̃_i = (x_i, 1) with biases; e_i for WhitenedSquare)."""
    loss = obj.loss
    if loss.inputs is None:
        return np.ones(obj.widths[0])
    X = np.asarray(loss.inputs, dtype=np.float64)  # (d_0, n)
    return np.sqrt(np.sum(X * X, axis=0) + (1.0 if obj.model.bias else 0.0))


def _forward(Ws: list, bs: list | None, ms: list, x: np.ndarray) -> tuple[list, np.ndarray]:
    """The sample's layer inputs a_0 = x, a_{l+1} = m_l·(W_l a_l + b_l) and its output h."""
    a = [x]
    for l in range(len(Ws) - 1):
        a.append(ms[l] * (Ws[l] @ a[l] + (bs[l] if bs is not None else 0.0)))
    return a, Ws[-1] @ a[-1] + (bs[-1] if bs is not None else 0.0)


def _crossing_vectors(Ws: list, bs: list | None, ms: list, a: list, g: np.ndarray, M: np.ndarray,
                      k: int, u: int) -> tuple:
    """The quantities of :func:`crossing_jump_bound` for one sample with the masks ``ms`` (entry (k, u) at
    its side-a value): z = z_{k,u}; w = Down_u (column u of the map from layer k's masked activation to the
    output); φ = gᵀw; β = wᵀMw; and the squared norms and inner product of the block vectors q = J_aᵀMw,
    r = q + ∇φ and b = ∇z, (‖r‖², ‖q‖², ‖b‖², ⟨r, b⟩ = ⟨q, b⟩). Every W block of these is an outer product
    (a cotangent times the layer's input) or, for r after layer k, a sum of two, so their norms and inner
    products come from vector dot products: ‖c aᵀ + e vᵀ‖_F² = ‖c‖²‖a‖² + 2(c·e)(a·v) + ‖e‖²‖v‖². Evaluated on
    |inputs| it gives the shadows that bound the rounding (every output is a sum of products of the inputs).
    ``a``: the layer inputs (:func:`_forward`)."""
    N = len(Ws)
    z = float(Ws[k][u] @ a[k] + (bs[k][u] if bs is not None else 0.0))
    e_u = np.zeros(Ws[k].shape[0])
    e_u[u] = 1.0
    v = {k + 1: e_u}
    for l in range(k + 1, N - 1):
        v[l + 1] = ms[l] * (Ws[l] @ v[l])
    w = Ws[N - 1] @ v[N - 1]
    y = M @ w
    bias = 1.0 if bs is not None else 0.0
    cq, cphi, cz = {}, {}, {}
    cot = y  # J_aᵀy: the gradient of yᵀh_a(θ), y held fixed: cotangent cq_l on layer l's output
    for l in range(N - 1, -1, -1):
        cq[l] = cot
        if l > 0:
            cot = ms[l - 1] * (Ws[l].T @ cot)
    cot = g  # ∇φ, φ = gᵀDown_u(θ): the weights after layer k only (no bias enters Down_u)
    for l in range(N - 1, k, -1):
        cphi[l] = cot
        if l > k + 1:
            cot = ms[l - 1] * (Ws[l].T @ cot)
    cot = e_u  # ∇z: layers up to k
    for l in range(k, -1, -1):
        cz[l] = cot
        if l > 0:
            cot = ms[l - 1] * (Ws[l].T @ cot)
    q2 = r2 = b2 = rb = 0.0
    for l in range(N):
        aa = float(a[l] @ a[l])
        qq = float(cq[l] @ cq[l])
        q2 += qq * (aa + bias)
        r2 += qq * (aa + bias)
        if l in cphi:
            r2 += 2 * float(cq[l] @ cphi[l]) * float(a[l] @ v[l]) + float(cphi[l] @ cphi[l]) * float(v[l] @ v[l])
        if l in cz:
            b2 += float(cz[l] @ cz[l]) * (aa + bias)
            rb += float(cq[l] @ cz[l]) * (aa + bias)
    return z, w, float(g @ w), float(w @ y), (r2, q2, b2, rb)


def _rank_two_norm(delta: float, n2: float, b2: float, rb: float, beta: float, er: float, eb: float, ebeta: float,
                   gam: float, n2_s: float, b2_s: float) -> float:
    """‖δ(r bᵀ + b rᵀ) + δ²β bbᵀ‖₂ from ‖r‖² = n2, ‖b‖² = b2, ⟨r, b⟩ = rb: in the orthonormal basis
    e₁ = b/‖b‖, e₂ ⊥ e₁ in span{b, r} the form is [[P, Q], [Q, 0]], P = 2δρ₁‖b‖ + δ²β‖b‖², Q = δρ₂‖b‖
    (ρ₁ = rb/‖b‖, ρ₂² = ‖r‖² − ρ₁²), norm |P|/2 + √(P²/4 + Q²), increasing in |P| and |Q|. The computed
    sums err by ≤ γ times the same sums on absolute values (γ ≥ γ_n of the sums; ``n2_s``, ``b2_s`` the
    shadows of ‖r‖², ‖b‖²), so |P| is raised by 2|δ|γ(n2_s·b2_s)^{1/2} and ρ₂² by 2γ·n2_s (the subtraction's
    cancellation); er, eb, ebeta bound the errors of ‖r‖, ‖b‖, β from the vectors' own rounding (the triangle
    bound at the perturbed sizes minus at the computed ones)."""
    nr, nb = math.sqrt(max(0.0, n2)), math.sqrt(max(0.0, b2))
    out = 0.0
    if nb > 0:
        rho2 = math.sqrt(max(0.0, n2 - (rb / nb) ** 2) + 2 * gam * n2_s)
        P_ = abs(2 * delta * rb + delta * delta * beta * b2) + 2 * abs(delta) * gam * math.sqrt(n2_s * b2_s)  # ρ₁‖b‖ = ⟨r, b⟩
        Q_ = abs(delta) * rho2 * nb
        out = (P_ / 2 + math.sqrt(P_ * P_ / 4 + Q_ * Q_)) * (1 + 8 * EPS_HALF)
    return out + (2 * abs(delta) * ((nr + er) * (nb + eb) - nr * nb)
                  + delta * delta * ((abs(beta) + ebeta) * (nb + eb) ** 2 - abs(beta) * nb * nb))


def crossing_jump_bound(obj: Any, theta: Sequence[np.ndarray], masks: Sequence[np.ndarray], entry: tuple[int, int],
                        sample: int, s: Sequence[float], gauss_newton: bool = False) -> Any:
    """J ≥ ‖∇²f(entry's mask 1) − ∇²f(entry's mask α)‖₂ at θ: the Hessian's jump at a kink crossing of the
    hidden entry ``entry`` = (k, u) (layer index 0-based) of ``sample``, the sample's other mask entries
    fixed at ``masks`` (as in :func:`sample_jump_bound`), s_l ≥ ‖A_l‖₂ (docs/theory.md F, "The Hessian's
    jump at a crossing").

    With the masks fixed, h_b(θ) − h_a(θ) = δ·Down_u(θ)·z(θ) exactly (δ = 1 − α, z = z_{k,u}, Down_u the
    column u of the product of the layers after k: h is linear in the one mask entry). At z = 0, J_b = J_a +
    δ·w·bᵀ (w = Down_u, b = ∇z: rank one) and gᵀh_b − gᵀh_a = δ·φ·z with φ = gᵀDown_u(θ), so sample i's
    Hessian term c·(JᵀMJ + ∇²(gᵀh)) (M = ℓ'', g = ℓ' at the sample's output) jumps by

        c·[δ(r bᵀ + b rᵀ) + δ²β bbᵀ + δφ∇²z],   r = J_aᵀMw + ∇φ,  β = wᵀMw

    (∇φ and b live on disjoint layers). The rank-two part's norm is exact (its 2×2 form in span{b, r});
    ‖∇²z‖ ≤ δ₂(s_0..s_k)‖x̃_i‖ (:func:`derivative_factors`; 0 for the first hidden layer). The computed z
    is not exactly 0: the terms linear in it are bounded with the layer-norm factors (δ₁', δ₂' of the
    layers after k, unit input): the Jacobian's extra δz·DDown_u in the Gauss–Newton part, the change of
    g along h_b − h_a = δzw (sup‖ℓ''‖ ≤ L₂) and of M (cross-entropy: ‖ℓ'''‖ ≤ 2^{−1/2}), and δz∇²φ.
    Rounding: every vector is a sum of products of the inputs, so its error is ≤ γ_n·(the same evaluated
    on |inputs|) (Higham's γ_n, n the longest chain of roundings, with room for the inputs' own (d + 4)u).

    ``gauss_newton``: also return G ≥ ‖J_bᵀJ_b − J_aᵀJ_a‖₂ (no loss weight, M = I): the change of
    ‖Σ_i J_iᵀJ_i‖ at the crossing (:class:`numerics.jacobian_bound.CarriedJacobian`), the same rank-two
    form with r = J_aᵀw, β = ‖w‖², and the z terms of the Jacobian."""
    from theory.losses import CrossEntropy

    k, u = entry
    Ws, bs = obj.split([np.asarray(w, dtype=np.float64) for w in theta])
    alpha = float(obj.model.alpha)
    delta = 1.0 - alpha
    loss = obj.loss
    c = float(loss.weight)
    x = np.asarray(loss.inputs, dtype=np.float64)[:, sample]
    ms = [np.array(m, dtype=np.float64) for m in masks]
    ms[k][u] = alpha
    absW, absb, absm = [np.abs(W) for W in Ws], [np.abs(b_) for b_ in bs] if bs is not None else None, [np.abs(m) for m in ms]
    a, h = _forward(Ws, bs, ms, x)
    a_s, h_abs = _forward(absW, absb, absm, np.abs(x))  # the shadows (sums on absolute values)
    d = len(h)
    ce = isinstance(loss, CrossEntropy)
    if ce:
        e = np.exp(h - h.max())
        p = e / e.sum()
        g = p.copy()
        g[int(loss.labels[sample])] -= 1.0
        M = np.diag(p) - np.outer(p, p)
        g_abs, M_abs = p + np.eye(d)[int(loss.labels[sample])], np.diag(p) + np.outer(p, p)
        L2 = 0.5  # sup_p ‖diag(p) − ppᵀ‖₂: vᵀ(diag(p) − ppᵀ)v = Var_p(v) ≤ ‖v‖²/2 (third_derivative_bound)
    else:
        yt = np.asarray(loss.target, dtype=np.float64)[:, sample]
        g, M = h - yt, np.eye(d)
        g_abs, M_abs = h_abs + np.abs(yt), np.eye(d)
        L2 = 1.0
    z, w, phi, beta, (r2, q2, b2, rb) = _crossing_vectors(Ws, bs, ms, a, g, M, k, u)
    z_s, w_s, phi_s, beta_s, (r2_s, q2_s, b2_s, _) = _crossing_vectors(absW, absb, absm, a_s, g_abs, M_abs, k, u)
    n_chain = sum(obj.widths) + 2 * d + 16
    gam = 2 * n_chain * EPS_HALF / (1 - n_chain * EPS_HALF)
    eb = gam * math.sqrt(b2_s)
    ebeta, ephi, ez = gam * beta_s, gam * phi_s, gam * z_s
    rank2 = _rank_two_norm(delta, r2, b2, rb, beta, gam * math.sqrt(r2_s), eb, ebeta, gam, r2_s, b2_s)
    xn = math.sqrt(float(x @ x) + (1.0 if bs is not None else 0.0))
    d1_all, d2_all, _ = derivative_factors(s)
    d2_up = derivative_factors(s[: k + 1])[1]
    d1_dn, d2_dn, _ = derivative_factors(s[k + 1:])
    curv = abs(delta) * (abs(phi) + ephi) * d2_up * xn
    # the terms linear in the computed z (exactly 0 at the exact event)
    dz = abs(delta) * (abs(z) + ez)
    wn = float(np.linalg.norm(w)) + gam * float(np.linalg.norm(w_s))
    g_norm = float(np.linalg.norm(g)) + gam * float(np.linalg.norm(g_abs))
    Jn = d1_all * xn
    zterms = L2 * (2 * Jn * dz * d1_dn + 3 * (dz * d1_dn) ** 2) + g_norm * dz * d2_dn + L2 * dz * wn * d2_all * xn
    if ce:
        zterms += 2 ** -0.5 * dz * wn * Jn * Jn
    out = c * (rank2 + curv + zterms) * (1 + 1e-10)
    if not gauss_newton:
        return out
    if ce:  # J_aᵀw with M = I: one more backward pass (and its shadow)
        eye = np.eye(d)
        _, _, _, _, (_, q2, _, rb) = _crossing_vectors(Ws, bs, ms, a, g, eye, k, u)
        q2_s = _crossing_vectors(absW, absb, absm, a_s, g_abs, eye, k, u)[4][1]
    wn2 = float(w @ w)
    gn = _rank_two_norm(delta, q2, b2, rb, wn2, gam * math.sqrt(q2_s), eb, gam * float(w_s @ w_s) + 2 * EPS_HALF * wn2,
                        gam, q2_s, b2_s)
    gn += 2 * Jn * dz * d1_dn + 3 * (dz * d1_dn) ** 2
    return out, gn * (1 + 1e-10)


def sample_jump_bound(obj: Any, theta: Sequence[np.ndarray], masks: Sequence[np.ndarray], free: Sequence[tuple[int, int]],
                      sample: int, s: Sequence[float]) -> float:
    """J ≥ ‖∇²f_after − ∇²f_before‖₂ when the ``free`` mask entries of ``sample`` change (each by at most
    |1 − α|: a kink crossing, α ↔ 1, or an entry into or exit from sliding, side ↔ μ) at the state θ,
    s_l ≥ ‖A_l‖₂ (docs/theory.md F, "μ along a step from the midpoint").

    Only sample i's term c·(J_iᵀ ℓ''_i J_i + ℓ'_i·D²h_i) changes (J_i = Dh_i): h_i is continuous at the
    kink (the entry's z is 0), so ℓ'_i, ℓ''_i are too. The Gauss–Newton parts before and after are
    positive semidefinite, so they differ by at most ‖ℓ''_i‖₂·max ‖J_i‖₂²; D²h_i is affine in the one
    mask vector m_l of each layer (diag(m_l) appears once in every product), with slope a form of the same
    kind as D²h_i itself (diag(m_l) replaced by one of norm ≤ 1), so changing the free entries of one layer
    moves the second part by ≤ ‖ℓ'_i‖·|1 − α|·δ₂‖x̃_i‖, and of n_l layers, one layer after the other (the
    masks in between still in [α, 1]), by n_l times that (until 2026-12-04 the factor n_l was missing: an
    event on a sample with sliding entries in another layer frees two layers).
    ℓ'_i, ℓ''_i are those of the sample's actual output; ‖J_i‖₂² = λ_max(J_iJ_iᵀ), J_iJ_iᵀ = Σ_l (‖a_{l−1}‖²
    + [bias])·G_lG_lᵀ with G_l = ∂h_i/∂z_l (G_N = I, G_l = G_{l+1}W_{l+1}diag(m_l)).

    ``masks``: the hidden layers' mask columns of the sample (length N − 1, vectors m_l); ``free``:
    the (hidden layer index l, 0-based, unit) entries whose mask is only known to lie in [α, 1] (the
    event's entry and the sample's sliding entries). J_i is affine in each mask entry, so ‖J_i‖₂ is
    convex in them and its maximum over the box is at a vertex: every vertex is evaluated (at most
    2⁶ of them; with more free entries ‖J_i‖ ≤ δ₁‖x̃_i‖ instead). The forward pass
    does not depend on these entries (their z is 0 on the event's state). Everything else is a float
    evaluation of exact formulas (rounding ~1e-15 relative; a factor 1 + 1e-10 covers it)."""
    from itertools import product as iproduct

    from theory.losses import CrossEntropy

    Ws, bs = obj.split([np.asarray(w, dtype=np.float64) for w in theta])
    N = len(Ws)
    alpha = float(obj.model.alpha)
    loss = obj.loss
    c = float(loss.weight)
    x = np.asarray(loss.inputs, dtype=np.float64)[:, sample]
    a = [x]
    for l in range(N):
        z = Ws[l] @ a[-1] + (bs[l].reshape(-1) if bs is not None else 0.0)
        a.append(z if l == N - 1 else masks[l] * z)
    h = a[-1]
    extra = 1.0 if bs is not None else 0.0
    if isinstance(loss, CrossEntropy):
        e = np.exp(h - h.max())
        p = e / e.sum()
        g = p.copy()
        g[int(loss.labels[sample])] -= 1.0
        L2 = float(np.linalg.eigvalsh(np.diag(p) - np.outer(p, p))[-1])
    else:
        g = h - np.asarray(loss.target, dtype=np.float64)[:, sample]
        L2 = 1.0
    d1, d2, _ = derivative_factors(s)
    xn = math.sqrt(float(x @ x) + extra)
    layers = len({l for l, _ in free})
    second = float(np.linalg.norm(g)) * abs(1 - alpha) * layers * d2 * xn
    if len(free) > 6:
        return c * (L2 * d1 ** 2 * xn * xn + second)
    best = 0.0
    for vertex in iproduct((alpha, 1.0), repeat=len(free)):
        m = [np.array(v, dtype=np.float64) for v in masks]
        for (l, u), val in zip(free, vertex):
            m[l][u] = val
        G = np.eye(len(h))
        K = np.zeros((len(h), len(h)))
        for l in range(N - 1, -1, -1):
            K += (float(a[l] @ a[l]) + extra) * (G @ G.T)
            if l > 0:
                G = (G @ Ws[l]) * m[l - 1]
        best = max(best, float(np.linalg.eigvalsh(K)[-1]))
    return c * (L2 * best * (1 + 1e-10) + second)
