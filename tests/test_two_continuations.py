"""Two consistent modes with different fields: the Filippov continuation branches, and both tiers stop
(docs/theory.md E1, "Consistent active sets", *Two ways to continue*; numerics.active_sets.unique_field). Where the
arb tier proves two of the modes strict (their exact weights enclosed inside (α, 1) — by an exact Newton step in one
layer, Krawczyk's test across layers —, the left entries' rates of certain sign) it raises NonUniqueFlowError,
confirmed by its rerun at dps + 10 ("Certified branches"); the float tier, whose weights carry no bars, refuses
(UnsupportedKinkError). All four instances here are certified by the arb tier.

Cross-entropy seed 35 of the (3, 5, 5, 5, 2) soak family (tests/test_float_simultaneous_kinks.instance): layer-2
unit 0 slides on sample 0 from t = 0.05830. At t = 0.246997 layer-3 unit 4 on the same sample crosses down to mask
0, and with that mask the layer-2 entry's surface is repelling (−∂ż/∂μ = −2.6: one entry, |K| = 1): its rate is
negative under mask 0 and positive under mask 1, so it can slide on, leave down or leave up. Searches of one entry
were not checked until the certificate of *One mode for certain* made them cheap; both tiers then ran on along the
sliding branch. On that branch, at t* = 0.62217, layer-3 unit 4 on sample 3 enters sliding and makes the layer-2
entry's surface repelling again (|K| = 2, two layers) — the instance the check was first built on; it is kept
here with searches of one entry left unchecked (``single_entry_trials_off``, the code as it was then). The float
tier refuses it; the arb tier certifies it: the mode taken spans two layers, but the two others — the layer-2 entry
left to α or to 1, the layer-3 entry sliding alone — are each strict for certain, with different fields.

Square seed 36 of the leaky (α = −1/2) (3, 6, 6, 2) family: two sliding entries of one layer-1 unit (samples 1 and
2) have three consistent modes in a kink's candidate field — which does not decide the kink (its rate has one sign
in all three) and is not the outcome —, and the outcome's own modes branch (the kinking entry joins the pair); the
independent reference of the tests refuses it as well (three consistent modes for a candidate).

The premises of cross-entropy 35 are checked without the tiers' tape: the cross-entropy of the net with its masks
fixed, written with mpmath at 60 digits (tests/test_weightless_sliding._masked_ce), differentiated by central
differences, at the arb state just before each branch point.
"""

from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np
import pytest

import numerics
import theory
from numerics.kink_events import NonUniqueFlowError, UnsupportedKinkError

from test_float_simultaneous_kinks import instance
from test_weightless_sliding import _masked_ce

WIDTHS = (3, 5, 5, 5, 2)


@pytest.fixture
def single_entry_trials_off(monkeypatch):
    """numerics.active_sets as before searches of one entry were checked (2026-12-06, early): unique_field does
    nothing where |K| = 1."""
    import numerics.active_sets as AS

    orig = AS.unique_field
    monkeypatch.setattr(AS, "unique_field", lambda ops, K, *a, **k: None if len(K) == 1 else orig(ops, K, *a, **k))


def _stopped_by_both(obj, th, lo: float, hi: float, certified: bool = False) -> list[str]:
    """Both tiers (float, arb at 30 digits) to T = 1 stop with three consistent modes, at the same instant (to 1e-12)
    inside (lo, hi): the float tier refuses; the arb tier refuses too, or with ``certified`` raises
    NonUniqueFlowError confirmed by its rerun at 40 digits. Their messages."""
    msgs, times = [], []
    for dps in (None, 30):
        kind = NonUniqueFlowError if certified and dps else UnsupportedKinkError
        with pytest.raises(kind, match="3 consistent modes with different fields") as e:
            numerics.gradient_flow(obj, th, 1.0 if dps is None else Fraction(1), dps=dps)
        if kind is NonUniqueFlowError:
            assert "for certain" in str(e.value) and "confirmed by the rerun at 40 digits" in str(e.value)
        msgs.append(str(e.value))
        times.append(float(msgs[-1].split(":")[0].removeprefix("t = ")))
    assert abs(times[0] - times[1]) <= 1e-12 and lo < times[0] < hi
    return msgs


def test_one_entry_whose_surface_a_crossing_makes_repelling_is_certified_by_the_arb_tier_refused_by_the_float():
    obj, th, _, _ = instance("ce", 35, widths=WIDTHS)
    for msg in _stopped_by_both(obj, th, 0.246996, 0.246998, certified=True):
        assert "candidate field of unit 4 of layer 3 on sample 0 at its kink with mask α" in msg
        assert "unit 0 of layer 2 on sample 0 left to α" in msg and "unit 0 of layer 2 on sample 0 left to 1" in msg


def test_the_layer_2_entry_can_slide_leave_down_or_leave_up_after_the_crossing():
    """At the arb state at t = 0.2469 (the crossing is ~1e-4 later; the layer-3 entry's z is 0.009 there), with the
    layer-3 entry at mask 0 as after the crossing: the layer-2 entry's rate is negative with mask 0 and positive
    with mask 1 (one entry: its rate is affine in its weight, so it is 0 at a weight inside (0, 1) — sliding — and
    leaving down and up are consistent too), and the fields differ."""
    obj, th, X, _ = instance("ce", 35, widths=WIDTHS)
    labels = [int(c) for c in obj.loss.labels]
    T = Fraction(2469, 10**4)
    r = numerics.gradient_flow(obj, th, T, dps=30)
    assert len(r.events) == 4  # (the fifth, layer-3 unit 4 on sample 0 crossing, is at 0.246997 > T)
    with mpmath.workdps(60):
        Ws, masks = _state_masks(r.at(T), X, {(1, 0, 0): 1e-25, (2, 4, 0): 0.02})
        masks[2][4][0] = 0  # after the crossing
        h = mpmath.mpf(2) ** -70
        rates, fields = [], []
        for mu in (0, 1):
            m = [[list(row) for row in M] for M in masks]
            m[1][0][0] = mu
            gf = _grad(lambda V: _masked_ce(V, X, labels, m), Ws, h)
            gz = _grad(lambda V: _preact(V, X, m, 2, 0, 0), Ws, h)
            rates.append(-mpmath.fsum(x * y for x, y in zip(gz, gf)))
            fields.append(gf)
        print(f"\nce 35 after the crossing at 0.247: the layer-2 entry's rate {mpmath.nstr(rates[0], 6)} with mask 0, "
              f"{mpmath.nstr(rates[1], 6)} with mask 1")
        assert rates[0] < -0.01 and rates[1] > 0.01
        assert max(abs(x - y) for x, y in zip(*fields)) > 0.01


def _state_masks(W, X, near_zero):
    """The weights as 60-digit mpf rows and the masks of the state by the sign of z, layer by layer; the entries of
    ``near_zero`` ((layer index, unit, sample) ↦ bound) are checked to lie within their bound of 0."""
    Ws = [[[mpmath.mpf(x) for x in row] for row in np.asarray(V, dtype=object).tolist()] for V in W]
    n, masks = len(X), []
    a = [[mpmath.mpf(v) for v in X[i]] for i in range(n)]
    for l in range(len(Ws) - 1):
        Z = [[mpmath.fsum(Ws[l][v][q] * a[i][q] for q in range(len(a[i]))) for i in range(n)]
             for v in range(len(Ws[l]))]
        masks.append([[1 if Z[v][i] > 0 else 0 for i in range(n)] for v in range(len(Ws[l]))])
        for (ll, v, i), bound in near_zero.items():
            if ll == l:
                assert abs(Z[v][i]) < bound, (l, v, i, Z[v][i])
        a = [[masks[l][v][i] * Z[v][i] for v in range(len(Ws[l]))] for i in range(n)]
    return Ws, masks


@pytest.mark.usefixtures("single_entry_trials_off")
def test_a_repelling_surface_met_while_sliding_is_certified_by_the_arb_tier_refused_by_the_float():
    obj, th, _, _ = instance("ce", 35, widths=WIDTHS)
    for msg in _stopped_by_both(obj, th, 0.62216, 0.62217, certified=True):
        assert "unit 0 of layer 2 on sample 0 left to α" in msg and "unit 0 of layer 2 on sample 0 left to 1" in msg


def _grad(fun, Ws, h):
    """Central differences of fun over every weight (lists of rows)."""
    out = []
    for l, W in enumerate(Ws):
        for u, row in enumerate(W):
            for q in range(len(row)):
                Wp = [[list(r) for r in V] for V in Ws]
                Wm = [[list(r) for r in V] for V in Ws]
                Wp[l][u][q] += h
                Wm[l][u][q] -= h
                out.append((fun(Wp) - fun(Wm)) / (2 * h))
    return out


def _preact(Ws, X, masks, layer, u, i):
    """z_layer[u, i] (layer 1-based) of the net with fixed masks."""
    a = [mpmath.mpf(v) for v in X[i]]
    for l in range(layer):
        z = [mpmath.fsum(Ws[l][v][q] * a[q] for q in range(len(a))) for v in range(len(Ws[l]))]
        a = [masks[l][v][i] * z[v] for v in range(len(z))]
    return z[u]


@pytest.mark.usefixtures("single_entry_trials_off")
def test_the_layer_2_entry_can_slide_leave_down_or_leave_up():
    """At the arb state at t = 0.622166, with layer-3 unit 4 on sample 3 held at the weight μ_b that makes its rate 0
    (found here by findroot), layer-2 unit 0 on sample 0 has a negative rate with mask 0 and a positive one with mask 1:
    leaving down and leaving up are both consistent (and, the rate being continuous in its weight, so is sliding at a
    weight between), μ_b lies in (0, 1) in each, and the fields differ."""
    obj, th, X, _ = instance("ce", 35, widths=WIDTHS)
    labels = [int(c) for c in obj.loss.labels]
    T = Fraction(622166, 10**6)
    r = numerics.gradient_flow(obj, th, T, dps=30)
    assert len(r.events) == 7  # (the eighth, layer-3 unit 4 entering sliding, is at t* > T)
    with mpmath.workdps(60):
        Ws = [[[mpmath.mpf(x) for x in row] for row in np.asarray(W, dtype=object).tolist()] for W in r.at(T)]
        masks, a = [], [[mpmath.mpf(v) for v in X[i]] for i in range(5)]
        for l in range(3):  # the masks of the state, by sign of z, layer by layer
            Z = [[mpmath.fsum(Ws[l][v][q] * a[i][q] for q in range(len(a[i]))) for i in range(5)] for v in range(5)]
            masks.append([[1 if Z[v][i] > 0 else 0 for i in range(5)] for v in range(5)])
            if l == 1:
                assert abs(Z[0][0]) < 1e-25  # layer-2 unit 0 on sample 0 slides (z held at 0)
            if l == 2:
                assert 0 < abs(Z[4][3]) < 1e-5  # layer-3 unit 4 on sample 3 reaches its kink just after T
            a = [[masks[l][v][i] * Z[v][i] for v in range(5)] for i in range(5)]
        h = mpmath.mpf(2) ** -70

        def rate(mu_a, mu_b, layer, u, i):
            m = [[list(row) for row in M] for M in masks]
            m[1][0][0], m[2][4][3] = mu_a, mu_b
            gf = _grad(lambda V: _masked_ce(V, X, labels, m), Ws, h)
            gz = _grad(lambda V: _preact(V, X, m, layer, u, i), Ws, h)
            return -mpmath.fsum(x * y for x, y in zip(gz, gf)), gf

        fields = []
        for mu_a in (mpmath.mpf(0), mpmath.mpf(1)):  # the layer-2 entry left to α (= 0) and to 1
            mu_b = mpmath.findroot(lambda m: rate(mu_a, m, 3, 4, 3)[0], mpmath.mpf("0.48"), tol=mpmath.mpf(10) ** -40)
            assert 0 < mu_b < 1
            za, gf = rate(mu_a, mu_b, 2, 0, 0)
            assert (za < -0.04) if mu_a == 0 else (za > 1.5)  # moves off to the side it left to: consistent
            print(f"\nce 35, layer-2 entry left to {int(mu_a)}: its rate {mpmath.nstr(za, 6)}, layer-3 weight μ_b = "
                  f"{mpmath.nstr(mu_b, 8)}")
            fields.append(gf)
        assert max(abs(x - y) for x, y in zip(*fields)) > 0.1


def _neg(seed: int, loss: str = "sq"):
    """Seed ``seed`` of the leaky (α = −1/2) bias-free (3, 6, 6, 2) soak family (docs/theory.md F, "Other
    generators"): the data and weights drawn as tests/test_float_simultaneous_kinks.instance draws them."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((5, 3))
    if loss == "ce":
        Y, L = None, theory.CrossEntropy(X, rng.integers(0, 2, size=5))
    else:
        Y = rng.standard_normal((5, 2))
        L = theory.SquareLoss(X, Y)
    obj = theory.Objective(theory.ReLUNet((3, 6, 6, 2), Fraction(-1, 2)), L)
    return obj, [rng.standard_normal(s) for s in obj.shapes], X, Y


def _neg36():
    return _neg(36)


def test_two_entries_of_one_layer_1_unit_whose_modes_branch_are_certified_by_the_arb_tier_refused_by_the_float():
    """Layer-1 unit 3 slides on samples 2 (from t = 0.04627) and 1 (from 0.06375) when, at t = 0.063827, layer-2 unit 1
    reaches its kink on sample 1. In that kink's candidate field with mask α the two sliding entries have three
    consistent modes (both slide; sample 1's entry leaves to α or to 1, ż = −0.455 and +0.694), but the kinking
    entry's rate there has one sign in all three (+0.062, +0.385, +1.048), and the outcome is not that field: the
    entry enters sliding. The outcome's own search — the layer-2 entry joining the sliding pair — has three modes
    again, and both tiers refuse there (until the candidates' modes were judged by the decision, 2026-12-06, later,
    the refusal came at the candidate). The soak found it; until the check both tiers ran through, with the same
    events. The outcome's modes span layers 1 and 2 (ż multi-affine in their weights, not affine): the arb tier encloses
    their exact weights by Krawczyk's test, certifies the branch and its rerun confirms it; the float tier refuses."""
    obj, th, _, _ = _neg36()
    for msg in _stopped_by_both(obj, th, 0.063826, 0.063828, certified=True):
        assert "candidate field" not in msg
        assert "unit 1 of layer 2 on sample 1 slides (taken)" in msg
        assert "unit 3 of layer 1 on sample 1 left to α" in msg and "unit 3 of layer 1 on sample 1 left to 1" in msg


def test_the_certified_weights_hold_the_references_roots(monkeypatch):
    """Square 36 again: every enclosure of the exact sliding weights the arb tier's certificate makes on its way to
    the verdict (numerics.kink_modes._ArbModes._weights_enclosure — Krawczyk's test where the entries span two
    layers, the exact Newton step in one) holds the weights the reference of the tests solves at 50 digits
    (tests/relu_reference._solve_sliding: an affine fit polished by findroot on the system itself, written apart
    from the tier) at the same state and masks; and the balls are narrow (≤ 1e-30), so the check says something."""
    import numerics.kink_modes as KM
    import relu_reference as R

    obj, th, X, Y = _neg36()
    got = []
    orig = KM._ArbModes._weights_enclosure

    def spy(self, S, kept):
        out = orig(self, S, kept)
        f = self.f
        if out is not None and f.dps == 30:  # (the run's; its rerun at 40 digits makes its own)
            n = f.masks[0].cols
            got.append(([(j, idx // n, idx % n) for j, idx in S], out,
                         [[int(m.side[k]) for k in range(m.rows * m.cols)] for m in f.masks],
                         [x.mid() for a in self.y for x in a.entries()]))
        return out

    monkeypatch.setattr(KM._ArbModes, "_weights_enclosure", spy)
    with pytest.raises(NonUniqueFlowError):
        numerics.gradient_flow(obj, th, Fraction(1), dps=30)
    assert {len({j for j, _, _ in S}) for S, *_ in got} == {1, 2}  # both kinds of enclosure were made
    with mpmath.workdps(50):
        net = R.Net((3, 6, 6, 2), mpmath.mpf(-1) / 2, False, X, Y)
        for S, balls, sides, state in got:
            p = [mpmath.mpf((int(m), int(e))) if m else mpmath.mpf(0) for m, e in (x.man_exp() for x in state)]
            masks = [[[1 if sides[j][u * len(X) + i] > 0 else 0 for i in range(len(X))] for u in range(6)]
                     for j in range(2)]
            lam, _ = R._solve_sliding(net, p, masks, S)
            for l, b in zip(lam, balls):
                mu = net.alpha + l * (1 - net.alpha)
                man, e = b.mid().man_exp()
                assert abs(mu - mpmath.mpf((int(man), int(e)))) <= mpmath.mpf(float(b.rad())) * (1 + 2.0**-50), (S, mu, b)
                assert float(b.rad()) <= 1e-30


@pytest.mark.thorough
def test_the_reference_finds_the_same_three_modes():
    """The reference of the tests (tests/relu_reference.py: all 3^|S| modes tried, exactly one consistent required,
    its own rates and weights at 34 digits) refuses the same instance before t = 0.07: three consistent modes
    (~2 min)."""
    import relu_reference as R

    obj, th, X, Y = _neg36()
    with mpmath.workdps(34):
        net = R.Net((3, 6, 6, 2), mpmath.mpf(-1) / 2, False, X, Y)
        p0 = [mpmath.mpf(float(x)) for w in th for x in np.asarray(w).ravel()]
        with pytest.raises(RuntimeError, match="3 consistent modes"):
            R.flow(net, p0, mpmath.mpf("0.07"), dps=34)


@pytest.mark.thorough
def test_the_reference_runs_square_65_through_its_candidate_as_the_tiers_do():
    """The reference of the tests with the candidates' rule of its own (tests/relu_reference.flow: a candidate field
    with several consistent modes refused only where the entry's rate changes sign between them or the flow goes on
    in that field) runs square 65 of the α = −1/2 family past t = 0.0550549, where a candidate's three modes do not
    matter and the entry enters sliding, to T = 0.07: the arb tier's six events and its state within its estimate
    (measured 2026-12-06: |reference − arb| 7.9e-33, estimate 5.7e-31; ~16 min of CPU at 34 digits)."""
    import relu_reference as R

    obj, th, X, Y = _neg(65)
    T = Fraction(7, 100)
    with mpmath.workdps(34):
        net = R.Net((3, 6, 6, 2), mpmath.mpf(-1) / 2, False, X, Y)
        pieces, events = R.flow(net, list(obj.flatten(th)), mpmath.mpf(7) / 100, dps=34)
        r = numerics.gradient_flow(obj, th, T, dps=30)
        assert [(kind, layer, i, u) for _, kind, layer, i, u in events] == \
            [(e.kind, e.layer, e.sample, e.unit) for e in r.events]
        assert max(abs(float(a) - float(e.t)) for (a, *_), e in zip(events, r.events)) <= 1e-20
        assert any(e.kind == "enter sliding" and abs(float(e.t) - 0.0550549) < 1e-7 for e in r.events)
        diff = max(abs(x - y) for x, y in zip(R.at(pieces, mpmath.mpf(7) / 100), obj.flatten(r.at(T))))
        assert diff <= r.error_estimate + mpmath.mpf(10) ** -30  # (the reference's own error at 34 digits)


@pytest.mark.parametrize("seed, t_was, T", [(65, 0.0550549, 1), (79, 0.4248742, Fraction(1, 2))])
def test_a_candidates_other_modes_that_do_not_decide_the_kink_are_not_refused(seed, t_was, T):
    """Square 65 and 79 of the α = −1/2 family: at t_was a kink's candidate field with mask α has three consistent
    modes of the entries sliding, the kinking entry's rate has one sign in all three, and the entry enters sliding
    (its own mode search is checked and has one mode): refused as a candidate's branching until the decision judged
    the candidates' modes (docs/theory.md E1, *Two ways to continue*, "Candidates"), now run past it by both tiers
    (to T = 1; square 79 to T = 1/2, 0.075 past its kink, ~12 s instead of ~35 s), with the same events (an
    enter-sliding event at t_was), |float − arb30| ≤ 1e-12 and an honest estimate."""
    obj, th, _, _ = _neg(seed)
    f = numerics.gradient_flow(obj, th, float(T), dps=None)
    r = numerics.gradient_flow(obj, th, Fraction(T), dps=30)
    assert [e.key() for e in f.events] == [e.key() for e in r.events]
    assert any(e.kind == "enter sliding" and abs(float(e.t) - t_was) < 1e-7 for e in f.events)
    assert max(abs(float(a.t) - float(b.t)) for a, b in zip(f.events, r.events)) <= 1e-12
    times = sorted(set(list(np.linspace(0, float(T), 9)) + f.times[1:8]))
    with mpmath.workdps(40):
        true = max(float(abs(mpmath.mpf(float(x)) - y)) for t in times
                   for A, B in zip(f.at(t), r.at(Fraction(t))) for x, y in zip(np.asarray(A).flat, B.flat))
    assert true <= 1e-12 and f.error_estimate >= true


def test_a_crossing_into_a_candidate_with_other_modes_is_certified_by_the_arb_tier_refused_by_the_float():
    """Cross-entropy 76 of the α = −1/2 family: at t = 0.2431854 layer-2 unit 1 on sample 1 crosses down (its rate
    −2.96 in the mask-α candidate under each of its three modes), into the field where layer-1 unit 1 on the same
    sample, sliding, can slide on or leave to either side: the flow goes on in that field, so it branches there —
    certified by the arb tier (one sliding entry: its weight's ball inside (α, 1), the two leaving rates' signs
    certain) and confirmed by its rerun."""
    obj, th, _, _ = _neg(76, "ce")
    for msg in _stopped_by_both(obj, th, 0.2431853, 0.2431855, certified=True):
        assert "candidate field of unit 1 of layer 2 on sample 1 at its kink with mask α" in msg
        assert "unit 1 of layer 1 on sample 1 left to α" in msg and "unit 1 of layer 1 on sample 1 left to 1" in msg
