"""The architecture, checked on the source (one direction of dependency, no rich or typer
below cli/ and report/: CONTRIBUTING.md). Imports are read with `ast`, never executed, and every
import counts: at module level, inside a function, or under TYPE_CHECKING."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "dlbench"
UI_LIBRARIES = {"rich", "typer"}
UI_LAYERS = ("dlbench.cli", "dlbench.report")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str) -> set[str]:
    """Every dotted name module `name` imports, made absolute. `from package import x`
    names `package.x` when x is a module, else `package`: importing a submodule is not a
    dependency on its package's __init__."""
    path = MODULES[name]
    here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here[:len(here) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                out.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return out


def internal(name: str) -> str | None:
    """The dlbench module a dotted name lives in, or None for another library."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    graph = {}
    for name in MODULES:
        targets = {internal(t) for t in imported(name)}
        graph[name] = {t for t in targets if t is not None and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module: each is an import cycle."""
    reach = {}
    for start in graph:
        seen, todo = set(), list(graph[start])
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo += graph[node]
        reach[start] = seen
    found = {frozenset(n for n in reach[m] if m in reach[n]) for m in graph if m in reach[m]}
    return sorted(sorted(c) for c in found)


def test_cycles_are_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_import_cycle_in_dlbench():
    found = cycles(import_graph())
    assert not found, "import cycles: " + "; ".join(" ↔ ".join(c) for c in found)


def test_no_rich_or_typer_below_cli_and_report():
    offenders = {
        name: sorted(t for t in imported(name) if t.split(".")[0] in UI_LIBRARIES)
        for name in MODULES
        if not any(name == layer or name.startswith(layer + ".") for layer in UI_LAYERS)
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_lint_and_complexity_rules_hold():
    """ruff with the project's rules (pyproject.toml), McCabe complexity at most 12
    among them: a function that grows a second job fails here, not in review."""
    ruff = pytest.importorskip("ruff")
    del ruff
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format",
                           "concise", "dlbench", "tests", "benchmarks"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
