"""The dense propagation of the float tier's error on small nets (numerics.dense_propagation,
numerics.sliding_jacobian; docs/theory.md F, "Dense propagation"), each part against a reference computed
differently:

* the bounded matrix exponential against mpmath's at 50 digits;
* a piece's propagator of e' = −H(t)e (symmetric H) and of e' = J(t)e (any J), H and J polynomial in t, against
  the exact propagator summed as a Taylor series in mpmath (Ψ_{k+1} = ∓(1/(k+1))Σ_j M_jΨ_{k−j});
* ∇z of one pre-activation and its derivative along a direction against central differences of z in mpmath;
* the Jacobian of the Filippov field against central differences, in mpmath, of the field with the sliding
  weights solved from ż_S = 0 (mpmath.findroot), with the loss gradient itself from differences of f;
* the ellipsoid carrier against an adversarial sum of errors pushed through the exact factors.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st, target

import numerics
import theory
from numerics.dense_propagation import (EllipsoidError, RankOne, expm_bounded, norm_upper, rank_one_norm_upper,
                                        saltation_factor, sliding_factors, step_factors)
from numerics.sliding_jacobian import entry_jet, sliding_jacobian


def _mp(A):
    return mpmath.matrix(np.asarray(A, dtype=float).tolist())


def _mnorm2(M):
    """‖M‖₂ of an mpmath matrix (via its float64 SVD: the difference is far below the bounds compared)."""
    return float(np.linalg.norm(np.array(M.tolist(), dtype=float), 2))


@settings(deadline=None)
@given(seed=st.integers(0, 10**6), scale=st.floats(0.01, 12.0))
def test_expm_bounded_covers_the_exponential(seed, scale):
    rng = np.random.default_rng(seed)
    P = int(rng.integers(2, 9))
    X = rng.standard_normal((P, P)) * scale / math.sqrt(P)
    E, err = expm_bounded(X)
    with mpmath.workdps(50):
        true = float(mpmath.mnorm(_mp(E) - mpmath.expm(_mp(X)), "F"))
    target(true / err, label="true error / bound")
    assert true <= err


@pytest.mark.parametrize("fro", [1e-4, 0.05, 0.3, 0.8, 3.0, 40.0])
def test_expm_plan_keeps_the_truncation_below_half_an_ulp_at_fewer_products(fro):
    """Every degree of the plan (m = 4 at ‖X‖_F = 1e-4, 8, 12, 16 with and without squarings): its truncation
    ≤ ε/2, no more products than the fixed plan (m = 16, ‖Y‖_F ≤ ½), and the bound covers e^X (mpmath, 50 digits)."""
    from numerics.matrix_bounds import EPS, _expm_plan

    m, s = _expm_plan(fro)
    y = fro * 2.0 ** -s
    assert y ** (m + 1) / math.factorial(m + 1) / (1 - y / (m + 2)) <= EPS / 2
    s16 = max(0, math.ceil(math.log2(fro / 0.5))) if fro > 0.5 else 0
    assert m // 4 + 2 + s <= 6 + s16
    rng = np.random.default_rng(int(fro * 1e4))
    X = rng.standard_normal((6, 6))
    X *= fro / np.linalg.norm(X) * (1 - 1e-12)
    E, err = expm_bounded(X)
    with mpmath.workdps(50):
        true = float(mpmath.mnorm(_mp(E) - mpmath.expm(_mp(X)), "F"))
    assert true <= err


def _exact_propagator(coeffs, tau, sign):
    """Ψ(τ) for Ψ' = sign·M(t)Ψ, Ψ(0) = I, M(t) = Σ_j coeffs[j]·t^j, by its Taylor series in mpmath (M polynomial:
    Ψ is entire; the terms are summed until they are below 10⁻⁴⁰ of the sum)."""
    with mpmath.workdps(50):
        M = [_mp(C) for C in coeffs]
        P = M[0].rows
        Psi = [mpmath.eye(P)]
        total = mpmath.eye(P)
        tk = mpmath.mpf(1)
        for k in range(400):
            nxt = mpmath.zeros(P, P)
            for j in range(min(len(M), k + 1)):
                nxt += M[j] * Psi[k - j]
            nxt *= mpmath.mpf(sign) / (k + 1)
            Psi.append(nxt)
            tk *= tau
            term = nxt * tk
            total += term
            if k > 10 and mpmath.mnorm(term, "F") < mpmath.mpf(10) ** -40 * mpmath.mnorm(total, "F"):
                break
        return total


def _poly(coeffs, t):
    return sum(C * t**j for j, C in enumerate(coeffs))


@settings(deadline=None, max_examples=15)
@given(seed=st.integers(0, 10**6), h=st.floats(0.01, 0.3))
def test_step_factors_cover_the_propagator(seed, h):
    """e' = −H(t)e with H(t) = A + tB + t²C (symmetric): each piece's computed factor is within its δ of the
    exact propagator over the piece, and its norm below a; L and K exact (sup‖H'‖ ≤ ‖B‖ + 2h‖C‖, ‖H''‖ = 2‖C‖)."""
    rng = np.random.default_rng(seed)
    P = int(rng.integers(2, 7))

    def sym(s):
        X = rng.standard_normal((P, P)) * s
        return (X + X.T) / 2

    A, B, C = sym(3.0), sym(10.0), sym(30.0)
    coeffs = [A, B, C]
    lam_min = min(float(np.linalg.eigvalsh(_poly(coeffs, t))[0]) for t in np.linspace(0, h, 201))
    mu = max(0.0, -lam_min) * 1.05 + 2 * float(np.linalg.norm(C, 2)) * h * h  # (a grid plus a margin: ≥ sup μ⁺)
    lip = float(np.linalg.norm(B, 2)) + 2 * h * float(np.linalg.norm(C, 2))
    K = 2 * float(np.linalg.norm(C, 2))
    factors = step_factors(lambda s: _poly(coeffs, s), h, mu, lip, lambda H0, Hm, H1: K)
    n = len(factors)
    tau = h / n
    worst = 0.0
    for i, (At, a, delta) in enumerate(factors):
        shifted = [A + B * (i * tau) + C * (i * tau) ** 2, B + 2 * C * (i * tau), C]  # H(iτ + s)
        exact = _exact_propagator(shifted, tau, -1)
        true = _mnorm2(_mp(At) - exact)
        worst = max(worst, true / delta)
        assert true <= delta
        assert norm_upper(At) <= a
        # useful: δ is the piece's move and rounding, not more than 1000× what the flow shows
        assert delta <= 1000 * max(true, 1e-15)
    target(worst, label="true error / delta")


@pytest.mark.parametrize("cert_min", [None, 0])
@settings(deadline=None, max_examples=15)
@given(seed=st.integers(0, 10**6), h=st.floats(0.01, 0.2))
def test_sliding_factors_cover_the_propagator(cert_min, seed, h):
    """e' = J(t)e with J(t) = A + tB + t²C (any matrices): each piece's factor within its δ of the exact one, and
    ‖Ã‖₂ ≤ a; also with the logarithmic norm ν certified by Lanczos and Cholesky on these small matrices
    (``CERT_MIN`` = 0, as from 384 parameters on)."""
    from unittest import mock

    import numerics.dense_propagation as DP

    rng = np.random.default_rng(seed)
    P = int(rng.integers(2, 7))
    A, B, C = (rng.standard_normal((P, P)) * s for s in (3.0, 10.0, 30.0))
    coeffs = [A, B, C]
    K = 2 * float(np.linalg.norm(C, 2))
    with mock.patch.object(DP, "CERT_MIN", DP.CERT_MIN if cert_min is None else cert_min):
        factors = sliding_factors(lambda s: (_poly(coeffs, s), 0.0), h, lambda J0, Jm, J1: K)
    tau = h / len(factors)
    worst = 0.0
    for i, (At, a, delta) in enumerate(factors):
        shifted = [A + B * (i * tau) + C * (i * tau) ** 2, B + 2 * C * (i * tau), C]
        true = _mnorm2(_mp(At) - _exact_propagator(shifted, tau, 1))
        worst = max(worst, true / delta)
        assert true <= delta
        assert _mnorm2(_mp(At)) <= a
        assert delta <= 1000 * max(true, 1e-15)
    target(worst, label="true error / delta")


def _z_mp(Ws, bs, masks, x, layer, unit):
    a = [mpmath.mpf(float(v)) for v in x]
    for l in range(layer):
        W = Ws[l]
        z = [mpmath.fsum(W[r][c] * a[c] for c in range(len(a))) + (bs[l][r] if bs is not None else 0)
             for r in range(len(W))]
        if l == layer - 1:
            return z[unit]
        a = [mpmath.mpf(float(masks[l][r])) * z[r] for r in range(len(z))]


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_entry_jet_against_mp_differences(seed, bias):
    rng = np.random.default_rng(seed)
    widths = (3, 4, 5, 3)
    Ws = [rng.standard_normal((widths[l + 1], widths[l])) for l in range(3)]
    bs = [rng.standard_normal(widths[l + 1]) for l in range(3)] if bias else None
    masks = [rng.choice([0.0, 1.0, 0.2, float(rng.uniform())], size=widths[l + 1]) for l in range(2)]
    x = rng.standard_normal(3)
    dWs = [rng.standard_normal(W.shape) for W in Ws]
    dbs = [rng.standard_normal(b.shape) for b in bs] if bias else None
    blocks = [B for W, b in zip(Ws, bs) for B in (W, b)] if bias else list(Ws)
    dblocks = [B for W, b in zip(dWs, dbs) for B in (W, b)] if bias else list(dWs)
    for layer in (1, 2, 3):
        unit = int(rng.integers(0, widths[layer]))
        g, dg = entry_jet(Ws, bs, masks, x, layer, unit, dWs, dbs)
        with mpmath.workdps(40):
            eps = mpmath.mpf(10) ** -15

            def z_at(blks):
                W = [[[blks[k][r][c] for c in range(len(blks[k][0]))] for r in range(len(blks[k]))]
                     for k in (range(0, len(blks), 2) if bias else range(len(blks)))]
                b = [list(blks[k]) for k in range(1, len(blks), 2)] if bias else None
                return _z_mp(W, b, masks, x, layer, unit)

            def as_mp(bl, shift=None, t=0):
                out = []
                for k, B in enumerate(bl):
                    M = mpmath.matrix(B.tolist()) if B.ndim == 2 else [mpmath.mpf(float(v)) for v in B]
                    if shift is not None:
                        D = dblocks[k]
                        if B.ndim == 2:
                            M = M + mpmath.matrix(D.tolist()) * t
                        else:
                            M = [m + mpmath.mpf(float(d)) * t for m, d in zip(M, D)]
                    out.append([[M[r, c] for c in range(M.cols)] for r in range(M.rows)] if B.ndim == 2 else M)
                return out

            def grad_at(t):
                base = as_mp(blocks, dblocks, t)
                G = []
                for k, B in enumerate(blocks):
                    Gk = np.zeros(B.shape, dtype=object)
                    for idx in np.ndindex(B.shape):
                        up = [[row[:] for row in M] if isinstance(M[0], list) else M[:] for M in base]
                        dn = [[row[:] for row in M] if isinstance(M[0], list) else M[:] for M in base]
                        if B.ndim == 2:
                            up[k][idx[0]][idx[1]] += eps
                            dn[k][idx[0]][idx[1]] -= eps
                        else:
                            up[k][idx[0]] += eps
                            dn[k][idx[0]] -= eps
                        Gk[idx] = (z_at(up) - z_at(dn)) / (2 * eps)
                    G.append(Gk)
                return G

            G0 = grad_at(0)
            h = mpmath.mpf(10) ** -12
            Gp, Gm = grad_at(h), grad_at(-h)
            for k in range(len(blocks)):
                ref = np.array([float(v) for v in G0[k].ravel()])
                dref = np.array([float((p - m) / (2 * h)) for p, m in zip(Gp[k].ravel(), Gm[k].ravel())])
                scale = 1 + float(np.max(np.abs(ref)))
                assert np.max(np.abs(g[k].ravel() - ref)) <= 1e-13 * scale
                assert np.max(np.abs(dg[k].ravel() - dref)) <= 1e-10 * (1 + float(np.max(np.abs(dref))))


def _tiny_net(seed):
    """A 2-3-2 leaky ReLU net (α = 1/5) with biases on 3 samples, unit 1 of the hidden layer exactly at its kink
    on sample 0 (its bias set to −w·x₀), square loss; θ blocks (W0, b0, W1, b1)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((2, 3))
    Y = rng.standard_normal((2, 3))
    W0, b0, W1, b1 = rng.standard_normal((3, 2)), rng.standard_normal(3), rng.standard_normal((2, 3)), rng.standard_normal(2)
    b0[1] = -float(W0[1] @ X[:, 0])
    return X, Y, [W0, b0, W1, b1]


def _f_mp(th, X, Y, mask_of):
    """The square loss (1/2n)Σ‖W1 a_i + b1 − y_i‖² with a_i = m_i ⊙ (W0x_i + b0), m_i from mask_of(i, z_i)."""
    W0, b0, W1, b1 = th
    n = X.shape[1]
    tot = mpmath.mpf(0)
    for i in range(n):
        z = [mpmath.fsum(W0[r][c] * X[c, i] for c in range(2)) + b0[r] for r in range(3)]
        m = mask_of(i, z)
        a = [m[r] * z[r] for r in range(3)]
        for o in range(2):
            out = mpmath.fsum(W1[o][r] * a[r] for r in range(3)) + b1[o]
            tot += (out - Y[o, i]) ** 2
    return tot / (2 * n)


def _unflatten(v, th):
    """The flat mp vector v as nested lists in the blocks' shapes of θ (matrices as lists of rows)."""
    out, k = [], 0
    for B in th:
        blk = v[k:k + B.size]
        out.append([[blk[r * B.shape[1] + c] for c in range(B.shape[1])] for r in range(B.shape[0])] if B.ndim == 2
                   else list(blk))
        k += B.size
    return out


def _central(fun, v, d):
    """The gradient of the mp function ``fun`` at the list v by central differences of step d."""
    g = []
    for k in range(len(v)):
        up, dn = list(v), list(v)
        up[k] += d
        dn[k] -= d
        g.append((fun(up) - fun(dn)) / (2 * d))
    return g


def _jacobian_fd(G, v, U=None):
    """The Jacobian of the mp vector field G at v by central differences of step 1e-12 (as float64); with ``U``
    (float64 columns, taken exactly as mpf) the product J·U, one difference along each column."""
    eps = mpmath.mpf(10) ** -12
    dirs = [[mpmath.mpf(1) if i == k else mpmath.mpf(0) for i in range(len(v))] for k in range(len(v))] if U is None \
        else [[mpmath.mpf(float(x)) for x in U[:, k]] for k in range(U.shape[1])]
    J = np.zeros((len(v), len(dirs)))
    for k, u in enumerate(dirs):
        up = [a + eps * b for a, b in zip(v, u)]
        dn = [a - eps * b for a, b in zip(v, u)]
        J[:, k] = [float((a - b) / (2 * eps)) for a, b in zip(G(up), G(dn))]
    return J


def _as_blocks(v, th):
    """The flat mp vector v as float64 arrays in the blocks' shapes of θ."""
    out, k = [], 0
    for B in th:
        out.append(np.array([float(x) for x in v[k:k + B.size]]).reshape(B.shape))
        k += B.size
    return out


def test_sliding_jacobian_against_the_filippov_field():
    """J = −H_μ + Z(ZᵀZ)⁻¹(ZᵀH_μ − N) (numerics.sliding_jacobian) against the Jacobian of the equivalent-control
    field G(θ) = −∇f_{μ(θ)}(θ), μ(θ) solving ∇z·G = 0, by central differences at 40 digits: f and its gradient
    from differences of the loss written out above (not the tier's code), μ from mpmath.findroot. Seed 0 whole;
    seeds 1 and 2 along 4 seeded random unit directions U (J·U against G's differences along them)."""
    from numerics.hessians import hessian
    import theory

    alpha = 0.2
    for seed in range(3):
        X, Y, th = _tiny_net(seed)

        def unflat(v):
            return _unflatten(v, th)

        def masks_at(mu):
            return lambda i, z: [mu if (i == 0 and r == 1) else (1 if z[r] > 0 else alpha) for r in range(3)]

        with mpmath.workdps(40):
            d = mpmath.mpf(10) ** -18
            theta0 = [mpmath.mpf(float(v)) for B in th for v in np.ravel(B)]

            def grad(v, mu):
                return _central(lambda w: _f_mp(unflat(w), X, Y, masks_at(mu)), v, d)

            def z10(v):  # z of unit 1 on sample 0
                W0, b0 = unflat(v)[:2]
                return mpmath.fsum(W0[1][c] * X[c, 0] for c in range(2)) + b0[1]

            def gz(v):
                return _central(z10, v, d)

            def G(v):
                zg = gz(v)
                mu = mpmath.findroot(lambda m: -mpmath.fsum(a * b for a, b in zip(zg, grad(v, m))), mpmath.mpf(0.5))
                return [-x for x in grad(v, mu)], mu

            G0, mu0 = G(theta0)
            # seed 0 the whole Jacobian; seeds 1, 2 J·U along 4 seeded random unit directions (8 of G's solves, not 34)
            U = np.linalg.qr(np.random.default_rng(seed).standard_normal((len(theta0), 4)))[0] if seed else None
            Jref = _jacobian_fd(lambda v: G(v)[0], theta0, U)
        # the tier's formula: H with the masks (μ at the sliding entry), Z = ∇z, N = ∇²z·G
        obj = theory.Objective(theory.ReLUNet((2, 3, 2), 0.2, True), theory.SquareLoss(X.T, Y.T))
        z = th[0] @ X + th[1][:, None]
        m = np.where(z > 0, 1.0, alpha)
        m[1, 0] = float(mu0)
        H = hessian(obj, [np.asarray(B, dtype=float) for B in th], masks=[m])
        vel = _as_blocks(G0, th)
        g, dg = entry_jet([th[0], th[2]], [th[1], th[3]], [m[:, 0]], X[:, 0], 1, 1, [vel[0], vel[2]], [vel[1], vel[3]])
        Z = np.concatenate([x.ravel() for x in g])[:, None]
        N = np.concatenate([x.ravel() for x in dg])[None, :]
        J, eJ = sliding_jacobian(H, Z, N)
        if U is not None:  # (‖J_ref U‖ ≤ ‖J_ref‖: no looser than on the whole Jacobian)
            J = J @ U
        err = float(np.linalg.norm(J - Jref, 2))
        assert err <= 1e-8 * float(np.linalg.norm(Jref, 2)), (seed, err)
        assert eJ < 1e-10 * float(np.linalg.norm(Jref, 2))


def _stacked_net(seed):
    """A 2-3-3-1 leaky ReLU net (α = 1/5) with biases on 3 samples, with two entries of sample 0 at their kinks at
    once, one above the other: hidden unit 1 of layer 1 (b0[1] = −W0[1]·x₀) and hidden unit 2 of layer 2 (b1[2] =
    −W1[2]·a₁(x₀), a₁'s unit 1 being 0 there); square loss; θ blocks (W0, b0, W1, b1, W2, b2)."""
    rng = np.random.default_rng(100 + seed)
    X = rng.standard_normal((2, 3))
    Y = rng.standard_normal((1, 3))
    th = [rng.standard_normal((3, 2)), rng.standard_normal(3), rng.standard_normal((3, 3)), rng.standard_normal(3),
          rng.standard_normal((1, 3)), rng.standard_normal(1)]
    th[1][1] = -float(th[0][1] @ X[:, 0])
    z1 = th[0] @ X[:, 0] + th[1]
    a1 = np.where(z1 > 0, 1.0, 0.2) * z1
    a1[1] = 0.0
    th[3][2] = -float(th[2][2] @ a1)
    return X, Y, th


def _f2_mp(th, X, Y, mask_of):
    """The square loss (1/2n)Σ(W2 a2_i + b2 − y_i)² of the 2-3-3-1 net, a_l = m_l ⊙ z_l, masks from
    mask_of(i, layer, z)."""
    W0, b0, W1, b1, W2, b2 = th
    tot = mpmath.mpf(0)
    for i in range(X.shape[1]):
        z1 = [mpmath.fsum(W0[r][c] * X[c, i] for c in range(2)) + b0[r] for r in range(3)]
        m1 = mask_of(i, 1, z1)
        a1 = [m1[r] * z1[r] for r in range(3)]
        z2 = [mpmath.fsum(W1[r][c] * a1[c] for c in range(3)) + b1[r] for r in range(3)]
        m2 = mask_of(i, 2, z2)
        a2 = [m2[r] * z2[r] for r in range(3)]
        out = mpmath.fsum(W2[0][c] * a2[c] for c in range(3)) + b2[0]
        tot += (out - Y[0, i]) ** 2
    return tot / (2 * X.shape[1])


@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.thorough)])  # ~12 s; seed 1 ~60 s
def test_sliding_jacobian_with_two_stacked_entries_of_one_sample(seed):
    """J = −H_μ + Z(ZᵀZ)⁻¹(ZᵀH_μ − N) where a sliding entry lies below another of the same sample (layer-1 unit 1
    and layer-2 unit 2 of sample 0). There ∇z of the upper entry moves with the lower one's weight μ₁, so
    ∂ż_S/∂μ = ZᵀC + (∂Z/∂μ)ᵀF; the extra term is (∂z_upper/∂a_lower)·ż_lower (plus parts ∝ z_lower), 0 on the
    surface, so the formula stands (docs/theory.md F, "Dense propagation", *A sliding step*). Checked as in
    ``test_sliding_jacobian_against_the_filippov_field``: the Jacobian of G(θ) = −∇f_{μ(θ)}(θ), μ(θ) ∈ R² solving
    ż_S = 0 by mpmath.findroot, by central differences at 40 digits, every gradient from differences of the loss
    written out above (with μ₁ inside ∇z of the upper entry through the lower one's mask). Seed 0 (default
    profile) along 4 seeded random unit directions U, J·U against G's differences along them (12 s instead of
    ~60 s); seed 1 (thorough) the whole Jacobian."""
    from numerics.hessians import hessian
    import theory

    alpha = 0.2
    X, Y, th = _stacked_net(seed)

    def unflat(v):
        return _unflatten(v, th)

    def masks_at(mu):
        def m(i, layer, z):
            return [mu[layer - 1] if (i == 0 and (layer, r) in ((1, 1), (2, 2))) else (1 if z[r] > 0 else alpha)
                    for r in range(3)]
        return m

    with mpmath.workdps(40):
        d = mpmath.mpf(10) ** -18

        def diff(fun, v):
            return _central(fun, v, d)

        def z_entries(v, mu):  # (z of layer-1 unit 1, z of layer-2 unit 2) on sample 0, masks with μ
            W0, b0, W1, b1 = unflat(v)[:4]
            z1 = [mpmath.fsum(W0[r][c] * X[c, 0] for c in range(2)) + b0[r] for r in range(3)]
            m1 = masks_at(mu)(0, 1, z1)
            return z1[1], mpmath.fsum(W1[2][c] * m1[c] * z1[c] for c in range(3)) + b1[2]

        def G(v):
            def rates(m1, m2):
                g = diff(lambda w: _f2_mp(unflat(w), X, Y, masks_at((m1, m2))), v)
                return [mpmath.fsum(-a * b for a, b in zip(diff(lambda w: z_entries(w, (m1, m2))[j], v), g))
                        for j in range(2)]
            mu = mpmath.findroot(rates, (mpmath.mpf(0.5), mpmath.mpf(0.5)))
            mu = (mu[0], mu[1])
            return [-x for x in diff(lambda w: _f2_mp(unflat(w), X, Y, masks_at(mu)), v)], mu

        theta0 = [mpmath.mpf(float(v)) for B in th for v in np.ravel(B)]
        G0, mu0 = G(theta0)
        # seed 0 (the default profile): J·u against G's differences along 4 seeded random unit directions (8 of G's
        # solves instead of 50; a wrong entry of J shows in a random direction with probability 1); seed 1 (thorough):
        # the whole Jacobian
        U = None if seed else np.linalg.qr(np.random.default_rng(seed).standard_normal((len(theta0), 4)))[0]
        Jref = _jacobian_fd(lambda v: G(v)[0], theta0, U)
    # the tier's formula: H with the masks (μ at both sliding entries), Z = [∇z₁, ∇z₂], N = [∇²z·G]
    obj = theory.Objective(theory.ReLUNet((2, 3, 3, 1), alpha, True), theory.SquareLoss(X.T, Y.T))
    z1 = th[0] @ X + th[1][:, None]
    m1 = np.where(z1 > 0, 1.0, alpha)
    m1[1, 0] = float(mu0[0])
    z2 = th[2] @ (m1 * z1) + th[3][:, None]
    m2 = np.where(z2 > 0, 1.0, alpha)
    m2[2, 0] = float(mu0[1])
    H = hessian(obj, [np.asarray(B, dtype=float) for B in th], masks=[m1, m2])
    vel = _as_blocks(G0, th)
    cols, rows = [], []
    for layer, unit in ((1, 1), (2, 2)):
        g, dg = entry_jet(th[0::2], th[1::2], [m1[:, 0], m2[:, 0]], X[:, 0], layer, unit, vel[0::2], vel[1::2])
        cols.append(np.concatenate([x.ravel() for x in g]))
        rows.append(np.concatenate([x.ravel() for x in dg]))
    J, eJ = sliding_jacobian(H, np.array(cols).T, np.array(rows))
    if U is not None:  # (‖J_ref U‖ ≤ ‖J_ref‖: the bound below is no looser than on the whole Jacobian)
        J = J @ U
    err = float(np.linalg.norm(J - Jref, 2))
    print(f"seed {seed}: μ = ({float(mu0[0]):.4f}, {float(mu0[1]):.4f}), ‖J − J_ref‖ = {err:.3g}, "
          f"‖J_ref‖ = {float(np.linalg.norm(Jref, 2)):.3g}")
    assert err <= 1e-8 * float(np.linalg.norm(Jref, 2)), (seed, err)
    assert eJ < 1e-10 * float(np.linalg.norm(Jref, 2))


@pytest.mark.parametrize("cert_min", [None, 0])
@settings(deadline=None, max_examples=25)
@given(seed=st.integers(0, 10**6))
def test_ellipsoid_bounds_an_adversarial_error(cert_min, seed):
    """Errors ℓ_k entering between random factors F_k (known exactly: δ = 0 apart from rounding), each in the
    direction that the final map stretches most (u_k ∝ Φ_kᵀw, w the top left singular vector of the whole
    product), and one norm-only factor: the carrier's bound covers ‖Σ_k Φ(T, s_k)u_kℓ_k‖ computed in float64
    with a 1e-12 margin for its own rounding. ``cert_min`` 0: the λ_max and norm certificates of larger nets
    (Lanczos and Cholesky, numerics.dense_spectra.psd_max_upper) on these small ones too."""
    from unittest import mock

    import numerics.dense_propagation as DP

    with mock.patch.object(DP, "CERT_MIN", DP.CERT_MIN if cert_min is None else cert_min):
        _adversarial_error(seed)


def _adversarial_error(seed: int) -> None:
    rng = np.random.default_rng(seed)
    P = int(rng.integers(2, 8))
    steps = int(rng.integers(2, 12))
    Fs = [np.eye(P) + rng.standard_normal((P, P)) * float(rng.uniform(0.05, 0.8)) for _ in range(steps)]
    # about a third of the factors rank-one kink maps I + uvᵀ (RankOne: applied in O(P²)), of norms up to ~10
    ranks = [RankOne(rng.standard_normal(P) * float(rng.uniform(0.1, 3.0)), rng.standard_normal(P))
             if rng.uniform() < 0.35 else None for _ in range(steps)]
    ells = [float(rng.uniform(0, 1)) for _ in range(steps)]
    collapse_at = int(rng.integers(0, steps))
    c = EllipsoidError()
    c.naive = math.inf  # (the set alone: no product-of-norms bound to fall back on)
    for k, (F, ell) in enumerate(zip(Fs, ells)):
        if k == collapse_at:  # a factor known by its norm only: here the identity, norm 1.3 claimed
            c.event(0.0, 1.3)
        c._merge()
        if ranks[k] is not None:
            c._apply(ranks[k], rank_one_norm_upper(ranks[k].u, ranks[k].v), 0.0)
        else:
            c._apply(F, norm_upper(F), 0.0)
        c.r += ell  # (add, without the naive track: test the set alone)
        c._certify()
    bound = c._set_value()
    Fs = [R.dense() if R is not None else F for F, R in zip(Fs, ranks)]  # (within ε of I + uvᵀ: the 1e-12 margin)
    # the adversarial realization: e = Σ_k Φ(T, k)u_kℓ_k, Φ(T, k) = F_{N−1}⋯F_k (the collapse's map is I)
    tails = []
    for k in range(steps):
        M = np.eye(P)
        for F in Fs[k + 1:]:
            M = F @ M
        tails.append(M)
    W = tails[0] @ Fs[0]
    w = np.linalg.svd(W)[0][:, 0]
    e = sum(T @ (T.T @ w) / max(np.linalg.norm(T.T @ w), 1e-300) * ell for T, ell in zip(tails, ells))
    target(float(np.linalg.norm(e)) / bound, label="realized / bound")
    assert np.linalg.norm(e) <= bound * (1 + 1e-12)


@settings(deadline=None)
@given(n=st.integers(3, 24), seed=st.integers(0, 10**6), exponent=st.integers(-60, 20),
       gap=st.sampled_from([0.0, 1e-9, 1e-4, 2.0**-10, 1e-2, 0.5]))
def test_psd_max_upper_bounds_the_top_eigenvalue(n, seed, exponent, gap):
    """numerics.dense_spectra.psd_max_upper against mpmath's eigenvalues of the same float matrix at 50 digits:
    where it certifies, λ_max ≤ bound ≤ λ_max·(1 + 2^{−9}) (the Ritz value θ ≤ λ_max raised by its 2^{−10}, plus the
    factorization's backward error, ~nε relative). Matrices
    V·diag(λ)·Vᵀ (V orthogonal, rounded) at scales 2^{−60}…2^{20}, with the second eigenvalue a relative ``gap``
    below the first (clusters are where Lanczos stops short), and some negative eigenvalues. ``target`` steers to
    the bound closest to λ_max from above."""
    from numerics.dense_spectra import psd_max_upper

    rng = np.random.default_rng(seed)
    V = np.linalg.qr(rng.standard_normal((n, n)))[0]
    lam = np.sort(rng.uniform(-0.3, 1.0, n))[::-1]
    lam[0] = 1.0
    lam[1] = 1.0 - gap
    M = (V * lam) @ V.T * 2.0**exponent
    M = (M + M.T) * 0.5
    bound, x = psd_max_upper(M)
    if bound is None:
        return
    with mpmath.workdps(50):
        ev = mpmath.eigsy(mpmath.matrix(M.tolist()), eigvals_only=True)
        top = max(ev[i] for i in range(n))
        rel = float((mpmath.mpf(bound) - top) / top)
    target(-rel, label="bound above λ_max (relative; smaller is closer)")
    assert rel >= 0, (bound, float(top))
    assert rel <= 2.0**-9
    assert x is not None and x.shape == (n,)


def test_saltation_factor_is_the_rank_one_map():
    rng = np.random.default_rng(3)
    dF = [rng.standard_normal((3, 2)), rng.standard_normal(3)]
    g = [rng.standard_normal((3, 2)), rng.standard_normal(3)]
    A, a, delta = saltation_factor(-0.7, dF, g)
    d = np.concatenate([x.ravel() for x in dF])
    v = np.concatenate([x.ravel() for x in g])
    with mpmath.workdps(30):
        exact = mpmath.eye(9) + _mp(d[:, None]) / mpmath.mpf(-0.7) * _mp(v[None, :])
        used = mpmath.eye(9) + _mp(A.u[:, None]) * _mp(A.v[None, :])
        assert float(mpmath.mnorm(used - exact, "F")) <= delta
        assert max(mpmath.svd_r(used, compute_uv=False)) <= a


@settings(deadline=None)
@given(P=st.integers(1, 7), seed=st.integers(0, 10**6), su=st.integers(-30, 30),
       near=st.sampled_from(["no", "singular", "reflection"]))
def test_rank_one_norm_upper_bounds_the_norm(P, seed, su, near):
    """‖I + uvᵀ‖₂ ≤ rank_one_norm_upper(u, v), against mpmath's singular values at 40 digits, with |u| from 2^-30
    to 2^30, and uᵀv ≈ −1 (``singular``: det S ≈ 0) or u = −2v/‖v‖² (``reflection``: S a Householder map of norm 1,
    where n² + 4d cancels); within 1 + 1e-12 of it from two parameters on (1 + 1e-6 at the reflection)."""
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(P) * 2.0**su
    v = rng.standard_normal(P)
    if near == "singular" and float(u @ u) > 0:
        v = v - ((1 + float(u @ v)) / float(u @ u)) * u  # uᵀv = −1 up to rounding
    elif near == "reflection":
        u = -2.0 * v / float(v @ v)
    bound = rank_one_norm_upper(u, v)
    with mpmath.workdps(40):
        S = mpmath.eye(P) + _mp(u[:, None]) * _mp(v[None, :])
        true = max(mpmath.svd_r(S, compute_uv=False))
        target(float(true / bound), label="norm / bound")
        assert true <= bound
        if P >= 2:  # (P = 1: the bound is max(1, |1 + uv|), the formula's second singular value taken as 1)
            # (at a reflection the rounding allowance under the square root, O(ε), costs O(√ε) relative)
            assert bound <= true * (1 + (1e-6 if near == "reflection" else 1e-12))


@settings(deadline=None)
@given(P=st.integers(1, 9), seed=st.integers(0, 10**6), sq=st.integers(-20, 20), su=st.integers(-8, 8))
def test_rank_one_apply_contains_the_mapped_ellipsoid(P, seed, sq, su):
    """EllipsoidError._apply of I + uvᵀ (O(P²)): the stored Q' ⪰ SQSᵀ exactly (mpmath eigenvalues of the difference
    at 40 digits), and the carried λ ≥ λ_max(Q'); Q of scale 2^sq, u of 2^su."""
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((P, P))
    Q0 = (G @ G.T + 1e-3 * np.eye(P)) * 2.0**sq
    Q0 = (Q0 + Q0.T) * 0.5
    u, v = rng.standard_normal(P) * 2.0**su, rng.standard_normal(P)
    c = EllipsoidError()
    c.Q, c.lam = Q0.copy(), float(np.linalg.eigvalsh(Q0)[-1]) * (1 + 1e-12)
    c._apply(RankOne(u, v), rank_one_norm_upper(u, v), 0.0)
    with mpmath.workdps(40):
        S = mpmath.eye(P) + _mp(u[:, None]) * _mp(v[None, :])
        D = _mp(c.Q) - S * _mp(Q0) * S.T
        ev = mpmath.eigsy(D, eigvals_only=True)
        low = min(ev[i] for i in range(P))
        scale = mpmath.mnorm(_mp(c.Q), "F")
        target(float(-low / scale), label="negativity of Q' − SQSᵀ (relative)")
        assert low >= 0
        top = max(mpmath.eigsy(_mp(c.Q), eigvals_only=True))
        assert top <= c.lam


def _spy_steps(monkeypatch, which, check):
    """Run ``check(sampler, h, curvature)`` on every dense step the float tier builds, at the time it builds it
    (the sampler and curvature are closures over the step's own series), ``which``: "sliding_factors" or
    "step_factors", as numerics.float_taylor and numerics.float_sliding_bounds import them."""
    import numerics.dense_propagation as DP
    import numerics.float_taylor as FT

    orig = getattr(DP, which)

    def spy(at, h, *rest, **kw):
        check(at, h, rest[-1])
        return orig(at, h, *rest, **kw)

    monkeypatch.setattr(DP, which, spy)
    if which == "step_factors":
        monkeypatch.setattr(FT, "step_factors", spy)


# digits square 1: two long steps where the Hessian's premise failed before its order-2 anchor was always taken
PREMISE = [("leaky", "sq", 3), ("digits", "sq", 14), ("digits", "sq", 1)] + [
    pytest.param(f, l, s, marks=pytest.mark.thorough) for f in ("leaky", "digits") for l in ("sq", "ce") for s in range(10)
    if (f, l, s) not in (("leaky", "sq", 3), ("digits", "sq", 14), ("digits", "sq", 1))]


@pytest.mark.parametrize("family,loss,seed", PREMISE)
def test_curvature_premise_holds_on_sliding_steps(monkeypatch, family, loss, seed):
    """The envelope premise of the pieces' curvature K ≥ sup‖J''‖₂ (numerics.dense_propagation.sliding_factors;
    the Hessian's premise of the growth term, here for the Filippov field's Jacobian J) on every sliding step of
    two soak instances with long sliding stretches (and, in the thorough profile, of seeds 0–9 of both soak
    families and losses): against central second differences of J (spacing h/16) at 7 interior points per step. Also K ≥ sup‖H''‖ on their non-sliding steps (the same premise the growth term
    already rests on, for the pieces of step_factors)."""
    from test_soak_tightness import instance
    import numerics

    worst = {"sliding": 0.0, "other": 0.0}
    counts = {"sliding": 0, "other": 0}

    def check(kind):
        def run(at, h, curv):
            M = (lambda s: at(s)[0]) if kind == "sliding" else at
            K = curv(M(0.0), M(h / 2), M(h))
            d = h / 16
            for s in np.linspace(2 * d, h - 2 * d, 7):
                second = float(np.linalg.norm(M(s - d) - 2 * M(s) + M(s + d), 2)) / d**2
                # (K = 0: the step's three samples equal, e.g. a net whose gradient vanishes — then so must H'')
                worst[kind] = max(worst[kind], second / K if K > 0 else (0.0 if second == 0 else math.inf))
            counts[kind] += 1
        return run

    _spy_steps(monkeypatch, "sliding_factors", check("sliding"))
    _spy_steps(monkeypatch, "step_factors", check("other"))
    obj, th = instance(family, loss, seed)
    try:
        numerics.gradient_flow(obj, th, 1.0, dps=None)
    except (numerics.kink_flows.UnsupportedKinkError, numerics.kink_flows.NonUniqueFlowError) as e:
        print(f"\nrefused (the steps before it were checked): {str(e)[:100]}")
    if (family, loss, seed) in (("leaky", "sq", 3), ("digits", "sq", 14)):
        assert counts["sliding"] >= 5, "too few sliding steps: the instance misses its point"
    print(f"\nsup‖M''‖/K: {worst} over {counts} steps")
    assert max(worst.values()) <= 1.0


def test_the_set_carries_the_error_up_to_the_cut(monkeypatch):
    """Which carrier a run gets (numerics.dense_propagation.DENSE_MAX = 1024): the set on the 276-parameter soak net
    mid cross-entropy 5 (23 events, entries sliding), with an estimate far below the windows' (measured 4.5e-13
    against 8.5e-11; the arb tier puts the true error at 5.4e-15 in the 2-norm, tests/test_soak_tightness.py), and
    the windows above the cut (a 64-12-12-10 net on 20 digits, 1,032 parameters). ``propagation`` overrides the cut
    both ways, with the same run otherwise (the same events; the windows' estimate as with the cut moved). Where the
    cut chose the windows, the bound's growth over its local errors (1.5e3 here) raises LooseEstimateWarning; where
    the windows were asked for, or the set carried the error, it does not."""
    import warnings

    import numerics.float_taylor as FT
    from float_step_reference import digits_net
    from numerics.float_taylor import float_gradient_flow
    from numerics.loose_estimates import LooseEstimateWarning
    from test_soak_tightness import instance

    obj, th = instance("mid", "ce", 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LooseEstimateWarning)
        dense = float_gradient_flow(obj, th, 1.0)
    assert dense.windows == []  # (closed windows are recorded only by the windows' carrier)
    monkeypatch.setattr(FT, "DENSE_MAX", 0)
    with pytest.warns(LooseEstimateWarning, match="propagation='set'"):
        windows = float_gradient_flow(obj, th, 1.0)
    assert windows.windows
    assert [e.key() for e in windows.events] == [e.key() for e in dense.events]
    assert dense.error_estimate * 10 <= windows.error_estimate
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("error", LooseEstimateWarning)
        asked = float_gradient_flow(obj, th, 1.0, propagation="windows")
    assert asked.windows and [e.key() for e in asked.events] == [e.key() for e in dense.events]
    assert asked.error_estimate == windows.error_estimate  # (the same code path: bit for bit)
    net = digits_net(20, False, (64, 12, 12, 10))
    big = float_gradient_flow(*net, 2e-3)
    assert big.windows and big.obj.num_params > FT.DENSE_MAX
    short = float_gradient_flow(*net, 2e-4, propagation="set")
    assert short.events and short.windows == []  # (the set past the cut: kinks carried by matrices, no windows)


def test_the_loose_estimate_warning_s_conditions():
    """warn_if_loose on stand-in trajectories: g = bound / Σ local errors; a warning exactly where the default chose the
    windows (DENSE_MAX < P ≤ SET_MAX, propagation 'auto'), the run had kinks and g ≥ LOOSE_GROWTH."""
    import warnings
    from types import SimpleNamespace

    from numerics.loose_estimates import LOOSE_GROWTH, LooseEstimateWarning, growth_over_local, warn_if_loose

    def traj(bound, local, events=("kink",)):
        return SimpleNamespace(error_estimate=bound, local_errors=local, events=list(events))

    assert growth_over_local(traj(3e-10, [1e-12, 2e-12])) == pytest.approx(100.0, rel=1e-12)
    assert growth_over_local(traj(1e-10, [])) == 0.0
    loose = traj(2 * LOOSE_GROWTH * 3e-12, [1e-12, 2e-12])
    with pytest.warns(LooseEstimateWarning, match="x the sum of the steps' local errors"):
        assert warn_if_loose(loose, 2000, "auto", 1024, 4096) >= LOOSE_GROWTH
    with warnings.catch_warnings():
        warnings.simplefilter("error", LooseEstimateWarning)
        assert warn_if_loose(traj(0.5 * LOOSE_GROWTH * 3e-12, [1e-12, 2e-12]), 2000, "auto", 1024, 4096) < LOOSE_GROWTH
        for P, asked, events in [(1024, "auto", ["kink"]), (4097, "auto", ["kink"]), (2000, "windows", ["kink"]),
                                 (2000, "auto", [])]:
            assert warn_if_loose(traj(1.0, [1e-12], events), P, asked, 1024, 4096) is None


def test_propagation_refusals(monkeypatch):
    """``propagation``: an unknown value, the set on a net without kinks or above SET_MAX parameters, and any value
    on the arb tier are refused before any work, each with its reason."""
    import numerics.float_taylor as FT
    from test_soak_tightness import instance

    obj, th = instance("mid", "sq", 0)
    with pytest.raises(ValueError, match="'auto', 'set' or 'windows'"):
        numerics.gradient_flow(obj, th, 0.1, dps=None, propagation="dense")
    with pytest.raises(ValueError, match="float tier"):
        numerics.gradient_flow(obj, th, 0.1, dps=20, propagation="set")
    monkeypatch.setattr(FT, "SET_MAX", obj.num_params - 1)
    with pytest.raises(ValueError, match=f"at most {obj.num_params - 1} parameters"):
        numerics.gradient_flow(obj, th, 0.1, dps=None, propagation="set")
    monkeypatch.undo()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 3))
    lin = theory.Objective(theory.DeepLinear((3, 4, 2)), theory.SquareLoss(X, rng.standard_normal((5, 2))))
    with pytest.raises(ValueError, match="no kinks"):
        numerics.gradient_flow(lin, [rng.standard_normal(s) for s in lin.shapes], 0.1, dps=None, propagation="set")
