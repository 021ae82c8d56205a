"""The driver: :func:`validate` draws instances, runs the implementation, shrinks the first failure."""

from __future__ import annotations

import contextlib
import json
import math
import time
import traceback
from fractions import Fraction
from typing import Any, Callable, Sequence

from hypothesis import HealthCheck, Phase, Verbosity, given, reject, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import Flaky, Unsatisfiable

import theory

from . import strategies as vs
from .protocols import SIGNATURES
from .strategies import Instance
from .tolerance import DEFAULT_GF_RTOL, DEFAULT_SHRINK_LIMIT, KINDS, TOLERANCE_TEXT
from .report import ValidationReport, _fmt
from .outputs import _Failed, _ImplProblem, _InternalError, _Out, _call, _normalize
from .compare import _Cmp, _compare, _num_str
from .references import REFERENCES
from .hints import _diagnose
from .report import Outcome

def check_instance(kind: str, impl: Callable, instance: Instance | dict, model: str = "linear",
                   rtol: float | None = None, atol: float = 0.0, slack: float = 1.0) -> Outcome | None:
    """Validate ``impl`` on one instance (an :class:`Instance` or its JSON, e.g. a report's
    counterexample). Returns None if the instance is outside the reference's domain (a ReLU kink
    within rounding distance, a diverging method, an unreachable GF accuracy)."""
    _check_kind(kind)
    inst = Instance.from_json(instance["instance"] if "instance" in instance else instance) \
        if isinstance(instance, dict) else instance
    opts = _options(kind, rtol, atol, model)
    return _run_one(kind, impl, inst, model, opts, slack)


def _run_one(kind: str, impl: Callable, inst: Instance, model: str, opts: dict, slack: float) -> Outcome | None:
    try:
        ref = REFERENCES[kind](inst, model, opts)
    except Exception as e:  # noqa: BLE001
        raise _InternalError(f"reference computation failed on {inst!r}: {type(e).__name__}: {e}") from e
    if ref is None:
        return None
    notes: list[str] = []
    try:
        out, modified = _call(kind, impl, inst)
    except Exception as e:  # noqa: BLE001 - report whatever the implementation raised
        tb = traceback.format_exception(type(e), e, e.__traceback__)
        return Outcome(math.inf, math.inf, "raised", f"the implementation raised {type(e).__name__}: {e}",
                       {"traceback": "".join(tb[-3:])})
    if modified:
        notes.append("the implementation modified its input arrays in place (validation passes copies)")
    norm = _Out(inst)
    try:
        got = _normalize(kind, out, inst, norm)
    except _ImplProblem as p:
        return Outcome(math.inf, math.inf, p.failure, p.message, {}, notes)
    if norm.dtypes - {"float64"}:
        notes.append(f"the implementation returned dtype(s) {sorted(norm.dtypes)}; the tolerance model assumes float64")
    tol = ref.tol * slack
    if kind == "lambda_min":
        lo, hi = ref.extra["lo"], ref.extra["hi"]
        gq = Fraction(float(got[0]))
        dist = float(max(lo - gq, gq - hi, Fraction(0)))
        mid = (lo + hi) / 2
        ratio = 0.0 if dist == 0 else (dist / tol[0] if tol[0] > 0 else math.inf)
        relerr = float(abs(gq - mid) / abs(mid)) if mid != 0 else (0.0 if gq == 0 else math.inf)
        cmp = _Cmp(ratio, relerr, "lambda_min", f"[{_num_str(lo)}, {_num_str(hi)}] ({ref.extra['method']})",
                   float(got[0]), dist, float(tol[0]))
    else:
        cmp = _compare(got, ref.values, tol, ref.label, ref.groups)
    detail = {"where": cmp.where, "expected": cmp.expected, "got": repr(cmp.got), "error": cmp.error,
              "tolerance": cmp.tolerance}
    if kind == "gf":
        detail["reference_error_estimate"] = ref.extra["error_estimate"]
    msg = ""
    if cmp.ratio > 1:
        msg = (f"mismatch at {cmp.where}: expected {cmp.expected}, got {cmp.got!r}; error {cmp.error:.3g} "
               f"exceeds the tolerance {cmp.tolerance:.3g} by a factor {cmp.ratio:.3g}")
    o = Outcome(cmp.ratio, cmp.relerr, None, msg, detail, notes)
    o._ref, o._got = ref, got  # kept for the diagnosis of the final counterexample
    return o



# ------------------------------------------------------------------------------------- the driver
def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")


def _options(kind: str, rtol: float | None, atol: float, model: str) -> dict:
    if model not in vs.MODELS:
        raise ValueError(f"model must be one of {vs.MODELS}, got {model!r}")
    if model == "relu" and kind == "gf":
        raise ValueError("kind 'gf' is validated for model='linear' only (ReLU flows cross kinks)")
    if rtol is not None and kind not in ("gf", "lambda_min"):
        raise ValueError(f"rtol applies to kinds 'gf' and 'lambda_min' only (kind {kind!r} is judged by the "
                         "float64 rounding model; use slack= to loosen it)")
    if kind == "gf":
        rtol = DEFAULT_GF_RTOL if rtol is None else rtol
    if rtol is not None and not (isinstance(rtol, (int, float)) and 0 <= rtol < 1 and (rtol > 0 or kind != "gf")):
        raise ValueError(f"rtol must be a number in {'(0' if kind == 'gf' else '[0'}, 1), got {rtol!r}")
    if not (isinstance(atol, (int, float)) and atol >= 0 and math.isfinite(atol)):
        raise ValueError(f"atol must be a finite number >= 0, got {atol!r}")
    if atol and kind != "gf":
        raise ValueError("atol applies to kind 'gf' only")
    return {"rtol": rtol, "atol": float(atol)}


def default_strategy(kind: str, model: str = "linear", families: Sequence[str] | None = None,
                     widths: Sequence[int] | None = None, max_depth: int = 3,
                     max_width: int = 3) -> st.SearchStrategy[Instance]:
    """The instance strategy :func:`validate` uses for ``kind`` (see
    :mod:`proofs_check.validation.strategies`)."""
    _check_kind(kind)
    if kind == "gf":
        return vs.flow_instances(max_depth, max_width, widths, model)
    base = vs.instances(families or vs.FAMILIES, max_depth, max_width, widths, model)
    if kind == "hvp":
        return vs.with_direction(base)
    if kind == "gd":
        return vs.with_steps(base)
    if kind in ("heavy_ball", "nesterov"):
        return vs.with_steps(base, momentum=True)
    return base


@contextlib.contextmanager
def _without_local_constants():
    """Hypothesis (≥ 6.13x) seeds its draws with literals found in the *local* modules imported so
    far, so the instances drawn for a seed would depend on what else the process has imported.
    Validation must be reproducible from (seed, versions) alone: this hides those constants for
    the duration of a run (Hypothesis internals; a no-op if they are not there)."""
    try:
        from hypothesis.internal.conjecture import providers as _prov

        empty = _prov.Constants()
        saved = _prov._get_local_constants
        cache = _prov.CONSTANTS_CACHE.cache
    except (ImportError, AttributeError):  # pragma: no cover - other Hypothesis versions
        yield
        return
    _prov._get_local_constants = lambda: empty
    cache.clear()
    try:
        yield
    finally:
        _prov._get_local_constants = saved
        cache.clear()


def _impl_name(impl: Any) -> str:
    mod = getattr(impl, "__module__", None)
    name = getattr(impl, "__qualname__", None) or getattr(impl, "__name__", None) or type(impl).__name__
    return f"{mod}:{name}" if mod else str(name)


def validate(kind: str, impl: Callable, *, budget: int | None = None, seed: int = 0, rtol: float | None = None,
             atol: float = 0.0, model: str = "linear", families: Sequence[str] | None = None,
             widths: Sequence[int] | None = None, max_depth: int = 3, max_width: int = 3, slack: float = 1.0,
             strategy: st.SearchStrategy[Instance] | None = None, shrink_limit: int | None = None,
             name: str | None = None) -> ValidationReport:
    """Validate ``impl`` (a callable with the signature of ``kind``, see :mod:`proofs_check.validation.protocols`)
    against gfgd's references on ``budget`` Hypothesis-drawn instances; shrink the first failure.

    Parameters
    ----------
    kind:     ``"gradient"``, ``"hvp"``, ``"hessian"``, ``"lambda_min"``, ``"gd"``, ``"heavy_ball"``,
              ``"nesterov"`` or ``"gf"``.
    budget:   instances to draw (default: the active Hypothesis profile's ``max_examples``, 20 in ``ci``).
    seed:     seed of the draw (same seed, same instances).
    rtol:     ``gf``: the accuracy asked of the solver (default 1e-8); ``lambda_min``: an allowance for
              an iterative eigensolver, relative to ‖H‖₂ (default 0). Not accepted for other kinds.
    atol:     ``gf`` only: an absolute allowance added to rtol·‖θ(t)‖∞.
    model:    ``"linear"`` (deep linear net) or ``"relu"`` (ReLU between the layers; not for gf).
    families: subset of ``validation_strategies.FAMILIES`` (default all); ``widths`` fixes the
              architecture; ``max_depth``/``max_width`` bound the drawn ones.
    slack:    multiplies every tolerance (1 = the derived float64 model).
    strategy: a Hypothesis strategy of :class:`Instance` replacing the default one.
    shrink_limit: evaluations allowed after the first failure while shrinking (deterministic cap).

    Returns a :class:`ValidationReport` (truthy iff it passed).
    """
    _check_kind(kind)
    if not callable(impl):
        raise TypeError(f"impl must be callable with signature {SIGNATURES[kind]}, got {type(impl).__name__}")
    opts = _options(kind, rtol, atol, model)
    if budget is None:
        budget = settings().max_examples
    if isinstance(budget, bool) or int(budget) != budget or budget < 1:
        raise ValueError(f"budget must be a positive integer, got {budget!r}")
    budget = int(budget)
    if not (isinstance(slack, (int, float)) and slack > 0 and math.isfinite(slack)):
        raise ValueError(f"slack must be a finite number > 0, got {slack!r}")
    if widths is not None:
        widths = tuple(int(w) for w in widths)
        theory.DeepLinear(widths)  # validates
    strat = strategy if strategy is not None else default_strategy(kind, model, families, widths, max_depth, max_width)
    limit = DEFAULT_SHRINK_LIMIT[kind] if shrink_limit is None else int(shrink_limit)
    target_name = name or _impl_name(impl)

    state: dict[str, Any] = {"n": 0, "rejected": 0, "worst": None, "worst_rel": 0.0, "worst_inst": None,
                             "fail": None, "fail_keys": set(), "after_fail": 0, "notes": set(), "n_first_fail": None}
    t0 = time.perf_counter()

    @settings(max_examples=budget, deadline=None, database=None, derandomize=False, report_multiple_bugs=False,
              suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet, print_blob=False,
              # no Phase.target: Hypothesis' hill climbing on error/tolerance spun for minutes on
              # some 1000-instance gd runs without finding anything the generate phase misses
              phases=(Phase.explicit, Phase.generate, Phase.shrink))
    @hypothesis_seed(seed)
    @given(strat)
    def run(inst: Instance) -> None:
        key = json.dumps(inst.to_json(), sort_keys=True)
        if state["fail"] is not None:
            state["after_fail"] += 1
            if state["after_fail"] > limit and key not in state["fail_keys"]:
                return  # shrink budget spent: only known failures still fail (see docstring)
        o = _run_one(kind, impl, inst, model, opts, slack)
        if o is None:
            state["rejected"] += 1
            reject()
        state["n"] += 1
        for n in o.notes:
            state["notes"].add(n)
        if not o.ok:
            if state["fail"] is None or _smaller(inst, state["fail"][0]) or key in state["fail_keys"]:
                state["fail"] = (inst, o)
            state["fail_keys"].add(key)
            if state["n_first_fail"] is None:
                state["n_first_fail"] = state["n"]
            raise _Failed(o.message)
        if state["worst"] is None or o.ratio > state["worst"]:
            state["worst"], state["worst_inst"] = o.ratio, inst
        state["worst_rel"] = max(state["worst_rel"], o.relerr)

    verdict, failure, message, cex = "pass", None, "", None
    notes: list[str] = []
    try:
        with _without_local_constants():
            run()
    except _Failed:
        verdict = "fail"
    except Flaky:
        verdict, failure = "fail", "nondeterministic"
    except Unsatisfiable:
        verdict = "error"
        message = (f"no valid instance could be drawn ({state['rejected']} rejected: ReLU kinks within rounding "
                   "distance, diverging methods or unreachable flow accuracy); widen the families or the widths")
    except _InternalError as e:
        verdict, message = "error", f"internal error in gfgd's reference (please report): {e}"
    if verdict == "fail":
        inst, o = state["fail"] if state["fail"] is not None else (None, None)
        if o is not None:
            if failure == "nondeterministic":
                message = ("the implementation gave different results on the same instance (a failure did not "
                           f"reproduce); last failure: {o.message}")
            else:
                failure = o.failure or "mismatch"
                what = {"mismatch": "wrong result", "raised": "the implementation raised an exception",
                        "wrong_type": "wrong output type", "wrong_shape": "wrong output shape",
                        "non_finite": "the output contains NaN or inf"}[failure]
                message = f"FAILED ({what}) on a minimal instance {inst!r}: {o.message}"
                if failure == "raised" and o.detail.get("traceback"):
                    message += "\n" + o.detail["traceback"].rstrip()
                hints = _diagnose(kind, impl, inst, model, o) if failure == "mismatch" else []
                for h in hints:
                    message += f"\nhint: {h}"
            cex = {"instance": inst.to_json(), "failure": failure, "detail": o.detail,
                   "replay": f"proofs_check.check_instance({kind!r}, impl, counterexample)"}
            if o.failure is None:  # a numeric mismatch: its ratio is the worst one seen
                state["worst_rel"] = max(state["worst_rel"], o.relerr)
                state["worst"] = max(state["worst"] or 0.0, o.ratio)
    elif verdict == "pass":
        message = (f"PASSED: {state['n']} instance(s) within the tolerance (worst error/tolerance "
                   f"{_fmt(state['worst'])}).")
        if kind == "gf":
            message += f" Achieved accuracy: worst relative error {_fmt(state['worst_rel'])} (rtol {opts['rtol']:g})."
    if state["rejected"]:
        notes.append(f"{state['rejected']} drawn instance(s) were outside the reference's domain and skipped")
    notes += sorted(state["notes"])
    worst = state["worst"]
    return ValidationReport(
        kind=kind, target=target_name, model=model, verdict=verdict, failure=failure, message=message,
        instances=state["n"] if state["n_first_fail"] is None else state["n_first_fail"], rejected=state["rejected"],
        shrink_evaluations=0 if state["n_first_fail"] is None else state["n"] - state["n_first_fail"],
        budget=budget, seed=seed,
        worst_ratio=None if worst is None else float(worst),
        worst_relative_error=float(state["worst_rel"]) if worst is not None else None,
        rtol=opts["rtol"], atol=opts["atol"] if kind == "gf" else None,
        tolerance=TOLERANCE_TEXT[kind] + ("" if slack == 1 else f", times slack {slack:g}"),
        seconds=time.perf_counter() - t0, counterexample=cex,
        worst_instance=None if state["worst_inst"] is None else state["worst_inst"].to_json(), notes=notes)


def _smaller(a: Instance, b: Instance) -> bool:
    """Instance a is simpler than b (fewer parameters, then fewer steps/times): the one to report when
    the shrink budget stops Hypothesis before its final replay settles it."""
    ka = (a.num_params, a.steps or 0, len(a.times or ()))
    kb = (b.num_params, b.steps or 0, len(b.times or ()))
    return ka < kb
