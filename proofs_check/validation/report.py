"""What :func:`proofs_check.validate` returns, and how it prints."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np



# ----------------------------------------------------------------------------------------- report
@dataclass
class ValidationReport:
    """The outcome of :func:`validate`.

    ``verdict``: ``"pass"`` (every instance within tolerance), ``"fail"`` (a counterexample was
    found and shrunk: see ``failure``, ``message`` and ``counterexample``) or ``"error"`` (the
    validation itself could not run, e.g. no valid instance could be drawn; ``message`` says why).
    ``failure``: ``"mismatch"``, ``"raised"``, ``"wrong_type"``, ``"wrong_shape"``, ``"non_finite"``
    or ``"nondeterministic"`` (None on a pass).
    """

    kind: str
    target: str
    model: str
    verdict: str
    failure: str | None
    message: str
    instances: int
    rejected: int
    shrink_evaluations: int
    budget: int
    seed: int
    worst_ratio: float | None
    worst_relative_error: float | None
    rtol: float | None
    atol: float | None
    tolerance: str
    seconds: float
    counterexample: dict | None = None
    worst_instance: dict | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def __bool__(self) -> bool:
        return self.passed

    def to_json(self) -> dict:
        """A JSON-safe dict (schema ``gfgd.validation``, version 1; infinities as the string "inf")."""
        return _json_safe({"version": 1, "schema": "gfgd.validation", **asdict(self)})

    def summary(self) -> str:
        """A readable multi-line summary (what ``gfgd validate`` prints)."""
        head = f"gfgd validate {self.kind} {self.target}: {self.verdict.upper()}"
        lines = [head, "-" * len(head)]
        shrink = f", then {self.shrink_evaluations} while shrinking" if self.shrink_evaluations else ""
        lines.append(f"model: {self.model} net, whitened square loss; {self.instances} instance(s) checked{shrink}"
                     f" ({self.rejected} rejected), budget {self.budget}, seed {self.seed}, {self.seconds:.1f}s")
        if self.worst_ratio is not None:
            lines.append(f"worst error/tolerance: {self.worst_ratio:.3g}   "
                         f"worst normwise relative error: {_fmt(self.worst_relative_error)}")
        if self.kind == "gf":
            lines.append(f"accuracy asked: rtol = {self.rtol:g}" + (f", atol = {self.atol:g}" if self.atol else "")
                         + f"; achieved (worst relative error): {_fmt(self.worst_relative_error)}")
        elif self.kind == "lambda_min" and self.rtol:
            lines.append(f"eigensolver tolerance allowed: rtol = {self.rtol:g} (relative to ‖H‖₂)")
        lines.append(f"tolerance: {self.tolerance}")
        if self.message:
            lines.append("")
            lines.append(self.message)
        if self.counterexample is not None:
            lines.append("")
            lines.append("minimal failing instance (JSON):")
            lines.append(json.dumps(self.counterexample.get("instance"), separators=(",", ":")))
        for n in self.notes:
            lines.append(f"note: {n}")
        return "\n".join(lines)


def _json_safe(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, (np.floating, np.integer)):
        return _json_safe(x.item())
    return x


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


@dataclass
class Outcome:
    """The result of one instance: ``failure`` is None when the output was usable; ``ratio`` is
    max error/tolerance (pass iff ≤ 1)."""

    ratio: float
    relerr: float
    failure: str | None
    message: str
    detail: dict
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failure is None and self.ratio <= 1.0
