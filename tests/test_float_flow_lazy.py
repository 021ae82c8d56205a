"""gradient_flow_float with dense output and error estimate on demand (numerics/float_flows.py)."""

import numpy as np
import pytest

import numerics
import theory


def _net(widths, scale, seed):
    rng = np.random.default_rng(seed)
    Phi = rng.standard_normal((widths[-1], widths[0]))
    obj = theory.Objective(theory.DeepLinear(widths), theory.WhitenedSquare(Phi / np.linalg.norm(Phi)))
    return obj, numerics.gaussian_init(obj, scale, seed=seed)


CASES = [((3, 3, 3, 1), 0.3, 6.0, 1e-10), ((4, 3, 2), 0.5, 4.0, 1e-8), ((2, 4, 4, 4, 1), 0.4, 3.0, 1e-12)]


@pytest.mark.parametrize("widths,scale,t_end,rtol", CASES)
def test_error_estimate_is_honest_and_useful_against_mp(widths, scale, t_end, rtol):
    """true error (vs the 30-digit Taylor flow) ≤ error_estimate ≤ 1000 × true error, at step times,
    step midpoints (the re-taken interpolant) and arbitrary times."""
    obj, th = _net(widths, scale, 4)
    f = numerics.gradient_flow_float(obj, th, t_end, rtol=rtol, atol=rtol)
    m = numerics.gradient_flow(obj, th, t_end, dps=30)
    ts = np.asarray(f.times)
    probe = np.concatenate([ts[::3], ((ts[1:] + ts[:-1]) / 2)[::3], np.linspace(0, t_end, 11)])
    true = 0.0
    for t in probe:
        ref = [np.asarray(W, dtype=float) for W in m.at(t)]
        true = max(true, max(float(np.abs(a - b).max()) for a, b in zip(f.at(t), ref)))
    est = f.error_estimate
    assert true <= est
    assert est <= 1000 * max(true, 1e-15)


def test_on_demand_dense_output_equals_recorded_dense_output():
    obj, th = _net((3, 4, 4, 1), 0.4, 9)
    lazy = numerics.gradient_flow_float(obj, th, 5.0, estimate_error=False)
    eager = numerics.gradient_flow_float(obj, th, 5.0, estimate_error=False, dense_output=True)
    np.testing.assert_array_equal(lazy.times, eager.times)
    n0 = lazy.nfev
    # the same step re-taken from the same state: the same interpolant, up to rounding; bound it by
    # the solver's own tolerance scale (rtol·max|θ|), far above rounding, far below a wrong step
    scale = float(np.abs(lazy.states).max())
    for t in np.linspace(0, 5.0, 23):
        for a, b in zip(lazy.at(t), eager.at(t)):
            assert np.abs(a - b).max() <= 1e-12 * scale
    assert lazy.nfev > n0  # steps were re-taken, and counted
    assert np.isnan(lazy.error_estimate)


def test_error_estimate_now_and_conservation_witness():
    obj, th = _net((3, 3, 3, 1), 0.5, 2)
    f = numerics.gradient_flow_float(obj, th, 3.0, estimate_error="now")
    n = f.nfev
    assert 0 < f.error_estimate <= 1e-9 and f.nfev == n  # computed once, at construction
    # B3 witness: δD_j ≤ 2·d·max|W|·e per product term (two terms), plus rounding of the products
    W = max(float(np.abs(f.states).max()), 1.0)
    d = max(obj.widths)
    bound = 4 * d * W * f.error_estimate + 4 * d * np.finfo(float).eps * W**2
    defects = f.conservation_defects
    assert len(defects) == len(f.times) and max(defects) <= bound
    with pytest.raises(ValueError, match="estimate_error"):
        numerics.gradient_flow_float(obj, th, 1.0, estimate_error="later")


from hypothesis import given, settings, strategies as st, target  # noqa: E402


@settings(max_examples=8, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=3, max_size=4), st.integers(0, 2**31 - 1),
       st.sampled_from([1e-6, 1e-8, 1e-10, 1e-12]), st.floats(0.5, 5.0))
def test_error_estimate_honest_on_drawn_nets(widths, seed, rtol, t_end):
    obj, th = _net(tuple(widths), 0.6, seed)
    f = numerics.gradient_flow_float(obj, th, t_end, rtol=rtol, atol=rtol)
    m = numerics.gradient_flow(obj, th, t_end, dps=25)
    true = 0.0
    for t in np.linspace(0, t_end, 29):
        ref = [np.asarray(W, dtype=float) for W in m.at(t)]
        true = max(true, max(float(np.abs(a - b).max()) for a, b in zip(f.at(t), ref)))
    target(true / f.error_estimate, label="true error / estimate")
    assert true <= f.error_estimate
