"""The results of ``gfgd check`` as a table (for people) and as JSON records (for files).

One row per claim: label, source, status, stated constant, worst ratio, margin, instances, time and
the verdict.
"""

from __future__ import annotations

import json
from typing import Sequence

from .claim import ClaimResult


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.6g}"


def format_table(results: Sequence[ClaimResult]) -> str:
    """The table ``gfgd check`` prints: one row per claim, then counterexamples and notes."""
    head = ["claim", "source", "status", "constant", "worst", "margin", "inst", "time", "verdict"]
    rows = [[r.claim, r.source, r.status, r.constant if len(r.constant) <= 28 else r.constant[:25] + "...",
             _fmt(r.worst_ratio), _fmt(r.margin), str(r.instances), f"{r.seconds:.1f}s", r.verdict]
            for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    out = [line(head), line(["-" * w for w in widths])] + [line(r) for r in rows]
    for r in results:
        if r.counterexample:
            out.append(f"\n{r.claim} VIOLATED; counterexample: {json.dumps(r.counterexample)}")
        for note in r.notes:
            out.append(f"{r.claim}: {note}")
    return "\n".join(out)


def json_records(results: Sequence[ClaimResult]) -> list[dict]:
    """One JSON record per claim (what ``gfgd check --json FILE`` writes)."""
    return [r.to_json() for r in results]


__all__ = ["format_table", "json_records"]
