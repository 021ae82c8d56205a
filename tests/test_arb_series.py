"""The arb tape's batched Cauchy sums and coefficient recentring (numerics.series), against naive
references computed differently (a loop of k + 1 small products; the same series without recentring)."""

from __future__ import annotations

import random

import flint
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.series import _Cauchy, arb_precision, series_coefficients
from numerics.flows import _gradient_tape, _to_state
from theory import DeepLinear, Objective, WhitenedSquare

SEED = 20261202


def _random_series(rng: random.Random, r: int, c: int, p: int) -> list:
    # entries k/3-ish with small radii, so rounding and radius propagation are both exercised
    return [flint.arb_mat(r, c, [flint.arb(rng.uniform(-1, 1)) / 3 for _ in range(r * c)]) for _ in range(p)]


@pytest.mark.parametrize("loop_min", [0, 10**9])  # _Cauchy's two ways: loop wherever n > 1, stacks always
@settings(deadline=None, max_examples=25)
@given(m=st.integers(1, 4), n=st.integers(1, 4), q=st.integers(1, 4), p=st.integers(1, 7), seed=st.integers(0, 10**6))
def test_cauchy_stack_equals_loop_of_products(loop_min, m, n, q, p, seed):
    """Σ_{j≤k} A_j B_{k−j} from the block stacks (either layout: m ≥ q puts A forward) or from _Cauchy's
    own loop equals the reference loop of k + 1 products and k additions written here, to the balls'
    radii, at every order k."""
    rng = random.Random(seed)
    old = _Cauchy.LOOP_ENTRIES_PER_ORDER
    _Cauchy.LOOP_ENTRIES_PER_ORDER = loop_min
    try:
        c = _Cauchy(0, 1, m, n, q, p)
    finally:
        _Cauchy.LOOP_ENTRIES_PER_ORDER = old
    assert c.loop == (n > 1 and loop_min == 0)
    with arb_precision(30):
        A, B = _random_series(rng, m, n, p), _random_series(rng, n, q, p)
        coef = [A, B]
        ent: list = [[], []]
        for k in range(p):
            got = c(k, coef, ent)
            ref = A[0] * B[k]
            for j in range(1, k + 1):
                ref += A[j] * B[k - j]
            assert got.overlaps(ref), (k, got, ref)
            for x, y in zip(got.entries(), ref.entries()):
                assert abs(float(x.mid()) - float(y.mid())) <= float(x.rad()) + float(y.rad()) + 1e-35


def test_cauchy_forward_invalidation_rewrites_a_corrected_coefficient():
    """after_order may correct a coefficient in place: the forward stack must not keep the stale one."""
    rng = random.Random(SEED)
    with arb_precision(30):
        A, B = _random_series(rng, 3, 2, 5), _random_series(rng, 2, 1, 5)  # m ≥ q: A is forward
        coef, ent = [A, B], [[], []]
        c = _Cauchy(0, 1, 3, 2, 1, 5)
        for k in range(3):
            c(k, coef, ent)
        A[2] = A[2] * 2  # the correction of order 2, made after it was stacked
        del ent[0][2:]
        c.invalidate(2)
        got = c(3, coef, ent)
        ref = A[0] * B[3] + A[1] * B[2] + A[2] * B[1] + A[3] * B[0]
        assert got.overlaps(ref)
        assert all(abs(float(x.mid()) - float(y.mid())) < 1e-30 for x, y in zip(got.entries(), ref.entries()))


@pytest.mark.parametrize("widths", [(3, 3, 3, 1), (4, 3, 2)])
def test_recentred_series_matches_plain_series(widths):
    """Recentring each coefficient (radius dropped, midpoint kept) changes the coefficients by no more
    than the plain series' own radii plus the recorded dropped radii; recentred coefficients are exact."""
    rng = np.random.default_rng(SEED)
    Phi = rng.standard_normal((widths[-1], widths[0]))
    obj = Objective(DeepLinear(widths), WhitenedSquare(Phi / np.linalg.norm(Phi)))
    theta = [0.3 * rng.standard_normal(s) for s in obj.shapes]
    with arb_precision(30):
        tape, outs, sign = _gradient_tape(obj)
        y = _to_state(obj, theta)
        plain = series_coefficients(tape, outs, y, 20, None, sign)
        dropped: list[float] = []
        rec = series_coefficients(tape, outs, y, 20, None, sign, recentre=dropped)
    assert len(dropped) == 20 and all(d >= 0 for d in dropped)
    for comp_p, comp_r in zip(plain, rec):
        for k, (a, b) in enumerate(zip(comp_p, comp_r)):
            assert all(x.rad() == 0 for x in b.entries()), k
            for x, z in zip(a.entries(), b.entries()):
                # the plain ball encloses the exact coefficient; the recentred one is within the rounding
                # of the recentred recursion (far below the plain radii, which carry the wrapping)
                assert abs(float(x.mid()) - float(z.mid())) <= float(x.rad()) + 1e-30 * max(1.0, abs(float(x.mid())))
