"""``import theory, numerics`` loads no heavy library; the lazily loaded names still resolve (issue 9)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ["sympy", "scipy.integrate", "scipy.sparse", "scipy.special", "scipy.linalg", "theory.momentum",
         "theory.symbolic", "theory.ntk", "numerics.flows", "numerics.float_flows", "numerics.spectra"]


def _loaded_after(code: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    probe = f"{code}\nimport sys, json\nprint(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=ROOT,
                         timeout=120, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_import_theory_numerics_loads_no_heavy_module():
    loaded = _loaded_after("import theory, numerics")
    assert not any(loaded.values()), [m for m, v in loaded.items() if v]


def test_float_gd_needs_no_heavy_module_but_blas():
    loaded = _loaded_after("import numpy as np, theory, numerics\n"
                           "o = theory.Objective(theory.DeepLinear((3, 2, 1)), theory.WhitenedSquare(np.ones((1, 3))))\n"
                           "numerics.gradient_descent(o, numerics.gaussian_init(o, 0.1, 0), 0.1, 3)")
    assert not any(v for m, v in loaded.items() if m != "scipy.linalg")


@pytest.mark.parametrize("name", ["symbolic", "momentum", "ntk", "bounds", "TwoLayerReLU"])
def test_lazy_theory_names_resolve(name):
    import theory

    assert getattr(theory, name) is not None and name in dir(theory)


@pytest.mark.parametrize("name", ["gradient_flow", "gradient_flow_float", "gradient_flow_generic", "lambda_min",
                                  "lambda_max", "ConvergenceError", "ntk_training", "train_gd", "Trajectory"])
def test_lazy_numerics_names_resolve(name):
    import numerics

    assert getattr(numerics, name) is not None and name in dir(numerics)


def test_unknown_attribute_is_an_attribute_error():
    import numerics
    import theory

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        theory.nope  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        numerics.nope  # noqa: B018
