"""The claims engine: draw instances with Hypothesis, steer to the worst ratio, shrink violations.

A :class:`Claim` states a relation lhs ≤ rhs (or an identity) with its source, status and the
derivation of its tolerance. Its ``strategy`` draws instances (a ``one_of`` of families that must
include the regimes where the bound is tight), ``measure`` computes a :class:`Measurement`
(lhs, rhs and the absolute uncertainty ``err`` of lhs − rhs, derived per instance), and
``encode``/``decode`` turn an instance into JSON and back so every reported case replays.

Per instance:

* violated     -- lhs − rhs > err (certainly, given the error bars);
* inconclusive -- err is larger than the claim's resolution (relative to max(|lhs|, |rhs|), and
  above an absolute floor): cannot decide;
* holds        -- otherwise: lhs ≤ rhs + err.

Running a claim wraps ``measure`` in a Hypothesis test: ``target(lhs/rhs)`` steers generation
toward the worst ratio, a violation raises, and Hypothesis shrinks it to a minimal counterexample,
which is reported with its JSON. Budgets and seeds are explicit; profiles (``ci``, ``dev``,
``thorough``) set default budgets.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from hypothesis import HealthCheck, Phase, Verbosity, given, reject, settings, target
from hypothesis import seed as hyp_seed
from hypothesis import strategies as st

VERDICTS = ("holds", "violated", "inconclusive")


@dataclass
class Measurement:
    """One instance measured: ``lhs`` ≤ ``rhs`` up to ``err`` (or ``holds`` for identities)."""

    lhs: float | None = None
    rhs: float | None = None
    err: float = 0.0
    holds: bool | None = None  # identities only
    details: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.lhs is None or self.rhs is None or self.rhs == 0:
            return None
        return float(self.lhs) / float(self.rhs)

    def status(self, resolution: float, abs_resolution: float = 1e-30) -> str:
        """violated / inconclusive / holds (module docstring); an err below ``abs_resolution``
        always resolves (both sides ~0, e.g. λ_min = 0 = rhs)."""
        if self.holds is not None:
            return "holds" if self.holds else "violated"
        diff = float(self.lhs) - float(self.rhs)
        if diff > self.err:
            return "violated"
        scale = max(abs(float(self.rhs)), abs(float(self.lhs)))
        if self.err > resolution * scale and self.err > abs_resolution:
            return "inconclusive"
        return "holds"


@dataclass
class ClaimResult:
    claim: str
    name: str
    source: str
    status: str
    constant: str
    relation: str
    verdict: str
    worst_ratio: float | None
    instances: int
    seed: int
    seconds: float
    tolerance: str
    worst_instance: dict | None = None
    counterexample: dict | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def margin(self) -> float | None:
        """1 − worst ratio: how much room the stated constant leaves (negative = violated)."""
        return None if self.worst_ratio is None else 1.0 - self.worst_ratio

    def to_json(self) -> dict:
        d = asdict(self)
        d["margin"] = self.margin
        d["version"] = 1
        return d


class _Violation(Exception):
    pass


class NotApplicable(Exception):
    """The instance does not satisfy the claim's hypotheses (e.g. ηλ_max > 1 for A1)."""


def require(condition: bool, why: str = "") -> None:
    """In a claim's ``measure``: give up on an instance outside the claim's hypotheses."""
    if not condition:
        raise NotApplicable(why)


@dataclass
class Claim:
    """A statement of THEORY.md with everything needed to check it (module docstring)."""

    label: str
    name: str
    source: str
    status: str  # "paper" | "derived" | "conjecture"
    relation: str
    constant: str
    tolerance: str
    families: str
    strategy: Callable[..., st.SearchStrategy]
    measure: Callable[..., Measurement]
    encode: Callable[[Any], dict]
    decode: Callable[[dict], Any]
    default_budget: int = 20
    resolution: float = 1e-6
    abs_resolution: float = 1e-30  # an err below this always resolves (see Measurement.status)
    options: tuple[str, ...] = ()  # keyword options ``measure`` accepts (e.g. a mutated constant)

    def check(self, budget: int | None = None, seed: int = 0,
              progress: Callable[[int, int], None] | None = None, **options: Any) -> ClaimResult:
        """Run on ``budget`` drawn instances (default: the claim's own) with Hypothesis seeded by ``seed``."""
        budget = self.default_budget if budget is None else int(budget)
        if budget < 1:
            raise ValueError(f"budget must be >= 1, got {budget}")
        unknown = set(options) - set(self.options)
        if unknown:
            raise TypeError(f"claim {self.label} takes options {sorted(self.options)}, not {sorted(unknown)}")
        t0 = time.perf_counter()
        s = {"n": 0, "worst": None, "worst_inst": None, "cex": None, "inconclusive": 0, "notes": []}

        def probe(inst: Any) -> None:
            try:
                m = self.measure(inst, **options)
            except NotApplicable:
                reject()
            s["n"] += 1
            status = m.status(self.resolution, self.abs_resolution)
            r = m.ratio
            if r is not None and math.isfinite(r):
                target(r, label=f"{self.label} ratio")
                if s["worst"] is None or r > s["worst"]:
                    s["worst"], s["worst_inst"] = r, self.describe(inst, m)
            if status == "inconclusive":
                s["inconclusive"] += 1
            if progress is not None:
                progress(min(s["n"], budget), budget)
            if status == "violated":
                s["cex"] = self.describe(inst, m)
                raise _Violation()

        test = given(self.strategy())(probe)
        test = settings(max_examples=budget, deadline=None, database=None, derandomize=False,
                        phases=(Phase.explicit, Phase.generate, Phase.target, Phase.shrink),
                        suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
                        print_blob=False, report_multiple_bugs=False)(test)
        test = hyp_seed(seed)(test)
        verdict = "holds"
        try:
            test()
        except _Violation:
            verdict = "violated"
        if verdict == "holds" and s["inconclusive"]:
            verdict = "inconclusive"
            s["notes"].append(f"{s['inconclusive']} instance(s) could not be decided within the error bars")
        return ClaimResult(self.label, self.name, self.source, self.status, self.constant, self.relation,
                           verdict, s["worst"], s["n"], seed, time.perf_counter() - t0, self.tolerance,
                           s["worst_inst"], s["cex"], s["notes"])

    def describe(self, inst: Any, m: Measurement) -> dict:
        return {"instance": self.encode(inst), "lhs": _num(m.lhs), "rhs": _num(m.rhs), "err": _num(m.err),
                "ratio": m.ratio, "holds": m.holds, **{k: _num(v) for k, v in m.details.items()}}

    def replay(self, record: dict, **options: Any) -> Measurement:
        """Re-measure an instance from its JSON (a ``worst_instance``/``counterexample`` record or
        just its ``instance`` field)."""
        inst = record.get("instance", record)
        return self.measure(self.decode(inst), **options)


def _num(x: Any) -> Any:
    if x is None or isinstance(x, (bool, str, int, list, dict)):
        return x
    try:
        return float(x)
    except (TypeError, ValueError):
        return json.dumps(x, default=str)
