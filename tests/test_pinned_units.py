"""Pinned entries of one unit on several samples (docs/theory.md E1, *Several pinned on one unit*).

An entry at z = 0 whose mask-α field does not move it is pinned; the flow that keeps it there is the only one
while the field with mask 1 does not lift it. Until 2026-12-05 (night) both tiers checked that for a unit pinned on
one sample only: a unit pinned on two samples — a group on one kink surface, or two surfaces — was not checked
at all, and the tiers returned trajectories through points where the flow is not unique. The cases here repeat a
sample of the soak instances of tests/test_float_simultaneous_kinks.py (a repeated sample's entries share one
kink surface), which made the lone pins of those instances group pins.
"""

from __future__ import annotations

import re
from fractions import Fraction

import mpmath
import numpy as np
import pytest

import numerics
import theory
from numerics.kink_events import NonUniqueFlowError, UnsupportedKinkError
from numerics.kink_held import held_verdict

import relu_reference as R
from test_float_simultaneous_kinks import diff_mp, instance


def repeated(loss: str, seed: int, sample: int):
    """The soak instance (loss, seed) of (3, 6, 6, 2) on 5 samples with ``sample`` appended again (sample 5)."""
    obj, th, X, Y = instance(loss, seed)
    X2 = np.vstack([X, X[sample:sample + 1]])
    if loss == "ce":
        labels = np.asarray(obj.loss.labels)
        L, Y2 = theory.CrossEntropy(X2, np.append(labels, labels[sample])), None
    else:
        Y2 = np.vstack([Y, Y[sample:sample + 1]])
        L = theory.SquareLoss(X2, Y2)
    return theory.Objective(theory.ReLUNet(obj.widths), L), th, X2, Y2


def _refusal(obj, th, T, dps):
    """The NonUniqueFlowError of a run: its message, its time, the previous check's time and the located lift's
    bracket (None where the message has none)."""
    with pytest.raises(NonUniqueFlowError) as e:
        numerics.gradient_flow(obj, th, T, dps=dps)
    msg = str(e.value)
    t = float(msg.split(":")[0].removeprefix("t = "))
    since = re.search(r"previous check, t = ([0-9.e+-]+)", msg)
    lift = re.search(r"the lift lies in \[([0-9.e+-]+), ([0-9.e+-]+)\]", msg)
    return msg, t, float(since.group(1)) if since else None, (float(lift.group(1)), float(lift.group(2))) if lift else None


# ---- the verdict's rules on rates given by hand (kink_held.held_verdict) ------------------------------------

def _lifts(M, bar=1e-9, zero=()):
    """Rows of every lift T from a rate matrix M[q][p] (block q under the lift of block p alone): the linear model
    w(1_T) = Σ_{p∈T} M[:, p], each rate ± bar."""
    B = len(M)
    out = []
    for T in range(1, 2 ** B):
        rows = []
        for q in range(B):
            r = sum(M[q][p] for p in range(B) if T >> p & 1)
            rows.append((r, bar, r - bar, r + bar, r == 0 and q in zero))
        out.append((T, rows))
    return out


def _verdict(M, **kw):
    blocks = [[(q, 1.0)] for q in range(len(M))]
    try:
        held_verdict("t = 0: unit 0 of layer 1", blocks, _lifts(M, **kw))
    except NonUniqueFlowError:
        return "not unique"
    except UnsupportedKinkError:
        return "refused"
    return "held"


def test_held_verdict_one_block_is_the_lone_rule():
    assert _verdict([[-0.5]]) == "held"
    assert _verdict([[0.5]]) == "not unique"
    assert _verdict([[1e-10]]) == "refused"  # within its bar of 0
    assert _verdict([[-1e-10]]) == "refused"


def test_held_verdict_two_blocks():
    # each block sinks under its own lift even with the other's help (−1 + 0.5 < 0, −1 + 0 < 0): held
    assert _verdict([[-1.0, 0.5], [-0.3, -1.0]]) == "held"
    # lifting both makes both rise while neither alone does: λ = (1, 1) is a second solution
    assert _verdict([[-1.0, 3.0], [3.0, -1.0]]) == "not unique"
    # every lift has a sinking block, but λ = (½, 1) solves it (block 0 slides: −½ + ½ = 0; block 1 leaves:
    # 4·½ − 1 = 1 ≥ 0): not unique
    M = [[-1.0, 0.5], [4.0, -1.0]]
    assert all(any(r < 0 for q, (r, *_) in enumerate(rows) if T >> q & 1) for T, rows in _lifts(M))
    assert _verdict(M) == "not unique"
    # one block rises alone while the other sinks: λ = (1, 0)
    assert _verdict([[0.2, -1.0], [-0.1, -1.0]]) == "not unique"
    # cross-entropy seed 40 of (3,6,6,2) at t = 0.1422 (rounded): block 0's row with the other's help is positive
    # (−0.512 + 0.531), yet no mode solves it — leaving both: w_1 = −1.79; block 1 sliding, block 0 leaving:
    # λ_1 = 0.151/1.939 = 0.078, w_0 = −0.512 + 0.531·0.078 < 0; block 0 sliding, block 1 leaving: λ_0 = 0.531/0.512
    # > 1; both sliding: M is regular — held
    assert _verdict([[-0.512, 0.531], [0.151, -1.939]]) == "held"
    # a mode on its boundary within the bars (block 0 sliding with λ_0 = 1 − 1e-12, block 1 leaving): refused
    assert _verdict([[-1.0, 1.0 - 1e-12], [1.0, 1.0]]) == "refused"


def test_held_verdict_checks_the_linear_model():
    blocks = [[(0, 1.0)], [(1, 1.0)]]
    lifts = _lifts([[-1.0, 0.1], [0.1, -1.0]])
    T, rows = lifts[2]
    assert T == 3
    rows[0] = (rows[0][0] + 1e-3, *rows[0][1:])  # the joint lift off the sum of the single ones
    with pytest.raises(UnsupportedKinkError, match="do not add up"):
        held_verdict("t = 0: unit 0 of layer 1", blocks, lifts)


def test_held_verdict_leaves_out_a_block_whose_mask_reaches_no_field():
    # block 1's lift moves nothing (its column of M exactly 0): it cannot change θ, whatever it does
    assert _verdict([[-1.0, 0.0], [0.7, 0.0]], zero=(0, 1)) == "held"


# ---- both tiers on instances ----------------------------------------------------------------------------------

def test_a_pinned_group_lifted_when_an_entry_slides():
    """ce seed 99 with sample 3 repeated: unit 1 of layer 1 crosses off on samples 3 and 5 together at t = 0.1957
    (one kink surface: identical inputs) and is pinned there (off on every other sample, its row gets no
    gradient). At t = 0.3308 unit 1 of layer 2 starts to slide on both samples and the field with mask 1 on the
    group now lifts it (rate +0.0144): leaving and staying are both Filippov solutions. Both tiers ran through it
    until this check covered groups; now both refuse at that instant. The arb tier needed a second fix: the
    sliding weights' derivatives had been added to nodes no μ reaches, as balls of rounding width about 0, so the
    pinned entries' series no longer read exactly constant, and it refused there as a group "reached from no
    side" (numerics.kink_flows._KinkFlow._mu_reach). Before the instant the tiers agree within the float
    estimate."""
    obj, th, _, _ = repeated("ce", 99, 3)
    got = [_refusal(obj, th, T, dps) for T, dps in ((1.0, None), (Fraction(1), 30))]
    for msg, t, _, lift in got:
        assert "unit 1 of layer 1 on samples [3, 5] (one kink surface) is pinned" in msg
        assert lift is None  # (lifted by a switch at t: nothing to locate inside a step)
    assert abs(got[0][1] - 0.3308248839205734) < 1e-12 and abs(got[1][1] - 0.3308248839205734) < 1e-15
    f = numerics.gradient_flow(obj, th, 0.33, dps=None)
    a = numerics.gradient_flow(obj, th, Fraction(33, 100), dps=30)
    keys = [e.key() for e in a.events]
    assert [e.key() for e in f.events] == keys and ("cross", 1, 3, 1) in keys and ("cross", 1, 5, 1) in keys
    assert diff_mp(f.at(0.33), a.at(Fraction(33, 100))) <= f.error_estimate


def test_a_pinned_group_lifted_within_a_step():
    """sq seed 62 with sample 4 repeated: unit 1 of layer 1 is pinned on samples 4 and 5 from t = 0.0145; the field
    with mask 1 on the group turns from sinking to lifting within a step (no event marks it), so each tier finds
    it at the step's end, names the previous check (where staying was still the only flow) and locates the lift
    on the step's dense output by bisection. The two tiers step differently (their steps end at 0.6032 and
    0.5969); their brackets must overlap, and lie within the steps (the reference locates the instant:
    test_a_pinned_group_lifted_within_a_step_vs_reference). Measured: float [0.58229144663220, 0.58229144675808]
    (stopped where the rate is within its bar), arb 0.582291446711395 to 17 digits."""
    obj, th, _, _ = repeated("sq", 62, 4)
    got = [_refusal(obj, th, T, dps) for T, dps in ((1.0, None), (Fraction(1), 30))]
    for msg, t, since, lift in got:
        assert "unit 1 of layer 1 on samples [4, 5] (one kink surface) is pinned" in msg and since is not None
        assert since < lift[0] <= lift[1] <= t
        assert lift[1] - lift[0] < 1e-9 * t
    (_, _, _, (fl, fh)), (_, _, _, (al, ah)) = got
    assert max(fl, al) <= min(fh, ah)


@pytest.mark.thorough
def test_a_pinned_group_lifted_within_a_step_vs_reference():
    """The instance of test_a_pinned_group_lifted_within_a_step against the independent reference
    (tests/relu_reference.py, 34 digits, ~2 min): along the reference's flow the group's rate under mask 1,
    b(t), changes sign inside both tiers' steps (previous check, refusal], its rate under mask α is 0 there
    (pinned), and its root lies in both tiers' located brackets. The rates are the reference's own stencil on its
    own gradient (relu_reference.zrates)."""
    from test_relu_flows import REF_DPS, mpq
    from test_relu_kink_paths import reference

    obj, th, X, Y = repeated("sq", 62, 4)
    got = [_refusal(obj, th, T, dps) for T, dps in ((1.0, None), (Fraction(1), 30))]
    net = R.Net(obj.widths, 0, False, X, Y)
    T_ref = Fraction(max(t for _, t, _, _ in got)).limit_denominator(10**6) + Fraction(1, 10**6)
    pieces, _ = reference(obj, th, net, T_ref)
    with mpmath.workdps(REF_DPS):
        def rates(t):
            p = R.at(pieces, t if isinstance(t, mpmath.mpf) else mpq(Fraction(t)))
            masks = net.pattern(p)
            masks[0][1][4] = masks[0][1][5] = 0
            a = R.zrates(net, p, masks)[0][1][4]
            masks[0][1][4] = masks[0][1][5] = 1
            return a, R.zrates(net, p, masks)[0][1][4]

        for _, t, since, _ in got:
            # (the previous check sits at another entry's crossing; just after it the pattern is the new one)
            a0, b0 = rates(since + 1e-9)
            a1, b1 = rates(t)
            print(f"step ({since:.10f}, {t:.10f}]: b {float(b0):.4g} → {float(b1):.4g}, a {float(a0):.2g}, {float(a1):.2g}")
            assert b0 < 0 < b1
            assert abs(a0) < 1e-25 and abs(a1) < 1e-25
        lo, hi = got[0][3]
        root = mpmath.findroot(lambda s: rates(s)[1], (mpmath.mpf(lo) - 1e-6, mpmath.mpf(hi) + 1e-6),
                               solver="anderson", tol=mpmath.mpf(10) ** -28)
        print(f"reference: b = 0 at t = {mpmath.nstr(root, 20)}; float {got[0][3]}, arb {got[1][3]}")
        for _, _, _, (lo, hi) in got:
            assert lo <= root <= hi


def test_two_pinned_surfaces_of_one_unit_are_checked_together(monkeypatch):
    """Square seed 9 of (3,5,5,5,2) (tests/test_float_simultaneous_kinks._sq9): from t = 0.1399 unit 4 of layer 3
    is pinned on samples 1, 2, 4 (one surface: their one active input is layer-2 unit 4) and on sample 0, a surface
    of its own — layer-2 unit 1 slides on that sample, so its input is parallel to the others' at that point only
    (kink_held.surface_blocks counts a sliding entry below as a unit on). Both tiers decide the two blocks together,
    every lift consistent with the linear model, and hold them (measured M = [[−17.5, −0.35], [−0.14, −0.10]], rows
    sample 0 and the group): the run goes on with the reference's events (test_an_entry_held_at_zero_by_a_zero_weight_is_pinned)."""
    import numerics.kink_held as kh
    from test_float_simultaneous_kinks import _sq9

    seen = []
    verdict = kh.held_verdict

    def spy(where, blocks, lifts, advice="", since=None):
        seen.append(([[c for c, _ in blk] for blk in blocks], [[r for r, *_ in rows] for _, rows in lifts]))
        return verdict(where, blocks, lifts, advice, since)

    monkeypatch.setattr(kh, "held_verdict", spy)
    obj, th, _, _ = _sq9()
    for T, dps in ((0.2, None), (Fraction(1, 5), 30)):
        seen.clear()
        numerics.gradient_flow(obj, th, T, dps=dps)
        two = [(b, rows) for b, rows in seen if len(b) == 2]
        assert two and all(b == [[0], [1, 2, 4]] for b, _ in two)
        for _, rows in two:  # (lifts: sample 0 alone, the group alone, both; every rate negative)
            assert all(r < 0 for row in rows for r in row)
            assert rows[2][0] == pytest.approx(rows[0][0] + rows[1][0], rel=1e-9)


def test_the_holds_of_a_pinned_entry_are_checked_against_the_error():
    """The hold of a pinned entry at every step's start (held_verdict on the computed state) is made again on the
    max-norm ball of radius e around that state (numerics.kink_margins; docs/theory.md E3, "Decisions within the
    run's error"): cross-entropy seed 99 up to t = 0.49, where unit 1 of layer 1 is pinned on sample 3 from
    t = 0.358 (six holds, its lift rate b < 0 until an event at 0.4953 sets it positive). The holds pass on the run's
    error and on any error up to ~1e-3, and are refused once the ball lets b reach 0 (by hand: e = 0.05)."""
    from numerics.kink_flows import _KinkFlow

    obj, th, _, _ = instance("ce", 99)
    flow = _KinkFlow(obj, th, 30, None)
    run = flow.run(Fraction(49, 100), None)
    assert [float(h[0]) for h in flow._holds][:1] == pytest.approx([0.35835687], abs=1e-6) and len(flow._holds) == 6
    assert flow.check_decisions(lambda t: 1e-30) == len(run.events)
    flow._decisions = []  # (the holds alone: at this error the kink decisions are refused first,
    flow._dips = []       # and so is a dip of 3.9e-3 at t = 0.0825: numerics.kink_dips,
    flow._exits = []      # and at 0.05 a sliding weight whose constraints degenerate on the ball: numerics.kink_exits)
    assert flow.check_decisions(lambda t: 1e-3) == 0
    with pytest.raises(UnsupportedKinkError, match=r"t = 0\.3583568719943.*unit 1 of layer 1: its pinned entries \[3\] are "
                                                   r"held on the computed state but not on every state within its error"):
        flow.check_decisions(lambda t: 0.05)
