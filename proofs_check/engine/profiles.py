"""Hypothesis profiles shared by the tests, the CLI and long runs.

* ``ci``       -- the test default: few examples, derandomized (reproducible), no deadline (mp
  and exact work have no stable per-example time on a shared machine).
* ``dev``      -- more examples, random, for local exploration.
* ``thorough`` -- long runs; also enables the tests marked ``thorough``.

Select one with the environment variable ``HYPOTHESIS_PROFILE`` (default ``ci``).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILES = {
    "ci": dict(max_examples=20, deadline=None, derandomize=True, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]),
    "dev": dict(max_examples=100, deadline=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow]),
    "thorough": dict(max_examples=1000, deadline=None, print_blob=True,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]),
}

# Claim budgets follow the profile too: a claim runs default_budget × this factor instances, so the
# tests (ci), `gfgd check --profile dev` and long runs (thorough) share one mechanism.
CLAIM_BUDGET_FACTOR = {"ci": 1, "dev": 5, "thorough": 50}

for _name, _kw in PROFILES.items():
    settings.register_profile(_name, **_kw)


def active_profile() -> str:
    """The profile named by ``HYPOTHESIS_PROFILE`` (default ``ci``); ValueError if unknown."""
    name = os.environ.get("HYPOTHESIS_PROFILE", "ci")
    if name not in PROFILES:
        raise ValueError(f"HYPOTHESIS_PROFILE={name!r} is not one of {sorted(PROFILES)}")
    return name


def load_profile(name: str | None = None) -> str:
    """Load profile ``name`` (default: :func:`active_profile`) and return its name."""
    name = name or active_profile()
    settings.load_profile(name)
    return name
