"""The verdict classes of the claims engine (issue 13): holds, holds within error, inconclusive,
violated, error; per-class counts in the table and the JSON; a measure that raises is an ``error``
verdict carrying the instance's JSON, not a crash."""

import json

import pytest
from hypothesis import strategies as st

from proofs_check.engine.claim import VERDICTS, Claim, Measurement
from proofs_check.engine.table import format_table, json_records, verdict_counts


@pytest.mark.parametrize("lhs,rhs,err,floor,expected", [
    (1.0, 2.0, 0.1, 0.0, "holds"),                    # lhs ≤ rhs − err
    (1.9, 2.0, 0.05, 0.0, "holds"),                   # below rhs − err
    (2.0, 2.0, 1e-9, 0.0, "holds within error"),      # equal, err resolved (≤ 1e-6·2)
    (2.0 + 5e-10, 2.0, 1e-9, 0.0, "holds within error"),  # above rhs but inside the error bar
    (2.0, 2.0, 1e-3, 0.0, "inconclusive"),            # err not resolved
    (0.0, 0.0, 1e-20, 1e-18, "holds within error"),   # both ~0: the floor resolves
    (0.0, 0.0, 1e-20, 0.0, "inconclusive"),
    (2.1, 2.0, 0.05, 0.0, "violated"),                # lhs − rhs > err
])
def test_measurement_status_classes(lhs, rhs, err, floor, expected):
    assert Measurement(lhs, rhs, err, floor=floor).status(1e-6) == expected


def test_identity_and_side_check_statuses():
    assert Measurement(holds=True).status(1e-6) == "holds"
    assert Measurement(holds=False).status(1e-6) == "violated"
    assert Measurement(1.0, 2.0, 0.0, holds=False).status(1e-6) == "violated"  # a failed side check wins


def _toy(measure, label="T1"):
    return Claim(label, "toy", "test", "derived", "x <= 1", "1", "none", "x in [0, 1]",
                 lambda: st.floats(0, 1), measure, lambda x: {"x": repr(x)}, lambda d: float(d["x"]),
                 default_budget=10)


def test_a_measure_that_raises_is_an_error_verdict_with_the_instance():
    def measure(x):
        if x > 0.5:
            raise TypeError("unsupported operand")
        return Measurement(x, 1.0, 0.0)

    r = _toy(measure).check(budget=30, seed=0)
    assert r.verdict == "error"
    assert r.error["exception"].startswith("TypeError") and float(r.error["instance"]["x"]) > 0.5
    assert r.counts["error"] >= 1
    rec = json.loads(json.dumps(json_records([r])))[0]
    assert rec["verdict"] == "error" and rec["error"]["instance"]["x"] and rec["version"] == 2
    table = format_table([r])
    assert "ERROR" in table and "TypeError" in table and "1 error" in table


def test_claim_verdicts_and_counts_in_table_and_json():
    within = _toy(lambda x: Measurement(1.0, 1.0, 1e-12), "T2").check(budget=5, seed=0)
    holds = _toy(lambda x: Measurement(x / 2, 1.0, 1e-12), "T3").check(budget=5, seed=0)
    viol = _toy(lambda x: Measurement(x + 1.5, 1.0, 1e-12), "T4").check(budget=5, seed=0)
    incon = _toy(lambda x: Measurement(1.0, 1.0, 0.5), "T5").check(budget=5, seed=0)
    assert [within.verdict, holds.verdict, viol.verdict, incon.verdict] == \
        ["holds within error", "holds", "violated", "inconclusive"]
    assert set(within.counts) == {"holds within error"} and set(holds.counts) == {"holds"}
    results = [within, holds, viol, incon]
    assert verdict_counts(results) == {"violated": 1, "error": 0, "inconclusive": 1, "holds within error": 1,
                                       "holds": 1}
    table = format_table(results)
    for v in ("holds within error", "inconclusive", "violated"):
        assert v in table
    assert "w5" in table and "h5" in table
    for rec in json_records(results):
        assert rec["verdict"] in VERDICTS and sum(rec["counts"].values()) == rec["instances"]


def test_unsatisfiable_hypotheses_are_inconclusive_not_a_crash():
    from proofs_check.engine.claim import require

    def measure(x):
        require(False, "never applicable")

    r = _toy(measure, "T6").check(budget=5, seed=0)
    assert r.verdict == "inconclusive" and r.instances == 0


def test_float64_rounding_of_the_sides_is_part_of_the_error():
    """Sides equal to 50 digits but one ulp apart in float64 are not a violation (A3b's minimiser)."""
    import math

    assert Measurement(1.0 + 2**-52, 1.0, 1e-40).status(1e-6) == "holds within error"
    assert Measurement(1.0 + 2**-40, 1.0, 1e-40).status(1e-6) == "violated"
    assert math.isclose(2**-53, 1.1102230246251565e-16)
