"""The results of ``gfgd check`` as a table (for people) and as JSON records (for files).

One row per claim: label, source, status, stated constant, worst ratio, margin, instances, the
instances per verdict class (h = holds, w = holds within error, i = inconclusive, v = violated,
e = error), time and the claim's verdict; then a count of claims per verdict, counterexamples, errors
(with the instance's JSON) and notes.
"""

from __future__ import annotations

import json
from typing import Sequence

from .claim import VERDICT_ORDER, VERDICTS, ClaimResult

_ABBREV = {"holds": "h", "holds within error": "w", "inconclusive": "i", "violated": "v", "error": "e"}


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.6g}"


def _per_class(counts: dict) -> str:
    return " ".join(f"{_ABBREV[v]}{counts[v]}" for v in VERDICTS if counts.get(v)) or "-"


def verdict_counts(results: Sequence[ClaimResult]) -> dict:
    """Number of claims per verdict class, in the order violated, error, inconclusive, within, holds."""
    return {v: sum(r.verdict == v for r in results) for v in VERDICT_ORDER}


def format_table(results: Sequence[ClaimResult]) -> str:
    """The table ``gfgd check`` prints: one row per claim, then counts, counterexamples, errors, notes."""
    head = ["claim", "source", "status", "constant", "worst", "margin", "inst", "per class", "time", "verdict"]
    rows = [[r.claim, r.source, r.status, r.constant if len(r.constant) <= 28 else r.constant[:25] + "...",
             _fmt(r.worst_ratio), _fmt(r.margin), str(r.instances), _per_class(r.counts or {}),
             f"{r.seconds:.1f}s", r.verdict]
            for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    out = [line(head), line(["-" * w for w in widths])] + [line(r) for r in rows]
    counts = verdict_counts(results)
    out.append("claims: " + ", ".join(f"{n} {v}" for v, n in counts.items() if n)
               + "  (per class: h holds, w holds within error, i inconclusive, v violated, e error)")
    for r in results:
        if r.counterexample:
            out.append(f"\n{r.claim} VIOLATED; counterexample: {json.dumps(r.counterexample)}")
        if r.error:
            out.append(f"\n{r.claim} ERROR: {r.error['exception']}; instance: {json.dumps(r.error['instance'])}")
        for note in r.notes:
            out.append(f"{r.claim}: {note}")
    return "\n".join(out)


def json_records(results: Sequence[ClaimResult]) -> list[dict]:
    """One JSON record per claim (what ``gfgd check --json FILE`` writes): ``verdict`` is one of
    "holds", "holds within error", "inconclusive", "violated", "error"; ``counts`` the instances per
    verdict class; ``error`` the instance whose measure raised (its JSON, the exception, a traceback)."""
    return [r.to_json() for r in results]


__all__ = ["format_table", "json_records", "verdict_counts"]
