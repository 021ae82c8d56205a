"""The ``gfgd`` command line (also ``python -m proofs_check``).

``gfgd check [CLAIM ...] [--budget N] [--seed S] [--json FILE]`` runs claims on their default
instance families, prints one table and exits 1 if any claim is violated (0 otherwise, 2 on a usage
error). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from typing import Sequence

from .claims import ClaimResult, claims


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
    results = []
    for name in names:
        c = registry[name]
        budget = None if args.budget is None else max(1, int(round(args.budget * c.default_budget)))
        print(f"checking {name}: {c.name} ...", file=sys.stderr, flush=True)
        results.append(c.check(budget=budget, seed=args.seed, progress=_progress(name)))
    print(format_table(results))
    if args.json:
        write_json(args.json, [r.to_json() for r in results])
        print(f"wrote {args.json}", file=sys.stderr)
    return 1 if any(r.verdict == "violated" for r in results) else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gfgd", description="Check GF vs GD theory of deep networks, exactly.")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="run claims on their default instances and print the table")
    c.add_argument("claims", nargs="*", help="THEORY.md labels (default: all registered claims)")
    c.add_argument("--budget", type=float, default=None,
                   help="multiplier of each claim's default number of instances (default 1)")
    c.add_argument("--seed", type=int, default=0, help="seed of every instance draw (recorded in results)")
    c.add_argument("--json", metavar="FILE", help="write one JSON record per claim")
    c.set_defaults(func=cmd_check)
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
