"""The float tier's error estimate against the arb tier at 30 digits on three families of a soak (2026-12-06 and
-07; docs/theory.md F, "Measured tightness of the float tier", *Leaky biased nets*, *Digits subsets*, and "Dense
propagation", *Above 128 parameters*).

* ``leaky``: leaky ReLU (α = 1/5) with biases, widths (4, 6, 6, 3), 7 Gaussian samples;
* ``digits``: bias-free ReLU (8, 6, 6, 3) on 7 sklearn digits images and 8 of their pixels (/16; many exact
  zeros), images and pixels drawn by the generator;
* ``mid``: the same with widths (8, 12, 12, 3) on 10 images (276 parameters: above the former cut of 128 of the
  dense propagation);
* ``big``: the same with widths (12, 20, 20, 3) and 12 pixels (700 parameters; seeds 0..3, thorough only: ~15 min of
  CPU a case, mostly the arb run; also the instances of benchmarks/dense_propagation_cost.py);
* ``large``: the same with widths (16, 26, 26, 3) and 16 pixels (1,170 parameters, above the dense propagation's cut
  of 1024: the windows carry the error; T = 0.5, seeds 0..3, thorough only: ~10 min of CPU a case);

square loss or softmax cross-entropy, θ0 ~ N(0, 1), T = 1 (``large`` 0.5); generator seed 10,000 + seed, seeds 0..29 (0..9 for
``mid``; every seed: none chosen by its outcome). The true error is read in the 2-norm, the norm the
estimate bounds (tests/error_norms.py). Every case the tiers ran was honest; the first two families held the loosest
estimates seen (leaky: 9 of 60 above 1000× their true error, up to 1.9e5 in the max norm; digits: 3 of 58, up to
1.6e4): the bound multiplied saltation norms, and on these small nets with long steps the windows that would see the
stretches cancel did not close in time. Since the dense propagation of small nets' errors (2026-12-07) every case of
those is within 1000× (2-norm: leaky max 340, digits max 291; 272 and 247 with the stacked sliding entries); of ``mid``, whose windows were up to 2.3e4×, all
since the dense propagation reaches 512 parameters and takes sliding steps with entries stacked on one sample
(square 9 was 1,014× before that, 624× after). A case above 1000× goes to ``LOOSE`` as a strict xfail with its measured ratio. Where a tier
refuses, both must refuse at the same instant — or the float tier alone, with UnsupportedKinkError (it cannot decide
a kink within its error bar that the arb tier decides: mid square 5), the flow it carries up to there honest. A reference
that refuses for want of digits ("raise dps") is run again at 40: on large square 1 the arb tier at 30 digits met a
pinned unit's lift at t = 0.04884 and its own rerun at 40 digits a leave-sliding event first and the verdict (not
unique) at t = 0.0500358815185125 — where the float tier gives the same verdict.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import numerics
import theory
from numerics.kink_flows import NonUniqueFlowError, UnsupportedKinkError

from test_float_simultaneous_kinks import diff_mp

T = 1.0
T_FAMILY = {"large": 0.5}  # (the arb runs at 1,170 parameters: ~10 min of CPU each to 0.5)
# family: seeds (every one of the range: none chosen by its outcome)
# (``big`` was left out on 2026-12-07 while the arb tier's estimate on its square 0 was 3.0e-16, above 1/1000 of the
# float tier's true error: its passes were not recentred then and lost 13 of the 30 digits on a sliding stretch;
# recentred, 9.7e-31 to t = 0.53, docs/theory.md E3, "Recentring")
FAMILIES = {"leaky": range(30), "digits": range(30), "mid": range(10), "big": range(4), "large": range(4)}
# in the default profile: seed 0 of leaky and digits, digits square 14 (1.6e4× in the max norm before the dense
# propagation, 291× in the 2-norm since). mid cross-entropy 5 (1.6e4× in the 2-norm with the windows of nets above the
# former cut of 128 parameters, 84× with the set) ran there too until 2026-12-07, when the suite's time went past its
# budget: its ~80–90 s of CPU (mostly the arb run) now run in the thorough profile. At ci the set between 128 and 512
# parameters is still checked against the arb tier on the 170- and 193-parameter cases of
# tests/test_float_cross_entropy.py, and mid cross-entropy 5's set against its windows by
# tests/test_dense_propagation.py::test_the_set_carries_the_error_up_to_the_cut
DEFAULT = {("digits", "sq", 14)}
# estimate / true error (2-norm) measured by the soak, those above 1000× (strict xfails). The 12 of 2026-12-06
# (leaky square 3, 9, 11, 13, 14, 17, 28, 29 and cross-entropy 25, digits square 11, 14, 16, up to 1.9e5 in the max
# norm) are within it since the dense propagation (2026-12-07; the largest: leaky square 11, 340 in the 2-norm); mid
# square 9 (1,014×) since the dense factor of sliding steps with stacked entries (624×). big square 2 (2,120× against
# the recentred arb reference, 2026-12-07): the set's ball stretched by saltation matrices of norm up to 3.5 over its
# 88 events (docs/theory.md F, *Above 512 parameters*). large square 0, cross-entropy 0, 1, 3 (6.1e3×, 3.0e3×, 1.7e3×, 1.1e3×):
# the windows above the cut, whose sliding steps add the normal forcing and whose non-lone kinks multiply by ‖S‖
# (docs/theory.md F, *Above 1024 parameters*; propagation='set' takes them to 79×, 153×, 54×, 143× at 14–59× the time)
LOOSE: dict = {("big", "sq", 2): 2.1e3, ("large", "sq", 0): 6.1e3, ("large", "ce", 0): 3.0e3, ("large", "ce", 1): 1.7e3,
               ("large", "ce", 3): 1.1e3}
_runs: dict = {}


def instance(family: str, loss: str, seed: int):
    rng = np.random.default_rng(10_000 + seed)
    if family == "leaky":
        widths, n, alpha, bias = (4, 6, 6, 3), 7, Fraction(1, 5), True
        X = rng.standard_normal((n, widths[0]))
    else:
        widths, n, alpha, bias = {"digits": ((8, 6, 6, 3), 7, Fraction(0), False),
                                  "mid": ((8, 12, 12, 3), 10, Fraction(0), False),
                                  "big": ((12, 20, 20, 3), 10, Fraction(0), False),
                                  "large": ((16, 26, 26, 3), 10, Fraction(0), False)}[family]
        rng.standard_normal((n, widths[0]))  # (the soak's generator drew Gaussian inputs first)
        from sklearn.datasets import load_digits
        D = load_digits()
        rows, cols = rng.choice(len(D.target), n, replace=False), rng.choice(64, widths[0], replace=False)
        X = D.data[np.ix_(rows, cols)] / 16.0
    L = (theory.CrossEntropy(X, rng.integers(0, widths[-1], size=n)) if loss == "ce"
         else theory.SquareLoss(X, rng.standard_normal((n, widths[-1]))))
    obj = theory.Objective(theory.ReLUNet(widths, alpha, bias), L)
    return obj, [rng.standard_normal(s) for s in obj.shapes]


def _instant(e: Exception) -> float:
    return float(str(e).split(":")[0].split("=")[1])


def runs(family: str, loss: str, seed: int):
    """(float run, arb run, true error), or (float refusal, arb refusal, None) where a tier refuses."""
    key = (family, loss, seed)
    if key not in _runs:
        t_end = T_FAMILY.get(family, T)
        obj, th = instance(family, loss, seed)
        try:
            f = numerics.gradient_flow(obj, th, t_end, dps=None)
        except (UnsupportedKinkError, NonUniqueFlowError) as e:
            f = e
        for dps in (30, 40):  # (a reference that asks for more digits gets them: large square 1, below)
            try:
                r = numerics.gradient_flow(obj, th, Fraction(t_end), dps=dps)
            except NonUniqueFlowError as e:
                r = e
            except UnsupportedKinkError as e:
                r = e
                if "raise dps" in str(e):
                    continue
            break
        if isinstance(f, Exception) or isinstance(r, Exception):
            _runs[key] = (f, r, None)
        else:
            times = sorted(set(list(np.linspace(0, t_end, 9)) + f.times[1:8]))
            _runs[key] = (f, r, max(diff_mp(f.at(t), r.at(Fraction(t))) for t in times))
    return _runs[key]


def _params(loose_xfail: bool):
    out = []
    for family, seeds in FAMILIES.items():
        for seed in seeds:
            for loss in ("sq", "ce"):
                marks = [] if (seed == 0 and family in ("leaky", "digits")) or (family, loss, seed) in DEFAULT else [pytest.mark.thorough]
                # both tests of an instance on one xdist worker, so that its runs (``_runs``) are computed once
                marks.append(pytest.mark.xdist_group(f"soak-{family}-{loss}-{seed}"))
                if loose_xfail and (family, loss, seed) in LOOSE:
                    marks.append(pytest.mark.xfail(strict=True, reason=f"estimate/true ≈ {LOOSE[(family, loss, seed)]:.2g}: "
                                                                        "measured by the soak"))
                out.append(pytest.param(family, loss, seed, marks=marks))
    return out


@pytest.mark.parametrize("family,loss,seed", _params(False))
def test_float_estimate_honest(family, loss, seed, record_property):
    f, r, true = runs(family, loss, seed)
    if isinstance(f, UnsupportedKinkError) and not isinstance(r, Exception):
        # the float tier cannot decide a kink the arb tier decides (mid square 5: rates within its error bar at
        # t = 0.907): allowed, as a refusal; its run up to just before that instant must be honest
        obj, th = instance(family, loss, seed)
        part = numerics.gradient_flow(obj, th, 0.99 * _instant(f), dps=None)
        times = sorted(set(np.linspace(0, part.t_end, 5).tolist() + part.times[1:8]))
        got = max(diff_mp(part.at(t), r.at(Fraction(t))) for t in times)
        assert [e.key() for e in part.events] == [e.key() for e in r.events][:len(part.events)]
        assert got <= part.error_estimate, (got, part.error_estimate)
        return
    if true is None:  # a refusal: both tiers, at one instant
        assert isinstance(f, Exception) and type(f) is type(r), (f, r)
        assert abs(_instant(f) - _instant(r)) <= 1e-12
        return
    assert [e.key() for e in f.events] == [e.key() for e in r.events]
    assert r.error_estimate <= true / 1000  # the reference's own error does not blur the comparison
    record_property("tightness", float(f.error_estimate / true))
    print(f"\n{family} {loss} {seed}: {len(f.events)} events, |float − arb30| = {true:.3g}, estimate {f.error_estimate:.3g}, "
          f"ratio {f.error_estimate / true:.3g}")
    assert f.error_estimate >= true


@pytest.mark.parametrize("family,loss,seed", _params(True))
def test_float_estimate_within_1000x(family, loss, seed):
    f, r, true = runs(family, loss, seed)
    if true is None:
        pytest.skip("a tier refuses this instance (test_float_estimate_honest checks the refusal)")
    assert f.error_estimate <= 1000 * true
