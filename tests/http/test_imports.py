"""No import cycles inside omniroute/http, counting imports made only for
type checking (the package's modules import each other directly, never
through the package's ``__init__``)."""

from __future__ import annotations

import ast
from pathlib import Path

import omniroute.http

PACKAGE = Path(omniroute.http.__file__).parent


def _imports() -> dict[str, set[str]]:
    """Module name -> the omniroute.http modules it imports, anywhere in it."""
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.glob("*.py")):
        name = path.stem
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                module = node.module
            elif isinstance(node, ast.Import):
                module = node.names[0].name
            else:
                continue
            if module == "omniroute.http":
                found.add("__init__")
            elif module.startswith("omniroute.http."):
                found.add(module.removeprefix("omniroute.http."))
        graph[name] = found
    return graph


def test_modules_do_not_import_the_package_itself() -> None:
    graph = _imports()
    assert [name for name, found in graph.items() if "__init__" in found] == []


def test_no_import_cycles() -> None:
    graph = _imports()
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        assert name not in path, " -> ".join([*path, name])
        if name in done:
            return
        for target in sorted(graph.get(name, ())):
            visit(target, [*path, name])
        done.add(name)

    for name in graph:
        visit(name, [])
