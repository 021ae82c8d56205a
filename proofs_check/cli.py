"""The ``gfgd`` command line (also ``python -m proofs_check``).

``gfgd check [CLAIM ...] [--budget N] [--seed S] [--json FILE]`` runs claims on their default
instance families, prints one table and exits 1 if any claim is violated (0 otherwise, 2 on a usage
error). ``gfgd flow --widths ... --t-end T --out FILE`` integrates ground-truth GF and writes JSON.
``gfgd validate KIND TARGET`` validates an implementation (exit 0 pass, 1 fail, 2 usage error);
``gfgd golden --out FILE`` writes reference vectors (docs/validation.md).
Progress goes to stderr (on a terminal, or when GFGD_PROGRESS is set).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from typing import Sequence

from .engine.claim import ClaimResult
from .engine.registry import claims


def _progress(label: str):
    def show(i: int, n: int) -> None:
        if sys.stderr.isatty() or os.environ.get("GFGD_PROGRESS"):
            end = "\n" if i == n else ""
            print(f"\r  {label}: {i}/{n} instances", end=end, file=sys.stderr, flush=True)
    return show


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.6g}"


def format_table(results: Sequence[ClaimResult]) -> str:
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


def write_json(path: str, payload: object) -> None:
    """Write whole: a temporary file in the target folder, then an atomic rename."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(payload, fh, indent=1)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def cmd_check(args: argparse.Namespace) -> int:
    registry = claims()
    names = args.claims or list(registry)
    unknown = [n for n in names if n not in registry]
    if unknown:
        print(f"gfgd check: unknown claim(s) {unknown}; known: {sorted(registry)}", file=sys.stderr)
        return 2
    from .engine.profiles import CLAIM_BUDGET_FACTOR, PROFILES, active_profile

    try:
        profile = args.profile or active_profile()
    except ValueError as e:
        print(f"gfgd check: {e}", file=sys.stderr)
        return 2
    if profile not in PROFILES:
        print(f"gfgd check: --profile must be one of {sorted(PROFILES)}", file=sys.stderr)
        return 2
    factor = args.budget if args.budget is not None else CLAIM_BUDGET_FACTOR[profile]
    budgets = {n: max(1, int(round(factor * registry[n].default_budget))) for n in names}
    if args.workers > 1 or args.scheduler:
        results = _check_parallel(names, budgets, args)
    else:
        results = []
        for name in names:
            c = registry[name]
            print(f"checking {name}: {c.name} ...", file=sys.stderr, flush=True)
            results.append(c.check(budget=budgets[name], seed=args.seed, progress=_progress(name)))
    print(format_table(results))
    if args.json:
        write_json(args.json, [r.to_json() for r in results])
        print(f"wrote {args.json}", file=sys.stderr)
    return 1 if any(r.verdict == "violated" for r in results) else 0


def _check_one(name: str, budget: int | None, seed: int) -> ClaimResult:
    """Worker entry point: claims are looked up by label, so only strings cross process boundaries."""
    return claims()[name].check(budget=budget, seed=seed)


def _check_parallel(names: list[str], budgets: dict, args: argparse.Namespace) -> list[ClaimResult]:
    """One claim per task on a ``concurrent.futures`` executor: local processes (``--workers``) or a
    Dask cluster (``--scheduler ADDRESS``, needs the ``dask`` extra)."""
    if args.scheduler:
        try:
            from dask.distributed import Client
        except ImportError:
            raise SystemExit("gfgd check --scheduler needs dask: python -m pip install -e '.[dask]'") from None
        client = Client(args.scheduler)
        executor = client.get_executor()
    else:
        from concurrent.futures import ProcessPoolExecutor

        executor = ProcessPoolExecutor(max_workers=args.workers)
    with executor:
        futures = {n: executor.submit(_check_one, n, budgets[n], args.seed) for n in names}
        results = []
        for i, n in enumerate(names, 1):
            results.append(futures[n].result())
            print(f"  done {n} ({i}/{len(names)})", file=sys.stderr, flush=True)
    return results


def _floats(text: str, name: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise SystemExit(f"gfgd: {name} must be comma-separated numbers, got {text!r}") from None


def cmd_flow(args: argparse.Namespace) -> int:
    """Ground-truth GF from a spec, written as JSON with numbers as decimal strings."""
    import mpmath
    import numpy as np

    import numerics
    import theory

    try:
        widths = tuple(int(x) for x in args.widths.split(","))
    except ValueError:
        print(f"gfgd flow: --widths must be comma-separated integers, got {args.widths!r}", file=sys.stderr)
        return 2
    try:
        if not args.t_end >= 0:
            raise ValueError(f"--t-end must be >= 0, got {args.t_end}")
        if args.phi is not None:
            Phi = np.array(_floats(args.phi, "--phi"), dtype=float).reshape(widths[-1], widths[0])
        else:
            rng = np.random.default_rng(args.phi_seed)
            Phi = rng.standard_normal((widths[-1], widths[0]))
            Phi /= np.linalg.norm(Phi)
        obj = theory.Objective(theory.DeepLinear(widths), theory.WhitenedSquare(Phi))
        init = numerics.balanced_init if args.init == "balanced" else numerics.gaussian_init
        theta0 = init(obj, args.scale, seed=args.seed)
        times = _floats(args.times, "--times") if args.times else \
            [args.t_end * i / args.samples for i in range(args.samples + 1)]
        if any(t < 0 or t > args.t_end for t in times):
            raise ValueError("--times must lie in [0, t_end]")
        traj = numerics.gradient_flow(obj, theta0, args.t_end, dps=args.dps, progress=_progress_time("flow"))
    except (ValueError, TypeError) as e:
        print(f"gfgd flow: {e}", file=sys.stderr)
        return 2
    digits = args.dps
    with mpmath.workdps(args.dps + 10):
        def dec(x):
            return mpmath.nstr(mpmath.mpf(x), digits, min_fixed=-4, max_fixed=6)

        states = [traj.at(t) for t in times]
        record = {
            "version": 1,
            "kind": "gfgd.flow",
            "model": "DeepLinear",
            "loss": "WhitenedSquare",
            "widths": list(widths),
            "Phi": [[repr(float(x)) for x in row] for row in Phi],
            "init": {"kind": args.init, "scale": args.scale, "seed": args.seed, "phi_seed": args.phi_seed},
            "theta0": [[[repr(float(x)) for x in row] for row in W] for W in theta0],
            "dps": args.dps,
            "t_end": repr(float(args.t_end)),
            "steps": len(traj.steps),
            "order": traj.order,
            "error_estimate": f"{traj.error_estimate:.3e}",
            "conservation_defect_max": f"{max(traj.conservation_defects, default=0.0):.3e}",
            "seconds": round(traj.seconds, 4),
            "times": [repr(float(t)) for t in times],
            "losses": [dec(numerics.value(obj, st)) for st in states],
            "states": [[[[dec(x) for x in row] for row in W] for W in st] for st in states],
        }
    write_json(args.out, record)
    print(f"wrote {args.out}: {len(times)} states, {len(traj.steps)} Taylor steps of order {traj.order}, "
          f"error estimate {traj.error_estimate:.2e}, {traj.seconds:.2f}s", file=sys.stderr)
    return 0


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


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate an implementation (TARGET) of KIND against gfgd's references; exit 0/1/2."""
    from .engine.profiles import load_profile
    from .validation import KINDS, validate

    if args.kind not in KINDS:
        print(f"gfgd validate: unknown KIND {args.kind!r}; one of {list(KINDS)}", file=sys.stderr)
        return 2
    try:
        load_profile()
        impl = _load_target(args.target)
        if args.factory:
            impl = impl()
        if not callable(impl):
            raise ValueError(f"{args.target} is not callable (got {type(impl).__name__})")
    except Exception as e:  # noqa: BLE001 - any import-time failure is the user's setup
        print(f"gfgd validate: cannot load TARGET {args.target!r}: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    try:
        widths = None if args.widths is None else tuple(int(x) for x in args.widths.split(","))
    except ValueError:
        print(f"gfgd validate: --widths must be comma-separated integers, got {args.widths!r}", file=sys.stderr)
        return 2
    print(f"validating {args.kind} {args.target} ...", file=sys.stderr, flush=True)
    try:
        report = validate(args.kind, impl, budget=args.budget, seed=args.seed, rtol=args.rtol,
                          atol=args.atol or 0.0, model=args.model, widths=widths, slack=args.slack,
                          name=args.target)
    except (ValueError, TypeError) as e:
        print(f"gfgd validate: {e}", file=sys.stderr)
        return 2
    print(report.summary())
    if args.json:
        write_json(args.json, report.to_json())
        print(f"wrote {args.json}", file=sys.stderr)
    return {"pass": 0, "fail": 1}.get(report.verdict, 2)


def cmd_golden(args: argparse.Namespace) -> int:
    """Golden reference vectors (40 significant digits, versioned JSON schema) to --out."""
    from .validation.golden import write

    if args.seed < 0:
        print("gfgd golden: --seed must be >= 0", file=sys.stderr)
        return 2
    folder = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(folder):
        print(f"gfgd golden: folder {folder!r} does not exist", file=sys.stderr)
        return 2
    doc = write(args.out, seed=args.seed)
    print(f"wrote {args.out}: {len(doc['cases'])} cases (schema {doc['schema']} v{doc['version']}, "
          f"{doc['digits']} digits, seed {doc['seed']})", file=sys.stderr)
    return 0


def _progress_time(label: str):
    def show(t: float, t_end: float) -> None:
        if sys.stderr.isatty() or os.environ.get("GFGD_PROGRESS"):
            print(f"\r  {label}: t = {t:.4g} / {t_end:.4g}", end="\n" if t >= t_end else "",
                  file=sys.stderr, flush=True)
    return show


def cmd_report(args: argparse.Namespace) -> int:
    """``gfgd report momentum [...]``: the wide-network momentum experiment (THEORY.md D)."""
    from .reports.momentum import main as experiment_main

    return experiment_main(args.rest)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gfgd", description="Check GF vs GD theory of deep networks, exactly.")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="run claims on their default instances and print the table")
    c.add_argument("claims", nargs="*", help="THEORY.md labels (default: all registered claims)")
    c.add_argument("--budget", type=float, default=None,
                   help="multiplier of each claim's default number of instances (default: from the profile)")
    c.add_argument("--profile", choices=("ci", "dev", "thorough"), default=None,
                   help="budget profile: ci ×1, dev ×5, thorough ×50 (default: HYPOTHESIS_PROFILE or ci)")
    c.add_argument("--seed", type=int, default=0, help="seed of every instance draw (recorded in results)")
    c.add_argument("--json", metavar="FILE", help="write one JSON record per claim")
    c.add_argument("--workers", type=int, default=1, help="run claims in this many local processes")
    c.add_argument("--scheduler", metavar="ADDRESS", help="run claims on a Dask cluster (dask extra)")
    c.set_defaults(func=cmd_check)
    f = sub.add_parser("flow", help="ground-truth gradient flow of a deep linear net, to JSON")
    f.add_argument("--widths", required=True, help="d_0,...,d_N, e.g. 3,3,3,1")
    f.add_argument("--phi", help="Phi entries row-major (d_N*d_0 numbers); default: random unit-norm")
    f.add_argument("--phi-seed", type=int, default=0, help="seed of the random Phi (default 0)")
    f.add_argument("--init", choices=("gaussian", "balanced"), default="gaussian")
    f.add_argument("--scale", type=float, default=0.1, help="init scale (default 0.1)")
    f.add_argument("--seed", type=int, default=0, help="init seed (default 0)")
    f.add_argument("--t-end", type=float, required=True, help="integrate on [0, t_end]")
    f.add_argument("--dps", type=int, default=30, help="decimal digits (default 30, at least 15)")
    f.add_argument("--times", help="comma-separated output times (default: --samples equispaced)")
    f.add_argument("--samples", type=int, default=10, help="number of equispaced intervals (default 10)")
    f.add_argument("--out", required=True, metavar="FILE", help="JSON output file")
    f.set_defaults(func=cmd_flow)
    r = sub.add_parser("report", help="experiments: 'momentum' trains wide ReLU nets with GD/HB/NAG "
                                      "and reports fitted vs predicted rates (options: --quick --seed "
                                      "--widths --n --repeats --json)")
    r.add_argument("experiment", choices=("momentum",))
    r.add_argument("rest", nargs=argparse.REMAINDER, help="options of the experiment")
    r.set_defaults(func=cmd_report)
    v = sub.add_parser("validate", help="validate your implementation against gfgd's references",
                       description="Validate an implementation of KIND (see docs/validation.md for the signatures). "
                                   "Exit 0 on pass, 1 on a failed validation, 2 on a usage error.")
    v.add_argument("kind", metavar="KIND",
                   help="gradient | hvp | hessian | lambda_min | gd | heavy_ball | nesterov | gf")
    v.add_argument("target", metavar="TARGET", help="module:function or path/to/file.py:function")
    v.add_argument("--budget", type=int, default=None,
                   help="instances to draw (default: the Hypothesis profile's max_examples, 20 in ci)")
    v.add_argument("--seed", type=int, default=0, help="seed of the instance draw (default 0)")
    v.add_argument("--rtol", type=float, default=None,
                   help="gf: accuracy asked of the solver (default 1e-8); lambda_min: eigensolver allowance")
    v.add_argument("--atol", type=float, default=None, help="gf: absolute allowance (default 0)")
    v.add_argument("--model", choices=("linear", "relu"), default="linear",
                   help="deep linear net (default) or ReLU between the layers")
    v.add_argument("--widths", help="fix the architecture, e.g. 3,4,1 (default: drawn)")
    v.add_argument("--slack", type=float, default=1.0, help="multiply every tolerance (default 1)")
    v.add_argument("--factory", action="store_true",
                   help="TARGET is a factory: call it with no arguments to get the implementation")
    v.add_argument("--json", metavar="FILE", help="write the report as JSON")
    v.set_defaults(func=cmd_validate)
    g = sub.add_parser("golden", help="reference vectors (40 digits) as versioned JSON for other test suites")
    g.add_argument("--out", required=True, metavar="FILE", help="JSON output file")
    g.add_argument("--seed", type=int, default=0, help="seed of the instances (default 0)")
    g.set_defaults(func=cmd_golden)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse exits 2 on usage errors, 0 on --help
        return int(e.code or 0)
    if getattr(args, "budget", None) is not None and not args.budget > 0:
        print("gfgd: --budget must be > 0", file=sys.stderr)
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
