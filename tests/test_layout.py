"""The package layout's contracts (DESIGN.md): imports point one way (proofs_check -> numerics ->
theory), claims never import validation, and the public API is reachable from the top."""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _imports(path: pathlib.Path) -> set[str]:
    """Absolute module names imported by a file (relative imports resolved against its package)."""
    pkg = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out |= {f"{mod}.{a.name}" for a in node.names}
    return out


def _files(package: str) -> list[pathlib.Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package, forbidden", [("theory", ("numerics", "proofs_check")),
                                                ("numerics", ("proofs_check",))])
def test_imports_point_one_way(package, forbidden):
    bad = [(f.name, m) for f in _files(package) for m in _imports(f)
           if any(m == x or m.startswith(x + ".") for x in forbidden)]
    assert not bad, f"{package} imports {bad}"


def test_claims_and_engine_never_import_validation_or_reports():
    bad = [(f.name, m) for pkg in ("proofs_check/claims", "proofs_check/engine") for f in _files(pkg)
           for m in _imports(f) if m.startswith(("proofs_check.validation", "proofs_check.reports"))]
    assert not bad, bad


def test_public_api_reexports():
    import proofs_check
    from proofs_check.strategies import deep_linear_instances  # noqa: F401

    assert set(proofs_check.claims()) >= {"A1", "B1", "C1", "D5"}
    assert callable(proofs_check.validate) and callable(proofs_check.check_instance)
    assert proofs_check.validation.KINDS and proofs_check.golden.load


def test_module_sizes_have_reasons():
    """No module over ~500 lines without a reason written at its top (a docstring line 'Size:')."""
    big = [(str(f.relative_to(ROOT)), n) for pkg in ("theory", "numerics", "proofs_check") for f in _files(pkg)
           if (n := len(f.read_text().splitlines())) > 550 and "Size:" not in f.read_text()[:3000]]
    assert not big, f"split these along their seams or say why at the top ('Size: ...'): {big}"


def test_benchmarks_and_examples_import_what_exists():
    """Every name the benchmark and example scripts import from gfgd's packages exists (a module moved by
    a refactor broke `benchmarks/run.py` once: `proofs_check.euler` after the claims/ split)."""
    import importlib

    missing = []
    for path in sorted((ROOT / "benchmarks").glob("*.py")) + sorted((ROOT / "examples").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and not node.level and node.module \
                    and node.module.split(".")[0] in ("numerics", "theory", "proofs_check"):
                try:
                    mod = importlib.import_module(node.module)
                except ImportError as e:
                    missing.append(f"{path.name}: {node.module} ({e})")
                    continue
                for a in node.names:
                    if a.name != "*" and not hasattr(mod, a.name):
                        try:
                            importlib.import_module(f"{node.module}.{a.name}")
                        except ImportError:
                            missing.append(f"{path.name}: {node.module}.{a.name}")
    assert not missing, missing
