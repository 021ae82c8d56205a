"""Derived uncertainties of the claims (issue 13, docs/theory.md): each error estimate is at least the
true error on a case where the truth is known, and not absurdly larger."""

import math

import pytest

from proofs_check.claims.euler import A4_ETAS, richardson_slope
from proofs_check.engine.claim import Measurement


@pytest.mark.parametrize("p,c,e", [(1.0, 9.0, 30.0), (1.0, -20.0, 100.0), (2.0, 5.0, -40.0), (1.0, 0.0, 0.0)])
def test_richardson_slope_error_covers_the_truth_and_is_tight(p, c, e):
    """d(η) = η^p(1 + cη + eη²): the extrapolated slope is within its error of p, and the error is
    within 1000× of the true deviation (or at rounding level when there is none)."""
    etas = [float(x) for x in A4_ETAS]
    ds = [x**p * (1 + c * x + e * x * x) for x in etas]
    r = richardson_slope(etas, ds, [1e-16] * 4)
    dev = abs(r["slope"] - p)
    assert dev <= r["err"]
    assert r["err"] <= max(1000 * dev, 1e-12)


def test_richardson_slope_refutes_a_wrong_order():
    """A method of order 1.05 (not 1) is refuted: the deviation exceeds the derived error by far."""
    etas = [float(x) for x in A4_ETAS]
    ds = [x**1.05 * (1 + 9 * x) for x in etas]
    r = richardson_slope(etas, ds, [1e-16] * 4)
    assert Measurement(1 + abs(r["slope"] - 1), 1.0, r["err"]).status(5e-2) == "violated"


def test_richardson_slope_of_a_pre_asymptotic_sequence_is_not_a_false_alarm():
    """The issue's case: distances whose coarse end is pre-asymptotic (local slope 1.09 at 1e-2) —
    here d = η(1 + 0.2/(1 + 1/(40η)))-like curvature — the extrapolant agrees within its error."""
    etas = [float(x) for x in A4_ETAS]
    ds = [x * math.exp(25 * x) for x in etas]  # local slopes 1.05 … 1.006
    r = richardson_slope(etas, ds, [1e-16] * 4)
    assert abs(r["slope"] - 1) <= r["err"]
    assert r["local_slopes"][0] > 1.04  # the naive fit would have been pre-asymptotic


def test_richardson_slope_refuses_bad_grids():
    with pytest.raises(ValueError):
        richardson_slope([1, 0.5, 0.25], [1, 0.5, 0.25], [0, 0, 0])
    with pytest.raises(ValueError):
        richardson_slope([1, 0.5, 0.2, 0.1], [1, 0.5, 0.2, 0.1], [0] * 4)


def test_d5_checks_theory_hb_modified_coefficient(monkeypatch):
    """D5's reference is built from theory.momentum.hb_modified_coefficient: a wrong coefficient in
    the theory function (halved) is caught by `gfgd check D5`."""
    from proofs_check import claims
    from theory import momentum as mo

    real = mo.hb_modified_coefficient
    monkeypatch.setattr(mo, "hb_modified_coefficient", lambda h, beta, dps=None: real(h, beta, dps) / 2)
    r = claims()["D5"].check(budget=2, seed=0)
    assert r.verdict == "violated", (r.verdict, r.worst_ratio)


def test_b6_with_n_minus_2_is_violated_not_a_crash():
    """The audit's mutation (N−1) → (N−2) made B6's measure raise a TypeError (zero bound for N = 2);
    now it is a violation with a counterexample."""
    import dataclasses

    from proofs_check import claims

    c = claims()["B6"]
    mutated = dataclasses.replace(c, measure=lambda inst: c.measure(inst, constant=len(inst[0]) - 3), options=())
    r = mutated.check(budget=3, seed=0)
    assert r.verdict == "violated" and r.counterexample and r.error is None


def _a2_reference_distance(obj, theta0, eta, K, flow_at):
    """max_k ‖θ_ref(kη) − θ_k‖₂ at 40 digits, θ_k the float64 GD iterates a2_measure compares with."""
    import mpmath
    import numpy as np

    import numerics

    gd = numerics.gradient_descent(obj, [np.asarray(w, dtype=float) for w in theta0], eta, K)
    with mpmath.workdps(40):
        worst = mpmath.mpf(0)
        for k in range(K + 1):
            ref = np.concatenate([np.asarray(w).reshape(-1) for w in flow_at(k)])
            it = obj.flatten(gd.thetas[k])
            worst = max(worst, mpmath.sqrt(mpmath.fsum((mpmath.mpf(a) - mpmath.mpf(float(b))) ** 2
                                                       for a, b in zip(ref, it))))
    return float(worst)


def test_a2_distance_is_within_its_error_of_independent_flows():
    """A2's measured distance (the float64 Taylor tier for a net, the 30-digit closed form for a quadratic)
    against the same GD iterates' distance to an independent flow: the arb tier at 30 digits for the net,
    the closed form at 50 digits for the quadratic. The difference is within the measurement's err, whose
    flow part (e_GF, derived: docs/theory.md#a2) is far below ε."""
    from fractions import Fraction

    import numpy as np

    import numerics
    import theory
    from proofs_check.claims.euler import a2_measure

    rng = np.random.default_rng(0)
    Phi = rng.standard_normal((2, 2))
    net = theory.Objective(theory.DeepLinear((2, 3, 2)), theory.WhitenedSquare(Phi / np.linalg.norm(Phi)))
    quad = theory.Quadratic(np.diag([0.3, 1.7]), np.array([0.5, -0.25]))
    for obj, th0 in ((net, numerics.gaussian_init(net, 0.5, seed=1)), (quad, [np.array([1.5, -2.0])])):
        m = a2_measure((obj, th0, 1.0, 1e-2))
        eta, K = m.details["eta_star"], m.details["K"]
        if isinstance(obj, theory.Quadratic):
            def at(k):
                return obj.gf(th0, Fraction(k * eta), dps=50)
        else:
            ref = numerics.gradient_flow(obj, th0, Fraction(K * eta), dps=30)
            assert ref.error_estimate < 1e-25

            def at(k):
                return ref.at(Fraction(k * eta))
        d_ref = _a2_reference_distance(obj, th0, eta, K, at)
        print(f"\nA2 {type(obj).__name__}: K = {K}, distance {m.lhs:.6e}, |Δ| {abs(m.lhs - d_ref):.1e}, "
              f"err {m.err:.1e}, e_GF {m.details['gf_error']:.1e}")
        assert abs(m.lhs - d_ref) <= m.err
        assert m.details["gf_error"] < 1e-10 * m.rhs


def test_b6_sample_errors_cover_an_independent_flow():
    """B6's per-sample errors (the float Taylor tier's bound carried to λ_min and to the bound's side,
    docs/theory.md#b6) against the same quantities on the arb tier's flow at 30 digits, at 9 sample times of
    an N = 3 instance (escape from ‖w(0)‖ = 10⁻², so λ_min < 0 along the way): |Δλ| ≤ λ_err plus both eighs'
    backward errors, |Δrhs| ≤ rhs_err plus the reference's own float64 rounding (the same γ-term)."""
    from fractions import Fraction

    import numpy as np

    import numerics
    from proofs_check.claims.curvature import b6_trajectory
    from theory import to_kind

    d = b6_trajectory((2, 2, 2, 1), 1e-2, 4)
    obj = d["obj"]
    N = obj.depth
    idx = list(range(0, len(d["ts"]), 75))
    ref = numerics.gradient_flow(obj, d["theta0"], Fraction(float(d["ts"][idx[-1]])), dps=30)
    assert ref.error_estimate < 1e-25
    Phi = obj.loss.Phi
    for i in idx:
        th = [to_kind(W, "float") for W in ref.at(Fraction(float(d["ts"][i])))]
        H = numerics.hessian(obj, th)
        lam = float(np.linalg.eigvalsh(H)[0])
        back = obj.num_params * np.finfo(float).eps * float(np.linalg.norm(H))
        assert abs(lam - d["lam"][i]) <= d["lam_err"][i] + d["back"][i] + back
        w = th[0]
        for M in th[1:]:
            w = M @ w
        rhs = (N - 1) * float(np.linalg.norm(w - Phi)) * float(np.linalg.norm(w)) ** (1 - 2 / N)
        assert abs(rhs - d["rhs"][i]) <= 2 * d["rhs_err"][i]
    assert min(d["lam"]) < -0.1 and d["lam_err"].max() < 1e-9
