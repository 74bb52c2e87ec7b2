"""The house has layers you can see (ARCHITECTURE.md): no import circle, package-internal ones
included; each layer imports only the layers below it; no module reaches into another's
private names; no module over 500 lines; the command line decides nothing about what to
compute; and names in tables and legends never merge two groups."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from roofprof.analysis import roofline as rl
from roofprof.views import tables as tb
from tests.conftest import load_fixture

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("roofprof", "parsers")

#: lowest first; what each layer may import besides itself (ARCHITECTURE.md)
LAYERS: dict[str, set[str]] = {
    "roofprof.errors": set(),
    "roofprof.version": set(),
    "roofprof.tables": {"roofprof.errors"},
    # formats read into plain columns, against the contracts: never the table types or loading
    "parsers": {"roofprof.errors", "roofprof.tables.metrics", "roofprof.tables.checks",
                "roofprof.tables.schema"},
    "roofprof.inputs": {"roofprof.errors", "roofprof.tables", "parsers"},
    "roofprof.capture": {"roofprof.errors", "roofprof.tables", "parsers", "roofprof.inputs"},
    "roofprof.analysis": {"roofprof.errors", "roofprof.tables", "parsers", "roofprof.inputs"},
    "roofprof.datasets": {"roofprof.errors", "roofprof.tables", "parsers", "roofprof.inputs",
                          "roofprof.analysis"},
    "roofprof.views": {"roofprof.errors", "roofprof.tables", "roofprof.analysis",
                       "roofprof.datasets"},
    "roofprof.app": {"roofprof.errors", "roofprof.tables", "parsers", "roofprof.inputs",
                     "roofprof.capture", "roofprof.analysis", "roofprof.datasets",
                     "roofprof.views"},
    # options -> an application function -> a view -> output; safe output files and --where
    "roofprof.cli": {"roofprof.errors", "roofprof.app", "roofprof.views",
                     "roofprof.tables.files", "roofprof.tables.partitions"},
    # the public paths kept where users reach them
    "roofprof.torch": {"roofprof.capture"},
    "roofprof.spark_job": {"roofprof.cli"},
    "roofprof.__main__": {"roofprof.cli"},
    "roofprof": {"roofprof.errors", "roofprof.version"},
}
MAX_LINES = 500


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def _targets(node: ast.AST) -> list[str]:
    """The dotted names an import statement names (``from a.b import c``: a.b and a.b.c)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return []


def _imports(name: str) -> set[str]:
    """The project modules ``name`` imports at run time, function-level imports included; a
    module imported also imports every package above it (their ``__init__`` runs)."""
    tree = ast.parse(MODULES[name].read_text())
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:  # annotations only: no import at run time
            continue
        for t in _targets(node):
            parts = t.split(".")
            for i in range(1, len(parts) + 1):
                m = ".".join(parts[:i])
                # a package above the module imported runs too, unless it imports nothing
                above = i < len(parts) and f"{m}.{parts[i]}" in MODULES
                if m in MODULES and m != name and not name.startswith(m + ".") and not (
                        above and m in HOLLOW):
                    out.add(m)
    return out


def _hollow(path: Path) -> bool:
    """A package ``__init__`` that imports nothing (a docstring, maybe ``__future__``)."""
    if path.name != "__init__.py":
        return False
    return all(isinstance(n, ast.ImportFrom) and n.module == "__future__" for n in
               ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Import | ast.ImportFrom))


HOLLOW = {m for m, p in MODULES.items() if _hollow(p)}


GRAPH = {m: _imports(m) for m in MODULES}


def _named(name: str) -> set[str]:
    """The project modules an import statement of ``name`` names (``from a.b import c``: a.b,
    and a.b.c where that is a module), typing-only imports included: the graph a circle is
    looked for in. A module naming its own package counts (``from parsers import ncu_csv``
    inside parsers/ closes a circle through parsers/__init__.py)."""
    tree = ast.parse(MODULES[name].read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        for target in _targets(node):
            m = target
            while m and m not in MODULES:
                m = m.rpartition(".")[0]
            if m and m != name:
                out.add(m)
    return out


NAMED = {m: _named(m) for m in MODULES}


def _layer(module: str) -> str:
    """The layer a module belongs to: the longest entry of :data:`LAYERS` it lies in."""
    return max((k for k in LAYERS if module == k or module.startswith(k + ".")), key=len)


def _allowed(importer: str, imported: str) -> bool:
    own = _layer(importer)
    if _layer(imported) == own or imported in ("roofprof", "roofprof.version"):
        return True  # every import runs roofprof's __init__ (its own layer rule: light)
    return any(imported == a or imported.startswith(a + ".") for a in LAYERS[own])


def test_every_module_has_a_layer() -> None:
    assert [m for m in MODULES if m != "roofprof" and _layer(m) == "roofprof"] == []


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    seen: dict[str, int] = {}  # 1 on the stack, 2 done
    cycles: list[list[str]] = []

    def visit(m: str, stack: list[str]) -> None:
        seen[m] = 1
        for n in sorted(graph[m]):
            if seen.get(n) == 1:
                cycles.append([*stack[stack.index(n):], n])
            elif n not in seen:
                visit(n, [*stack, n])
        seen[m] = 2

    for m in sorted(graph):
        if m not in seen:
            visit(m, [m])
    return cycles


def test_no_import_circle_package_internal_ones_included() -> None:
    assert _circles(NAMED) == []
    assert _circles(GRAPH) == []


def test_the_structure_test_sees_a_circle_through_a_package() -> None:
    """The rule the old exemption broke: a package importing its submodule counts."""
    assert "parsers.kineto" in NAMED["parsers"]
    assert "parsers" not in NAMED["parsers.kineto"]  # the format record is parsers.format
    made_up = {**NAMED, "parsers.kineto": {*NAMED["parsers.kineto"], "parsers"}}
    assert ["parsers", "parsers.kineto", "parsers"] in _circles(made_up)


def test_each_layer_imports_only_the_layers_below_it() -> None:
    wrong = sorted(f"{m} ({_layer(m)}) imports {n} ({_layer(n)})"
                   for m, deps in GRAPH.items() for n in deps if not _allowed(m, n))
    assert wrong == []


@pytest.mark.parametrize(("importer", "imported"), [
    ("roofprof.tables.kernels", "roofprof.inputs.load"),
    ("roofprof.analysis.roofline", "roofprof.views.tables"),
    ("parsers.kineto", "roofprof.capture.record"),
    ("parsers.kineto", "roofprof.tables.timing"),
    ("roofprof.cli.summary", "roofprof.analysis.roofline"),
    ("roofprof.views.tables", "roofprof.app.summary"),
])
def test_the_layer_rules_refuse_what_they_should(importer: str, imported: str) -> None:
    assert not _allowed(importer, imported)


def test_no_module_over_500_lines() -> None:
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def _app_calls_in_branches(path: Path) -> list[str]:
    """Calls of application functions (names imported from roofprof.app.*, not its defaults)
    made inside an if, for, while or conditional expression of ``path``."""
    tree = ast.parse(path.read_text())
    app_names = {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                 and (node.module or "").startswith("roofprof.app") and node.module != \
                 "roofprof.app.defaults" for a in node.names if a.name != "defaults"}
    found: list[str] = []

    def visit(node: ast.AST, branch: bool) -> None:
        for ch in ast.iter_child_nodes(node):
            inside = branch or isinstance(ch, ast.If | ast.For | ast.While | ast.IfExp)
            if (isinstance(ch, ast.Call) and isinstance(ch.func, ast.Name)
                    and ch.func.id in app_names and inside):
                found.append(f"{path.name}:{ch.lineno} {ch.func.id}")
            visit(ch, inside)

    visit(tree, False)
    return found


def test_the_command_line_decides_nothing_about_what_to_compute() -> None:
    """Each command calls its application function unconditionally; what it branches on is
    which view renders the result, and where it goes."""
    cli = sorted((ROOT / "roofprof" / "cli").glob("*.py"))
    assert len(cli) > 5
    assert [c for path in cli for c in _app_calls_in_branches(path)] == []


def test_the_branch_check_sees_an_application_call_in_a_branch(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from roofprof.app.summary import summary\n"
                   "def f(x):\n    if x:\n        summary(x)\n")
    assert _app_calls_in_branches(bad) == ["bad.py:4 summary"]


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


def _dangling(text: str) -> set[str]:
    """The dotted names (``roofprof.analysis.roofline.summarize``) in ``text`` that lead
    nowhere: no module of that name, or no such attribute in it."""
    import importlib
    import re

    out = set()
    for ref in set(re.findall(r"(?<![\w./])((?:roofprof|parsers)(?:\.[A-Za-z_]\w*)+)", text)):
        parts = ref.split(".")
        if "__main__" in parts or parts[-1] in ("py", "toml", "md"):
            continue
        for i in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:i]))
            except ImportError:
                continue
            try:
                for a in parts[i:]:
                    obj = getattr(obj, a)
            except AttributeError:
                out.add(ref)
            break
    return out


def test_every_name_the_docs_and_docstrings_give_exists() -> None:
    """A module moved or a function renamed leaves no stale reference behind."""
    texts = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    texts += [ROOT / n for n in ("README.md", "ARCHITECTURE.md", "BENCHMARKS.md",
                                 "fixtures/MANIFEST.md")]
    assert {str(p.relative_to(ROOT)): d for p in texts if (d := _dangling(p.read_text()))} == {}
