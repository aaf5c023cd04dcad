"""The package's import graph: layers import downwards only, no circles, no private names.

Every module of ``memorybench`` is parsed (``ast``, nothing is imported) and every import of a
``memorybench`` module is collected, at module level and inside functions alike: an import
inside a function is still a dependency, only a later one. Each module has a layer (``LAYERS``,
the table in docs/architecture.md); a module may import its own layer and the ones below.
"""

from __future__ import annotations

import ast
import fnmatch
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "memorybench"

# lowest first; a pattern "x.*" is the package x's modules, x itself listed apart
LAYERS: list[tuple[str, list[str]]] = [
    # the package (its public names are imported lazily, by importlib: nothing at import time),
    # errors, the registries' machinery, terminal quieting, published numbers, run configs
    ("core", ["memorybench", "memorybench.errors", "memorybench.registry", "memorybench.quiet",
              "memorybench.references", "memorybench.config"]),
    # what is run: tasks, and the cells and models with their registry
    ("definitions", ["memorybench.tasks", "memorybench.tasks.*", "memorybench.models",
                     "memorybench.models.builtin", "memorybench.models.blocks",
                     "memorybench.models.tcn", "memorybench.models.cells",
                     "memorybench.models.cells.*", "memorybench.models.layers",
                     "memorybench.models.layers.*"]),
    # building Keras models for a task, and resolving a run config (which builds to fit units)
    ("building", ["memorybench.models.build", "memorybench.models.describe",
                  "memorybench.models.resolve"]),
    # the catalogue (profiles, studies), the key space and its layers, the grid: in that order
    ("settings", ["memorybench.settings", "memorybench.settings.*"]),
    # the results folder's one owner: everything above reads and writes it through this
    ("store", ["memorybench.run.schema", "memorybench.run.store"]),
    # diagnostics that build models and take gradients, written beside the runs
    ("diagnostics", ["memorybench.diagnostics", "memorybench.diagnostics.*"]),
    # running: one run, locks, executors, sweeps, searches, studies, merging, the rate choice
    ("runs", ["memorybench.run", "memorybench.run.*"]),
    # reading results: tables, findings, figures, the HTML page
    ("report", ["memorybench.report", "memorybench.report.*"]),
    # entry points that may use every layer: the CLI, the calls that run then report, bench
    ("top", ["memorybench.api", "memorybench.cli", "memorybench.cli_render",
             "memorybench.cli_options", "memorybench.__main__", "memorybench.bench",
             "memorybench.bench.*"]),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str, path: Path, known: set[str]) -> list[tuple[str, str, int]]:
    """(imported module, imported name or "", line) for every ``memorybench`` import in the
    module ``name``; ``from memorybench.x import y`` imports the module ``memorybench.x.y`` when
    there is one, else the name ``y`` of ``memorybench.x``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, "", node.lineno) for a in node.names
                      if a.name.split(".")[0] == "memorybench"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the package, up level - 1
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "memorybench":
                continue
            for a in node.names:
                sub = f"{target}.{a.name}"
                found.append((sub, "", node.lineno) if sub in known
                             else (target, a.name, node.lineno))
    return found


def layer_of(name: str) -> int:
    for i, (_, patterns) in enumerate(LAYERS):
        if any(name == p or (p.endswith(".*") and fnmatch.fnmatch(name, p)) for p in patterns):
            return i
    raise AssertionError(f"{name} has no layer: add it to LAYERS here and in "
                         f"docs/architecture.md")


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {m: {t for t, _, _ in imports(m, p, set(mods)) if t != m} for m, p in mods.items()}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_every_module_has_a_layer():
    for name in modules():
        layer_of(name)


def test_there_is_no_import_circle():
    assert circles(graph()) == []


def test_layers_import_downwards_only():
    edges = graph()
    upward = [f"{m} ({LAYERS[layer_of(m)][0]}) imports {t} ({LAYERS[layer_of(t)][0]})"
              for m in sorted(edges) for t in sorted(edges[m])
              if t in edges and layer_of(t) > layer_of(m)]
    assert upward == []


def test_no_private_name_is_imported_from_another_module():
    mods = modules()
    private = [f"{m}:{line} imports {n} from {t}"
               for m, p in mods.items() for t, n, line in imports(m, p, set(mods))
               if t != m and n.startswith("_") and not (n.startswith("__") and n.endswith("__"))]
    assert private == []


def test_the_checks_can_fail():
    """The graph functions see what the tests above forbid."""
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layer_of("memorybench.report.html") > layer_of("memorybench.run.study")
    assert layer_of("memorybench.diagnostics.jacobian") < layer_of("memorybench.run.study")
    assert layer_of("memorybench.config") < layer_of("memorybench.models.resolve")


@pytest.mark.parametrize("source, expected", [
    ("from memorybench.report.html import make_report\n",
     ("memorybench.report.html", "make_report")),
    ("def f():\n    from memorybench.report import findings\n",
     ("memorybench.report.findings", "")),
    ("from memorybench.report.leaderboard import _num\n",
     ("memorybench.report.leaderboard", "_num")),
    ("import memorybench.run.store\n", ("memorybench.run.store", "")),
])
def test_imports_are_found_at_module_level_and_in_functions(tmp_path, source, expected):
    f = tmp_path / "m.py"
    f.write_text(source)
    found = imports("memorybench.run.x", f, set(modules()))
    assert [(t, n) for t, n, _ in found] == [expected]
