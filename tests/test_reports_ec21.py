"""``gfgd report ec21`` renders whole (every figure a valid PNG and SVG whose tagged curves match the
JSON) and its numbers satisfy the physics: GD is a first-order method for GF (THEORY A4), the ground
truth's error bar is far below what it is compared with, I₋ is finite, the edge-of-stability run is
flagged; per-η jobs through any map give the serial numbers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")

from proofs_check.reports import ec21  # noqa: E402
from test_reports import _check_figure  # noqa: E402

# every test of this file on one xdist worker (--dist loadgroup): the module's ec21_quick report (~35 s) computed once
pytestmark = pytest.mark.xdist_group("test_reports_ec21")
EPS = float(np.finfo(float).eps)


@pytest.fixture(scope="module")
def ec21_quick(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ec21")
    res = ec21.run(str(folder), quick=True, seed=0)
    return folder, res, json.loads((folder / "ec21.json").read_text())


def _expected_curves(saved: dict) -> dict:
    nets = saved["nets"]
    runs = [len(n["runs"]) for n in nets]
    eos = [n["eos_run"] is not None for n in nets]
    return {
        "ec21_loss": sum(1 + r + e for r, e in zip(runs, eos)),         # GF, every GD, the eos run
        "ec21_distance": sum(r + (r - 1) for r in runs),                 # GD vs GF; η₀ vs η₀/r
        "ec21_curvature": 2 * len(nets),                                 # λ_min and I₋ per net
        "ec21_sharpness": sum(len(n["sharpness"]) for n in nets),
        "ec21_a1": 2 * len(nets),                                        # b_k and the measured distance
    }


def test_ec21_files_and_curves(ec21_quick):
    folder, res, saved = ec21_quick
    figs = saved["figures"]
    expected = _expected_curves(saved)
    assert set(figs) == set(expected)
    for name, count in expected.items():
        _check_figure(folder, figs[name], count)
    assert not list(folder.glob(".*gfgd-tmp*"))
    # every plotted number is in the JSON: the curve registry names one data series each
    assert [n["net"] for n in saved["nets"]] == ["linear", "relu"]
    for net in saved["nets"]:
        assert len(net["data"]["indices"]) == net["data"]["n"]


def test_ec21_records(ec21_quick):
    _, res, saved = ec21_quick
    keys = {"net", "loss", "eta", "t_end", "gf_gd_distance", "gd_gd_distance", "distance_travelled",
            "gf_error_estimate", "max_eta_lambda_max"}
    recs = saved["records"]
    assert recs and all(keys <= set(r) for r in recs)
    for r in recs:
        for k in ("eta", "t_end", "gf_gd_distance", "distance_travelled", "gf_error_estimate", "max_eta_lambda_max"):
            assert math.isfinite(r[k]), (k, r)


def _slope(net: dict) -> float:
    d0, d1 = net["runs"][0]["gf_gd_distance"][-1], net["runs"][1]["gf_gd_distance"][-1]
    e0, e1 = net["runs"][0]["eta"], net["runs"][1]["eta"]
    return math.log(d0 / d1) / math.log(e0 / e1)


def test_ec21_linear_gf_gd_distance_is_first_order(ec21_quick):
    """THEORY A4: ‖θ(t) − θ_{t/η}‖ = Θ(η) at fixed t: log-log slope 1 ± 0.1 between η₀ and η₀/2."""
    _, res, _ = ec21_quick
    lin = res["nets"][0]
    s = _slope(lin)
    print(f"\nlinear: slope {s:.4f} between eta0 = {lin['runs'][0]['eta']:.4g} and eta0/2")
    assert abs(s - 1) <= 0.1


def test_ec21_gf_gd_distance_is_first_order_by_its_own_fit(ec21_quick):
    """docs/theory.md G1: on the net with kinks the slope of ln d on ln η, fitted over GD at η₀/r for
    r = 1..20, is 1 within the fit's own derived error (99% Student interval from the residuals, plus
    the ground truth's error), and that error resolves it (< 1/2: an O(√η) or O(1) distance would be
    told apart). The smooth net keeps A4's two-point test (the fit's error model is that of kinks)."""
    _, res, saved = ec21_quick
    kinked = [net for net in res["nets"] if net["gf"]["kink_events"]]
    assert [net["net"] for net in kinked] == ["relu"]
    for net in res["nets"]:
        assert net["first_order"]["error_model_applies"] == (net in kinked)
    for net in kinked:
        fo = net["first_order"]
        print(f"\n{net['net']}: fitted slope {fo['fit_slope']:.3f} +- {fo['fit_slope_error']:.3f} over r = "
              f"{fo['ratios'][0]}..{fo['ratios'][-1]}; two-point {fo['two_point_slope']:.3f}; d/eta in "
              f"[{min(fo['constant']):.3g}, {max(fo['constant']):.3g}]")
        assert fo["ratios"] == list(range(1, 21))
        assert fo["resolved"], fo
        assert fo["consistent_with_1"], fo


def test_ec21_relu_two_point_slope_is_kept_as_a_finding(ec21_quick):
    """The erratic two-point slope (O(η) jumps at kinks) is recorded, not hidden: in the net's
    first_order entry always, and as a finding whenever it leaves 1 ± 0.1."""
    _, res, saved = ec21_quick
    relu = saved["nets"][1]
    s2 = relu["first_order"]["two_point_slope"]
    assert math.isfinite(s2) and s2 == pytest.approx(_slope(relu), rel=1e-12)
    listed = [f for f in saved["findings"] if f["net"] == "relu" and "two_point_slope" in f]
    assert bool(listed) == (abs(s2 - 1) > 0.1)


def test_first_order_fit_tells_orders_apart():
    """The fit's verdict on distances of known order (independent of any GD run): η·(1 + bounded
    pseudo-random jumps) is consistent with slope 1; √η and η² with the same jumps are not; exact η
    gives a zero-width interval."""
    r = np.arange(1, 21)
    eta = 0.1 / r
    jumps = 1 + 0.3 * np.sin(7.3 * r) ** 2  # a kink's position in the step: bounded, erratic in r
    ok = ec21.first_order(eta, eta * jumps)
    assert ok["consistent_with_1"] and ok["resolved"]
    for p in (0.5, 2.0):
        bad = ec21.first_order(eta, eta ** p * jumps)
        assert bad["resolved"] and not bad["consistent_with_1"], (p, bad)
    exact = ec21.first_order(eta, 3 * eta)
    assert abs(exact["fit_slope"] - 1) < 1e-12 and exact["fit_slope_error"] < 1e-12
    two = ec21.first_order(eta[:2], eta[:2] * jumps[:2])
    assert two["fit_slope"] is None and not two["resolved"]
    assert two["two_point_slope"] == pytest.approx(1 + math.log(jumps[0] / jumps[1]) / math.log(2), rel=1e-12)
    with pytest.raises(ValueError, match="first_order"):
        ec21.first_order(eta[:1], eta[:1])


def test_ec21_ground_truth_error_is_far_below_the_distances(ec21_quick):
    _, res, _ = ec21_quick
    for net in res["nets"]:
        err = net["gf"]["error_estimate"]
        smallest = min(d for run in net["runs"] for d in run["gf_gd_distance"][1:])
        print(f"\n{net['net']}: GF error estimate (2-norm bound) {err:.2e}, smallest GF-GD distance {smallest:.2e}")
        assert err < 1e-3 * smallest


def test_ec21_linear_ground_truth_is_within_its_bound_of_the_arb_tier():
    """The linear row's ground truth (the float64 Taylor tier) against the arb tier at 25 digits, an
    independent integrator: at every grid time the 2-norm distance is within the row's error estimate (a
    derived bound, docs/theory.md F), and the estimate is within 1000× the largest distance (useful, not
    only honest). The distance adds the flattening's nothing (exact) and the arb state's rounding to float64
    (½ ulp per entry, ≤ √P·ε·max|θ|); 64-3-3-10 on 20 digits, T = 4."""
    from fractions import Fraction

    import numerics
    from theory import to_kind

    T = 4.0
    spec = dict(net="linear", widths=(64, 3, 3, 10), n=20, seed=0, loss="cross_entropy", bias=False, t_end=T,
                times=[T * k / 4 for k in range(5)])
    gt = ec21.gf_job(spec)
    assert gt["tier"].startswith("gradient_flow (float64 Taylor tier") and gt["events"] is None
    obj, th0, _ = ec21.build(spec)
    ref = numerics.gradient_flow(obj, th0, Fraction(T), dps=25)
    assert ref.error_estimate < 1e-30
    worst = 0.0
    for t, th in zip(spec["times"], gt["thetas"]):
        r = obj.flatten([to_kind(x, "float") for x in ref.at(Fraction(t))])
        d = float(np.linalg.norm(th - r))
        assert d <= gt["error_estimate"] + math.sqrt(r.size) * EPS * float(np.abs(r).max())
        worst = max(worst, d)
    print(f"\nlinear ground truth: bound {gt['error_estimate']:.2e}, true {worst:.2e}, ratio "
          f"{gt['error_estimate'] / worst:.3g}")
    assert gt["error_estimate"] <= 1000 * worst


def test_ec21_curvature_and_edge_of_stability(ec21_quick):
    _, res, _ = ec21_quick
    for net in res["nets"]:
        c = net["curvature"]
        assert all(math.isfinite(x) for x in c["negativity"] + c["negativity_error"])
        assert c["negativity"][-1] >= 0 and np.all(np.diff(c["negativity"]) >= 0)
        # I₋ is the integral of max(0, −λ_min): positive exactly when λ_min < 0 somewhere
        assert (c["negativity"][-1] > 0) == (min(c["lambda_min"]) < 0)
    relu = res["nets"][1]
    print(f"\nReLU I- = {relu['curvature']['negativity'][-1]:.4g} ± {relu['curvature']['negativity_error'][-1]:.2g}")
    eos = [r for r in res["records"] if r["edge_of_stability"]]
    assert len(eos) >= 1 and all(r["max_eta_lambda_max"] > 2 for r in eos)
    # the runs at η₀/r stay below A1's hypothesis ηλ_max ≤ 1 where measured
    for net in res["nets"]:
        assert max(net["sharpness"]["eta0"]["eta_lambda_max"]) <= 1


def test_ec21_jobs_through_any_map_equal_the_serial_run(tmp_path):
    """Per-η jobs are seeded specs: a different map (here: reversed order of execution) gives the
    same numbers as the serial run."""
    def reversed_map(f, items):
        items = list(items)
        out = [f(x) for x in reversed(items)]
        return list(reversed(out))

    small = dict(nets=("linear",), ratios=(2,), n=40, seed=1)
    a = ec21.run(str(tmp_path / "a"), quick=True, **small)
    b = ec21.run(str(tmp_path / "b"), quick=True, map_runs=reversed_map, **small)
    assert json.dumps(a["records"]) == json.dumps(b["records"])


def test_ec21_bad_input():
    with pytest.raises(ValueError, match="loss"):
        ec21.run("/nonexistent", loss="hinge")
    with pytest.raises(ValueError, match="ratios"):
        ec21.run("/nonexistent", ratios=(3, 5))


def test_track_torch_model_and_npz_data_flags_the_edge(tmp_path):
    """gfgd track on a torch nn.Sequential with npz data: η = 2.5/λ_max(θ₀) puts GD above the stability
    edge at t = 0 (measured here, not assumed), and the table flags it; the figure matches the JSON."""
    torch = pytest.importorskip("torch")
    import numerics
    from theory import data as tdata
    from proofs_check.reports import track
    from proofs_check.validation.torch_adapter import from_torch_sequential

    ds = tdata.digits(30, seed=2)
    path = tmp_path / "d.npz"
    np.savez(path, X=ds.X, labels=ds.labels)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 6, bias=False), torch.nn.Linear(6, 10, bias=False))
    obj, th = from_torch_sequential(model, ds.X, ds.labels)
    eta = 2.5 / numerics.lambda_max(obj, th)
    res = track.run(str(tmp_path / "out"), eta, 20, model=model, data=str(path), points=5)
    assert res["eta_lambda_max"][0] > 2 and res["edge_of_stability_at"][0] == 0.0
    assert res["gf_error_estimate"] < 1e-3 * max(res["distance"])
    lines = track.report_lines(res)
    assert "EDGE" in lines[2]
    _check_figure(tmp_path / "out", res["figures"]["track"], 4)
    with pytest.raises(ValueError, match="eta"):
        track.run(str(tmp_path), -1.0, 5, objective=obj, theta0=th)


# ---- --scheduler, --model/--data, --bias (issue 12 items 5 and 7) ---------------------------------
_MODEL_FILE = '''
import torch


def build_linear():
    torch.manual_seed(3)
    return torch.nn.Sequential(torch.nn.Linear(6, 5, bias=False), torch.nn.Linear(5, 3, bias=False))


def build_relu():
    torch.manual_seed(4)
    return torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))


def build_tanh():
    return torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3))


def build_dict():
    return {"not": "a net"}
'''


@pytest.fixture(scope="module")
def user_files(tmp_path_factory):
    """A user's model file and data: 12 seeded Gaussian points in R^6, 3 classes (and a 7-column file)."""
    pytest.importorskip("torch")
    folder = tmp_path_factory.mktemp("user")
    (folder / "nets.py").write_text(_MODEL_FILE)
    rng = np.random.default_rng(5)
    X = rng.standard_normal((12, 6)) / 2
    labels = np.arange(12) % 3
    np.savez(folder / "d.npz", X=X, labels=labels)
    np.savez(folder / "wide.npz", X=rng.standard_normal((12, 7)), labels=labels)
    np.savez(folder / "labels9.npz", X=X, labels=np.arange(12) % 10)
    return folder


def _cli(argv):
    from proofs_check.cli import main

    return main(["report", "ec21", *argv])


def _saved(folder):
    return json.loads((folder / "ec21.json").read_text())


def test_ec21_cli_torch_model_and_npz_data_end_to_end(user_files, tmp_path, capsys):
    """--model FILE.py:FUNCTION --data FILE.npz through the CLI, both branches of the ground truth: a
    bias-free linear net (float64 Taylor tier) and a ReLU net with biases (arb Taylor with kinks, capped
    horizon)."""
    for fn, kinks in (("build_linear", False), ("build_relu", True)):
        out = tmp_path / fn
        code = _cli(["--out", str(out), "--quick", "--model", f"{user_files / 'nets.py'}:{fn}",
                     "--data", str(user_files / "d.npz"), "--relu-t-cap", "0.5"])
        assert code == 0, capsys.readouterr().err
        saved = _saved(out)
        (net,) = saved["nets"]
        assert net["net"] == "custom" and net["data"]["source"] == "torch nn.Sequential"
        assert net["data"]["n"] == 12 and len(net["data"]["sha256"]) == 64
        assert net["parameters"] == (6 * 5 + 5 * 3 if not kinks else 6 * 4 + 4 + 4 * 3 + 3)
        assert (net["gf"]["kink_events"] is not None) == kinks
        expected = _expected_curves(saved)
        for name, count in expected.items():
            _check_figure(out, saved["figures"][name], count)
        assert len(saved["records"]) == len(net["runs"]) + (net["eos_run"] is not None)
        for r in saved["records"]:
            assert r["net"] == "custom" and math.isfinite(r["gf_gd_distance"]) and r["gf_gd_distance"] > 0
            assert r["gf_error_estimate"] < 1e-3 * r["gf_gd_distance"]
        if not kinks:  # a smooth net: the loss fell 10x at GD's η₀ and the distance is first order
            assert net["choice"]["k_star"] is not None and not net["choice"]["capped"]
            assert abs(net["first_order"]["two_point_slope"] - 1) <= 0.1
        else:  # the cap is the user's budget: said so, and t_end within it
            assert net["choice"]["capped"] and net["choice"]["t_end"] <= 0.5
            assert any(f["net"] == "custom" and "capped" in f["finding"] for f in saved["findings"])


@pytest.mark.parametrize("build", ["build_relu", "build_linear"])
def test_track_torch_model_float_tier_against_the_arb_tier(user_files, tmp_path, capsys, build):
    """gfgd track on a torch ReLU net with biases and on a linear one: the ground truth is the float64 Taylor
    tier by default (its 2-norm bound as the JSON's estimate), ``--tier arb`` the arb tier; their GF–GD
    distances agree within the two estimates, and the float tier's loss curve is the arb tier's."""
    from proofs_check.cli import main

    runs = {}
    for tier in ("float", "arb"):
        out = tmp_path / tier
        argv = ["track", "--out", str(out), "--eta", "0.2", "--steps", "16", "--points", "5",
                "--model", f"{user_files / 'nets.py'}:{build}", "--data", str(user_files / "d.npz"), "--tier", tier]
        assert main(argv) == 0
        runs[tier] = json.loads((out / "track.json").read_text())
    fl, ab = runs["float"], runs["arb"]
    assert fl["gf_tier"].startswith("gradient_flow (float64 Taylor tier") and "arb" in ab["gf_tier"]
    tol = fl["gf_error_estimate"] + ab["gf_error_estimate"]  # ≥ ‖θ_float(t) − θ_arb(t)‖₂ (both 2-norm bounds)
    assert tol < 1e-9  # (not vacuous: both tiers resolve these 31- and 45-parameter flows far below the distances)
    # |‖a − g‖ − ‖b − g‖| ≤ ‖a − b‖ (the triangle inequality), plus the distances' own float rounding
    assert max(abs(a - b) for a, b in zip(fl["distance"], ab["distance"])) <= tol + 8 * EPS * max(fl["distance"])
    # |f(a) − f(b)| ≤ sup‖∇f‖·‖a − b‖ on the segment, sup‖∇f‖ ≤ ‖∇f(a)‖ + Λ‖a − b‖ ≤ 2‖∇f(a)‖ here (‖a − b‖ ≤
    # 1e-9); ‖∇f‖ at the float tier's states, from the objective rebuilt from the same files
    import importlib.util

    import numerics
    from proofs_check.validation.torch_adapter import from_torch_sequential

    spec = importlib.util.spec_from_file_location("_nets_track", user_files / "nets.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    z = np.load(user_files / "d.npz")
    obj, th0 = from_torch_sequential(getattr(mod, build)(), z["X"], z["labels"])
    f = numerics.gradient_flow(obj, th0, fl["t"][-1], dps=None)
    G = max(float(np.sqrt(sum(np.sum(g * g) for g in numerics.gradient(obj, f.at(t))))) for t in fl["t"])
    for a, b in zip(fl["gf_loss"], ab["gf_loss"]):
        assert abs(a - b) <= 2 * G * tol + 8 * EPS * max(abs(a), abs(b))


@pytest.mark.parametrize("extra, message", [
    (["--net", "relu", "--widths", "60,5,10", "--n", "20"], "does not chain"),
    (["--net", "relu", "--widths", "64,5,x"], "--widths"),
    (["--net", "relu", "--widths", "64,5,10", "--tier", "exact"], "--tier"),
])
def test_track_bad_net_is_a_usage_error(tmp_path, capsys, extra, message):
    """A net that does not fit the data, or a malformed flag, is the user's mistake: exit 2, one line."""
    from proofs_check.cli import main

    assert main(["track", "--out", str(tmp_path / "o"), "--eta", "0.1", "--steps", "4", *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "internal error" not in err and "Traceback" not in err


@pytest.mark.parametrize("argv, message", [
    (["--model", "nets.py"], "FILE.py:FUNCTION"),
    (["--model", "missing.py:f"], "no such file"),
    (["--model", "nets.py:nothing"], "no function 'nothing'"),
    (["--model", "nets.py:build_dict"], "nn.Sequential"),
    (["--model", "nets.py:build_tanh"], "Tanh"),
    (["--data", "wide.npz"], "7 columns"),
    (["--data", "labels9.npz"], "labels"),
    (["--data", "missing.npz"], "no such file"),
    (["--model", "nets.py:build_linear", "--data", "d.npz", "--relu-widths", "64,10"], "--relu-widths"),
    (["--model", "nets.py:build_linear", "--data", "d.npz", "--nets", "linear,conv"], "--nets"),
    (["--model", "nets.py:build_linear"], "--model and --data"),
])
def test_ec21_cli_bad_model_or_data_is_a_usage_error(user_files, tmp_path, capsys, monkeypatch, argv, message):
    """One line naming the flag, exit 2, no traceback, nothing written."""
    monkeypatch.chdir(user_files)
    full = list(argv)
    if "--model" not in full and "--data" in full:
        full += ["--model", "nets.py:build_linear"]
    if "--data" not in full and "--model" in full and message != "--model and --data":
        full += ["--data", "d.npz"]
    code = _cli(["--out", str(tmp_path / "o"), "--quick", *full])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o" / "ec21.json").exists()


def test_ec21_bias_runs_end_to_end(tmp_path):
    """--bias on both rows (tiny sizes): the biased linear net through the float64 Taylor tier, the biased ReLU net
    through the kink integrator; θ holds the biases, the figures match the JSON."""
    out = tmp_path / "b"
    res = ec21.run(str(out), quick=True, seed=2, bias=True, ratios=(2, 5), n=30, fit_ratios=(3,),
                   linear={"widths": (64, 6, 10)}, relu={"widths": (64, 3, 10), "n": 5, "t_cap": 0.1})
    saved = _saved(out)
    lin, relu = saved["nets"]
    assert saved["settings"]["bias"] is True
    assert lin["parameters"] == 64 * 6 + 6 + 6 * 10 + 10 and relu["parameters"] == 64 * 3 + 3 + 3 * 10 + 10
    for name, count in _expected_curves(saved).items():
        _check_figure(out, saved["figures"][name], count)
    for net in res["nets"]:
        assert net["gf"]["error_estimate"] < 1e-3 * min(d for r in net["runs"] for d in r["gf_gd_distance"][1:])
    assert relu["gf"]["kink_events"] is not None


def test_ec21_scheduler_equals_the_serial_run(tmp_path):
    """--scheduler: the per-η GD jobs and the GF job on a local Dask cluster (a worker process) give
    exactly the serial run's numbers (same seed): every record, distance and loss, bit for bit."""
    distributed = pytest.importorskip("distributed")
    small = dict(nets=("linear",), ratios=(2, 5), n=30, seed=1, linear={"widths": (64, 5, 10)}, fit_ratios=(3,))
    serial = ec21.run(str(tmp_path / "serial"), quick=True, **small)
    from proofs_check.reports.jobs import dask_map

    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                                  env={"OPENBLAS_NUM_THREADS": "1"}) as cluster:
        mapper = dask_map(cluster.scheduler_address, timeout=30)
        try:
            dask = ec21.run(str(tmp_path / "dask"), quick=True, map_runs=mapper, **small)
        finally:
            mapper.client.close()
    assert json.dumps(serial["records"]) == json.dumps(dask["records"])
    for a, b in zip(serial["nets"], dask["nets"]):
        assert json.dumps(a["runs"]) == json.dumps(b["runs"]) and json.dumps(a["eos_run"]) == json.dumps(b["eos_run"])
        assert a["gf"]["loss"] == b["gf"]["loss"]
    assert dask["settings"]["scheduler"] is True


def test_ec21_cli_unreachable_scheduler_is_a_usage_error(tmp_path, capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = _cli(["--out", str(tmp_path / "o"), "--quick", "--scheduler", f"tcp://127.0.0.1:{port}",
                 "--scheduler-timeout", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "--scheduler" in err and "Traceback" not in err


@pytest.mark.parametrize("propagation", [None, "windows"])
def test_ec21_relu_row_on_the_float_tier_agrees_with_the_arb_row(ec21_quick, tmp_path, propagation):
    """--relu-tier float: the quick ReLU row's ground truth from the float64 Taylor tier, its error carried as a
    set (the default up to SET_MAX parameters) or by windows (``--relu-propagation windows``). The GD runs and
    the horizon do not depend on the tier, so every GF–GD distance must equal the arb row's to within
    the two ground truths' error bounds (2-norm: the float tier's own, the arb tier's √P·max-norm)."""
    _, arb_res, _ = ec21_quick
    res = ec21.run(str(tmp_path / "f"), quick=True, seed=0, nets=("relu",),
                   relu={"tier": "float", "propagation": propagation})
    (fl,), (ab,) = res["nets"], [n for n in arb_res["nets"] if n["net"] == "relu"]
    assert "float64 Taylor tier" in fl["gf"]["tier"] and "arb" in ab["gf"]["tier"]
    assert f"propagation {propagation or 'set'!r}" in fl["gf"]["tier"]
    assert ("windows through lone crossings" in fl["gf"]["tier"]) == (propagation == "windows")
    tol = fl["gf"]["error_estimate"] + ab["gf"]["error_estimate"]
    print(f"\nfloat tier estimate {fl['gf']['error_estimate']:.2e}, arb {ab['gf']['error_estimate']:.2e}, "
          f"events {fl['gf']['kink_events']} / {ab['gf']['kink_events']}")
    assert fl["gf"]["kink_events"] == ab["gf"]["kink_events"]
    for rf, ra in zip(fl["runs"], ab["runs"]):
        assert len(rf["gf_gd_distance"]) == len(ra["gf_gd_distance"])
        for x, y in zip(rf["gf_gd_distance"], ra["gf_gd_distance"]):
            assert abs(x - y) <= tol
    assert fl["gf"]["error_estimate"] < 1e-3 * min(d for r in fl["runs"] for d in r["gf_gd_distance"][1:])


def test_relu_propagation_defaults_to_the_set_where_it_fits():
    """The report's float ReLU row carries its error as a set up to SET_MAX parameters (docs/theory.md G2: ~90×
    the true error on the default row against ~3e4× with windows), "auto" (windows above DENSE_MAX) beyond; what
    was asked is kept."""
    from numerics.dense_propagation import DENSE_MAX
    from numerics.float_taylor import SET_MAX

    assert ec21.relu_propagation(None, 1440) == "set" and ec21.relu_propagation(None, SET_MAX) == "set"
    assert ec21.relu_propagation(None, SET_MAX + 1) == "auto"
    assert ec21.relu_propagation("windows", 100) == "windows"
    assert ec21._as_set("auto", DENSE_MAX) and not ec21._as_set("auto", DENSE_MAX + 1) and ec21._as_set("set", 5000)
    assert not ec21._as_set("windows", 10)


@pytest.mark.parametrize("argv, message", [
    (["--quick", "--nets", "relu", "--relu-propagation", "set"], "--relu-tier float"),  # quick's row is arb
    (["--nets", "relu", "--relu-tier", "arb", "--relu-propagation", "windows"], "--relu-tier float"),
    (["--nets", "relu", "--relu-tier", "float", "--relu-widths", "64,64,64,10", "--relu-propagation", "set"],
     "at most 4096 parameters, the ReLU row has 8832"),
    (["--nets", "relu", "--relu-propagation", "dense"], "invalid choice"),
])
def test_ec21_relu_propagation_usage_errors(tmp_path, capsys, argv, message):
    """--relu-propagation on the arb tier, the set above SET_MAX, an unknown value: exit 2 before the work, one
    line, nothing written."""
    out = tmp_path / "o"
    code = _cli(["--out", str(out), *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err, err
    assert not out.exists() or not any(out.iterdir())


def test_the_set_s_limit_counts_every_block():
    """``_set_fits`` on parameter shapes (a user's model: its arrays' shapes; the ReLU row: theory's shapes of
    the widths, biases included): SET_MAX parameters fit, one more is a usage error naming the count."""
    from numerics.float_taylor import SET_MAX
    from proofs_check.reports.jobs import UserInputError

    ec21._set_fits([(64, 64)], "the model")
    assert 64 * 64 == SET_MAX
    with pytest.raises(UserInputError, match=f"at most {SET_MAX} parameters, the model has {SET_MAX + 1}"):
        ec21._set_fits([(64, 64), (1,)], "the model")
    import theory

    with pytest.raises(UserInputError, match="the ReLU row has 4144"):  # 64·60 + 60 + 60·4 + 4 (biases)
        ec21._set_fits(theory.ReLUNet((64, 60, 4), 0, True).shapes, "the ReLU row")


def test_relu_row_defaults_follow_the_tier():
    """The default ReLU row: 64-16-16-10 on the float tier (since 2026-12-05; the paper's widths fall back
    to the arb tier there); ``--relu-tier arb`` without widths: the row the arb tier's cost allows; explicit
    widths win; quick keeps its arb row (docs/theory.md G2)."""
    cfg, _ = ec21.configuration(False, "cross_entropy", (2, 5), ("relu",), None, None)
    assert tuple(cfg["relu"]["widths"]) == (64, 16, 16, 10) and cfg["relu"]["tier"] == "float"
    cfg, _ = ec21.configuration(False, "cross_entropy", (2, 5), ("relu",), {"tier": "arb"}, None)
    assert tuple(cfg["relu"]["widths"]) == ec21.RELU_ARB_WIDTHS and cfg["relu"]["tier"] == "arb"
    cfg, _ = ec21.configuration(False, "cross_entropy", (2, 5), ("relu",), {"tier": "arb", "widths": (64, 9, 10)}, None)
    assert tuple(cfg["relu"]["widths"]) == (64, 9, 10)
    cfg, _ = ec21.configuration(True, "cross_entropy", (2, 5), ("relu",), None, None)
    assert tuple(cfg["relu"]["widths"]) == (64, 8, 8, 10) and cfg["relu"]["tier"] == "arb"
