"""The float tier's event locator (numerics.float_events.first_brackets): the first root on (0, 1] of
many polynomials at once, including dips below zero and back between grid samples, checked against the
roots numpy finds for each polynomial separately (companion-matrix eigenvalues: a different method)."""

import numpy as np
import pytest
from hypothesis import assume, given, settings, target
from hypothesis import strategies as st

from numerics.float_events import GRID, first_brackets
from numerics.kink_events import UnsupportedKinkError


def first_root_reference(c):
    """The first real root in (0, 1] of the polynomial c (ascending), from its companion matrix."""
    r = np.roots(c[::-1])
    real = sorted(x.real for x in r if abs(x.imag) <= 1e-9 and 0 < x.real <= 1)
    return real[0] if real else None


def column(roots, lead=1.0):
    """Ascending coefficients of lead·∏(u − r) with the sign making q(0) > 0."""
    c = np.polynomial.polynomial.polyfromroots(roots) * lead
    return c if c[0] > 0 else -c


@pytest.mark.parametrize("roots", [
    [0.30010, 0.30012],          # a dip between two samples (1/64 = 0.0156 apart), width 2e-5
    [0.5],                       # a root on a grid sample
    [0.5 + 1e-13],               # just past one
    [0.9, 0.905, 3.0],           # a dip late in the step, a third root outside
    [0.004, 0.0041],             # a dip inside the first gap
    [1.5, -0.5],                 # no root in (0, 1]
])
def test_first_root_found_where_the_reference_puts_it(roots):
    c = column(roots)
    C = np.zeros((len(c), 1))
    C[:, 0] = c
    cols, lo, hi = first_brackets(C)
    ref = first_root_reference(c)
    if ref is None:
        assert len(cols) == 0
        return
    assert list(cols) == [0]
    assert lo[0] <= ref + 1e-12 and ref <= hi[0] + 1e-12
    q = np.polynomial.polynomial.polyval
    assert q(lo[0], c) > 0 >= q(hi[0], c)


def test_many_random_polynomials_match_the_reference():
    rng = np.random.default_rng(5)  # seed recorded: 400 cubics/quartics with roots spread over (0, 1.2)
    cols_c = []
    for _ in range(400):
        k = int(rng.integers(1, 4))
        roots = list(rng.uniform(0.0, 1.2, k))
        if rng.random() < 0.3:  # a close pair: a dip that a 64-point grid usually misses
            x = float(rng.uniform(0.05, 0.95))
            roots += [x, x + float(rng.uniform(1e-6, 1e-3))]
        cols_c.append(column(roots))
    p = max(len(c) for c in cols_c)
    C = np.zeros((p, len(cols_c)))
    for j, c in enumerate(cols_c):
        C[: len(c), j] = c
    cols, lo, hi = first_brackets(C)
    found = dict(zip(cols.tolist(), zip(lo, hi)))
    missed_by_grid = 0
    for j, c in enumerate(cols_c):
        ref = first_root_reference(c)
        if ref is None:
            assert j not in found
            continue
        assert j in found, f"polynomial {j}: root {ref} missed"
        a, b = found[j]
        assert a <= ref + 1e-9 and ref <= b + 1e-9
        g = np.polynomial.polynomial.polyval(np.arange(1, GRID + 1) / GRID, c)
        missed_by_grid += bool(np.all(g > 0))
    assert missed_by_grid > 0, "no dip between grid samples drawn: the test would not test the certificate"


def test_a_graze_within_float_resolution_is_refused():
    # q(u) = (u − 0.3)² + 1e-17: no real root, but positive by less than float resolution near 0.3
    c = np.array([0.09 + 1e-17, -0.6, 1.0])
    with pytest.raises(UnsupportedKinkError, match="grazes"):
        first_brackets(c[:, None])


def test_touch_check_finds_a_flat_minimum_within_the_error_bar():
    """The touch check (``state`` > 0) at a flat interior minimum, q = c + 3(u − ½)⁴: q' has a triple root
    at ½, which the companion matrix returns spread off the real axis (|Im| ~ 4e-6); q = c there. A bar
    above c is a touch risk (refused), a bar below c/2 is not (docs/theory.md F, "Near touches")."""
    from numpy.polynomial import polynomial as P

    from numerics.float_events import _refine
    from numerics.kink_events import UnsupportedKinkError

    c0 = 1e-9
    q = P.polyadd([c0], 3.0 * P.polypow([-0.5, 1.0], 4))
    with pytest.raises(UnsupportedKinkError, match="inside the error bar"):
        _refine(q, 0.0, 1.0, 0.0, state=2 * c0, rounding_check=False)
    assert _refine(q, 0.0, 1.0, 0.0, state=c0 / 2, rounding_check=False) is None


def _bisected(c, lo, hi):
    """Reference for earliest_root on one bracket: 52 plain bisections; (right end, final width)."""
    for _ in range(52):
        mid = (lo + hi) / 2
        if np.polynomial.polynomial.polyval(mid, c) > 0:
            lo = mid
        else:
            hi = mid
    return hi, hi - lo


def _same_root(c, u, v, tol):
    """u and v within tol, or both in one band where the computed q of c is rounding noise (a multiple
    root: every point there is as good a sign change as any other)."""
    if abs(u - v) <= tol:
        return True
    a, b = sorted((u, v))
    k = np.arange(len(c))
    noise = 4 * len(c) * np.finfo(float).eps * (np.abs(c) @ (max(abs(a), abs(b), 1.0) ** k))
    return bool(np.all(np.abs(np.polynomial.polynomial.polyval(np.linspace(a, b, 33), c)) <= noise))


_ROOT = st.one_of(st.floats(-0.5, -0.01), st.floats(0.01, 1.6))


@given(st.lists(st.lists(_ROOT, min_size=1, max_size=6), min_size=1, max_size=8),
       st.integers(0, 2**31 - 1))
@settings(deadline=None)
def test_earliest_root_matches_bisection(root_sets, seed):
    """earliest_root (Illinois + bisection safeguard) finds in every bracket a sign change no later than
    the one 52 bisections find (beyond their final width, or outside one rounding-noise band); over all
    brackets it returns the earliest of them."""
    from numerics.float_events import earliest_root

    rng = np.random.default_rng(seed)
    p = max(len(r) for r in root_sets) + 1
    C = np.zeros((p, len(root_sets)))
    for c, roots in enumerate(root_sets):
        col = column(roots, lead=float(rng.uniform(0.5, 2.0)))
        C[: len(col), c] = col
    try:
        cols, lo, hi = first_brackets(C)
    except UnsupportedKinkError:
        # a near-double root the locator refuses as a graze (that refusal is tested by
        # test_a_graze_within_float_resolution_is_refused): no bracket to refine, so the draw is discarded
        assume(False)
    if len(cols) == 0:
        return
    Cb = C[:, cols]
    per, worst = [], 0.0
    for d in range(len(cols)):
        _, u = earliest_root(Cb[:, [d]], lo[[d]], hi[[d]])
        v, width = _bisected(Cb[:, d], lo[d], hi[d])
        assert lo[d] < u <= hi[d] and np.polynomial.polynomial.polyval(u, Cb[:, d]) <= 0
        tol = 2 * max(width, (hi[d] - lo[d]) * 2.0**-52) + 4 * np.spacing(max(u, v))
        # not later than bisection's root (an earlier sign change in the bracket is a root too: with a
        # simple root before a double one, bisection can land in the double root's noise band instead)
        worst = max(worst, (u - v) / max(tol, 1e-300))
        assert u <= v + tol or _same_root(Cb[:, d], u, v, tol), (d, u, v)
        per.append(u)
    target(worst)
    c, u = earliest_root(Cb, lo, hi)
    assert np.array_equal(u, per[c])  # bit-identical: the same arithmetic on the same bracket, whether alone or among others
    assert u <= min(per) or _same_root(Cb[:, int(np.argmin(per))], u, min(per), 0.0) \
        or _same_root(Cb[:, c], u, min(per), 0.0), (u, min(per))


@pytest.mark.parametrize("roots", [[-0.5, 0.5, 0.4921875], [0.488, 0.492, 0.496], [0.485, 0.49, 0.499]])
def test_the_first_of_several_roots_in_one_grid_interval(roots):
    """Three roots in the grid interval of the first sign change (or the later on a grid point, q = 0
    there exactly): the bracket must hold the first, and earliest_root must return it (found by the
    thorough profile of test_earliest_root_matches_bisection: the bracket was the grid interval, and the
    refinement stopped at its right end, an exact zero)."""
    from numerics.float_events import earliest_root

    C = np.array(column(roots, lead=1.3))[:, None]
    cols, lo, hi = first_brackets(C)
    _, u = earliest_root(C[:, cols], lo, hi)
    first = min(r for r in roots if r > 0)
    assert abs(u - first) <= 1e-12


@given(st.integers(0, 2**32 - 1), st.integers(2, 6), st.floats(1e-3, 1.0), st.sampled_from([0.0, 1e-12, 1e-3]))
def test_the_check_after_a_step_screens_what_a_full_screen_would(seed, p, f, bar):
    """numerics.float_events.screen_after_step (the check after a step, cut to h = f·h₀, reusing the
    margins B_0 − (1 + 1e-9)·Σ_k|z_k|h₀^k of the search at h₀) against the screen computed afresh at h on
    every entry: the same candidates, except where the two computed sides are within rounding of a tie
    (the subset's sums may round differently from the full product's). Entries drawn near their roots, so
    that both outcomes occur."""
    from numerics.float_events import screen_after_step

    rng = np.random.default_rng(seed)
    shape = (7, 33)
    h0 = 10.0 ** rng.uniform(-6, -1)
    Z = rng.standard_normal((p,) + shape) * (10.0 ** rng.uniform(-3, 3, p))[:, None, None]
    Z[0] = np.abs(Z[0]) * rng.uniform(0, 2 * h0, shape) * np.abs(Z[1])  # q(0) > 0, roots near the step
    side = np.where(rng.random(shape) < 0.5, 1.0, -1.0)
    Z *= side
    extra = np.broadcast_to(bar * rng.random(shape[1]), shape)

    def screen(h):
        pw = h ** np.arange(p)
        B0 = Z[0] * side
        tail = (pw[1:] @ np.abs(Z[1:]).reshape(p - 1, -1)).reshape(shape)
        return B0, tail * (1 + 1e-9), pw

    B0, t0, _ = screen(h0)
    _, t1, pw = screen(f * h0)
    fresh = B0 <= t1 + extra
    got = screen_after_step((B0, B0 - t0), Z, pw, extra)
    tie = np.abs(B0 - t1 - extra) <= 1e-12 * (np.abs(B0) + t1 + extra)
    assert np.array_equal(got[~tie], fresh[~tie])
    assert fresh.any() or not got.any()
