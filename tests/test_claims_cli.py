"""The claims engine on B1/B3/B4, mutation sanity, and the gfgd CLI."""

import json

import pytest

from proofs_check import claims
from proofs_check.cli import main


def test_registry_has_labels_and_metadata():
    reg = claims()
    for label in ("B1", "B3", "B4"):
        c = reg[label]
        assert c.source and c.status in ("paper", "derived", "conjecture") and c.tolerance


def test_b1_holds_and_is_tight_at_the_equality_case():
    r = claims()["B1"].check(budget=8, seed=0)
    # the equality case lhs = rhs is resolved to the certified width: "holds within error" (issue 13)
    assert r.verdict == "holds within error", r.counterexample
    assert r.counts.get("holds within error", 0) >= 1
    # the family includes N = 2 at θ = 0 where −λ_min = ‖Φ‖₂ = rhs exactly: worst ratio is 1
    # up to the certified interval width (1e-12) relative to ‖Φ‖₂ ≥ 1/3
    assert abs(r.worst_ratio - 1.0) <= 1e-11


def test_b1_with_a_wrong_constant_is_violated_with_a_counterexample():
    """Mutation sanity (issue acceptance): (N−1) replaced by (N−1)/4."""
    from fractions import Fraction

    r = claims()["B1"].check(budget=4, seed=0, constant=Fraction(1, 4))
    assert r.verdict == "violated"
    assert r.counterexample and r.counterexample["ratio"] > 1


@pytest.mark.parametrize("label,option,value", [("B2", "constant", 0.25), ("B4", "exponent", 1),
                                                ("B5", "power", 2), ("A1", "local_factor", 0.25),
                                                ("A2", "factor", 100), ("A3", "constant", 0.25)])
def test_mutated_claims_are_violated_and_replay(label, option, value):
    """Mutation sanity for every checkable constant: a wrong one is caught, with a counterexample
    that replays to a violation from its JSON alone."""
    from fractions import Fraction

    c = claims()[label]
    v = Fraction(1, 4) if value == 0.25 and label == "B2" else value
    assert c.check(budget=6, seed=0).verdict in ("holds", "holds within error")
    r = c.check(budget=6, seed=0, **{option: v})
    assert r.verdict == "violated" and r.counterexample
    replayed = c.replay(json.loads(json.dumps(r.counterexample)), **{option: v})
    assert replayed.status(c.resolution) == "violated"


def test_unknown_claim_option_is_refused():
    with pytest.raises(TypeError, match="takes options"):
        claims()["B3"].check(budget=1, constant=2)


def test_b3_identity_holds():
    assert claims()["B3"].check(budget=3, seed=2).verdict == "holds"


def test_cli_check_json_and_exit_codes(tmp_path, capsys):
    out = tmp_path / "res.json"
    assert main(["check", "B4", "B1", "--budget", "0.5", "--seed", "3", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "B1" in table and "B4" in table and "holds" in table
    recs = json.loads(out.read_text())
    assert [r["claim"] for r in recs] == ["B4", "B1"]
    for r in recs:
        assert r["verdict"] in ("holds", "holds within error") and r["seed"] == 3 and r["instances"] >= 1
        assert r["version"] == 2 and sum(r["counts"].values()) == r["instances"]
    assert recs[0]["worst_ratio"] is None
    assert recs[1]["worst_ratio"] is not None and recs[1]["worst_instance"]["instance"]["theta"]
    # the worst instance replays from its JSON to the same ratio
    m = claims()["B1"].replay(recs[1]["worst_instance"])
    assert abs(m.ratio - recs[1]["worst_ratio"]) <= 1e-12 * abs(recs[1]["worst_ratio"])


def test_cli_usage_errors():
    assert main(["check", "Z9"]) == 2
    assert main(["check", "--budget", "-1"]) == 2
    assert main(["nonsense"]) == 2


def test_budget_must_be_positive():
    with pytest.raises(ValueError, match="budget"):
        claims()["B4"].check(budget=0)


def test_cli_flow_writes_replayable_json(tmp_path):
    """gfgd flow: decimal strings of dps + 10 digits, version, seed, error estimate; the final state
    agrees with an independent float64 DOP853 run from the recorded θ0 to its accuracy."""
    import numpy as np

    import numerics
    import theory

    out = tmp_path / "flow.json"
    assert main(["flow", "--widths", "3,2,1", "--t-end", "2", "--dps", "25", "--samples", "2",
                 "--scale", "0.3", "--seed", "4", "--out", str(out)]) == 0
    rec = json.loads(out.read_text())
    assert rec["version"] == 2 and rec["init"]["seed"] == 4 and float(rec["error_estimate"]) < 1e-20
    assert rec["digits"] == 35 and rec["tier"] == "arb" and rec["data"] == {"source": "whitened", "phi_seed": 0}
    assert len(rec["states"]) == 3 and rec["times"][-1] == "2.0"
    Phi = np.array([[float(x) for x in row] for row in rec["Phi"]])
    theta0 = [np.array([[float(x) for x in row] for row in W]) for W in rec["theta0"]]
    obj = theory.Objective(theory.DeepLinear(tuple(rec["widths"])), theory.WhitenedSquare(Phi))
    f = numerics.gradient_flow_float(obj, theta0, 2.0, rtol=1e-12, atol=1e-12)
    last = [np.array([[float(x) for x in row] for row in W]) for W in rec["states"][-1]]
    assert max(np.abs(a - b).max() for a, b in zip(f.at(2.0), last)) <= 1e-10
    assert len(rec["states"][-1][0][0][0].replace("-", "").replace(".", "").lstrip("0")) >= 30  # ≥ 30 digits written


def test_cli_flow_usage_errors(tmp_path):
    assert main(["flow", "--widths", "3,x", "--t-end", "1", "--out", str(tmp_path / "a.json")]) == 2
    assert main(["flow", "--widths", "3,1", "--t-end", "-1", "--out", str(tmp_path / "a.json")]) == 2
    assert main(["flow", "--widths", "3,1", "--t-end", "1", "--dps", "5", "--out", str(tmp_path / "a.json")]) == 2


def test_a_claims_hold_and_a1_is_tight_on_quadratics():
    """A1's recursion is nearly exact on 1-D quadratics (worst ratio close to 1); A3's constant 0.158
    holds with room (the exact infimum over its region is larger)."""
    reg = claims()
    a1 = reg["A1"].check(seed=0)
    assert a1.verdict in ("holds", "holds within error") and a1.worst_ratio > 0.9
    a3 = reg["A3"].check(seed=0)
    assert a3.verdict == "holds" and a3.worst_ratio < 1
    a4 = reg["A4"].check(budget=2, seed=0)
    # A4 is an identity (slope = 1 and 2): agreement within the derived slope error
    assert a4.verdict == "holds within error", a4.counterexample


def test_b6_pointwise_bound_and_integrated_negativity_growth():
    """B6: the pointwise bound holds along GF; I₋ grows like ((N−1)/N)·ln(1/‖w(0)‖): over
    ‖w(0)‖ = 1e-1, 1e-2, 1e-3 the slope of I₋ in ln(1/‖w(0)‖) is within 15% of (N−1)/N. (The
    trapezoid rule on 600 samples and rtol 1e-10 put I₋'s error near 1e-3, far inside 15%.)"""
    import math

    from proofs_check.claims.curvature import b6_trajectory

    r = claims()["B6"].check(budget=4, seed=0)
    assert r.verdict == "holds", r.counterexample
    for N in (2, 3):
        widths = (3,) * N + (1,)
        scales = (1e-1, 1e-2, 1e-3)
        I = [b6_trajectory(widths, s, 1)["I_minus"] for s in scales]
        slope = (I[-1] - I[0]) / math.log(scales[0] / scales[-1])
        assert abs(slope - (N - 1) / N) <= 0.15 * (N - 1) / N
    bad = claims()["B6"].check(budget=4, seed=0, constant=0.5)
    assert bad.verdict == "violated" and bad.counterexample


def test_parallel_check_matches_serial(tmp_path):
    """--workers runs claims in processes; seeded searches give the same results as serially."""
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["check", "A3", "B4", "--seed", "7", "--json", str(a)]) == 0
    assert main(["check", "A3", "B4", "--seed", "7", "--workers", "2", "--json", str(b)]) == 0
    ra, rb = json.loads(a.read_text()), json.loads(b.read_text())
    for x, y in zip(ra, rb):
        assert (x["claim"], x["verdict"], x["worst_ratio"], x["instances"]) == \
            (y["claim"], y["verdict"], y["worst_ratio"], y["instances"])


def test_cli_report_momentum_usage():
    assert main(["report", "momentum", "--widths", "x"]) == 2
    assert main(["report", "nonsense"]) == 2
