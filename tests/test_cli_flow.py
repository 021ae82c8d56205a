"""``gfgd flow`` on ReLU nets and data, on both tiers (proofs_check.flow; docs/cli.md, "gfgd flow").

The record is checked against runs made here from the recorded θ₀ and the data file, independently of
the verb's own spec handling: the objective is rebuilt from the arrays, and the reference is the arb tier
at 30 digits (with its rerun at 40)."""

from __future__ import annotations

import json
from fractions import Fraction

import mpmath
import numpy as np
import pytest

import numerics
import theory
from proofs_check.cli import main

# every test of this file on one xdist worker (--dist loadgroup): the module's data and arb reference computed once
pytestmark = pytest.mark.xdist_group("test_cli_flow")

EPS = float(np.finfo(float).eps)
WIDTHS = (3, 6, 6, 2)
ALPHA, SEED, T = 0.1, 4, 0.5  # gaussian init at scale 1: 8 kink events to T, crossings and a sliding stretch


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    rng = np.random.default_rng(7)
    X, Y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    path = tmp_path_factory.mktemp("flow") / "small.npz"
    np.savez(path, X=X, Y=Y)
    return path, X, Y


def _theta(blocks) -> list[np.ndarray]:
    return [np.array(b, dtype=float) if not isinstance(b[0], list) else np.array([[float(x) for x in r] for r in b])
            for b in blocks]


@pytest.fixture(scope="module")
def reference(data):
    """The arb tier at 30 digits from the float θ₀ of the verb's own init (the objective built here)."""
    _, X, Y = data
    obj = theory.Objective(theory.ReLUNet(WIDTHS, alpha=ALPHA, bias=True), theory.SquareLoss(X, Y))
    th = numerics.gaussian_init(obj, 1.0, seed=SEED)
    return obj, th, numerics.gradient_flow(obj, th, Fraction(T), dps=30)


def _run(tmp_path, data, *extra) -> dict:
    path, _, _ = data
    out = tmp_path / "flow.json"
    argv = ["flow", "--net", "relu", "--alpha", str(ALPHA), "--bias", "--widths", ",".join(map(str, WIDTHS)),
            "--data", str(path), "--scale", "1", "--seed", str(SEED), "--t-end", str(T), "--samples", "4",
            "--out", str(out), *extra]
    assert main(argv) == 0
    return json.loads(out.read_text())


def test_float_tier_record_against_the_arb_tier(tmp_path, data, reference):
    """The float tier's record: θ₀ as the init gives it, the kink events of the arb tier (times within
    1e-12), and states within the recorded estimate of the 30-digit run, which is ≤ 1e-12."""
    obj, th, ref = reference
    rec = _run(tmp_path, data, "--tier", "float")
    assert rec["version"] == 2 and rec["tier"] == "float" and rec["dps"] is None and rec["model"] == "ReLUNet"
    assert rec["alpha"] == "0.1" and rec["bias"] is True and rec["loss"] == "SquareLoss"
    assert rec["data"]["source"] == "npz" and len(rec["data"]["sha256"]) == 64
    assert "Euclidean norm" in rec["error_estimate_bounds"]
    th0 = _theta(rec["theta0"])
    assert all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(th0, th))  # biases: 1-D blocks
    assert [(e["kind"], e["layer"], e["sample"], e["unit"]) for e in rec["events"]] == [e.key() for e in ref.events]
    assert len(rec["events"]) >= 5 and {e["kind"] for e in rec["events"]} >= {"cross", "enter sliding"}
    assert rec["modes_unverified"] == 0  # (no more than VERIFY_MAX entries at their kinks at once on this net)
    assert max(abs(float(e["t"]) - float(g.t)) for e, g in zip(rec["events"], ref.events)) <= 1e-12
    est = float(rec["error_estimate"])
    bars = [float(b) for b in rec["error_estimates"]]
    assert len(bars) == len(rec["times"]) and max(bars) <= est
    with mpmath.workdps(40):
        worst = 0.0
        for t, state, loss, bar in zip(rec["times"], rec["states"], rec["losses"], bars):
            exact = ref.at(Fraction(float(t)))
            got = _theta(state)
            # 2-norm over all parameters: what the float tier's estimate bounds, at each time its own bar
            d2 = mpmath.sqrt(sum((mpmath.mpf(float(x)) - y) ** 2 for A, B in zip(got, exact)
                                 for x, y in zip(A.ravel(), B.ravel())))
            assert float(d2) <= bar
            worst = max(worst, float(d2))
            # the loss of the recorded state: the same float evaluation on the same (round-tripped) floats;
            # 4ε relative allows a BLAS that sums in another order
            f_here = float(numerics.value(obj, got))
            assert abs(float(loss) - f_here) <= 4 * EPS * abs(f_here)
    assert worst <= est and worst <= 1e-12 and bars[1] < bars[-1]  # the bar grows along the run
    assert rec["provenance"]["seeds"] == {"seed": SEED} and rec["provenance"]["tier"] == "float"


def test_arb_tier_record_against_the_30_digit_run(tmp_path, data, reference):
    """The arb tier at 20 digits: decimal strings of 20 digits, within its estimate of the 30-digit run."""
    _, _, ref = reference
    rec = _run(tmp_path, data, "--dps", "20")
    assert rec["tier"] == "arb" and rec["dps"] == 20 and rec["rtol"] is None
    assert "rerun" in rec["error_estimate_bounds"]
    est = float(rec["error_estimate"])
    # 20 digits on states of size ~3: an estimate near float64's 1e-16 would mean the digits were not kept
    assert est <= 1e-16
    with mpmath.workdps(40):
        for t, state, bar in zip(rec["times"], rec["states"], rec["error_estimates"]):
            worst = max(float(abs(mpmath.mpf(x) - y)) for S, B in zip(state, ref.at(Fraction(float(t))))
                        for x, y in zip(np.ravel(S), B.ravel()))
            assert worst <= float(bar) <= est


def test_digits_cross_entropy_record(tmp_path):
    """Defaults for a ReLU net: sklearn's digits (here 10 images, seed 3), xavier init; the record's data
    provenance names the images, and its loss at t = 0 is the one of the objective rebuilt from them."""
    out = tmp_path / "d.json"
    assert main(["flow", "--net", "relu", "--widths", "64,3,10", "--n", "10", "--data-seed", "3",
                 "--loss", "cross_entropy", "--init", "xavier", "--seed", "2", "--t-end", "0.01", "--samples", "1",
                 "--tier", "float", "--rtol", "1e-10", "--out", str(out)]) == 0
    rec = json.loads(out.read_text())
    ds = theory.data.digits(10, seed=3)
    assert rec["data"]["indices"] == ds.provenance["indices"] and rec["loss"] == "CrossEntropy"
    assert rec["rtol"] == "1e-10" and rec["init"] == {"kind": "xavier", "seed": 2}
    assert "propagation" not in rec["provenance"]  # (the default: not asked for)
    obj = theory.Objective(theory.ReLUNet((64, 3, 10)), theory.CrossEntropy(ds.X, ds.labels, 10))
    th0 = _theta(rec["theta0"])
    assert all(np.array_equal(a, b) for a, b in zip(th0, numerics.xavier_init(obj, seed=2)))
    f0 = float(numerics.value(obj, th0))
    assert abs(float(rec["losses"][0]) - f0) <= 4 * EPS * abs(f0)  # as in the float-tier test above


def test_propagation_in_the_record(tmp_path):
    """--propagation (float tier) reaches the run and its record's provenance: on a 222-parameter net with 4 kinks to
    t = 2 the states and events are the same and only the bound differs (measured 6.7e-15 with the set, the default
    at this size, against 8.3e-15 with the windows)."""
    recs = {}
    for how in ("set", "windows"):
        out = tmp_path / f"{how}.json"
        assert main(["flow", "--net", "relu", "--widths", "64,3,10", "--n", "5", "--t-end", "2", "--samples", "1",
                     "--tier", "float", "--propagation", how, "--out", str(out)]) == 0
        recs[how] = json.loads(out.read_text())
        assert recs[how]["provenance"]["propagation"] == how
    assert recs["set"]["states"] == recs["windows"]["states"] and recs["set"]["events"] == recs["windows"]["events"]
    assert len(recs["set"]["events"]) >= 2
    assert recs["set"]["error_estimate"] != recs["windows"]["error_estimate"]


def test_a_note_names_the_set_where_the_windows_grew(tmp_path, capsys, monkeypatch):
    """Above the set's default cut (here lowered to 100 parameters, and the growth threshold to 1) a float run whose
    bound grew over its local errors ends with a note naming --propagation set; not when --propagation was given."""
    import numerics.float_taylor as FT
    import numerics.loose_estimates as LE

    monkeypatch.setattr(FT, "DENSE_MAX", 100)
    monkeypatch.setattr(LE, "LOOSE_GROWTH", 1.0)
    argv = ["flow", "--net", "relu", "--widths", "64,3,10", "--n", "5", "--t-end", "2", "--samples", "1",
            "--tier", "float"]
    assert main([*argv, "--out", str(tmp_path / "a.json")]) == 0
    err = capsys.readouterr().err
    assert "--propagation set" in err and "note" in err, err
    assert "LooseEstimateWarning" not in err  # (a note, not the warning's own line)
    assert main([*argv, "--propagation", "windows", "--out", str(tmp_path / "b.json")]) == 0
    assert "--propagation set" not in capsys.readouterr().err


def test_gfgd_s_own_warnings_are_notes_in_any_command(capsys):
    """Inside a command (cli._notes, entered by main) LooseEstimateWarning and CostWarning print one note line naming
    the command; other warnings are left to Python's own display."""
    import warnings

    from numerics.loose_estimates import LooseEstimateWarning
    from proofs_check import cli
    from theory.arrays import CostWarning

    with pytest.warns(RuntimeWarning, match="something else"), cli._notes("gfgd track"):
        warnings.warn("the bound grew", LooseEstimateWarning)
        warnings.warn("slow digits", CostWarning)
        warnings.warn("something else", RuntimeWarning)  # (shown by what was in place: here pytest's recorder)
    err = capsys.readouterr().err
    assert "gfgd track: note: the bound grew" in err and "gfgd track: note: slow digits" in err
    assert "something else" not in err


@pytest.mark.parametrize("extra, flag", [
    (["--net", "relu", "--widths", "3,3,1", "--data", "whitened"], "--data whitened"),
    (["--widths", "3,3,1", "--alpha", "0.1"], "--alpha"),
    (["--widths", "3,3,1", "--tier", "float", "--dps", "20"], "--dps"),
    (["--widths", "3,3,1", "--rtol", "1e-10"], "--rtol"),
    (["--widths", "3,3,1", "--tier", "float", "--rtol", "1e-3"], "--rtol"),
    (["--net", "relu", "--widths", "64,3,10", "--phi", "1,2"], "--phi"),
    (["--net", "relu", "--widths", "64,3,10", "--init", "xavier", "--scale", "2"], "--scale"),
    (["--net", "relu", "--widths", "60,3,10"], "widths"),
    (["--net", "relu", "--widths", "3,3,1", "--data", "no_such_file.npz"], "--data"),
    (["--net", "relu", "--widths", "64,3,5"], "d_N >= 10"),
    (["--net", "relu", "--widths", "64,3,10", "--init", "balanced"], "--init balanced"),
    (["--widths", "3,3,1", "--loss", "cross_entropy"], "--loss cross_entropy"),
    (["--widths", "3,3,1", "--n", "50"], "--n and --data-seed"),
    (["--widths", "3,3,1", "--propagation", "set"], "--propagation"),
    (["--widths", "3,3,1", "--tier", "float", "--propagation", "set"], "--propagation set"),
    (["--net", "relu", "--widths", "64,70,10", "--tier", "float", "--propagation", "set"], "at most 4096"),
])
def test_flow_usage_errors(tmp_path, capsys, extra, flag):
    out = tmp_path / "e.json"
    assert main(["flow", *extra, "--t-end", "0.1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert flag in err and "Traceback" not in err
    assert not out.exists()


def test_a_refusal_is_a_numerical_failure(tmp_path, capsys, monkeypatch):
    """A tier's refusal (here forced) exits 3 with its reason on one line, and writes nothing."""
    from numerics.kink_flows import UnsupportedKinkError

    def refuse(*a, **k):
        raise UnsupportedKinkError("t = 0.25: a dip within the error bar")

    monkeypatch.setattr(numerics, "gradient_flow", refuse)
    out = tmp_path / "r.json"
    assert main(["flow", "--net", "relu", "--widths", "64,3,10", "--n", "5", "--t-end", "0.5", "--tier", "float",
                 "--out", str(out)]) == 3
    err = capsys.readouterr().err
    assert "numerical failure" in err and "float64 tier refused" in err and "dip within the error bar" in err
    assert not out.exists()
