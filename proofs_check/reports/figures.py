"""Figures for ``gfgd report``: matplotlib (the ``plot`` extra) without a display, every figure
written as PNG and SVG, whole (a temporary file beside the target, then a rename).

Every data curve is drawn with :func:`curve`, which tags it (SVG ``id="curve-…"``) so a test or a
reader can count the curves in the file and match them with the JSON that holds their numbers.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

FORMATS = ("png", "svg")


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend, or an ImportError naming the extra."""
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError('figures need matplotlib: python -m pip install -e ".[plot]"') from exc
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def curve(ax: Any, x: Sequence[float], y: Sequence[float], name: str, registry: list, **style: Any) -> Any:
    """Draw one data curve on ``ax``, tagged ``curve-<name>`` in the SVG, and record its name (and
    panel) in ``registry`` (the list the report's JSON keeps per figure)."""
    (line,) = ax.plot(x, y, label=style.pop("label", name), **style)
    tag = f"curve-{len(registry)}-{_slug(name)}"
    line.set_gid(tag)
    registry.append({"name": name, "svg_id": tag, "points": len(x)})
    return line


def save(fig: Any, folder: str, name: str) -> list[str]:
    """Write ``fig`` as ``folder/name.png`` and ``folder/name.svg``, each whole; returns the paths."""
    plt = pyplot()
    paths = []
    for fmt in FORMATS:
        path = os.path.join(folder, f"{name}.{fmt}")
        tmp = os.path.join(folder, f".{name}.{fmt}.gfgd-tmp-{os.getpid()}")
        try:
            # svg.hashsalt fixes the SVG's generated ids, so the same run gives the same file
            with plt.rc_context({"svg.hashsalt": "gfgd", "svg.fonttype": "none"}):
                fig.savefig(tmp, format=fmt, dpi=110, bbox_inches="tight",
                            metadata={"Date": None} if fmt == "svg" else None)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        paths.append(path)
    plt.close(fig)
    return paths


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")
