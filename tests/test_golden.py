"""Golden reference files: deterministic for a seed, round-trip at full precision, and right."""

import decimal
import json
from fractions import Fraction

import mpmath
import numpy as np
import pytest

import numerics
import theory
from proofs_check.validation import golden
from proofs_check.cli import main


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Seed 0 written twice (API and CLI) and seed 1 once."""
    d = tmp_path_factory.mktemp("golden")
    a, b, c = d / "a.json", d / "b.json", d / "c.json"
    golden.write(str(a), seed=0)
    assert main(["golden", "--out", str(b), "--seed", "0"]) == 0
    golden.write(str(c), seed=1)
    return a, b, c


def test_deterministic_for_a_seed(written):
    a, b, c = written
    assert a.read_bytes() == b.read_bytes()  # byte-identical across runs and entry points
    assert a.read_bytes() != c.read_bytes()
    doc = json.loads(a.read_text())
    assert doc["schema"] == "gfgd.golden" and doc["version"] == 1 and doc["seed"] == 0 and doc["digits"] == 40


def test_round_trip_text(written):
    a, _, _ = written
    s = golden.load(str(a))
    assert golden.dumps(s.to_json()) == a.read_text()
    assert len(s) == len(golden.CASE_WIDTHS) and s.seed == 0 and s.digits == 40


def _d(x: Fraction) -> decimal.Decimal:
    return decimal.Decimal(golden._decimal_of(x))


def _exact(ws):
    return [theory.to_kind(w, "exact") for w in ws]


def test_loaded_values_equal_fresh_exact_references_at_full_precision(written):
    """Every exact quantity, recomputed in rationals from the loaded inputs and rounded to 40
    digits, equals the loaded Decimal exactly; λ_min/λ_max lie within 1e-39 relative of the
    certified value; GF states agree with a fresh 50-digit flow to 1e-38."""
    s = golden.load(str(written[0]))
    for case in s:
        obj = case.objective()
        th = _exact(case.weights)  # the float64 inputs are exact (dyadic)
        assert all(Fraction(float(x)) == x for w in th for x in w.flat)
        f, g = numerics.value_and_gradient(obj, th)
        assert case.loss == _d(f)
        for a, b in zip(case.gradient, g):
            assert all(x == _d(y) for x, y in zip(a.flat, b.flat))
        H = numerics.hessian(obj, th)
        assert all(x == _d(y) for x, y in zip(case.hessian.flat, H.flat))
        hv = numerics.hvp(obj, th, _exact(case.hvp_v))
        assert all(x == _d(y) for a, b in zip(case.hvp, hv) for x, y in zip(a.flat, b.flat))
        lo, hi = theory.symbolic.lambda_min_interval(H, eps=Fraction(1, 10**45))
        assert abs(Fraction(case.lambda_min) - lo) <= Fraction(1, 10**39) * max(1, abs(lo))
        lo2, _ = theory.symbolic.lambda_min_interval(-H, eps=Fraction(1, 10**45))
        assert abs(Fraction(case.lambda_max) + lo2) <= Fraction(1, 10**39) * max(1, abs(lo2))
        gd = numerics.gradient_descent(obj, th, Fraction(str(case.gd.eta)), case.gd.steps)
        for its, ref in zip(case.gd.iterates, gd.thetas):
            assert all(x == _d(y) for a, b in zip(its, ref) for x, y in zip(a.flat, b.flat))
        hb = numerics.heavy_ball(obj, th, Fraction(str(case.heavy_ball.eta)), Fraction(str(case.heavy_ball.beta)),
                                 case.heavy_ball.steps)
        assert [x for x in case.heavy_ball.losses] == [_d(y) for y in hb.losses]
        traj = numerics.gradient_flow(obj, case.weights, 2, dps=50)
        with mpmath.workdps(60):
            for t, state in zip(case.gf.times, case.gf.states):
                ref = traj.at(Fraction(t)) if t > 0 else [theory.to_kind(w, "mp") for w in case.weights]
                for a, b in zip(golden.as_mp(state, 60), ref):
                    assert max(abs(x - y) for x, y in zip(a.flat, b.flat)) < mpmath.mpf(10) ** -38
        assert case.gf.error_estimate < 1e-50


def test_conversions_are_usable(written):
    case = golden.load(str(written[0])).cases[1]
    g64 = numerics.gradient(case.objective(), case.weights)
    for a, b in zip(golden.as_float(case.gradient), g64):
        assert a.dtype == np.float64 and np.allclose(a, b, rtol=1e-14, atol=1e-15)
    assert isinstance(golden.as_float(case.lambda_min), float)
    with mpmath.workdps(45):
        m = golden.as_mp(case.loss)
        assert isinstance(m, mpmath.mpf) and abs(m - mpmath.mpf(str(case.loss))) < mpmath.mpf(10) ** -44
    assert len(case.gd.iterates) == case.gd.steps + 1 and case.heavy_ball.beta == 0.5


def test_load_refuses_other_files(tmp_path, written):
    doc = json.loads(written[0].read_text())
    bad = tmp_path / "bad.json"
    for mutate, text in [(lambda d: d.update(schema="other"), "not a golden file"),
                         (lambda d: d.update(version=2), "version 2"),
                         (lambda d: d["cases"][0].pop("gradient"), "gradient"),
                         (lambda d: d["cases"][0].update(hessian=[["1"]]), "shape"),
                         (lambda d: d["cases"][0].update(loss_value=1.5), "decimal string")]:
        d = json.loads(json.dumps(doc))
        mutate(d)
        bad.write_text(json.dumps(d))
        with pytest.raises(ValueError, match=text):
            golden.load(str(bad))
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        golden.load(str(bad))


def test_cli_golden_usage_errors(tmp_path):
    assert main(["golden"]) == 2
    assert main(["golden", "--out", str(tmp_path / "no" / "such" / "dir.json")]) == 2
    assert main(["golden", "--out", str(tmp_path / "x.json"), "--seed", "-1"]) == 2
