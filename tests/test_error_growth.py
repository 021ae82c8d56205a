"""The deep-linear ground truth's error estimate with measured growth (numerics.error_growth,
docs/theory.md F): honest (≥ the true error, measured against a run at 20 more digits) and tight
(≤ 1000× it) on 21- and 55-parameter cases; the tightness ratio before (global B1 growth) and after
is printed for every case (run with -s to see it)."""

import mpmath
import numpy as np
import pytest

import numerics
import theory


def maxdiff(a, b):
    return max(abs(x - y) for A, B in zip(a, b) for x, y in zip(np.asarray(A).flat, np.asarray(B).flat))


def ratios(widths, scale, t_end, seed, dps=30):
    rng = np.random.default_rng(seed)
    Phi = rng.standard_normal((widths[-1], widths[0]))
    obj = theory.Objective(theory.DeepLinear(widths), theory.WhitenedSquare(Phi / np.linalg.norm(Phi)))
    th = numerics.gaussian_init(obj, scale, seed=seed)
    run = numerics.gradient_flow(obj, th, t_end, dps=dps)
    old = numerics.gradient_flow(obj, th, t_end, dps=dps, error_growth="b1")
    ref = numerics.gradient_flow(obj, th, t_end, dps=dps + 20)
    with mpmath.workdps(dps + 20):
        true = max(float(maxdiff(run.at(t), ref.at(t))) for t in run.times)
    print(f"{widths} P={obj.num_params} T={t_end}: true {true:.3g}, estimate {run.error_estimate:.3g} "
          f"(ratio {run.error_estimate / true:.3g}; B1 growth: {old.error_estimate / true:.3g}), "
          f"∫max(0,−λ_min) = {run.growth_integral:.3g}")
    return run, true


# (widths, init scale, horizon, seed); the last one has long steps where the arb radius is 1e12×
# the actual rounding (the estimate measures the rounding against the step at +32 bits there)
CASES = [((3, 3, 3, 1), 0.1, 9.5, 11), ((3, 3, 3, 1), 0.5, 3.0, 0), ((5, 5, 5, 1), 0.3, 4.0, 1),
         pytest.param((5, 5, 5, 1), 1.0, 5.0, 4, marks=pytest.mark.thorough)]


@pytest.mark.parametrize("widths,scale,t_end,seed", CASES)
def test_measured_growth_estimate_is_honest_and_tight(widths, scale, t_end, seed):
    run, true = ratios(widths, scale, t_end, seed)
    assert run.error_estimate >= true
    assert run.error_estimate <= 1000 * true
    assert run.growth_integral >= 0


def test_growth_bound_covers_lambda_min_between_samples():
    """The per-step bound of max(0, −λ_min) is ≥ the value at points between the three samples
    (dense λ_min at 9 points of each step of a 21-parameter run)."""
    rng = np.random.default_rng(2)
    Phi = rng.standard_normal((1, 3))
    obj = theory.Objective(theory.DeepLinear((3, 3, 3, 1)), theory.WhitenedSquare(Phi / np.linalg.norm(Phi)))
    th = numerics.gaussian_init(obj, 0.5, seed=2)
    from numerics.error_growth import MeasuredGrowth

    run = numerics.gradient_flow(obj, th, 3.0, dps=20)
    g = MeasuredGrowth(obj)
    for a, b in zip(run.times[:-1], run.times[1:]):
        ys = [[np.asarray(W, dtype=float) for W in run.at(a + (b - a) * k / 8)] for k in range(9)]
        mu = g.step(ys[0], ys[4], ys[8], float(b - a))
        worst = max(max(0.0, -numerics.lambda_min(obj, y)) for y in ys)
        assert mu >= worst - 1e-12
