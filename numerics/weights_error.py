"""A bound on what the float tier's sliding weights μ_0 put into the field at Newton's floor (docs/theory.md E1,
"The weights' error, bounded").

The float tier solves the sliding constraints g(μ) = ż_S(θ, μ) = 0 for the Filippov weights μ_0 by Newton
(:meth:`numerics.float_sliding.FloatSliding._solve_mu0`) and stops at the rounding floor: the computed μ̂ is not
the exact solution μ* of the computed state θ, and the field F(θ, μ̂) it uses differs from the Filippov field
F(θ, μ*) by about D·(μ̂ − μ*), D = ∂F/∂μ. Until 2026-12-08 that difference was a premise (measured at ≤ 2.2u‖F‖).
Here it is bounded.

Structure used. g and F are multilinear in the weights: a weight multiplies one entry of one layer's mask on one
sample, its forward product is 0 on the kink (h = μ·z with z = 0, and likewise for ż), so it enters only the
back-propagated signal of its own sample, once on every path; a path meets one unit per layer, and different
samples' terms add (the gradients sum over samples). A monomial therefore holds at most one weight per layer, all
of them on one sample, and for such a function the differences over unit steps are the exact partials:

    Δ_T φ(μ̂) = Σ_{U ⊆ T} (−1)^{|T|−|U|} φ(μ̂ + Σ_{c∈U} e_c) = ∂_T φ(μ̂),    φ(μ̂ + δ) = Σ_T ∂_T φ(μ̂) δ^T,

the sum over the "monomial supports" T (sets of weights of distinct layers sharing a sample; T = ∅ the value).
Each evaluation here is a float pass at order 0 with its rigorous rounding bound (Higham's γ_m|Â||B̂| at every
product, entrywise: :meth:`numerics.float_witness.FieldWitness._order0`), so every ∂_T is known within a bound.
A bumped weight μ̂ + σ is itself rounded (relative step error ≤ 2u: the partial read from the difference is off by
≤ 2u·|Δ| per bumped weight, a factor (1 + 3u)^{|T|} on the magnitudes used below).

The residual. The float evaluation's rigorous bound is loose (its |W|-propagated worst cases are ~10³× the actual
rounding: :mod:`numerics.float_rounding`), and |ĝ| + that bound made q 10²–10⁵ u‖F‖ on sliding runs whose actual
weights' error is ≤ 2.2u‖F‖ (2026-12-08). So the residual g(μ̂) is read as the field's witness reads F: the order-0
pass in numpy's longdouble on the same inputs and weights, whose own rounding is ≤ r·R (R the float pass's rigorous
bound, r = u_ld/u = 2⁻¹¹ on x86-64): |g(μ̂)| ≤ |g_ld| + r·R, with the witness's margin 1 + 2⁻²⁰ for the bound's own
rounding (:mod:`numerics.float_witness`). Where longdouble is not wider than float64, |ĝ| + R (honest, loose).

The bound. With A* = ∂g(μ̂) (exact, within E_A of the computed Â), β ≥ ‖A*⁻¹‖_∞ certified from an approximate
inverse X (r = ‖|I − XÂ| + γ_{m+1}(I + |X||Â|) + |X|E_A‖_∞ < 1 gives β = ‖X‖_∞/(1 − r)), η ≥ ‖g(μ̂)‖_∞ from the
residual's own evaluation (|ĝ| + its bound), and ν(ρ) = max_r Σ_{|T|≥2} |∂_T g_r| ρ^{|T|} the nonlinear part on
the box ‖δ‖_∞ ≤ ρ, the map δ ↦ −A*⁻¹(g(μ̂) + N(δ)) sends the box into itself when β(η + ν(ρ)) ≤ ρ: a solution
μ* = μ̂ + δ with ‖δ‖_∞ ≤ ρ exists (Brouwer). Then

    ‖F(μ̂) − F(μ*)‖₂ ≤ q = Σ_{|T|≥1} ‖∂_T F‖₂ ρ^{|T|},

which the float tier adds to the field's error bar (``FloatSeries.weights_error``). Tied groups (members on one
shared surface, one weight λ for all: μ_m = σ_m λ + c_m) are one unknown; their members are stored separately, so
each member's mismatch τ_m = μ̂_m − (σ_m λ̂ + c_m) (a few rounding units) is carried too, through its own partials:
η += Σ_m |∂_m g| |τ_m|, q += Σ_m ‖∂_m F‖ |τ_m|, and the bump of a group is read with the members' step errors
(≤ 2u Σ_m |∂_m g| more in E_A).

What it does not cover: the series' higher coefficients c_k (k ≥ 2) computed from μ̂ carry the same perturbation
at higher powers of the step (their μ_k solve at μ̂'s linearisation); the bound is c_1's, the field's.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

U = float(np.finfo(float).eps) / 2


@dataclass
class Evaluation:
    """One order-0 float evaluation at μ̂ + (bumps): the constraints' values ``g`` (m,) and their rounding bounds
    ``eg`` (m,); the field's output blocks' Frobenius norm of the value ``F`` (list of arrays) and the 2-norm of
    their entrywise bounds ``eF`` (a float)."""
    g: np.ndarray
    eg: np.ndarray
    F: list
    eF: float


def supports(layers: list[int], samples: list[set[int]]) -> list[frozenset[int]]:
    """The sets T of unknowns (indices into ``layers``/``samples``) that can share a monomial: pairwise distinct
    layers and a common sample, |T| ≥ 2 (module docstring)."""
    m = len(layers)
    out = []
    for size in range(2, len(set(layers)) + 1):
        for T in itertools.combinations(range(m), size):
            if len({layers[c] for c in T}) == size and set.intersection(*(samples[c] for c in T)):
                out.append(frozenset(T))
    return out


def partials_bound(ev: dict[frozenset, Evaluation], T: frozenset) -> tuple[np.ndarray, float]:
    """(|∂_T g| upper (m,), ‖∂_T F‖₂ upper) from the 2^{|T|} evaluations on T's vertices."""
    sg, sF, eg, eF, ag, aF = 0.0, None, 0.0, 0.0, 0.0, 0.0
    for k in range(len(T) + 1):
        for V in itertools.combinations(sorted(T), k):
            e = ev[frozenset(V)]
            s = (-1) ** (len(T) - k)
            sg = sg + s * e.g
            sF = [s * x for x in e.F] if sF is None else [y + s * x for y, x in zip(sF, e.F)]
            eg, eF = eg + e.eg, eF + e.eF
            ag, aF = ag + np.abs(e.g), aF + math.sqrt(sum(float(np.sum(x * x)) for x in e.F))
    n = 2 ** len(T)
    gam = (n + 2) * U / (1 - (n + 2) * U)  # the alternating sums' own rounding (n terms), and the norms'
    step = (1 + 3 * U) ** len(T)  # the bumped weights' rounded steps
    dg = (np.abs(sg) + eg + gam * ag) * step
    nF = math.sqrt(sum(float(np.sum(x * x)) for x in sF)) * (1 + gam)
    return dg, (nF + eF + gam * aF) * step


def inverse_norm_upper(A: np.ndarray, EA: np.ndarray) -> float:
    """β ≥ ‖A*⁻¹‖_∞ for every A* with |A* − A| ≤ EA entrywise (module docstring), ∞ where it cannot be certified."""
    m = A.shape[0]
    try:
        X = np.linalg.inv(A)
    except np.linalg.LinAlgError:
        return math.inf
    if not np.all(np.isfinite(X)):
        return math.inf
    gam = (m + 1) * U / (1 - (m + 1) * U)
    aX = np.abs(X)
    R = np.abs(np.eye(m) - X @ A) + gam * (np.eye(m) + aX @ np.abs(A)) + aX @ EA
    r = float(R.sum(axis=1).max()) * (1 + 2 * (m + 2) * U)
    if not r < 1:
        return math.inf
    return float(aX.sum(axis=1).max()) * (1 + (m + 2) * U) / (1 - r) * (1 + 4 * U)


def field_bound(ev: dict[frozenset, Evaluation], m: int, T2: list[frozenset], resid: np.ndarray,
                tie: tuple | None = None) -> tuple[float, float]:
    """(ρ, q): the weights' error ‖μ̂ − μ*‖_∞ ≤ ρ and the field's ‖F(μ̂) − F(μ*)‖₂ ≤ q (module docstring), from the
    evaluations ``ev`` at μ̂ (key ∅), at every unknown bumped (keys {c}) and on the vertices of every support in
    ``T2``; ``resid`` ≥ |g(μ̂)| entrywise, the exact residual at μ̂ (module docstring, "The residual"). ``tie``: (the Jacobian's extra bound (m, m) from the members' step errors, η's extra
    Σ_m |∂_m g||τ_m| (m,), q's extra Σ_m ‖∂_m F‖|τ_m|). (∞, ∞) where no box is certified."""
    base = ev[frozenset()]
    cols = [partials_bound(ev, frozenset({c})) for c in range(m)]
    Ahat = np.array([[ev[frozenset({c})].g[r] - base.g[r] for c in range(m)] for r in range(m)])
    EA = np.array([[cols[c][0][r] - abs(Ahat[r, c]) for c in range(m)] for r in range(m)])  # the differences' bounds
    EA = np.maximum(EA, 0.0) + 3 * U * np.abs(Ahat)
    eta_v = np.asarray(resid, dtype=float)
    q_tie = 0.0
    if tie is not None:
        EA = EA + tie[0]
        eta_v = eta_v + tie[1]
        q_tie = tie[2]
    beta = inverse_norm_upper(Ahat, EA)
    if not math.isfinite(beta):
        return math.inf, math.inf
    eta = float(eta_v.max()) * (1 + 4 * U)
    higher = [(len(T), *partials_bound(ev, T)) for T in T2]
    fF = [c[1] for c in cols]

    def nu(rho: float) -> float:
        tot = np.zeros(m)
        for k, dg, _ in higher:
            tot = tot + dg * rho ** k
        return float(tot.max(initial=0.0)) * (1 + (len(higher) + 2) * U)

    rho = 2 * beta * eta
    if rho == 0.0:  # the residual and its bound vanish: μ̂ is exact
        return 0.0, q_tie
    for _ in range(40):
        if beta * (eta + nu(rho)) * (1 + 4 * U) <= rho:
            q = sum(f * rho for f in fF) + sum(nF * rho ** k for k, _, nF in higher) + q_tie
            return rho, q * (1 + (m + len(higher) + 4) * U)
        rho *= 2
    return math.inf, math.inf
