"""Provenance of every output file: what made it, with what, where (one helper for all verbs).

:func:`provenance` returns a JSON-ready dict: the gfgd version (and the git commit of a source
checkout), the command line, the seeds and budget/profile of the run, the time (UTC), the platform
and the versions of the libraries that decide numbers (numpy, scipy, mpmath, python-flint, gmpy2,
sympy, hypothesis, tqdm).
"""

from __future__ import annotations

import datetime
import functools
import os
import platform
import shlex
import subprocess
import sys
from importlib import metadata
from typing import Any, Sequence

LIBRARIES = ("numpy", "scipy", "mpmath", "python-flint", "gmpy2", "sympy", "hypothesis", "tqdm")
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _dist_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=1)
def version() -> str:
    """gfgd's version: the installed distribution's, else the ``version`` line of pyproject.toml."""
    pyproject = os.path.join(_ROOT, "pyproject.toml")
    if os.path.isfile(pyproject):  # a source checkout (also one run via PYTHONPATH) knows itself best
        with open(pyproject, encoding="utf-8") as fh:
            for line in fh:
                if line.strip().startswith("version") and "=" in line:
                    return line.split("=", 1)[1].strip().strip('"\'')
    return _dist_version("gfgd") or "unknown"


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The commit of a git checkout holding this package (None when not one, or git is absent)."""
    if not os.path.exists(os.path.join(_ROOT, ".git")):
        return None
    try:
        out = subprocess.run(["git", "-C", _ROOT, "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


@functools.lru_cache(maxsize=1)
def libraries() -> dict[str, str | None]:
    return {name: _dist_version(name) for name in LIBRARIES}


def provenance(argv: Sequence[str] | None = None, seeds: dict[str, Any] | None = None, **run: Any) -> dict:
    """The provenance record (module docstring). ``argv``: the arguments after ``gfgd`` (None: a
    Python call; the process's ``sys.argv`` is recorded); ``seeds``: every seed of the run by name; ``run``: budget, profile, etc."""
    # argv None: called from Python, not from gfgd -- record the process's own command line
    command = shlex.join(sys.argv) if argv is None else shlex.join(["gfgd", *map(str, argv)])
    return {
        "gfgd_version": version(),
        "git_commit": git_commit(),
        "command": command,
        "seeds": dict(seeds or {}),
        **run,
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "platform": {"python": platform.python_version(), "implementation": platform.python_implementation(),
                     "system": platform.platform(), "machine": platform.machine()},
        "libraries": libraries(),
    }


__all__ = ["LIBRARIES", "git_commit", "libraries", "provenance", "version"]
