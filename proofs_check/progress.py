"""Progress bars of the long ``gfgd`` verbs, on tqdm.

Shown on stderr when it is a terminal; off a terminal only when asked (``--progress`` or
``GFGD_PROGRESS=1``); ``GFGD_PROGRESS=0`` silences them everywhere. Bars never go to stdout, so
tables and JSON on stdout stay clean.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from tqdm import tqdm

_FORCED: bool | None = None  # set by the CLI's --progress


def force(on: bool | None) -> None:
    """``--progress``: show bars even off a terminal (``None``: back to the default rule)."""
    global _FORCED
    _FORCED = on


def enabled() -> bool:
    """Whether bars are shown (module docstring)."""
    if _FORCED:
        return True
    env = os.environ.get("GFGD_PROGRESS", "").strip().lower()
    if env in ("0", "false", "no", "off"):
        return False
    if env:
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def bar(total: float | None = None, desc: str = "", unit: str = "it", **kw: Any) -> tqdm:
    """A tqdm bar on stderr (disabled per :func:`enabled`); ``total`` may be a float (time)."""
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=not enabled(), leave=True,
                dynamic_ncols=True, mininterval=0.2, **kw)


def time_bar(t_end: float, desc: str = "flow"):
    """A bar over simulated time [0, t_end] and the ``progress(t, t_end)`` callback that drives it
    (the total is the requested t_end, so the ETA is wall time per unit of t, extrapolated)."""
    b = bar(total=float(t_end), desc=desc, unit="t", bar_format="{l_bar}{bar}| t={n:.4g}/{total:.4g} "
            "[{elapsed}<{remaining}]")

    def callback(t: float, _t_end: float = 0.0) -> None:
        step = min(float(t), float(t_end)) - b.n
        if step > 0:
            b.update(step)  # update() redraws at most every mininterval

    return b, callback


__all__ = ["bar", "enabled", "force", "time_bar"]
