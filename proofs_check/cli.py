"""The ``gfgd`` command line (also ``python -m proofs_check``).

Verbs: ``check`` (claims on their default instances, one table), ``flow`` (ground-truth GF to JSON),
``validate`` (an implementation against the references), ``golden`` (reference vectors),
``report`` (experiments).

The contract, the same on every verb (README, "Exit status"):

* exit 0: the claims hold / the validation passed / the file was written;
  1: a claim is violated / the validation failed;
  2: a usage error -- a bad option, a bad input, an output path that cannot be written (checked
     before the work), an unreachable scheduler; one line naming the flag, no traceback;
  3: a numerical or internal failure (one line; ``GFGD_DEBUG=1`` adds the traceback);
  130: interrupted (Ctrl-C: one line, no traceback; no temporary file left behind); 143 on SIGTERM.
* Output files are checked before the work and written whole (:mod:`proofs_check.files`), carry
  provenance (:mod:`proofs_check.provenance`); progress bars (tqdm) go to stderr
  (:mod:`proofs_check.progress`).
* Hypothesis keeps its files in a temporary folder, never in a ``.hypothesis/`` of the current
  directory (unless ``HYPOTHESIS_STORAGE_DIRECTORY`` says where).

Size: one command function per verb, the parser and the running contract (exit codes, signals,
Hypothesis' folder) in one place, so every verb visibly follows the same contract.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import os
import shutil
import signal
import sys
import tempfile
import traceback
from typing import Iterator, Sequence

from . import argtypes as at
from . import progress as pg
from .engine.claim import ClaimResult
from .engine.registry import claims
from .files import OutputError, check_output, write_json
from .provenance import provenance, version
from .engine.table import format_table, json_records

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 3, 130, 143


class UsageError(Exception):
    """A user's mistake found after parsing (exit 2, one line)."""


class _Terminated(BaseException):
    """SIGTERM, turned into an exception so ``finally`` blocks remove temporary files."""


# ------------------------------------------------------------------------------------------ check
def _check_exit(results: Sequence[ClaimResult], failed: Sequence[str] = ()) -> int:
    """Any claim "violated" -> 1; else any "error" verdict or a claim that could not run -> 3; else 0
    ("holds", "holds within error" and "inconclusive" all exit 0; the table says which)."""
    verdicts = {r.verdict for r in results}
    if "violated" in verdicts:
        return EXIT_FAIL
    if "error" in verdicts or failed:
        return EXIT_ERROR
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    registry = claims()
    names = args.claims or list(registry)
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise UsageError(f"unknown claim(s) {', '.join(unknown)}; known: {', '.join(sorted(registry))}")
    from .engine.profiles import CLAIM_BUDGET_FACTOR, active_profile

    try:
        profile = args.profile or active_profile()
    except ValueError as e:
        raise UsageError(str(e)) from None
    if args.json:
        check_output(args.json, "--json")
    factor = args.budget if args.budget is not None else CLAIM_BUDGET_FACTOR[profile]
    budgets = {n: max(1, int(round(factor * registry[n].default_budget))) for n in names}
    failed: list[str] = []
    if args.workers > 1 or args.scheduler:
        results = _check_parallel(names, budgets, args, failed)
    else:
        results = []
        for name in names:
            c = registry[name]
            print(f"checking {name}: {c.name} ...", file=sys.stderr, flush=True)
            with pg.bar(total=budgets[name], desc=f"  {name}", unit="inst") as b:
                def show(i: int, n: int, b=b) -> None:
                    if i > b.n:
                        b.update(i - b.n)
                try:
                    results.append(c.check(budget=budgets[name], seed=args.seed, progress=show))
                except Exception as e:  # noqa: BLE001 - one claim's crash must not hide the others
                    failed.append(name)
                    print(f"gfgd check: claim {name} could not run: {type(e).__name__}: {e}", file=sys.stderr)
                    _debug_traceback()
    if results:
        print(format_table(results))
    if args.json:
        prov = provenance(args.argv, {"seed": args.seed}, budget_factor=factor, profile=profile,
                          budgets=budgets, claims_failed=failed)
        write_json(args.json, [{**rec, "provenance": prov} for rec in json_records(results)], "--json")
        print(f"wrote {args.json}", file=sys.stderr)
    return _check_exit(results, failed)


def _check_one(name: str, budget: int | None, seed: int) -> ClaimResult:
    """Worker entry point: claims are looked up by label, so only strings cross process boundaries."""
    return claims()[name].check(budget=budget, seed=seed)


def _ignore_sigint() -> None:
    """Pool workers leave Ctrl-C to the parent (which stops them): no traceback per worker."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _probe_scheduler(text: str, host: str, port: int, timeout: float) -> None:
    """Fail fast (one line, exit 2) when nothing answers at the scheduler's address."""
    msg = at.unreachable(text, host, port, timeout)
    if msg:
        raise UsageError(msg)


def _check_parallel(names: list[str], budgets: dict, args: argparse.Namespace,
                    failed: list[str]) -> list[ClaimResult]:
    """One claim per task on a ``concurrent.futures`` executor: local processes (``--workers``) or a
    Dask cluster (``--scheduler ADDRESS``, needs the ``dask`` extra)."""
    if args.scheduler:
        text, host, port = args.scheduler
        _probe_scheduler(text, host, port, args.scheduler_timeout)
        try:
            from dask.distributed import Client
        except ImportError:
            raise UsageError("--scheduler needs dask: python -m pip install -e '.[dask]'") from None
        client = Client(text, timeout=args.scheduler_timeout)
        executor = client.get_executor()
    else:
        from concurrent.futures import ProcessPoolExecutor

        executor = ProcessPoolExecutor(max_workers=args.workers, initializer=_ignore_sigint)
    try:
        futures = {n: executor.submit(_check_one, n, budgets[n], args.seed) for n in names}
        results = []
        with pg.bar(total=len(names), desc="claims", unit="claim") as b:
            for n in names:
                try:
                    results.append(futures[n].result())
                except Exception as e:  # noqa: BLE001 - as in the serial loop
                    failed.append(n)
                    print(f"gfgd check: claim {n} could not run: {type(e).__name__}: {e}", file=sys.stderr)
                b.set_postfix_str(n)
                b.update(1)
    except BaseException:
        # Ctrl-C / SIGTERM: cancel what has not started and stop the running workers now
        executor.shutdown(wait=False, cancel_futures=True)
        for proc in list(getattr(executor, "_processes", {}).values()):
            proc.terminate()
        raise
    executor.shutdown(wait=True)
    return results


# ------------------------------------------------------------------------------------------ flow
# parameters × samples above which gfgd flow points to --tier float: the 64-50-50-10 ReLU net on 100 digits
# (6.2e5) at --dps 15 had not reached t = 0.001 after 20 s wall (2026-12-05, two jobs on the two cores)
ARB_NOTE_SIZE = 50_000


def cmd_flow(args: argparse.Namespace) -> int:
    """Ground-truth GF of a deep linear or (leaky) ReLU net on either Taylor tier, written as JSON
    (:mod:`proofs_check.flow`)."""
    from theory.arrays import FLOW_COST_SPREAD, flow_step_seconds

    from . import flow

    if args.tier == "float" and args.dps is not None:
        raise UsageError("--dps sets the arb tier's digits; the float tier (--tier float) works in float64 "
                         "(its step target is --rtol)")
    if args.tier == "arb" and args.rtol is not None:
        raise UsageError("--rtol is the float tier's step target (--tier float); the arb tier's accuracy is --dps")
    if args.tier == "arb" and args.propagation is not None:
        raise UsageError("--propagation is how the float tier (--tier float) carries its error bound; the arb tier's "
                         "estimate comes from a rerun")
    dps = None if args.tier == "float" else (30 if args.dps is None else args.dps)
    # (the last time is t_end itself: t_end·n/n may round past it)
    times = args.times if args.times else [args.t_end * i / args.samples for i in range(args.samples)] + [args.t_end]
    bad = [t for t in times if t > args.t_end]
    if bad:
        raise UsageError(f"--times must lie in [0, --t-end = {args.t_end:g}], got {bad[0]:g}")
    check_output(args.out, "--out")
    try:
        obj, theta0, spec, seeds = flow.problem(args)
    except (ValueError, TypeError) as e:
        raise UsageError(str(e)) from None
    P = obj.num_params
    n = getattr(obj.loss, "num_samples", 1)
    if args.propagation == "set":  # (checked before the run: float_gradient_flow would refuse the same)
        from numerics.float_taylor import SET_MAX

        if spec["net"] == "linear":
            raise UsageError("--propagation set carries the error through kinks: a deep linear net has none")
        if P > SET_MAX:
            raise UsageError(f"--propagation set holds P x P matrices: at most {SET_MAX} parameters, got {P}")
    if dps is not None and spec["net"] == "linear" and not spec["bias"] and spec["loss"] == "WhitenedSquare":
        est = flow_step_seconds(dps, P)
        if est > 10:
            print(f"gfgd flow: note: --dps {dps} with {P} parameters: ~{est:.3g} s per Taylor step "
                  f"(measured model, within ~{FLOW_COST_SPREAD:g}x); a run takes many steps", file=sys.stderr)
    elif dps is not None and P * n > ARB_NOTE_SIZE:
        # no cost model here (the arb tier's cost also grows with the kink events): a pointer, not a number
        print(f"gfgd flow: note: the arb tier on {P} parameters × {n} samples is slow (its cost grows with "
              "parameters, samples and kink events); --tier float integrates research sizes", file=sys.stderr)
    from numerics.ntk_training import blas_threads

    bar, callback = pg.time_bar(args.t_end, "flow")
    with bar, blas_threads(1):  # one BLAS thread: on shared cores more threads only wait for each other
        try:
            traj = flow.integrate(obj, theta0, args.t_end, dps, args.rtol, callback, args.propagation)
        except FloatingPointError as e:
            if "float range" not in str(e) and "blow up" not in str(e):  # a stall, an underflow while sliding
                raise
            scale = spec["init"].get("scale")
            raise FloatingPointError(f"{e}; the initial scale" + (f" --scale {scale:g}" if scale else "") +
                                     f" may be too large for depth {len(args.widths) - 1}") from None
        callback(args.t_end)
    with pg.bar(total=len(times), desc="format", unit="state") as b:
        rec = flow.record(obj, theta0, traj, spec, times, dps, progress_bar=b)
    rec["provenance"] = provenance(args.argv, seeds, tier=args.tier, dps=dps, rtol=args.rtol,
                                   **({"propagation": args.propagation} if args.propagation else {}))
    with pg.bar(desc="write", unit="B", unit_scale=True) as b:
        write_json(args.out, rec, "--out", progress=b)
    order = f"order {traj.order}" if dps is not None else "float64"
    kinks = f", {len(rec['events'])} kink events" if rec["events"] else ""
    print(f"wrote {args.out}: {len(times)} states, {len(traj.steps)} Taylor steps ({order}){kinks}, "
          f"error estimate {rec['error_estimate']}, {traj.seconds:.2f}s", file=sys.stderr)
    return EXIT_OK


# ------------------------------------------------------------------------------------------ validate
def _load_target(spec: str):
    """``module:function`` (importable from the current directory or PYTHONPATH) or
    ``path/to/file.py:function``; the function part may be dotted (``obj.method``)."""
    import importlib
    import importlib.util

    mod_name, sep, attr = spec.rpartition(":")
    if not sep or not mod_name or not attr:
        raise ValueError(f"TARGET must be module:function or path/to/file.py:function, got {spec!r}")
    if mod_name.endswith(".py") or "/" in mod_name or os.sep in mod_name:
        path = os.path.abspath(mod_name)
        if not os.path.isfile(path):
            raise ValueError(f"TARGET file {mod_name!r} does not exist")
        folder = os.path.dirname(path)
        if folder not in sys.path:
            sys.path.insert(0, folder)  # so the file can import its neighbours
        name = "_gfgd_target_" + os.path.splitext(os.path.basename(path))[0]
        spec_ = importlib.util.spec_from_file_location(name, path)
        if spec_ is None or spec_.loader is None:
            raise ValueError(f"cannot import {mod_name!r} as a Python file")
        module = importlib.util.module_from_spec(spec_)
        sys.modules[name] = module
        spec_.loader.exec_module(module)
    else:
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        module = importlib.import_module(mod_name)
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{mod_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


# flags of features the validation layer may or may not have yet: passed only when given
_VALIDATE_EXTRAS = {"precision": "--precision", "flush_to_zero": "--flush-to-zero", "timeout": "--timeout"}


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate an implementation (TARGET) of KIND against gfgd's references; exit 0/1/2/3."""
    from .engine.profiles import load_profile
    from .validation import KINDS, validate

    if args.kind not in KINDS:
        raise UsageError(f"unknown KIND {args.kind!r}; one of {', '.join(KINDS)}")
    extras = {k: getattr(args, k) for k in _VALIDATE_EXTRAS if getattr(args, k) not in (None, False)}
    accepted = inspect.signature(validate).parameters
    missing = [_VALIDATE_EXTRAS[k] for k in extras if k not in accepted]
    if missing:
        raise UsageError(f"{', '.join(missing)} is not supported by this version's validate()")
    if args.json:
        check_output(args.json, "--json")
    try:
        profile = load_profile()
        impl = _load_target(args.target)
        if args.factory:
            impl = impl()
        if not callable(impl):
            raise ValueError(f"{args.target} is not callable (got {type(impl).__name__})")
    except (Exception, SystemExit) as e:  # noqa: BLE001 - any import-time failure is the user's setup
        raise UsageError(f"cannot load TARGET {args.target!r}: {type(e).__name__}: {e}") from None
    print(f"validating {args.kind} {args.target} ...", file=sys.stderr, flush=True)
    try:
        report = validate(args.kind, impl, budget=args.budget, seed=args.seed, rtol=args.rtol,
                          atol=args.atol or 0.0, model=args.model, widths=args.widths, slack=args.slack,
                          name=args.target, **extras)
    except (ValueError, TypeError) as e:
        raise UsageError(str(e)) from None
    print(report.summary())
    if args.json:
        doc = report.to_json()
        doc["provenance"] = provenance(args.argv, {"seed": args.seed}, budget=report.budget, profile=profile,
                                       **{k: v for k, v in extras.items()})
        write_json(args.json, doc, "--json")
        print(f"wrote {args.json}", file=sys.stderr)
    return {"pass": EXIT_OK, "fail": EXIT_FAIL}.get(report.verdict, EXIT_ERROR)


# ------------------------------------------------------------------------------------------ golden
def cmd_golden(args: argparse.Namespace) -> int:
    """Golden reference vectors (40 significant digits, versioned JSON schema) to --out."""
    from .validation.golden import write

    check_output(args.out, "--out")
    doc = write(args.out, seed=args.seed, argv=args.argv)
    print(f"wrote {args.out}: {len(doc['cases'])} cases (schema {doc['schema']} v{doc['version']}, "
          f"{doc['digits']} digits, seed {doc['seed']})", file=sys.stderr)
    return EXIT_OK


# ------------------------------------------------------------------------------------------ report
REPORTS = {
    "momentum": "proofs_check.reports.momentum",  # synthetic sphere data, table only
    "bxc21": "proofs_check.reports.bxc21",  # momentum in the NTK regime on digits, with figures
    "ec21": "proofs_check.reports.ec21",  # GD at eta0 and eta0/r against the ground-truth GF on digits
}


def cmd_track(args: argparse.Namespace) -> int:
    """``gfgd track [...]``: GD at a step size beside the ground-truth GF on a user's net (or gfgd's)."""
    from .reports.track import main as track_main

    return track_main(args.rest, argv_for_provenance=args.argv)


def cmd_report(args: argparse.Namespace) -> int:
    """``gfgd report NAME [...]``: one of :data:`REPORTS`; its own options follow the name."""
    import importlib

    return importlib.import_module(REPORTS[args.experiment]).main(args.rest, argv_for_provenance=args.argv)


# ------------------------------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--progress", action="store_true",
                        help="show progress bars on stderr even when it is not a terminal (also GFGD_PROGRESS=1)")
    p = argparse.ArgumentParser(prog="gfgd", description="Check GF vs GD theory of deep networks, exactly.",
                                epilog="exit status: 0 holds/pass, 1 violated/fail, 2 usage error, "
                                       "3 numerical or internal failure, 130 interrupted")
    p.add_argument("--version", action="version", version=f"gfgd {version()}")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", parents=[common], help="run claims on their default instances and print the table")
    c.add_argument("claims", nargs="*", help="claim labels, docs/theory.md (default: all registered claims)")
    c.add_argument("--budget", type=at.real(0, lo_strict=True), default=None,
                   help="multiplier of each claim's default number of instances (default: from the profile)")
    c.add_argument("--profile", choices=("ci", "dev", "thorough"), default=None,
                   help="budget profile: ci ×1, dev ×5, thorough ×50 (default: HYPOTHESIS_PROFILE or ci)")
    c.add_argument("--seed", type=at.seed, default=0, help="seed of every instance draw (recorded in results)")
    c.add_argument("--json", metavar="FILE", help="write one JSON record per claim")
    c.add_argument("--workers", type=at.positive_int, default=1, help="run claims in this many local processes")
    c.add_argument("--scheduler", metavar="ADDRESS", type=at.address,
                   help="run claims on a Dask cluster, e.g. tcp://host:8786 (dask extra)")
    c.add_argument("--scheduler-timeout", type=at.real(0, lo_strict=True), default=5.0, metavar="SECONDS",
                   help="give up on an unreachable scheduler after this long (default 5)")
    c.set_defaults(func=cmd_check)
    f = sub.add_parser("flow", parents=[common],
                       help="ground-truth gradient flow of a deep linear or (leaky) ReLU net, to JSON",
                       description="Ground-truth gradient flow on the arb tier (--dps digits) or the float64 Taylor "
                                   "tier (--tier float, research sizes), written as JSON with the kink events and "
                                   "the error estimate (docs/cli.md).")
    f.add_argument("--widths", required=True, type=at.integers(1, 2), help="d_0,...,d_N, e.g. 3,3,3,1")
    f.add_argument("--net", choices=("linear", "relu"), default="linear",
                   help="deep linear (default) or (leaky) ReLU between the layers")
    f.add_argument("--alpha", type=at.real(-1, 1), default=None,
                   help="ReLU nets: the slope on the negative side (default 0; leaky ReLU: e.g. 0.01)")
    f.add_argument("--bias", action="store_true", help="biases in every layer (needs data)")
    f.add_argument("--data", metavar="SOURCE", default=None,
                   help="whitened (deep linear nets, the default there) | digits (sklearn's shipped digits, the "
                        "default for ReLU nets and --bias) | FILE.npz (X and labels or Y)")
    f.add_argument("--loss", choices=("square", "cross_entropy"), default=None,
                   help="with data: square (default; one-hot targets for labels) or cross_entropy")
    f.add_argument("--n", type=at.positive_int, default=None, help="--data digits: number of images (default 100)")
    f.add_argument("--data-seed", type=at.seed, default=None, help="--data digits: seed of the subset (default 0)")
    f.add_argument("--phi", type=at.reals(), help="Phi entries row-major (d_N*d_0 numbers); default: random unit-norm")
    f.add_argument("--phi-seed", type=at.seed, default=0, help="seed of the random Phi (default 0)")
    f.add_argument("--init", choices=("gaussian", "balanced", "xavier"), default="gaussian",
                   help="gaussian (default, entries N(0, scale^2)), balanced (deep linear, D_j = 0) or xavier")
    f.add_argument("--scale", type=at.real(0, lo_strict=True), default=None, help="init scale (default 0.1)")
    f.add_argument("--seed", type=at.seed, default=0, help="init seed (default 0)")
    f.add_argument("--t-end", type=at.real(0), required=True, help="integrate on [0, t_end]")
    f.add_argument("--tier", choices=("arb", "float"), default="arb",
                   help="arb (default; --dps digits) or float (the float64 Taylor tier: research sizes)")
    f.add_argument("--dps", type=at.dps, default=None, help="arb tier: decimal digits (default 30; 15 to 10000)")
    f.add_argument("--rtol", type=at.real(0, 1e-4, lo_strict=True), default=None,
                   help="float tier: each step's last series term relative to max(1, |theta|_inf) "
                        "(default 2^-53; at most 1e-4)")
    f.add_argument("--propagation", choices=("auto", "set", "windows"), default=None,
                   help="float tier, ReLU nets: how the error bound crosses steps and kinks -- 'set' (dense "
                        "propagators: tight, cost ~P^3 per step, at most 4096 parameters), 'windows' (norms: cost ~P) "
                        "or 'auto' (default: the set up to 1024 parameters)")
    f.add_argument("--times", type=at.reals(0), help="comma-separated output times in [0, t_end] "
                                                      "(default: --samples equispaced)")
    f.add_argument("--samples", type=at.positive_int, default=10,
                   help="number of equispaced intervals (default 10)")
    f.add_argument("--out", required=True, metavar="FILE", help="JSON output file")
    f.set_defaults(func=cmd_flow)
    r = sub.add_parser("report", help="experiments with figures: 'ec21' (GD vs the true GF on digits, --out DIR), "
                                      "'bxc21' (momentum in the NTK regime on digits, --out DIR), "
                                      "'momentum' (the same on sphere data, a table); "
                                      "'gfgd report NAME --help' lists each one's options")
    r.add_argument("experiment", choices=tuple(REPORTS))
    r.add_argument("rest", nargs=argparse.REMAINDER, help="options of the experiment")
    r.set_defaults(func=cmd_report)
    tr = sub.add_parser("track", help="GD at a step size beside the ground-truth GF on your torch net and npz data "
                                      "(or gfgd's): where A1/A2's hypotheses fail and where GD leaves the flow; "
                                      "'gfgd track --help' lists the options", add_help=False)
    tr.add_argument("rest", nargs=argparse.REMAINDER, help="options of track")
    tr.set_defaults(func=cmd_track)
    v = sub.add_parser("validate", parents=[common], help="validate your implementation against gfgd's references",
                       description="Validate an implementation of KIND (see docs/validation.md for the signatures). "
                                   "Exit 0 on pass, 1 on a failed validation, 2 on a usage error, 3 on an "
                                   "internal error.")
    v.add_argument("kind", metavar="KIND",
                   help="gradient | hvp | hessian | lambda_min | gd | heavy_ball | nesterov | gf")
    v.add_argument("target", metavar="TARGET", help="module:function or path/to/file.py:function")
    v.add_argument("--budget", type=at.positive_int, default=None,
                   help="instances to draw (default: the Hypothesis profile's max_examples, 20 in ci)")
    v.add_argument("--seed", type=at.seed, default=0, help="seed of the instance draw (default 0)")
    v.add_argument("--rtol", type=at.real(0), default=None,
                   help="gf: accuracy asked of the solver (default 1e-8); lambda_min: eigensolver allowance")
    v.add_argument("--atol", type=at.real(0), default=None, help="gf: absolute allowance (default 0)")
    v.add_argument("--model", choices=("linear", "relu"), default="linear",
                   help="deep linear net (default) or ReLU between the layers")
    v.add_argument("--widths", type=at.integers(1, 2), help="fix the architecture, e.g. 3,4,1 (default: drawn)")
    v.add_argument("--slack", type=at.real(0, lo_strict=True), default=1.0,
                   help="multiply every tolerance (default 1)")
    v.add_argument("--precision", choices=("float64", "float32", "bfloat16"), default=None,
                   help="the arithmetic of the implementation; sets the tolerance model (default float64)")
    v.add_argument("--flush-to-zero", action="store_true",
                   help="the implementation flushes subnormals to zero (JAX on CPU, many GPUs)")
    v.add_argument("--timeout", type=at.real(0, lo_strict=True), default=None, metavar="SECONDS",
                   help="per-call time limit for TARGET; a call over it is a failure of that call")
    v.add_argument("--factory", action="store_true",
                   help="TARGET is a factory: call it with no arguments to get the implementation")
    v.add_argument("--json", metavar="FILE", help="write the report as JSON")
    v.set_defaults(func=cmd_validate)
    g = sub.add_parser("golden", parents=[common],
                       help="reference vectors (40 digits) as versioned JSON for other test suites")
    g.add_argument("--out", required=True, metavar="FILE", help="JSON output file")
    g.add_argument("--seed", type=at.seed, default=0, help="seed of the instances (default 0)")
    g.set_defaults(func=cmd_golden)
    return p


# ------------------------------------------------------------------------------------------ running
def _fresh_line() -> str:
    return "\n" if pg.enabled() else ""


def _debug_traceback() -> None:
    if os.environ.get("GFGD_DEBUG"):
        traceback.print_exc(file=sys.stderr)


@contextlib.contextmanager
def _hypothesis_home() -> Iterator[None]:
    """Hypothesis' files (its constants cache) in a temporary folder, removed afterwards, so no
    ``.hypothesis/`` appears in the user's directory; HYPOTHESIS_STORAGE_DIRECTORY wins if set."""
    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        yield
        return
    from hypothesis import configuration

    previous = vars(configuration).get("__hypothesis_home_directory")
    folder = tempfile.mkdtemp(prefix="gfgd-hypothesis-")
    configuration.set_hypothesis_home_dir(folder)
    os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = folder  # worker processes too
    try:
        yield
    finally:
        configuration.set_hypothesis_home_dir(previous)
        os.environ.pop("HYPOTHESIS_STORAGE_DIRECTORY", None)
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _signals() -> Iterator[None]:
    """SIGTERM raises :class:`_Terminated` (so temporary files are removed); SIGINT stays Python's
    KeyboardInterrupt. Handlers are installed only in the main thread and restored afterwards."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_term(signum, frame):
        raise _Terminated()

    old = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@contextlib.contextmanager
def _notes(verb: str) -> Iterator[None]:
    """gfgd's own warnings — a loose error bound (numerics.loose_estimates.LooseEstimateWarning), a costly precision
    (theory.arrays.CostWarning) — as one note line on stderr, ``gfgd <command>: note: …``, from any command that
    meets them; any other warning as Python shows it."""
    import warnings

    from numerics.loose_estimates import LooseEstimateWarning
    from theory.arrays import CostWarning

    with warnings.catch_warnings():  # (restores showwarning on the way out)
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, (LooseEstimateWarning, CostWarning)):
                print(f"{_fresh_line()}{verb}: note: {message}", file=sys.stderr)
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        if argv[:1] == ["track"]:  # every option belongs to track's own parser (argparse's REMAINDER
            args = argparse.Namespace(command="track", func=cmd_track, rest=argv[1:])  # needs a positional)
        else:
            args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: 2 on usage errors (message printed), 0 on --help/--version
        return int(e.code or 0) if not isinstance(e.code, str) else EXIT_USAGE
    args.argv = argv
    pg.force(True if getattr(args, "progress", False) else None)
    verb = f"gfgd {args.command}"
    try:
        with _signals(), _hypothesis_home(), _notes(verb):
            return args.func(args)
    except (UsageError, OutputError) as e:
        print(f"{verb}: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        # a fresh line: a progress bar (or the terminal's ^C) may hold the cursor mid-line
        print(f"{_fresh_line()}{verb}: interrupted; no output file was changed", file=sys.stderr)
        return EXIT_INTERRUPTED
    except _Terminated:
        print(f"{_fresh_line()}{verb}: terminated (SIGTERM); no output file was changed", file=sys.stderr)
        return EXIT_TERMINATED
    except (ArithmeticError, MemoryError) as e:
        print(f"{verb}: numerical failure: {type(e).__name__}: {e}", file=sys.stderr)
        _debug_traceback()
        return EXIT_ERROR
    except Exception as e:  # noqa: BLE001 - the contract: one line and exit 3, traceback on request
        print(f"{verb}: internal error: {type(e).__name__}: {e} (GFGD_DEBUG=1 shows the traceback; "
              "please report it)", file=sys.stderr)
        _debug_traceback()
        return EXIT_ERROR
    finally:
        pg.force(None)


if __name__ == "__main__":
    sys.exit(main())
