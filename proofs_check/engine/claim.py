"""The claims engine: draw instances with Hypothesis, steer to the worst ratio, shrink violations.

A :class:`Claim` states a relation lhs ≤ rhs (or an identity) with its source, status and the
derivation of its tolerance. Its ``strategy`` draws instances (a ``one_of`` of families that must
include the regimes where the bound is tight), ``measure`` computes a :class:`Measurement`
(lhs, rhs and the absolute uncertainty ``err`` of lhs − rhs, derived per instance, and an absolute
``floor``: the resolution of the two sides at the instance's scale and working precision), and
``encode``/``decode`` turn an instance into JSON and back so every reported case replays.

Verdict per instance (docs/theory.md, "Verdicts"):

* ``violated``           -- lhs − rhs > err: certainly violated, given the error bars;
* ``holds``              -- lhs ≤ rhs − err: certainly holds;
* ``holds within error`` -- |lhs − rhs| ≤ err, and err is resolved (err ≤ resolution·max(|lhs|,
  |rhs|) or err ≤ floor): the two sides agree to the claim's resolution (e.g. an equality case);
* ``inconclusive``       -- |lhs − rhs| ≤ err with err not resolved: cannot decide;
* ``error``              -- ``measure`` raised: reported with the instance's JSON and the exception.

Identities (``holds`` set, no sides) are ``holds`` or ``violated``. A claim's verdict is the worst
over its instances in the order violated > error > inconclusive > holds within error > holds.

Running a claim wraps ``measure`` in a Hypothesis test: ``target(lhs/rhs)`` steers generation
toward the worst ratio, a violation (or an error) raises, and Hypothesis shrinks it to a minimal
case, which is reported with its JSON. Budgets and seeds are explicit; profiles (``ci``, ``dev``,
``thorough``) set default budgets.
"""

from __future__ import annotations

from fractions import Fraction

import inspect
import json
import math
import numbers
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import traceback

from hypothesis import HealthCheck, Phase, Verbosity, given, reject, settings, target
from hypothesis import seed as hyp_seed
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException, Unsatisfiable

# per instance and per claim; a claim's verdict is the first of VERDICT_ORDER met by any instance
VERDICTS = ("holds", "holds within error", "inconclusive", "violated", "error")
VERDICT_ORDER = ("violated", "error", "inconclusive", "holds within error", "holds")
_UNIT_ROUNDOFF = 2.0**-53


@dataclass
class Measurement:
    """One instance measured: ``lhs`` ≤ ``rhs`` up to ``err`` (or ``holds`` for identities).

    ``err`` bounds |computed (lhs − rhs) − true (lhs − rhs)|. ``floor`` is the absolute resolution of
    the two sides at this instance's scale and working precision (e.g. ε·‖H‖ for an eigenvalue in
    float64): an ``err`` at or below it counts as resolved even when both sides are ~0. ``holds``
    False on a two-sided measurement marks a failed side check (e.g. a closed form disagreeing with
    the integrator): the instance is then violated whatever the sides say."""

    lhs: float | None = None
    rhs: float | None = None
    err: float = 0.0
    holds: bool | None = None  # identities; or False: a failed side check
    details: dict = field(default_factory=dict)
    floor: float = 0.0

    @property
    def ratio(self) -> float | None:
        if self.lhs is None or self.rhs is None or self.rhs == 0:
            return None
        return float(self.lhs) / float(self.rhs)

    def status(self, resolution: float, abs_resolution: float = 0.0) -> str:
        """holds / holds within error / inconclusive / violated (module docstring).

        ``abs_resolution`` is an extra absolute floor (the larger of it and ``self.floor`` is used)."""
        if self.holds is False:
            return "violated"
        if self.lhs is None or self.rhs is None:
            if self.holds is None:
                raise ValueError("a Measurement needs lhs and rhs, or holds")
            return "holds"
        lhs, rhs, err = float(self.lhs), float(self.rhs), float(self.err)
        if not (math.isfinite(lhs) and math.isfinite(rhs)) or not err >= 0 or math.isnan(err):
            if lhs < rhs:  # e.g. rhs = +inf: holds whatever the error
                return "holds"
            raise ValueError(f"non-finite measurement: lhs={lhs}, rhs={rhs}, err={err}")
        # the sides are compared in float64: rounding each to float64 moves it by ≤ 2^-53 relative
        # (the subtraction of two close floats is then exact), so that is part of the error of lhs − rhs
        err = err + _UNIT_ROUNDOFF * (abs(lhs) + abs(rhs))
        diff = lhs - rhs
        if diff > err:
            return "violated"
        if diff <= -err:
            return "holds"
        scale = max(abs(lhs), abs(rhs))
        if err <= resolution * scale or err <= max(float(self.floor), float(abs_resolution)):
            return "holds within error"
        return "inconclusive"


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
    counts: dict = field(default_factory=dict)  # per-instance verdict -> number of instances
    error: dict | None = None  # the instance whose measure raised: {"instance", "exception", "traceback"}

    @property
    def margin(self) -> float | None:
        """1 − worst ratio: how much room the stated constant leaves (negative = violated)."""
        return None if self.worst_ratio is None else 1.0 - self.worst_ratio

    def to_json(self) -> dict:
        d = asdict(self)
        d["margin"] = self.margin
        d["version"] = 2  # 2: verdict classes "holds within error" and "error", counts, error
        return d


class _Violation(Exception):
    pass


class _Error(Exception):
    pass


class NotApplicable(Exception):
    """The instance does not satisfy the claim's hypotheses (e.g. ηλ_max > 1 for A1)."""


def require(condition: bool, why: str = "") -> None:
    """In a claim's ``measure``: give up on an instance outside the claim's hypotheses."""
    if not condition:
        raise NotApplicable(why)


@dataclass
class Claim:
    """A statement of docs/theory.md with everything needed to check it (module docstring)."""

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
    abs_resolution: float = 0.0  # extra absolute floor; measures derive theirs (Measurement.floor)
    options: tuple[str, ...] = ()  # keyword options ``measure`` accepts (e.g. a mutated constant)

    def check(self, budget: int | None = None, seed: int = 0,
              progress: Callable[[int, int], None] | None = None, **options: Any) -> ClaimResult:
        """Run on ``budget`` drawn instances (default: the claim's own) with Hypothesis seeded by ``seed``."""
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, numbers.Integral)):
            raise TypeError(f"budget must be a positive integer, got {budget!r}")
        budget = self.default_budget if budget is None else int(budget)
        if budget < 1:
            raise ValueError(f"budget must be >= 1, got {budget}")
        from theory.arrays import check_seed  # lazily: `gfgd --help` must not import theory (sympy)

        seed = check_seed(seed)
        unknown = set(options) - set(self.options)
        if unknown:
            raise TypeError(f"claim {self.label} takes options {sorted(self.options)}, not {sorted(unknown)}")
        for key, value in options.items():
            _check_option(self, key, value)
        t0 = time.perf_counter()
        s = {"n": 0, "worst": None, "worst_inst": None, "cex": None, "err": None, "notes": [],
             "counts": {v: 0 for v in VERDICTS}}

        def probe(inst: Any) -> None:
            try:
                m = self.measure(inst, **options)
                status = m.status(self.resolution, self.abs_resolution)
            except NotApplicable:
                reject()
            except HypothesisException:
                raise  # reject()/assume() inside a measure
            except Exception as e:  # noqa: BLE001 - a crash of the measure is a verdict, with its instance
                s["n"] += 1
                s["counts"]["error"] += 1
                s["err"] = {"instance": self._safe_encode(inst), "exception": f"{type(e).__name__}: {e}",
                            "traceback": traceback.format_exc(limit=6)}
                raise _Error() from e
            s["n"] += 1
            s["counts"][status] += 1
            r = m.ratio
            if r is not None and math.isfinite(r):
                target(r, label=f"{self.label} ratio")
                if s["worst"] is None or r > s["worst"]:
                    s["worst"], s["worst_inst"] = r, self.describe(inst, m)
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
        try:
            test()
        except (_Violation, _Error):
            pass
        except Unsatisfiable:
            s["notes"].append("no drawn instance satisfied the claim's hypotheses")
        except Exception as e:  # noqa: BLE001 - the strategy itself raised: an error verdict, no instance
            s["err"] = {"instance": None, "exception": f"{type(e).__name__}: {e}",
                        "traceback": traceback.format_exc(limit=6)}
        counts = s["counts"]
        if s["cex"] is not None:
            verdict = "violated"
        elif s["err"] is not None:
            verdict = "error"
            s["notes"].append(f"measure raised {s['err']['exception']} (instance in the JSON record)")
        elif counts["inconclusive"] or s["n"] == 0:
            verdict = "inconclusive"
            if counts["inconclusive"]:
                s["notes"].append(f"{counts['inconclusive']} instance(s) could not be decided within the error bars")
        elif counts["holds within error"]:
            verdict = "holds within error"
        else:
            verdict = "holds"
        return ClaimResult(self.label, self.name, self.source, self.status, self.constant, self.relation,
                           verdict, s["worst"], s["n"], seed, time.perf_counter() - t0, self.tolerance,
                           s["worst_inst"], s["cex"], s["notes"], {k: v for k, v in counts.items() if v},
                           s["err"])

    def _safe_encode(self, inst: Any) -> Any:
        try:
            return json.loads(json.dumps(self.encode(inst), default=str))
        except Exception as e:  # noqa: BLE001 - the encoder failing must not hide the measure's error
            return {"unencodable": repr(inst)[:2000], "encode_error": f"{type(e).__name__}: {e}"}

    def describe(self, inst: Any, m: Measurement) -> dict:
        return {"instance": self.encode(inst), "lhs": _num(m.lhs), "rhs": _num(m.rhs), "err": _num(m.err),
                "floor": _num(m.floor), "ratio": m.ratio, "holds": m.holds,
                "verdict": m.status(self.resolution, self.abs_resolution), **{k: _num(v) for k, v in m.details.items()}}

    def replay(self, record: dict, **options: Any) -> Measurement:
        """Re-measure an instance from its JSON (a ``worst_instance``/``counterexample`` record or
        just its ``instance`` field)."""
        inst = record.get("instance", record)
        return self.measure(self.decode(inst), **options)


def _check_option(claim: Claim, key: str, value: Any) -> None:
    """Mutation options are real numbers (a replaced constant, exponent or factor) unless the
    measure's annotation says ``str``; checked here so a wrong type fails at the call, naming the
    option, not deep inside a bound's arithmetic."""
    import mpmath
    import numpy as np

    from theory.arrays import is_real_scalar

    if value is None:
        return
    param = inspect.signature(claim.measure).parameters.get(key)
    annotation = "" if param is None else str(param.annotation)
    if isinstance(value, str) and "str" in annotation:
        return
    if isinstance(value, str):
        # a decimal string ("0.7999") states a constant exactly; the measures hand it to mpmath,
        # which reads it at the working precision (a float would carry its binary rounding)
        try:
            q = Fraction(value.strip())
        except (ValueError, ZeroDivisionError):
            raise TypeError(f"claim {claim.label} option {key!r} must be a real number (int, float, Fraction, "
                            f"mpmath.mpf or a decimal string), got str {value!r}") from None
        if not mpmath.isfinite(mpmath.mpf(q.numerator) / q.denominator):
            raise ValueError(f"claim {claim.label} option {key!r} must be finite, got {value!r}")
        return
    if isinstance(value, bool) or not is_real_scalar(value) and not isinstance(value, (np.floating, np.integer)):
        raise TypeError(f"claim {claim.label} option {key!r} must be a real number (int, float, Fraction or "
                        f"mpmath.mpf), got {type(value).__name__} {value!r}")
    if not mpmath.isfinite(value if not isinstance(value, (np.floating, np.integer)) else value.item()):
        raise ValueError(f"claim {claim.label} option {key!r} must be finite, got {value!r}")


def _num(x: Any) -> Any:
    if x is None or isinstance(x, (bool, str, int, list, dict)):
        return x
    try:
        return float(x)
    except (TypeError, ValueError):
        return json.dumps(x, default=str)
