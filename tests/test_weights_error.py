"""numerics.weights_error on systems whose exact solution is known: the bound on the weights' error (ρ) and on
what it puts into the field (q) must hold, and be within 1000× of the actual values (or of the rounding level).

The systems are multilinear, as the float tier's sliding constraints are (docs/theory.md E1, "The weights' error,
bounded"): g(μ) = c + Aμ + Σ_{pairs} h_{ab} μ_a μ_b, F(μ) = F_0 + Bμ + Σ k_{ab} μ_a μ_b, the pairs being the
supports of distinct layers. Their vertex values are computed exactly (mpmath at 60 digits) and rounded to
float64, with the rounding bound u·|value| — what a float evaluation with a rigorous bound would report, made
from something computed differently; the exact root μ* is found by mpmath's findroot from the exact system.
"""

from __future__ import annotations

import itertools

import mpmath
import numpy as np
from hypothesis import given, reject, strategies as st, target

from numerics.weights_error import Evaluation, field_bound, inverse_norm_upper, supports

U = 2.0**-53


def test_supports_are_sets_of_distinct_layers_sharing_a_sample():
    layers = [1, 1, 2, 2]
    samples = [{0}, {1}, {0, 1}, {2}]
    got = set(supports(layers, samples))
    assert got == {frozenset({0, 2}), frozenset({1, 2})}
    assert supports([1, 2, 3], [{0}, {0}, {0}]) == [frozenset(s) for s in ({0, 1}, {0, 2}, {1, 2}, {0, 1, 2})]


def test_inverse_norm_upper_holds_for_every_matrix_within_the_bound():
    rng = np.random.default_rng(3)
    for _ in range(200):
        m = int(rng.integers(1, 5))
        A = rng.standard_normal((m, m))
        EA = np.abs(A) * 10.0 ** rng.uniform(-15, -3)
        beta = inverse_norm_upper(A, EA)
        for _ in range(5):  # matrices within the bound, at its corners
            As = A + EA * rng.choice([-1.0, 1.0], size=(m, m))
            true = np.abs(np.linalg.inv(As)).sum(axis=1).max()
            assert true <= beta or not np.isfinite(true)
    assert inverse_norm_upper(np.array([[1.0, 1.0], [1.0, 1.0]]), np.zeros((2, 2))) == float("inf")
    # a bound as wide as the matrix itself: no inverse certified
    assert inverse_norm_upper(np.eye(2), np.full((2, 2), 1.0)) == float("inf")


def _system(draw):
    """A random multilinear system of m unknowns in layers (m ≤ 3), well enough conditioned to solve, an exact
    root near a point in the box, and μ̂ that root moved by a small offset (a Newton floor's or more)."""
    m = draw(st.integers(1, 3))
    layers = [draw(st.integers(1, 2)) for _ in range(m)]
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, m)) + 2 * np.eye(m)
    pairs = [T for T in supports(layers, [{0}] * m)]
    H = {T: rng.standard_normal(m) * draw(st.sampled_from([0.0, 0.1, 1.0])) for T in pairs}
    B = [rng.standard_normal((3, m)), rng.standard_normal((2, m))]
    K = {T: [rng.standard_normal(3), rng.standard_normal(2)] for T in pairs}
    root = rng.uniform(0.0, 1.0, m)
    offset = rng.standard_normal(m) * 10.0 ** draw(st.floats(-16, -9))
    return m, layers, A, H, B, K, root, offset, seed


def _exact(m, A, H, B, K, root):
    """g and F as exact functions (mpmath) with g(root) = 0."""
    mp = mpmath.mpf

    def mono(T, mu):
        p = mp(1)
        for c in T:
            p *= mu[c]
        return p

    def g0(mu):
        return [sum(mp(A[r, c]) * mu[c] for c in range(m)) + sum(mp(H[T][r]) * mono(T, mu) for T in H)
                for r in range(m)]
    rt = [mp(x) for x in root]
    c = [-x for x in g0(rt)]

    def g(mu):
        return [a + b for a, b in zip(c, g0(mu))]

    def F(mu):
        return [[sum(mp(Bk[r, q]) * mu[q] for q in range(m)) + sum(mp(K[T][k][r]) * mono(T, mu) for T in K)
                 for r in range(Bk.shape[0])] for k, Bk in enumerate(B)]
    return g, F


@given(st.data())
def test_the_bound_holds_on_multilinear_systems_with_known_roots(data):
    m, layers, A, H, B, K, root, offset, seed = _system(data.draw)
    with mpmath.workdps(60):
        g, F = _exact(m, A, H, B, K, root)
        mu_hat = [mpmath.mpf(float(x)) for x in root + offset]  # (a float point, as the tier's μ̂ is)
        T2 = supports(layers, [{0}] * m)
        ev = {}
        for k in range(m + 1):
            for V in itertools.combinations(range(m), k):
                mu = [x + (1 if c in V else 0) for c, x in enumerate(mu_hat)]
                gv = [float(x) for x in g(mu)]
                Fv = [np.array([float(x) for x in blk]) for blk in F(mu)]
                eF = float(np.sqrt(sum(float(np.sum((U * np.abs(x)) ** 2)) for x in Fv)))
                ev[frozenset(V)] = Evaluation(np.array(gv), U * np.abs(np.array(gv)), Fv, eF)
        resid = np.array([abs(float(x)) for x in g(mu_hat)]) * (1 + 2 * U)
        rho, q = field_bound(ev, m, T2, resid)
        try:
            star = mpmath.findroot(lambda *xs: g(list(xs)), [mpmath.mpf(x) for x in root]) if m > 1 else \
                [mpmath.findroot(lambda x: g([x])[0], mpmath.mpf(root[0]))]
        except (ValueError, ZeroDivisionError):  # findroot did not converge: no exact root to compare with
            reject()
        star = [star[c] for c in range(m)]
        dmu = max(abs(a - b) for a, b in zip(mu_hat, star))
        Fh, Fs = F(mu_hat), F(star)
        err = mpmath.sqrt(sum((a - b) ** 2 for x, y in zip(Fh, Fs) for a, b in zip(x, y)))
        scale = float(mpmath.sqrt(sum(a * a for x in Fs for a in x)))
    assert np.isfinite(rho), (seed, rho)
    assert float(dmu) <= rho and float(err) <= q, (seed, float(dmu), rho, float(err), q)
    target(float(err) / q if q > 0 else 0.0, label="error / q (1 would fail)")
    assert q <= 1000 * max(float(err), U * scale), (seed, float(err), q)
