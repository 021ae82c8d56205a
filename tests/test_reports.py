"""``gfgd report`` experiments render whole: every figure as a valid PNG and SVG whose data curves
match the JSON beside it, and the JSON's numbers satisfy the physics they illustrate."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")

from proofs_check.reports import bxc21  # noqa: E402

# every test of this file on one xdist worker (--dist loadgroup): the module's bxc21_quick report computed once
pytestmark = pytest.mark.xdist_group("test_reports")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _check_figure(folder, fig: dict, expected_curves: int) -> None:
    import matplotlib.image as mpimg

    assert fig["curves"] == expected_curves
    for name in fig["files"]:
        data = (folder / name).read_bytes()
        if name.endswith(".png"):
            assert data.startswith(PNG_MAGIC)
            img = mpimg.imread(folder / name)
            assert img.shape[0] > 100 and img.shape[1] > 100
        else:
            text = data.decode()
            assert text.lstrip().startswith("<?xml") and "</svg>" in text
            assert text.count('id="curve-') == expected_curves  # the tagged data curves, nothing else


@pytest.fixture(scope="module")
def bxc21_quick(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bxc21")
    res = bxc21.run(str(folder), quick=True, seed=0)
    return folder, res, json.loads((folder / "bxc21.json").read_text())


def test_bxc21_files_and_curves(bxc21_quick):
    folder, res, saved = bxc21_quick
    figs = saved["figures"]
    assert set(figs) == {"bxc21_losses", "bxc21_widths"}
    _check_figure(folder, figs["bxc21_losses"], 9)  # 3 panels x (network, kernel ODE, bound)
    _check_figure(folder, figs["bxc21_widths"], 3)  # GD, HB, NAG deviation means
    assert len(saved["data"]["indices"]) == saved["settings"]["n"] == 20
    assert not list(folder.glob(".*gfgd-tmp*"))  # no temporary file left behind


def test_bxc21_physics(bxc21_quick):
    """The network follows its kernel ODE, and the ODE stays under the theorem's bound."""
    _, res, _ = bxc21_quick
    for w in res["widths"]:
        assert not (w["hb_diverged"] or w["nag_diverged"] or w["gd_diverged"])
        for method in ("gd", "heavy_ball", "nesterov"):
            cv = w["curves"][method]
            net, ode = np.array(cv["loss"]), np.array(cv["ode_loss"])
            assert net[-1] < 1e-2 * net[0]  # it trained
            # same initial loss (the ODE starts from the network's own e(0))
            assert math.isclose(net[0], ode[0], rel_tol=1e-12)
    panels = res["figures"]["bxc21_losses"]["panels"]
    rec = max(res["widths"], key=lambda w: (w["m"], -w["model_seed"]))
    for p in panels:
        cv = rec["curves"][p["method"]]
        k = np.array(cv["k"])
        ode = dict(zip(k.tolist(), cv["ode_loss"]))
        # the bound is on the kernel ODE (D2-D4): it must hold there, at every plotted point
        for kb, b in zip(p["k_bound"], p["bound"]):
            if b is not None:
                assert ode[kb] <= b * (1 + 1e-9), (p["method"], kb, ode[kb], b)


def test_bxc21_digits_data_is_seeded_and_unit_norm():
    X, y, idx = bxc21.digits_unit_features(30, seed=3)
    X2, _, idx2 = bxc21.digits_unit_features(30, seed=3)
    assert idx == idx2 and np.array_equal(X, X2)
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0, rtol=0, atol=1e-15)
    assert set(np.unique(y)) <= {-1.0, 1.0}
    with pytest.raises(ValueError, match="n must be"):
        bxc21.digits_unit_features(1)


def test_report_cli_checks_the_folder_before_the_work(tmp_path, capsys):
    from proofs_check.cli import main

    a_file = tmp_path / "f"
    a_file.write_text("x")
    assert main(["report", "bxc21", "--out", str(a_file)]) == 2
    assert main(["report", "bxc21", "--out", str(tmp_path / "missing" / "deeper")]) == 2
    err = capsys.readouterr().err
    assert "is a file" in err and "does not exist" in err and "Traceback" not in err
