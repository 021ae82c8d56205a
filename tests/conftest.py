"""Test configuration: the Hypothesis profile (``ci`` unless HYPOTHESIS_PROFILE says otherwise) and
the ``thorough`` marker, whose tests run only in the ``thorough`` profile."""

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
