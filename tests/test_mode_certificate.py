"""The certificate that the consistent mode found at a simultaneous kink is the only one
(numerics.active_sets.p_certified; docs/theory.md E1, *One mode for certain*), on the tiers' own matrices.

Where every entry of K lies in one layer, ż_K = c + Aμ is affine in the weights and the box inequality has one
solution when M = −A is a P-matrix; each tier then gives settle the matrix (``Modes.jacobian``) and the trials of
numerics.active_sets.unique_field are skipped. Checked here against things computed otherwise: the float tier's
balls against the arb tier's matrix at 30 digits at the same searches; the certificate against the trials it
replaces (the same run with the certificate off: the trials run, find no second mode, and the outcome is the
same to the last bit); and, at research scale, that searches with more entries than the trials take
(VERIFY_MAX) are certified, not counted unverified. Instances: ce 16 and 18 of
tests/test_float_simultaneous_kinks.py (one-layer searches with |K| = 2, 3), the ec21 report's 64-50-50-10 ReLU
net with cross-entropy on 20 images (|K| up to 7)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import numerics
import numerics.active_sets as AS
from numerics.float_sliding import _FloatModes
from numerics.kink_modes import _ArbModes

from test_float_simultaneous_kinks import N, instance


def spy(monkeypatch) -> list:
    """Record (tier, t, K, M, certified) at every search where a tier is asked for its matrix."""
    rec: list = []
    for cls, tier in ((_FloatModes, "float"), (_ArbModes, "arb")):
        orig = cls.jacobian

        def jac(self, K, orig=orig, tier=tier):
            M = orig(self, K)
            rec.append((tier, float(getattr(self.f, "_clock", np.nan)), list(K), M, AS.p_certified(M)))
            return M

        monkeypatch.setattr(cls, "jacobian", jac)
    return rec


def test_the_float_tiers_balls_hold_the_arb_tiers_matrix(monkeypatch):
    """At each search where the float tier gives a matrix (ce 18 to T = 0.8: |K| = 1, 2 and 3, all certified),
    the arb tier at 30 digits makes the same search (same K, same instant to 1e-9) with a matrix whose balls
    (radius ~1e-30) overlap the float tier's entry by entry — the float radii (the rates' rounding model) hold
    the error — and the float radii stay useful: ≤ 1e-9 of the matrix's largest entry (measured ~2e-11 relative,
    the error ~1e-2 of the radius). Both tiers certify the same searches."""
    rec = spy(monkeypatch)
    obj, th, _, _ = instance("ce", 18)
    numerics.gradient_flow(obj, th, 0.8, dps=None)
    numerics.gradient_flow(obj, th, Fraction(8, 10), dps=30)
    fl = [r for r in rec if r[0] == "float" and r[3] is not None]
    ar = [r for r in rec if r[0] == "arb" and r[3] is not None]
    assert len(fl) >= 8 and max(len(r[2]) for r in fl) == 3
    # at one instant the same K is searched in each candidate field and in the outcome, in the same order in both
    # tiers (the arb tier's rerun at 40 digits comes after its run): the n-th float search of (t, K) against the
    # n-th arb search of it
    seen: dict = {}
    for _, t, K, M, ok in fl:
        Ka = [(j, u * N + i) for j, u, i in K]
        same = [r for r in ar if r[2] == Ka and abs(r[1] - t) <= 1e-9]
        nth = seen[(round(t, 9), tuple(K))] = seen.get((round(t, 9), tuple(K)), -1) + 1
        assert len(same) > nth, (t, K)
        Ma, ok_a = same[nth][3], same[nth][4]
        assert ok == ok_a
        n = len(K)
        scale = max(abs(float(M[r, s].mid())) for r in range(n) for s in range(n))
        for r in range(n):
            for s in range(n):
                assert Ma[r, s].overlaps(M[r, s]), (t, K, r, s, Ma[r, s], M[r, s])
                assert float(M[r, s].rad()) <= 1e-9 * scale
                assert float(Ma[r, s].rad()) <= 1e-25 * scale


def run_keys(tr) -> list:
    return [(e.key(), float(e.t)) for e in tr.events]


# (seed 16, ~34 s: thorough; seed 18, ~16 s, in the default profile)
@pytest.mark.parametrize("seed, T", [pytest.param(16, 0.6, marks=pytest.mark.thorough), (18, 0.8)])
def test_the_certificate_skips_only_trials_that_find_nothing(monkeypatch, seed, T):
    """Both tiers with the certificate and without it (p_certified → False: every search with 2 ≤ |K| ≤ VERIFY_MAX
    runs the trials of unique_field): the same events at the same instants and the same estimate, to the last
    bit — the trials find no second mode where the certificate said there is none, and the certificate leaves
    the mode found and its weights as they were."""
    rec = spy(monkeypatch)
    obj, th, _, _ = instance("ce", seed)
    on = [numerics.gradient_flow(obj, th, T, dps=None), numerics.gradient_flow(obj, th, Fraction(T), dps=30)]
    assert sum(1 for r in rec if r[4]) >= 3  # certified searches, in both tiers
    monkeypatch.setattr(AS, "p_certified", lambda M: False)
    off = [numerics.gradient_flow(obj, th, T, dps=None), numerics.gradient_flow(obj, th, Fraction(T), dps=30)]
    for a, b in zip(on, off):
        assert run_keys(a) == run_keys(b)
        assert a.error_estimate == b.error_estimate  # (the same floats or arb balls: nothing else differs)
        assert a.modes_unverified == b.modes_unverified == 0


def _digits_run(T: float):
    from threadpoolctl import threadpool_limits

    from numerics.float_taylor import float_gradient_flow
    from proofs_check.reports.ec21 import build

    with threadpool_limits(1):
        obj, th, _ = build(dict(n=20, seed=0, widths=(64, 50, 50, 10), net="relu", bias=False, loss="cross_entropy"))
        return float_gradient_flow(obj, [np.asarray(w, float) for w in th], T)


def test_research_scale_searches_above_verify_max_are_certified(monkeypatch):
    """64-50-50-10 on 20 sklearn digits images, cross-entropy, float tier to t = 0.39 (~10 s): the mode searches with
    more entries than VERIFY_MAX (53 of 191 with |K| = 5 … 7, all in one layer) are certified, so none is taken
    untried (``modes_unverified`` was 53 before the certificate); every search that gives a matrix is certified."""
    rec = spy(monkeypatch)
    tr = _digits_run(0.39)
    sizes = [len(r[2]) for r in rec if r[4]]
    assert max(sizes) > AS.VERIFY_MAX
    assert all(r[4] for r in rec if r[3] is not None)
    assert tr.modes_unverified == 0


@pytest.mark.thorough
def test_research_scale_outcome_is_the_trials_outcome(monkeypatch):
    """The run above with the certificate off (~20 s): the searches up to VERIFY_MAX run the trials, the larger ones
    are counted unverified, and the events, instants and estimate are the same to the last bit."""
    on = _digits_run(0.39)
    monkeypatch.setattr(AS, "p_certified", lambda M: False)
    off = _digits_run(0.39)
    assert run_keys(on) == run_keys(off)
    assert on.error_estimate == off.error_estimate
    assert on.modes_unverified == 0 < off.modes_unverified
