"""The float tier's error estimate on leaky biased nets with sliding, against the arb tier at 30 digits
(docs/theory.md F, "Measured tightness of the float tier", *Leaky biased nets*).

Family: leaky ReLU (α = 1/5) with biases, widths (4, 6, 6, 3), 7 Gaussian samples, square loss or softmax
cross-entropy, θ0 ~ N(0, 1), T = 1; generator seed 10,000 + seed, seeds 0..29 (every seed: none chosen by its
outcome). Found by a soak (2026-12-06) to be the family with the loosest estimates seen: every case honest, 9 of
60 above 1000× their true error, up to 1.9e5 — most of the bound's growth from crossings met while entries slide
and the growth on sliding stretches, which the windows do not cover (see docs/theory.md). The ratios above 1000×
measured by that soak are strict xfails below, so a change that tightens them shows.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import numerics
import theory

from test_float_simultaneous_kinks import diff_mp

T = 1.0
SEEDS = range(30)
# estimate / true error measured by the soak (both tiers at main 4452390, 2026-12-06), those above 1000×
LOOSE = {("sq", 3): 4.56e4, ("sq", 9): 5.54e3, ("sq", 11): 3.07e3, ("sq", 13): 1.67e3, ("sq", 14): 1.67e4,
         ("sq", 17): 1.18e4, ("sq", 28): 2.72e4, ("sq", 29): 1.89e5, ("ce", 25): 2.22e3}
_runs: dict = {}


def instance(loss: str, seed: int):
    rng = np.random.default_rng(10_000 + seed)
    widths, n = (4, 6, 6, 3), 7
    X = rng.standard_normal((n, widths[0]))
    L = (theory.CrossEntropy(X, rng.integers(0, widths[-1], size=n)) if loss == "ce"
         else theory.SquareLoss(X, rng.standard_normal((n, widths[-1]))))
    obj = theory.Objective(theory.ReLUNet(widths, Fraction(1, 5), True), L)
    return obj, [rng.standard_normal(s) for s in obj.shapes]


def runs(loss: str, seed: int):
    if (loss, seed) not in _runs:
        obj, th = instance(loss, seed)
        f = numerics.gradient_flow(obj, th, T, dps=None)
        r = numerics.gradient_flow(obj, th, Fraction(T), dps=30)
        times = sorted(set(list(np.linspace(0, T, 9)) + f.times[1:8]))
        _runs[(loss, seed)] = (f, r, max(diff_mp(f.at(t), r.at(Fraction(t))) for t in times))
    return _runs[(loss, seed)]


def _params(loose_xfail: bool):
    out = []
    for seed in SEEDS:
        for loss in ("sq", "ce"):
            marks = [] if seed == 0 else [pytest.mark.thorough]
            if loose_xfail and (loss, seed) in LOOSE:
                marks.append(pytest.mark.xfail(strict=True, reason=f"estimate/true ≈ {LOOSE[(loss, seed)]:.2g}: saltation "
                                                                    "norms and growth on sliding stretches"))
            out.append(pytest.param(loss, seed, marks=marks))
    return out


@pytest.mark.parametrize("loss,seed", _params(False))
def test_float_estimate_honest_on_leaky_biased_nets(loss, seed, record_property):
    f, r, true = runs(loss, seed)
    assert [e.key() for e in f.events] == [e.key() for e in r.events]
    assert r.error_estimate <= true / 1000  # the reference's own error does not blur the comparison
    record_property("tightness", float(f.error_estimate / true))
    print(f"\n{loss} {seed}: {len(f.events)} events, |float − arb30| = {true:.3g}, estimate {f.error_estimate:.3g}, "
          f"ratio {f.error_estimate / true:.3g}")
    assert f.error_estimate >= true


@pytest.mark.parametrize("loss,seed", _params(True))
def test_float_estimate_within_1000x_on_leaky_biased_nets(loss, seed):
    f, r, true = runs(loss, seed)
    assert f.error_estimate <= 1000 * true
