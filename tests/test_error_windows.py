"""The windowed bound through lone crossings (numerics.error_windows, docs/theory.md F, "Windows
through lone crossings") against the exact product it bounds.

Instances: steps with a constant symmetric H_i (propagator expm(−h_iH_i), an instance of the premises:
Λ_i ≥ ‖H_i‖₂, μ_i ≥ −λ_min(H_i)), lone crossings S_j = I + κ_jv̂_jv̂_jᵀ + N_j with ‖N_j‖₂ ≤ η_j, in a
random interleaving. The exact ‖Φ‖₂ is computed here by dense products (a different computation from
the bound's expansion); the tolerance of the comparison is the float64 rounding of those products.
"""

import math

import numpy as np
import pytest
import scipy.linalg as sla
from hypothesis import given, target
from hypothesis import strategies as st

from numerics.error_windows import CarriedError, window_factor
from proofs_check.strategies import saltation_windows

EPS = float(np.finfo(float).eps)


def exact_product(P, events, steps):
    """‖Φ‖₂ by dense products in order (steps before event j come first), and a bound on its rounding."""
    Phi, norms, factors, j = np.eye(P), 1.0, 0, 0

    def apply(A):
        nonlocal Phi, norms, factors
        Phi = A @ Phi
        norms *= np.linalg.norm(A, 2)
        factors += 1

    def events_until(n):
        nonlocal j
        while j < n:
            kap, _, v, N = events[j]
            apply(np.eye(P) + kap * np.outer(v, v) + N)
            j += 1

    for nb, h, H in steps:
        events_until(nb)
        apply(sla.expm(-h * H))
    events_until(len(events))
    # each product errs by ≤ γ_P·‖A‖‖B‖ (2-norm, up to √P), expm by a few hundred ε relative (scipy's
    # Padé with scaling and squaring): a generous 1e3·P·ε per factor against the product of norms
    return float(np.linalg.norm(Phi, 2)), 1e3 * P * EPS * factors * norms


def bound(events, steps):
    # Λ ≥ ‖H‖₂ and μ ≥ −λ_min(H): LAPACK's eigenvalues within its backward error, ≤ 8Pε‖H‖_F
    lam, mu = [], []
    for _, _, H in steps:
        ev = np.linalg.eigvalsh(H)
        margin = 8 * len(H) * EPS * float(np.linalg.norm(H))
        lam.append(float(np.abs(ev).max()) + margin)
        mu.append(max(0.0, -float(ev[0]) + margin))
    V = np.array([e[2] for e in events]).T if events else np.zeros((len(steps[0][2]), 0))
    return window_factor([e[0] for e in events], [e[1] for e in events], V,
                         [s[0] for s in steps], [s[1] for s in steps], lam, mu)


@given(saltation_windows())
def test_window_factor_bounds_the_exact_product(w):
    P, events, steps, seed = w
    exact, tol = exact_product(P, events, steps)
    F = bound(events, steps)
    target(exact / F, label="exact / bound (1 = tight)")
    assert exact <= F + tol, (seed, exact, F)


def test_window_factor_sees_directions():
    """Stretches along many random directions in a large space: the product of norms grows as
    Π(1 + κ), the exact product (and the bound) stays near the largest single stretch."""
    rng = np.random.default_rng(7)
    P, m = 200, 60
    V = rng.standard_normal((P, m))
    V /= np.linalg.norm(V, axis=0)
    kap = [0.05] * m
    steps = [(j, 1e-4, None) for j in range(m + 1)]
    F = window_factor(kap, [0.0] * m, V, [s[0] for s in steps], [1e-4] * (m + 1), [10.0] * (m + 1),
                      [0.0] * (m + 1))
    naive = 1.05 ** m
    Phi = np.eye(P)
    for j in range(m):
        Phi = (np.eye(P) + kap[j] * np.outer(V[:, j], V[:, j])) @ Phi
    exact = np.linalg.norm(Phi, 2)
    assert exact <= F
    print(f"\n60 stretches of 5 % in random directions of R^200: naive {naive:.3g}, windowed {F:.4g}, "
          f"exact events alone {exact:.4g}")
    assert F < 0.1 * naive  # what the window is for (measured 1.1 against 18.7)


def test_carried_error_is_the_naive_bound_inside_a_window_and_at_most_it_after():
    rng = np.random.default_rng(3)
    c = CarriedError()
    c.B_CLOSE, c.M_MAX = 1e9, 10**6  # one window for the whole sequence
    naive = 0.0
    for k in range(40):
        c.step(1e-3, 0.5, 1e-16, lam=5.0, t=k * 1e-3)
        naive = (naive + 1e-16) * math.exp(0.5e-3)  # a step's own local error grows over it too (CarriedError.step)
        v = rng.standard_normal(30)
        f = 1.02
        c.event(k * 1e-3, f, (0.02, 0.0, v / np.linalg.norm(v)))
        naive *= f
        assert c.value == pytest.approx(naive, rel=1e-12)
    c.close(0.04)
    assert c.value <= naive * (1 + 1e-12)
    assert len(c.log) == 1 and c.log[0].events == 40


def test_window_factor_rejects_bad_input():
    with pytest.raises(ValueError):
        window_factor([0.1], [0.0], np.ones((3, 1)) / math.sqrt(3), [0, 2], [0.1, 0.1], [1.0, 1.0], [0.0, 0.0])
    with pytest.raises(ValueError):
        window_factor([], [], np.zeros((3, 0)), [0], [-1.0], [1.0], [0.0])


@given(st.integers(0, 2**32 - 1), st.integers(2, 9), st.sampled_from([0.0, 1e-12, 1e-6, 0.1]))
def test_lone_saltation_decomposes_the_saltation_matrix(seed, P, off):
    """S = I + (ΔF/ż_pre)∇zᵀ against I + κv̂v̂ᵀ: the difference is within η in the 2-norm (dense SVD)."""
    from numerics.error_windows import lone_saltation

    rng = np.random.default_rng(seed)
    v = rng.standard_normal(P)
    perp = rng.standard_normal(P)
    perp -= (perp @ v) / (v @ v) * v
    d = rng.uniform(-2, 2) * v + off * perp
    pre = float(rng.uniform(0.05, 3)) * (1 if rng.random() < 0.5 else -1)
    blocks = [0, P // 2, P]
    dF = [d[blocks[k]:blocks[k + 1]].reshape(-1, 1) for k in range(2)]
    gz = [v[blocks[k]:blocks[k + 1]].reshape(-1, 1) for k in range(2)]
    kap, eta, vhat = lone_saltation(pre, dF, gz)
    S = np.eye(P) + np.outer(d / pre, v)
    # the dense products and the SVD round too: a few ε of ‖S‖ (γ-sized, far below the tested η scale)
    diff = float(np.linalg.norm(S - (np.eye(P) + kap * np.outer(vhat, vhat)), 2))
    assert diff <= eta + 16 * P * EPS * float(np.linalg.norm(S, 2))
    if off > 0:  # η is the actual off-∇z part, not a blanket margin
        assert eta <= 2 * off * np.linalg.norm(perp) * np.linalg.norm(v) / abs(pre) + 1e-12 * (1 + abs(kap))


@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.integers(20, 120), st.sampled_from([0.02, 0.3, -0.6]))
def test_the_mixed_terms_match_dense_norms_of_the_partial_products(seed, m, P, kscale):
    """The one-E terms of window_factor (``parts["mixed"]``) against the same sum with every partial
    product's 2-norm taken by a dense SVD of the full P × P matrix here: Σ_n E_n(‖S_m⋯S_{n+1} − I‖·
    max(1, ‖S_n⋯S_1‖) + ‖S_n⋯S_1 − I‖), E_n the steps' ‖E_i‖ between events n and n + 1. The bound must
    be ≥ it (up to the dense products' rounding) and within the certificates' tolerance (1 + CERT_TOL)²
    plus their rounding terms. Checks the prefix products' norms taken on their leading block of the
    triangular coordinates (exact zeros elsewhere), not on the whole matrix."""
    from numerics.error_windows import CERT_TOL

    rng = np.random.default_rng(seed)
    V = rng.standard_normal((P, m))
    V /= np.linalg.norm(V, axis=0)
    kap = kscale * rng.uniform(0.2, 1.0, m)
    nb = np.sort(rng.integers(0, m + 1, m + 3))
    h = rng.uniform(1e-5, 1e-3, len(nb))
    lam = rng.uniform(1.0, 20.0, len(nb))
    parts: dict = {}
    window_factor(kap, np.zeros(m), V, nb, h, lam, np.zeros(len(nb)), parts)
    S = [np.eye(P) + kap[j] * np.outer(V[:, j], V[:, j]) for j in range(m)]
    pre, suf = [np.eye(P)], [np.eye(P)]
    for j in range(m):
        pre.append(S[j] @ pre[-1])
        suf.append(suf[-1] @ S[m - 1 - j])
    suf = suf[::-1]
    E = np.expm1(h * lam)
    ref = 0.0
    for n in range(m + 1):
        En = float(E[nb == n].sum())
        if En:
            ref += En * (np.linalg.norm(suf[n] - np.eye(P), 2) * max(1.0, np.linalg.norm(pre[n], 2))
                         + np.linalg.norm(pre[n] - np.eye(P), 2))
    slack = 1e3 * P * m * EPS * float(E.sum()) * float(np.prod(1 + np.abs(kap)))  # the dense products' rounding
    assert parts["mixed"] >= ref - slack
    assert parts["mixed"] <= ref * (1 + CERT_TOL) ** 2 * (1 + 1e-6) + slack


def test_a_step_that_closes_a_window_keeps_its_naive_bound_for_the_step():
    """A window closed by its step's Σh·Λ (CarriedError.step) drops the carried bound to F_w·e_start, the
    bound at the close time; inside that step the propagator is a partial product, so the bound over the step
    is the naive one before the close (``peak``; the float tier records max(value, peak) per step). Two lone
    crossings along orthogonal directions with κ = 1 (‖S‖ = 2 each): naive growth 4, the window's product 2."""
    c = CarriedError()
    c.start = 1e-15
    c.step(1e-4, 0.0, 0.0, lam=1.0, t=1e-4)
    c.event(1e-4, 2.0, (1.0, 0.0, np.array([1.0, 0.0, 0.0])))
    c.step(1e-4, 0.0, 0.0, lam=1.0, t=2e-4)
    c.event(2e-4, 2.0, (1.0, 0.0, np.array([0.0, 1.0, 0.0])))
    naive = 4e-15
    assert c.value == pytest.approx(naive, rel=1e-12)
    c.step(0.2, 0.0, 0.0, lam=1.0, t=0.2002)  # Σh·Λ ≥ B_CLOSE: the window closes at this step's end
    assert len(c.log) == 1
    assert c.value < 0.75 * naive  # the windowed bound, ~2·e^{0.2}·1e-15
    assert c.peak == pytest.approx(naive, rel=1e-12)  # the naive bound at the step's end, before the close
