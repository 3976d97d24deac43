"""The package layout stays true: no import cycles, dependencies point down.

Every module of ``omniroute`` is read with ``ast`` (nothing is imported),
its imports of other ``omniroute`` modules are collected, and the graph is
checked: no cycle between modules, none between packages, and no module
imports from a layer above its own or from another package of its layer.
Imports inside ``if TYPE_CHECKING:`` count too: a cycle for the type checker
is still a knot in the design.
"""

from __future__ import annotations

import ast
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import omniroute

ROOT = Path(omniroute.__file__).resolve().parent

# Lowest first. A module may import its own package and any lower layer.
# Packages sharing a layer do not import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("omniroute", "omniroute.errors", "omniroute.settings"),
    ("omniroute.http", "omniroute.formats", "omniroute.routing", "omniroute.store"),
    ("omniroute.upstream",),
    ("omniroute.providers",),
    ("omniroute.config",),
    ("omniroute.tools",),
    ("omniroute.gateway",),
    ("omniroute.api",),
    ("omniroute.app",),
    ("omniroute.cli",),
    ("omniroute.__main__",),
)


def _modules() -> dict[str, Path]:
    found = {"omniroute": ROOT / "__init__.py"}
    for info in pkgutil.walk_packages([str(ROOT)], prefix="omniroute."):
        if info.name.startswith("omniroute.web"):
            continue
        path = ROOT.joinpath(*info.name.split(".")[1:])
        found[info.name] = path / "__init__.py" if info.ispkg else path.with_suffix(".py")
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> Iterator[str]:
    """The omniroute modules ``name`` imports (a package's ``__init__`` when a
    name is imported from it that is not a submodule)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("omniroute"):
                    yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if not base.startswith("omniroute"):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield sub if sub in MODULES else base


def _graph() -> dict[str, set[str]]:
    return {
        name: {dep for dep in _imports(name, path) if dep != name} for name, path in MODULES.items()
    }


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path (first node repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return path[path.index(dep) :] + [dep]
            if dep not in state and (found := visit(dep)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def _home(module: str) -> str:
    """The layer entry a module belongs to (its package, or itself)."""
    best = ""
    for entry in (e for layer in LAYERS for e in layer):
        if (module == entry or module.startswith(entry + ".")) and len(entry) > len(best):
            best = entry
    assert best, f"{module} is in no layer: add it to LAYERS"
    return best


def _layer(entry: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if entry in layer)


def test_every_module_is_read() -> None:
    assert len(MODULES) > 60
    assert "omniroute.gateway.pipeline" in MODULES
    assert "omniroute.http.server" in MODULES


def test_no_import_cycle_between_modules() -> None:
    cycle = _find_cycle(_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_no_import_cycle_between_packages() -> None:
    packages: dict[str, set[str]] = {}
    for name, deps in _graph().items():
        home = _home(name)
        packages.setdefault(home, set()).update(_home(d) for d in deps if _home(d) != home)
    cycle = _find_cycle(packages)
    assert cycle is None, " -> ".join(cycle or [])


def test_dependencies_point_down() -> None:
    wrong = []
    for name, deps in sorted(_graph().items()):
        home = _home(name)
        for dep in sorted(deps):
            target = _home(dep)
            if target == home or dep == "omniroute":
                continue
            if _layer(target) >= _layer(home):
                wrong.append(f"{name} imports {dep}")
    assert not wrong, "\n".join(wrong)


def test_the_checks_catch_what_they_look_for() -> None:
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None
    assert _layer(_home("omniroute.store.db")) < _layer(_home("omniroute.gateway.pipeline"))
