"""The step's radius cap from the softmax head (numerics.softmax_radius; docs/theory.md F, "A softmax
saturated far from its target").

Found 2026-12-04 by a soak of ``test_the_estimate_bounds_the_error_on_random_nets`` (tests/test_float_rtol.py)
at width 6 and 8 samples: on one-sample cross-entropy nets whose logits start far on the wrong side, both
tiers took one step across the softmax's transition — the float tier 1.4 and the arb tier at 30 digits
0.066 away from a converged RK4 at t = 0.0625, each with an estimate ~1e-13. The instances below are the
ones a seeded search found (seed, input scale 3, weight scale 2); the old code fails every test here that
runs a flow.
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given, note, target
from hypothesis import strategies as st

import numerics
import theory
from numerics.gradients import flat_gradient_function
from numerics.softmax_radius import exp_inputs, logit_radius

from error_norms import diff2


def saturated(seed: int, widths=(5, 3, 2)):
    """One sample, cross-entropy, biases; inputs N(0, 9), weights N(0, 4) (the search's draw)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((1, widths[0])) * 3.0
    obj = theory.Objective(theory.ReLUNet(widths, 0.0, True), theory.CrossEntropy(X, rng.integers(0, widths[-1], 1)))
    return obj, obj.unflatten(rng.standard_normal(obj.num_params) * 2.0)


def rk4(obj, th, T, n):
    g = flat_gradient_function(obj)
    y, h = obj.flatten(th), T / n
    for _ in range(n):
        k1 = -g(y)
        k2 = -g(y + h / 2 * k1)
        k3 = -g(y + h / 2 * k2)
        k4 = -g(y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return y


def _logits(obj, th):
    a = np.asarray(obj.loss.X, float).T
    for j in range(0, len(th) - 2, 2):
        a = np.maximum(th[j] @ a + th[j + 1][:, None], 0)
    return th[-2] @ a + th[-1][:, None]


# seed 175: no kink event (the flow stays in its region), logits (84.5, −77.0) against label 1; seed 2: one
# crossing at t ≈ 0.0448, logits (73.8, −126.5) against label 1. The check time t is past the transition (the
# logits' gap closes near t ≈ 0.019 / 0.023) and before any kink, where RK4 converges
@pytest.mark.parametrize("seed,t", [(175, 0.0625), (2, 0.04)])
def test_a_saturated_softmax_is_not_stepped_across(seed, t):
    obj, th = saturated(seed)
    Z = _logits(obj, th)
    assert Z[0, 0] - Z[1, 0] > 150 and obj.loss.labels[0] == 1  # far on the wrong side: the point of the case
    fine, finer = rk4(obj, th, t, 2000), rk4(obj, th, t, 4000)
    assert np.abs(fine - finer).max() < 1e-10  # RK4's own convergence: an independent reference
    f = numerics.gradient_flow(obj, th, 0.5, dps=None)
    a = numerics.gradient_flow(obj, th, Fraction(1, 2), dps=30)
    tf = np.abs(obj.flatten(f.at(t)) - finer).max()
    ta = np.abs(np.array([float(x) for x in obj.flatten(a.at(Fraction(t)))]) - finer).max()
    print(f"\nseed {seed}: float {len(f.steps)} steps, |float − RK4| = {tf:.2g}; arb {len(a.times) - 1} steps, "
          f"|arb − RK4| = {ta:.2g} (RK4's own change 4000 vs 2000 steps {np.abs(fine - finer).max():.2g})")
    # RK4 is fourth order: the finer run's error is ≈ |fine − finer|/15 ≤ 1e-10/15, so 1e-9 is above what RK4
    # itself can be off by and far below the old code's 1.4 and 0.066 (seed 175)
    assert tf < 1e-9 and ta < 1e-9
    with mpmath.workdps(30):
        true = max(diff2(f.at(s), a.at(Fraction(s))) for s in list(np.linspace(0, 0.5, 9)) + f.times[1:8])
    assert true <= f.error_estimate
    assert [e.key() for e in f.events] == [e.key() for e in a.events]


def test_the_cap_on_a_saturated_and_on_a_tied_column():
    """d_l(s) = d_0 + v·s: the largest r keeping Σ_far e^{d_0 + |v|r} ≤ 1/2 is (−d_0 − ln 2)/|v| for a column
    far behind (a class is 'far' once |v|r > π/2), and π/(2|v|) for a tie (module docstring)."""
    v = 8700.0
    Z = np.zeros((3, 2, 2))
    Z[0, :, 0] = (84.5, 84.5 - 161.0)  # column 0: the second class 161 behind
    Z[1, :, 0] = (-v / 2, v / 2)
    Z[0, :, 1] = (0.3, 0.3)  # column 1: a tie, moving apart at the same rate
    Z[1, :, 1] = (-v / 2, v / 2)
    r_sat = logit_radius(Z[:, :, :1], math.inf)
    r_tie = logit_radius(Z[:, :, 1:], math.inf)
    assert (161 - math.log(2)) / v / 1.011 <= r_sat <= (161 - math.log(2)) / v
    assert (math.pi / 2) / v / 1.011 <= r_tie <= (math.pi / 2) / v
    assert logit_radius(Z, math.inf) == pytest.approx(r_tie, rel=0.011)  # every column at once: the smaller
    assert logit_radius(Z, 1e-6) == 1e-6  # holds at r_max: r_max itself
    # a bare exp: e^{z} within a factor e of its start, M(r) = Σ|z_k| r^k ≤ 1
    r_exp = logit_radius(Z[:, :1, :1], math.inf, softmax=False)
    r_one = 1 / (v / 2)  # M(r) = (v/2)·r = 1
    assert r_one / 1.011 <= r_exp <= r_one


@st.composite
def columns(draw):
    """Logit series (q, C, n) with q ∈ 2..4, C ∈ 2..5 classes, n ∈ 1..3 columns: logits up to ±200 apart,
    coefficients up to 10^4 (seed drawn; Hypothesis records it)."""
    q, C, n = draw(st.integers(2, 4)), draw(st.integers(2, 5)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    Z = rng.standard_normal((q, C, n)) * 10.0 ** rng.uniform(-1, 4, size=(q, 1, 1))
    Z[0] = rng.uniform(-1, 1, size=(C, n)) * draw(st.sampled_from([1.0, 10.0, 200.0]))
    return Z


@given(columns())
def test_the_column_sums_stay_away_from_zero_on_the_disk(Z):
    """The inequality the cap rests on, checked without it: on the circle |s| = r of the cap (and inside it,
    r/2), |Σ_l e^{d_l(s)}| ≥ 1/2 for the polynomials d_l = z_l − z_top themselves, evaluated in complex
    arithmetic at 256 points (the circle is where |Σ| is smallest for a non-vanishing analytic Σ)."""
    r = logit_radius(Z, math.inf)
    assert r > 0
    top = np.argmax(Z[0], axis=0)
    D = Z - Z[:, top, np.arange(Z.shape[2])][:, None, :]
    worst = math.inf
    for rad in (r, r / 2):
        s = rad * np.exp(2j * np.pi * np.arange(256) / 256)
        d = sum(D[k][None] * s[:, None, None] ** k for k in range(Z.shape[0]))  # (256, C, n)
        worst = min(worst, float(np.abs(np.exp(d).sum(axis=1)).min()))
    note(f"cap {r:.3g}, min |Σ| {worst:.4g}")
    target(-worst, label="− min |Σ| on the disk")
    assert worst >= 0.5 * (1 - 1e-9)


def test_the_tapes_softmax_is_recognised():
    from numerics import series_elementwise as se
    from numerics.flows import _gradient_tape
    from numerics.series import Tape

    tape = Tape()
    Z = tape.input(0)
    se.softmax(Z, 3)
    assert exp_inputs(tape.ops) == [(Z.i, True)]  # the numerator of a column-wise softmax
    bare = Tape()
    V = bare.input(0)
    se.exp(V)
    assert exp_inputs(bare.ops) == [(V.i, False)]
    lin = theory.Objective(theory.DeepLinear((3, 2, 2)), theory.CrossEntropy(np.ones((2, 3)), np.array([0, 1])))
    assert [soft for _, soft in exp_inputs(_gradient_tape(lin)[0].ops)] == [True]  # the flows' own tape
    sq = theory.Objective(theory.DeepLinear((2, 3, 1)), theory.SquareLoss(np.ones((2, 2)), np.ones((2, 1))))
    assert exp_inputs(_gradient_tape(sq)[0].ops) == []
