"""The saltation matrix of a ReLU crossing is symmetric: F₊ − F₋ ∥ ∇_θz (docs/theory.md F, "Kinks (saltation)").

Claim: at a state where one hidden pre-activation z = z_j[u, i] is 0 and no other entry is at its kink,
the two fields F_± = −∇f(θ; mask of (u, i) = 1 or α) differ by a multiple of ∇_θz. Reason: a = m·z = 0
either way, so the forward pass of sample i (and the loss) does not see the mask; only the backward pass
through the unit changes, and what flows through it to θ is (∂f_i/∂a)·Δm·∇_θz. Hence S = I +
(F_post − F_pre)∇zᵀ/ż_pre = I + κ v̂v̂ᵀ with 1 + κ = ż_post/ż_pre, and ‖S‖₂ = max(1, |ż_post/ż_pre|).

Checked at 50 digits with the tests' own reference (tests/relu_reference.py: the loss and its gradient
for a *given* pattern written from their definitions; nothing from numerics) on seeded random nets, every
hidden layer, leaky slopes, with and without biases: the part of F₊ − F₋ orthogonal to ∇z (∇z by the
exact five-point stencil along each coordinate: z is a polynomial of degree ≤ 3 in θ) is at the working
precision's rounding. Then numerics.saltation.saltation_norm, given these rates and norms, equals
max(1, |ż_post/ż_pre|). Square loss only (the reference has no softmax head; the argument does not use
the loss). Also: the float tier's trajectory records one factor ≥ 1 per kink decision
(``FloatTaylorTrajectory.saltations``) at each crossing.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, strategies as st, target

import numerics
import theory
from numerics.saltation import saltation_norm

import relu_reference as R

DPS = 50


@st.composite
def kink_instances(draw):
    depth = draw(st.integers(2, 3))  # hidden layers
    widths = [draw(st.integers(1, 3))] + [draw(st.integers(2, 3)) for _ in range(depth)] + [draw(st.integers(1, 2))]
    n = draw(st.integers(2, 4))
    alpha = draw(st.sampled_from([0.0, 0.25, -0.5]))
    bias = draw(st.booleans())
    seed = draw(st.integers(0, 2**31 - 1))
    j = draw(st.integers(0, depth - 1))  # hidden layer of the entry (0-based)
    u = draw(st.integers(0, widths[j + 1] - 1))
    i = draw(st.integers(0, n - 1))
    return widths, n, alpha, bias, seed, j, u, i


def _zero_entry(net, p, j, u, i):
    """θ moved so that z_j[u, i] = 0 (to ~10^-DPS): the bias b_j[u], or (bias-free) the weight W_j[u, q] of
    the largest incoming activation a_{j−1}[q, i]. None when that activation is 0 (no weight reaches z)."""
    zs, _ = net.preacts(p)
    z = zs[j][u][i]
    widths = net.widths
    k = 0
    for l in range(j):
        k += widths[l + 1] * widths[l] + (widths[l + 1] if net.bias else 0)
    c = widths[j]
    if net.bias:
        q = k + widths[j + 1] * c + u
        p = list(p)
        p[q] -= z
        return p
    if j == 0:
        acts = [net.X[i][q] for q in range(c)]
    else:  # activations of layer j − 1 under the sign pattern
        prev = zs[j - 1]
        acts = [prev[q][i] if prev[q][i] > 0 else net.alpha * prev[q][i] for q in range(c)]
    q = max(range(c), key=lambda q: abs(acts[q]))
    if abs(acts[q]) < mpmath.mpf(10) ** (-20):
        return None
    p = list(p)
    p[k + u * c + q] -= z / acts[q]
    return p


def _grad_z(net, p, j, u, i):
    """∇_θ z_j[u, i]: z is a polynomial of degree ≤ depth ≤ 3 in each coordinate, so the five-point
    stencil with a binary step is exact up to rounding (as tests/relu_reference.zdot)."""
    pat = net.pattern(p)
    h = mpmath.mpf(1) / 8
    out = []
    for k in range(len(p)):
        def z(e):
            q = list(p)
            q[k] += e
            return net.preacts(q, pat)[0][j][u][i]
        out.append((z(-2 * h) - 8 * z(-h) + 8 * z(h) - z(2 * h)) / (12 * h))
    return out


@given(kink_instances())
def test_field_jump_is_parallel_to_grad_z(inst):
    widths, n, alpha, bias, seed, j, u, i = inst
    rng = np.random.default_rng(seed)
    with mpmath.workdps(DPS):
        X = rng.standard_normal((n, widths[0]))
        Y = rng.standard_normal((n, widths[-1]))
        net = R.Net(widths, alpha, bias, X, Y)
        P = sum(widths[l + 1] * widths[l] + (widths[l + 1] if bias else 0) for l in range(len(widths) - 1))
        p = [mpmath.mpf(float(x)) for x in rng.standard_normal(P)]  # floats to mpf exactly
        p = _zero_entry(net, p, j, u, i)
        if p is None:
            return
        zs, _ = net.preacts(p)
        others = min((abs(zs[l][a][b]) for l in range(len(zs)) for a in range(len(zs[l])) for b in range(n)
                      if (l, a, b) != (j, u, i)), default=mpmath.mpf(1))
        if others < mpmath.mpf(10) ** (-6):  # another entry near its kink: not the claim's setting
            return
        assert abs(zs[j][u][i]) < mpmath.mpf(10) ** (-(DPS - 8))
        masks = net.pattern(p)
        plus = [[list(r) for r in layer] for layer in masks]
        minus = [[list(r) for r in layer] for layer in masks]
        plus[j][u][i], minus[j][u][i] = 1, 0
        gp, gm = net.grad(p, plus), net.grad(p, minus)
        dF = [-(a - b) for a, b in zip(gp, gm)]  # F = −∇f
        v = _grad_z(net, p, j, u, i)
        vv = mpmath.fsum(x * x for x in v)
        ndF = mpmath.sqrt(mpmath.fsum(x * x for x in dF))
        if ndF == 0:
            return  # no signal through the unit: F₊ = F₋, S = I
        c = mpmath.fsum(a * b for a, b in zip(dF, v)) / vv
        perp = mpmath.sqrt(mpmath.fsum((a - c * b) ** 2 for a, b in zip(dF, v)))
        rel = perp / ndF
        target(float(mpmath.log10(rel + mpmath.mpf(10) ** (-DPS))), label="log10 orthogonal part of the jump")
        # Rounding at DPS digits (u = 10^-DPS): each gradient entry is a sum of ≤ n·P·depth ≤ 4·60·4 products
        # of per-sample terms, each rounding relative to terms of the gradients' own scale (the nets are
        # random, not tuned to cancel), so ‖ΔF‖'s computed error is ≤ 10^3·u·(‖g₊‖ + ‖g₋‖);
        # the stencil's v (4 evaluations, exact for its degree) carries ≤ 10^3·u·‖v‖, moving the projection by
        # ≤ 10^3·u·‖ΔF‖. A margin of 10 on the sum: perp ≤ 10^4·u·(‖g₊‖ + ‖g₋‖ + ‖ΔF‖). A jump not along ∇z
        # leaves perp of the order of ‖ΔF‖ itself.
        scale = mpmath.sqrt(mpmath.fsum(x * x for x in gp)) + mpmath.sqrt(mpmath.fsum(x * x for x in gm)) + ndF
        assert perp <= mpmath.mpf(10) ** (4 - DPS) * scale, (inst, rel)
        # the rates: ż = ∇z·F; pre/post either way round; ‖S‖₂ from the tier's formula = max(1, |post/pre|)
        Fp, Fm = [-x for x in gp], [-x for x in gm]
        a_ = mpmath.fsum(x * y for x, y in zip(v, Fm))
        b_ = mpmath.fsum(x * y for x, y in zip(v, Fp))
    a_, b_, nv, nd = float(a_), float(b_), float(mpmath.sqrt(vv)), float(ndF)
    for pre, post in ((a_, b_), (b_, a_)):
        if abs(pre) < 1e-8 * max(abs(a_), abs(b_), 1e-300):
            continue
        got = saltation_norm(pre, post, nd, nv)
        want = max(1.0, abs(post / pre))
        eps = float(np.finfo(float).eps)
        # below: the inputs are floats rounded from 50 digits (≤ ε/2 relative each), so the exact ratio of the
        # rounded rates is within 2ε·|post/pre| of want, and saltation_norm never returns less than the exact
        # value for its inputs (its 8ε margin); above: σ₁² = (T + √(T² − 4(1 + c)²))/2 takes the root of a
        # difference that is a perfect square here (c = κ, s = |κ|), so a rounding η ≤ 16ε·T² under the root
        # moves σ₁ by ≤ √η/4 ≤ √ε·T, T = 2 + 2c + s² (plus the 8ε margin)
        c, s_ = (post - pre) / pre, nd * nv / abs(pre)
        T = 2 + 2 * c + s_ * s_
        assert want - 2 * eps * max(1.0, abs(post / pre)) <= got <= want * (1 + 16 * eps) + math.sqrt(eps) * abs(T), \
            (inst, pre, post, got, want)


def test_trajectory_records_saltation_factors():
    """Every crossing multiplies the carried error by a recorded factor ≥ 1, at the crossing's time and
    entry (layer, unit, sample)."""
    rng = np.random.default_rng(7)
    w = (4, 10, 10, 2)
    X, Y = rng.standard_normal((5, 4)), rng.standard_normal((5, 2))
    obj = theory.Objective(theory.ReLUNet(w, 0.0, False), theory.SquareLoss(X, Y))
    th = obj.unflatten(rng.standard_normal(obj.num_params) * 0.5)
    tr = numerics.gradient_flow(obj, th, 0.5, dps=None)
    crossings = [e for e in tr.events if e.kind == "cross"]
    assert len(crossings) >= 2
    assert all(f >= 1.0 for (*_, f) in tr.saltations)
    recorded = {(t, layer, unit, sample) for (t, layer, unit, sample, _) in tr.saltations}
    for e in crossings:
        assert (float(e.t), e.layer, e.unit, e.sample) in recorded, e


@pytest.mark.skipif(np.finfo(np.longdouble).eps >= np.finfo(float).eps, reason="needs a longdouble wider than float64")
@given(st.integers(0, 2**32 - 1), st.integers(2, 12), st.floats(-12, -4), st.floats(-4, 1))
def test_saltation_inputs_error_bounds_every_perturbed_matrix(seed, P, log_e, log_pre):
    """numerics.saltation.saltation_inputs_error against matrices formed directly: S* = I + u*v*ᵀ from inputs
    perturbed within the stated radii (at random and at the worst rate, ż* = ż̂ ∓ e toward 0), its distance from
    Ŝ = I + ûv̂ᵀ in the 2-norm by numpy's SVD. The difference is formed in longdouble: its rounding, ≤ ~4u_ld‖S‖
    against ‖S* − Ŝ‖ ≥ ~10⁻¹²‖S‖ here, is ≤ 3·10⁻⁷ of it, inside the 10⁻⁶ allowed."""
    from numerics.saltation import saltation_inputs_error

    rng = np.random.default_rng(seed)
    dF, v = rng.standard_normal(P), rng.standard_normal(P)
    pre = math.copysign(10.0**log_pre, rng.standard_normal())
    scale = 10.0**log_e
    e_dF, e_v = scale * float(np.linalg.norm(dF)), scale * float(np.linalg.norm(v))
    e_pre = min(scale, 0.5) * abs(pre)
    bound = saltation_inputs_error(pre, float(np.linalg.norm(dF)), float(np.linalg.norm(v)), e_dF, e_pre, e_v)
    ld = np.longdouble
    S_hat = np.outer(dF.astype(ld) / ld(pre), v.astype(ld))
    worst = 0.0
    for k in range(20):
        a, b = rng.standard_normal(P), rng.standard_normal(P)
        dF_s = dF.astype(ld) + ld(e_dF) * (a / np.linalg.norm(a)).astype(ld) * ld(rng.uniform(0, 1))
        v_s = v.astype(ld) + ld(e_v) * (b / np.linalg.norm(b)).astype(ld) * ld(rng.uniform(0, 1))
        pre_s = ld(pre) - ld(math.copysign(e_pre, pre)) * (ld(1) if k % 2 else ld(rng.uniform(0, 1)))
        D = np.outer(dF_s / pre_s, v_s) - S_hat
        worst = max(worst, float(np.linalg.norm(D.astype(np.float64), 2)))
    target(worst / bound, label="‖S* − Ŝ‖ / bound")
    assert worst <= bound * (1 + 1e-6), (worst, bound)
    assert bound <= 10 * max(worst, 1e-300) or worst == 0.0  # (not loose: the perturbations reach its terms)
    assert saltation_inputs_error(pre, 1.0, 1.0, 0.0, abs(pre), 0.0) == math.inf
