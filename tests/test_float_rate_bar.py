"""The error bar on a kink's rates (docs/theory.md F, "The rates' signs against the error bar") against
the exact rates of the separately written reference (tests/relu_reference.py at 34 digits).

At a kink reached from a side the float tier decides cross / slide / refuse from the rates ż of the two
candidate fields at its computed state, and refuses when a rate is within a bar of 0: the bar claims
|ż − ż_exact| ≤ bar, ż_exact the same field's rate at the exact flow's switching point. The reference
records those exact rates at its own events (``record["rates"]``), so the claim is checked directly:
every rate's distance from the exact one must be within its bar. The ratio bar ÷ distance is printed
(how loose the bar is; a loose bar only refuses more, it never lets a wrong decision through).

Instances are the reference-picked ones of tests/test_relu_flows.py (crossings of both layers, leaky,
biased, sliding entries) and the hand-built unpin instances of tests/test_relu_kink_paths.py (a pinned
entry decided again at another switch's instant); each asserts the reference's events first, so no
check is vacuous.
"""

from __future__ import annotations

from fractions import Fraction

import mpmath
import pytest

import numerics
from numerics.float_crossings import FloatCrossings

import relu_reference as R
from test_relu_flows import REF_DPS, instance, mpq
from test_relu_kink_paths import UNPIN, unpin_instance

CASES = [  # (seed, widths, alpha, bias, n, t_end, events the reference finds)
    (4, (2, 2, 1), 0.0, False, 4, Fraction(5, 8), 2),
    (4, (2, 2, 1), 0.25, False, 4, Fraction(3, 8), 1),
    (1, (2, 2, 1), 0.0, True, 4, Fraction(1, 2), 1),
    (14, (2, 2, 1), 0.0, True, 4, Fraction(5, 16), 2),
    (6, (2, 2, 1), 0.0, False, 4, Fraction(1, 8), 1),
    (5, (2, 3, 3, 1), 0.0, False, 5, Fraction(1, 8), 1),
]


def _float_rates(monkeypatch, obj, th, t_end):
    """Run the float tier, recording at each kink checked against a bar — reached from a side, or a pinned
    entry set moving by another switch — (t, layer, sample, unit, [(ż, bar)] under mask α then mask 1)."""
    seen, last = [], {}
    bars_of = FloatCrossings._rate_bars

    def bars_spy(self, *args, **kw):
        last["bars"] = bars_of(self, *args, **kw)
        return last["bars"]

    def spying(checker):
        def spy(self, j, u, i, t, rates, *rest):
            last["bars"] = None
            try:
                return checker(self, j, u, i, t, rates, *rest)
            finally:
                if last["bars"] is not None:
                    seen.append((t, j + 1, i, u, [(r, b) for (r, *_), b in zip(rates, last["bars"])]))
        return spy

    monkeypatch.setattr(FloatCrossings, "_rate_bars", bars_spy)
    for name in ("_rates_within_bar", "_unpin_within_bar"):
        monkeypatch.setattr(FloatCrossings, name, spying(getattr(FloatCrossings, name)))
    traj = numerics.gradient_flow(obj, th, float(t_end), dps=None)
    return traj, seen


def _check(monkeypatch, obj, th, net, t_end, n_events, label):
    record: dict = {}
    with mpmath.workdps(REF_DPS):
        _, ref_events = R.flow(net, list(obj.flatten(th)), mpq(t_end), dps=REF_DPS, record=record)
    assert len(ref_events) >= n_events, "the reference finds fewer kinks than the instance was picked for"
    traj, seen = _float_rates(monkeypatch, obj, th, t_end)
    assert [(e.kind, e.layer, e.sample, e.unit) for e in traj.events] == [e[1:] for e in ref_events]
    assert seen, "no kink's rates were checked against a bar: the test checks nothing"
    for t, lay, i, u, got in seen:
        t_ref, a, b = min(((tr, a, b) for tr, *e, a, b in record["rates"] if tuple(e) == (lay, i, u)),
                          key=lambda r: abs(r[0] - t))  # (an entry may meet its kink more than once)
        assert abs(t - float(t_ref)) < 1e-6
        for (r, bar), r_exact, side in zip(got, (a, b), ("mask α", "mask 1")):
            dist = abs(mpmath.mpf(r) - r_exact)  # exact binary r, compared at REF_DPS digits
            print(f"{label}: layer {lay} unit {u} sample {i} at t = {t:.6f}, {side}: ż = {r:.6g}, "
                  f"|ż − ż_exact| = {float(dist):.2e}, bar {bar:.2e}, bar/|Δ| = {bar / max(float(dist), 1e-300):.3g}")
            assert dist <= bar, "the rate bar is smaller than the rate's true error"
    return seen


@pytest.mark.parametrize("seed,widths,alpha,bias,n,t_end,n_events", CASES)
def test_kink_rates_within_their_bar_of_the_exact_rates(monkeypatch, seed, widths, alpha, bias, n, t_end,
                                                         n_events):
    obj, th, net = instance(seed, widths, alpha, bias, n=n)
    _check(monkeypatch, obj, th, net, t_end, n_events, f"seed {seed}")


@pytest.mark.parametrize("c1,y2,kinds", UNPIN)
def test_unpinned_entry_rates_within_their_bar(monkeypatch, c1, y2, kinds):
    """The hand-built unpin instances of tests/test_relu_kink_paths.py: the entry pinned at t_1 is decided
    again at t_2, when sample 2's crossing sets it moving; its rates there are checked against the bar of
    the crossing's instant (FloatCrossings._unpin_within_bar), and must be within it of the exact ones."""
    obj, th, net = unpin_instance(c1, y2)
    seen = _check(monkeypatch, obj, th, net, Fraction(1, 2), len(kinds), f"unpin c1 = {c1}, y2 = {y2}")
    assert any((lay, i, u) == (1, 0, 0) for _, lay, i, u, _ in seen), "the unpin decision was not checked"


def test_an_unpin_decided_inside_the_error_bar_is_refused(monkeypatch):
    """With the bar forced up at the unpin decision only (its switching-time uncertainty τ set to 1), the
    pinned entry of the first unpin instance could be decided otherwise by the exact flow: refused."""
    from numerics.kink_flows import UnsupportedKinkError

    obj, th, _ = unpin_instance(0.5, 0.5)
    unpin = FloatCrossings._unpin_within_bar

    def forced(self, j, u, i, t, rates, gz):
        if self._trigger_tau is not None:
            self._trigger_tau = 1.0
        return unpin(self, j, u, i, t, rates, gz)

    monkeypatch.setattr(FloatCrossings, "_unpin_within_bar", forced)
    with pytest.raises(UnsupportedKinkError, match="set moving by another switch"):
        numerics.gradient_flow(obj, th, 0.5, dps=None)
