"""The package's module graph: no import cycle among zeekflow's modules, so each can be read, tested and
imported on its own (the run's records and the work dir's file names are leaves: records.py, workfiles.py)."""

from __future__ import annotations

import ast

from .conftest import REPO

PACKAGE = REPO / "workflows"


def _imports(nodes: list[ast.stmt], lazy: bool):
    """The ``from . import`` statements of ``nodes``, inside functions too with ``lazy``; never those of an
    ``if TYPE_CHECKING:`` block (annotations only)."""
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.level:
            yield node
        elif isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            continue
        elif lazy or isinstance(node, (ast.If, ast.Try)):
            for field in ("body", "orelse", "finalbody", "handlers"):
                yield from _imports(getattr(node, field, []), lazy)


def _module_imports(lazy: bool) -> dict[str, set[str]]:
    """Module (dotted, under the package) → the package modules it imports."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        package = parts[:-1]
        deps = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8")).body, lazy):
            base = package[:len(package) - (node.level - 1)]
            deps.add(".".join(base + (node.module.split(".") if node.module else [])))
        graph[name] = {d for d in deps if d and d != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == "open":
                found.append(path[path.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, path + [dep])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_no_import_cycle_at_module_level() -> None:
    assert _cycles(_module_imports(lazy=False)) == []


def test_no_import_cycle_even_inside_functions() -> None:
    # Imports inside functions count too: the old manifest -> task -> shards -> parquet -> manifest, and the
    # kernel's splice importing the converters' BlockResult, would both show here.
    graph = _module_imports(lazy=True)
    assert _cycles(graph) == []
    assert graph["records"] == {"schema"} and graph["workfiles"] == set()
