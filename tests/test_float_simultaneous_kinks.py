"""Kinks met while other entries slide, in the float64 Taylor tier (numerics.float_taylor) against the
arb tier at 30 digits and the independent reference tests/relu_reference.py (docs/theory.md E1, F
"Kinks (saltation)").

At such a kink each candidate field (mask α or 1 for the entry at 0) is the Filippov field with a
consistent active set: sliding entries whose weight the candidate pushes out of [α, 1] leave to the side
it points to; the outcome's set is applied ("leave sliding" at the kink's instant) and the saltation
factor uses the actual fields before and after.

Instances: seeded random nets, (3, 6, 6, 2) on 5 samples, square loss and softmax cross-entropy (draw as
in :func:`instance`). They are exactly the seeds in 0..39 on which the float tier of main at 478a10c
refused with UnsupportedKinkError ("… one side's field pushes that weight out of [α, 1] …", i.e.
simultaneous-kink) — so each test fails without the change — and T is the refusal time rounded up to
0.1 plus 0.1. The selection looks at main's refusal only, not at the new code's verdicts or estimates.
Found with (at main): for each seed, ``numerics.gradient_flow(obj, θ0, 2.0, dps=None)`` and the
error's message. Seed 3 (square) is refused by both tiers still (a joining entry that cannot slide with
the others): :func:`test_joining_entry_that_cannot_slide_is_refused_by_both_tiers`.
"""

from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np
import pytest

import numerics
import theory
from numerics.kink_flows import UnsupportedKinkError

import relu_reference as R
from test_relu_flows import mpq

WIDTHS, N = (3, 6, 6, 2), 5


def instance(loss: str, seed: int):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, WIDTHS[0]))
    if loss == "ce":
        L = theory.CrossEntropy(X, rng.integers(0, WIDTHS[-1], size=N))
        Y = None
    else:
        Y = rng.standard_normal((N, WIDTHS[-1]))
        L = theory.SquareLoss(X, Y)
    obj = theory.Objective(theory.ReLUNet(WIDTHS), L)
    return obj, [rng.standard_normal(s) for s in obj.shapes], X, Y


def diff_mp(a, b) -> float:
    with mpmath.workdps(40):
        return max(float(abs(mpmath.mpf(float(x)) - y)) for A, B in zip(a, b) for x, y in zip(np.asarray(A).flat, B.flat))


# (loss, seed, T); main's refusal times: sq 0.018 (seed 3), 0.82, 1.16, 0.11, 1.76, 1.55, 0.14, 0.024, 1.84;
# ce 0.89, 0.49, 0.55, 0.69, 1.30, 0.61. Tightness above 1000× measured on four (strict xfail, below).
LOOSE = {("sq", 11): 8.5e3, ("sq", 19): 1.5e3, ("sq", 26): 3.6e3, ("sq", 38): 2.0e3}
CASES = [("sq", 11, 0.9), ("sq", 19, 1.3), ("sq", 21, 0.2), ("sq", 25, 1.9), ("sq", 26, 1.7), ("sq", 35, 0.2),
         ("sq", 36, 0.1), ("sq", 38, 1.9), ("ce", 6, 1.0), ("ce", 7, 0.6), ("ce", 16, 0.6), ("ce", 18, 0.8),
         ("ce", 32, 1.4), ("ce", 36, 0.7)]
PARAMS = [pytest.param(*c, marks=[pytest.mark.thorough] if c[2] > 0.65 else []) for c in CASES]
_runs: dict = {}


def runs(loss, seed, T):
    if (loss, seed) not in _runs:
        obj, th, _, _ = instance(loss, seed)
        f = numerics.gradient_flow(obj, th, T, dps=None)
        r = numerics.gradient_flow(obj, th, Fraction(T), dps=30)  # with its dps + 10 rerun (events checked)
        times = sorted(set(list(np.linspace(0, T, 9)) + f.times[1:8]))
        true = max(diff_mp(f.at(t), r.at(Fraction(t))) for t in times)
        _runs[(loss, seed)] = (f, r, true)
    return _runs[(loss, seed)]


@pytest.mark.parametrize("loss,seed,T", PARAMS)
def test_float_tier_matches_arb_tier_through_simultaneous_kinks(loss, seed, T, record_property):
    f, r, true = runs(loss, seed, T)
    assert [e.key() for e in f.events] == [e.key() for e in r.events]
    for e, g in zip(f.events, r.events):
        assert abs(float(e.t) - float(g.t)) <= 1e-12
    simultaneous = sum(1 for a, b in zip(f.events, f.events[1:]) if b.t == a.t and b.kind == "leave sliding")
    ratio = f.error_estimate / true
    record_property("tightness", ratio)
    print(f"\n{loss} seed {seed} T={T}: events {len(f.events)} (leaving at another's kink: {simultaneous}), "
          f"|float − arb30| = {true:.3g}, estimate {f.error_estimate:.3g}, ratio {ratio:.3g}")
    assert r.error_estimate <= true / 1000
    assert true <= 1e-12
    assert f.error_estimate >= true  # honest


@pytest.mark.parametrize("loss,seed,T", [
    pytest.param(*c, marks=([pytest.mark.xfail(strict=True, reason=f"estimate/true ≈ {LOOSE[c[:2]]:.2g}: "
                                               "worst-case saltation norms and the growth term (docs/theory.md F)")]
                            if c[:2] in LOOSE else []) + ([pytest.mark.thorough] if c[2] > 0.65 else []))
    for c in CASES])
def test_float_estimate_within_1000x(loss, seed, T):
    f, r, true = runs(loss, seed, T)
    assert f.error_estimate <= 1000 * true


def test_some_instances_leave_sliding_at_another_kink():
    """Not vacuous: on these instances entries leave sliding at the instant another entry crosses or
    joins (the arb tier's events, 30 digits and its rerun at 40)."""
    n = 0
    for loss, seed, T in [("sq", 21, 0.2), ("sq", 36, 0.1), ("ce", 7, 0.6)]:
        _, r, _ = runs(loss, seed, T)
        n += sum(1 for a, b in zip(r.events, r.events[1:]) if b.t == a.t and b.kind == "leave sliding"
                 and a.kind != "leave sliding")
    assert n >= 3


def test_joining_entry_that_cannot_slide_is_refused_by_both_tiers():
    obj, th, _, _ = instance("sq", 3)
    with pytest.raises(UnsupportedKinkError, match="cannot slide together"):
        numerics.gradient_flow(obj, th, 0.1, dps=None)
    with pytest.raises(UnsupportedKinkError, match="cannot slide together"):
        numerics.gradient_flow(obj, th, Fraction(1, 10), dps=30)
