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
    assert r.verdict == "holds", r.counterexample
    # the family includes N = 2 at θ = 0 where −λ_min = ‖Φ‖₂ = rhs exactly: worst ratio is 1
    # up to the certified interval width (1e-12) relative to ‖Φ‖₂ ≥ 1/3
    assert abs(r.worst_ratio - 1.0) <= 1e-11


def test_b1_with_a_wrong_constant_is_violated_with_a_counterexample():
    """Mutation sanity (issue acceptance): (N−1) replaced by (N−1)/4."""
    from fractions import Fraction

    r = claims()["B1"].check(budget=4, seed=0, constant=Fraction(1, 4))
    assert r.verdict == "violated"
    assert r.counterexample and r.counterexample["ratio"] > 1


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
        assert r["verdict"] == "holds" and r["seed"] == 3 and r["instances"] >= 1 and r["version"] == 1
    assert recs[0]["worst_ratio"] is None
    assert recs[1]["worst_ratio"] is not None and recs[1]["worst_instance"]["theta"]


def test_cli_usage_errors():
    assert main(["check", "Z9"]) == 2
    assert main(["check", "--budget", "-1"]) == 2
    assert main(["nonsense"]) == 2


def test_budget_must_be_positive():
    with pytest.raises(ValueError, match="budget"):
        claims()["B4"].check(budget=0)
