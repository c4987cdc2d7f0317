"""The package's shape, read with ``ast``: no import cycle, layers import downwards only, small modules.

Imports inside functions count (they are cycles at run time all the same); imports under
``if TYPE_CHECKING:`` do not. Modules are named relative to the package (``engine.dodo``), a
package by its own name (``engine`` for ``engine/__init__.py``).
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator
from functools import cache
from pathlib import Path

import orchastration

PACKAGE = "orchastration"
ROOT = Path(orchastration.__file__).resolve().parent

# Known violations, being fixed in other files: each entry fails the test once it is gone, so the
# list only shrinks. Edges are (importer, imported).
KNOWN_IMPORTS: set[tuple[str, str]] = set()
# The entry point of ``python -m orchastration`` runs the CLI: it is above every layer.
ENTRY_POINTS = {"__main__"}

# Modules below cli/ that read the environment, each through an explicit ``environ`` argument that
# only defaults to os.environ when it is None: the lead removes these as the environment is injected.
KNOWN_ENV = {
    "dodo",  # doit_tasks(environ=None): an entry point for dodo.py files, like the CLI's main()
    "executors.remote",  # runs on a dask worker: the worker's environment is a job's base there, as the CLI's is here
}

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
# Today's long modules and functions (``module`` or ``module:qualified.name``): others are shrinking them.
KNOWN_LONG: set[str] = set()


def module_name(path: Path) -> str:
    """``engine/dodo.py`` -> ``engine.dodo``; ``engine/__init__.py`` -> ``engine``."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, ast.Module]:
    """Every module of the package, parsed."""
    return {
        module_name(path): ast.parse(path.read_text(encoding="utf-8"), str(path))
        for path in sorted(ROOT.rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST) -> Iterator[ast.AST]:
    """Every node below ``node`` but the bodies of ``if TYPE_CHECKING:`` (their ``else`` counts)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield other
                yield from _walk(other)
            continue
        yield child
        yield from _walk(child)


def _target(name: str, known: Collection[str]) -> str | None:
    """The package module a dotted name imports (its longest known prefix), or None if outside."""
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        return None
    parts = name.split(".")[1:]
    while parts and ".".join(parts) not in known:
        parts.pop()
    return ".".join(parts)


def module_imports(module: str, tree: ast.Module, known: Collection[str], is_package: bool) -> set[str]:
    """The package modules one module imports, at module level or in functions, not for type checking."""
    package = [PACKAGE, *module.split(".")] if module else [PACKAGE]
    if not is_package:
        package.pop()
    found: set[str | None] = set()
    for node in _walk(tree):
        if isinstance(node, ast.Import):
            found.update(_target(alias.name, known) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package, one level up per extra dot
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            # ``from pkg import name`` imports the submodule pkg.name if there is one, else pkg.
            found.update(_target(f"{base}.{alias.name}", known) for alias in node.names)
    return {m for m in found if m is not None and m != module}


@cache
def imports() -> dict[str, set[str]]:
    """module -> the package modules it imports (``""`` is the package's own ``__init__``)."""
    known = modules()
    return {module: module_imports(module, tree, known, _is_package(module)) for module, tree in known.items()}


def _is_package(module: str) -> bool:
    return ROOT.joinpath(*module.split("."), "__init__.py").exists() if module else True


def _edges() -> Iterator[tuple[str, str]]:
    for module, targets in sorted(imports().items()):
        for target in sorted(targets):
            yield module, target


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected group of modules (Tarjan), as a path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_path_through(sorted(group), group, graph) for group in groups]


def _path_through(members: list[str], group: set[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest cycle from the first member back to itself, inside the group."""
    start = members[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node] & group):
                if nxt == start:
                    return [*paths[node], start]
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # unreachable for a strongly connected group


def _label(module: str) -> str:
    return module or PACKAGE


SAMPLE = """
import os
import orchastration.paths
from orchastration import errors, __version__
from orchastration.engine import run_units
from . import state
from .engine.units import Unit
from .. import outside
TYPE_CHECKING = False
if TYPE_CHECKING:
    from orchastration.jobs import job_unit
else:
    from orchastration import hashing


def later():
    from orchastration.config import Config
    import orchastration.engine.units as units
"""


def test_the_import_reader_sees_every_kind_of_import() -> None:
    known = {"", "paths", "errors", "engine", "engine.units", "state", "jobs", "hashing", "config", "sample"}
    found = module_imports("sample", ast.parse(SAMPLE), known, is_package=False)
    # module level, inside functions, relative, a package's __init__ as the package; not for type checking
    assert found == {"", "paths", "errors", "engine", "engine.units", "state", "hashing", "config"}
    assert module_imports("engine", ast.parse("from . import units\n"), known, is_package=True) == {"engine.units"}


def test_the_graph_covers_the_package() -> None:
    graph = imports()
    assert {"", "__main__", "config", "config_model", "engine", "engine.units", "cli.app"} <= set(graph)
    assert "cli" in graph["__main__"]
    assert "config_model" in graph["config_schema"]  # module level
    assert "config_schema" in graph["config"]  # inside load_config


def test_no_import_cycle() -> None:
    graph = {m: {t for t in targets if (m, t) not in KNOWN_IMPORTS} for m, targets in imports().items()}
    cycles = [" -> ".join(map(_label, cycle)) for cycle in _cycles(graph)]
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_config_is_in_no_cycle_even_with_the_known_edges() -> None:
    cycles = _cycles(imports())
    assert not [c for c in cycles if {"config", "config_model", "config_schema"} & set(c)], cycles


# importer prefix -> the package modules (and their submodules) it must not import
LAYERS = {
    "engine": ("jobs", "workflow", "agents", "cli"),
    **{
        low: ("engine", "jobs", "workflow", "agents", "cli")
        for low in ("config", "config_model", "config_schema", "paths", "errors", "outcomes", "hashing", "state")
    },
    "logs": ("engine", "jobs", "workflow", "agents", "cli"),
}


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _layer_violations() -> set[tuple[str, str]]:
    found = set()
    for module, target in _edges():
        if _under(target, "cli") and not _under(module, "cli") and module not in ENTRY_POINTS:
            found.add((module, target))
        for low, above in LAYERS.items():
            if _under(module, low) and any(_under(target, high) for high in above):
                found.add((module, target))
    return found


def test_layers_import_downwards_only() -> None:
    unexpected = sorted(_layer_violations() - KNOWN_IMPORTS)
    assert not unexpected, "imports against the layering:\n" + "\n".join(f"{a} -> {b}" for a, b in unexpected)


def test_known_import_violations_still_exist() -> None:
    fixed = sorted(KNOWN_IMPORTS - set(_edges()))
    assert not fixed, f"fixed, remove from KNOWN_IMPORTS: {fixed}"


ENV_NAMES = {"environ", "environb", "getenv", "getenvb"}


def _reads_env(node: ast.AST) -> bool:
    """``os.environ`` / ``os.getenv`` (any use), or ``from os import environ``."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os":
        return node.attr in ENV_NAMES
    return isinstance(node, ast.ImportFrom) and node.module == "os" and any(a.name in ENV_NAMES for a in node.names)


def _env_readers() -> set[str]:
    return {module for module, tree in modules().items() if any(map(_reads_env, ast.walk(tree)))}


def test_nothing_below_cli_reads_the_environment() -> None:
    below = {m for m in _env_readers() if not _under(m, "cli") and m not in ENTRY_POINTS}
    unexpected = sorted(below - KNOWN_ENV)
    assert not unexpected, f"read os.environ below cli/ (take an environ argument instead): {unexpected}"
    assert not KNOWN_ENV - below, f"no longer read os.environ, remove from KNOWN_ENV: {sorted(KNOWN_ENV - below)}"


def _functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield prefix + node.name, node
            yield from _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")
        else:
            yield from _functions(node, prefix)


def _too_long() -> set[str]:
    long = set()
    for module, tree in modules().items():
        path = ROOT / (module.replace(".", "/") if module else "")
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        if len(path.read_text(encoding="utf-8").splitlines()) > MAX_MODULE_LINES:
            long.add(module)
        for name, func in _functions(tree):
            if (func.end_lineno or func.lineno) - func.lineno > MAX_FUNCTION_LINES:
                long.add(f"{module}:{name}")
    return long


def test_modules_and_functions_stay_short() -> None:
    long = _too_long()
    unexpected = sorted(long - KNOWN_LONG)
    assert not unexpected, (
        f"over {MAX_MODULE_LINES} lines (module) or {MAX_FUNCTION_LINES} lines (function): {unexpected}"
    )
    assert not KNOWN_LONG - long, f"short now, remove from KNOWN_LONG: {sorted(KNOWN_LONG - long)}"
