"""Test configuration: the Hypothesis profile (``ci`` unless HYPOTHESIS_PROFILE says otherwise) and
the ``thorough`` marker, whose tests run only in the ``thorough`` profile."""

import os

if "PYTEST_XDIST_WORKER" in os.environ:
    # two workers on two cores (-n 2 in pyproject's addopts): one BLAS thread each, set before numpy loads
    # OpenBLAS, or each worker's BLAS would start a thread per core and the two would fight over them
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import pytest

from proofs_check.engine.profiles import load_profile

PROFILE = load_profile()


def pytest_report_header(config):
    return f"hypothesis profile: {PROFILE}"


def pytest_collection_modifyitems(config, items):
    if PROFILE == "thorough":
        return
    skip = pytest.mark.skip(reason="slow check: run with HYPOTHESIS_PROFILE=thorough")
    for item in items:
        if "thorough" in item.keywords:
            item.add_marker(skip)
