"""The layers stay layers: no import circle among roofprof's modules, no module reaching into
another's private names, and names in tables and legends that never merge two groups."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from roofprof.analysis import roofline as rl
from roofprof.views import tables as tb
from tests.conftest import load_fixture

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("roofprof", "parsers")


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports() -> dict[str, set[str]]:
    """Every module's imports of other project modules, function-level imports included."""
    modules = {_module(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                       and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
                       for n in ast.walk(node)}
        for node in ast.walk(tree):
            if id(node) in typing_only:  # annotations only: no import at run time
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for t in targets:
                if t in modules and t != name:
                    graph[name].add(t)
    return graph


def _private_uses() -> list[str]:
    """``from roofprof.x import _name`` or ``x._name`` across modules."""
    found = []
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            tree = ast.parse(path.read_text())
            aliases = {}
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module and \
                        node.module.split(".")[0] in PACKAGES:
                    for a in node.names:
                        if a.name.startswith("_") and not a.name.startswith("__"):
                            found.append(f"{_module(path)} imports {node.module}.{a.name}")
                        aliases[a.asname or a.name] = f"{node.module}.{a.name}"
                elif isinstance(node, ast.Import):
                    for a in node.names:
                        if a.name.split(".")[0] in PACKAGES:
                            aliases[a.asname or a.name] = a.name
            for node in ast.walk(tree):
                if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                        and node.value.id in aliases and node.attr.startswith("_")
                        and not node.attr.startswith("__")):
                    found.append(f"{_module(path)} uses {aliases[node.value.id]}.{node.attr}")
    return found


def test_no_import_circle() -> None:
    graph = _imports()
    seen: dict[str, int] = {}  # 1 on the stack, 2 done
    cycles: list[list[str]] = []

    def visit(m: str, stack: list[str]) -> None:
        seen[m] = 1
        for n in sorted(graph[m]):
            # a package's __init__ importing its own submodules is how packages work
            if n.startswith(m + ".") or m.startswith(n + "."):
                continue
            if seen.get(n) == 1:
                cycles.append([*stack[stack.index(n):], n])
            elif n not in seen:
                visit(n, [*stack, n])
        seen[m] = 2

    for m in sorted(graph):
        if m not in seen:
            visit(m, [m])
    assert cycles == []


def test_no_module_reaches_into_another_modules_private_names() -> None:
    assert _private_uses() == []


@pytest.mark.parametrize("name", ["known_work.ncu-rep", "llama_annotated.ncu-rep",
                                  "llama_small.ncu-rep", "llama_eager.ncu-rep",
                                  "spec_verify.ncu-rep"])
def test_no_two_rows_of_a_summary_share_a_display_name(name: str) -> None:
    trace = load_fixture(name)
    for by in ("range", "kernel", "op,phase", "category,phase", "phase"):
        if by.split(",")[0] not in trace.kernels.columns and by != "kernel":
            continue
        s = rl.summarize(trace, by=by)
        for width in (80, 120, 10_000):
            text = tb.format_table(s, width=width)
            rows = text.splitlines()[2:2 + len(s)]
            shown = [r[:max(len(r) - len(r.lstrip()), 1)] for r in rows]
            cells = [r.split("  ")[0].strip() for r in rows]
            assert len(set(cells)) == len(cells), (name, by, width, shown)
