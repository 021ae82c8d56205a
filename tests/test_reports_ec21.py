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


@pytest.mark.xfail(strict=True, reason="finding: on the ReLU net GD's error jumps at each kink crossing by an "
                   "O(η) amount whose constant depends on where the step lands relative to the kink, so the "
                   "slope between η₀ and η₀/2 is erratic (quick seed 0: ≈ 0, fit over 5 step sizes ≈ 0.78)")
def test_ec21_relu_gf_gd_distance_is_first_order(ec21_quick):
    _, res, _ = ec21_quick
    assert abs(_slope(res["nets"][1]) - 1) <= 0.1


def test_ec21_ground_truth_error_is_far_below_the_distances(ec21_quick):
    _, res, _ = ec21_quick
    for net in res["nets"]:
        err = net["gf"]["error_estimate"]
        smallest = min(d for run in net["runs"] for d in run["gf_gd_distance"][1:])
        print(f"\n{net['net']}: GF error estimate (2-norm bound) {err:.2e}, smallest GF-GD distance {smallest:.2e}")
        assert err < 1e-3 * smallest


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
