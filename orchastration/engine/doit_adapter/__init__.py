"""The one door to doit: every import of doit and every use of its private names lives in this package.

Jobs and task builds (``engine/runs.py``), orchestration stages (``engine/stage_tasks.py``) and doit-native
``dodo.py`` files (``orchastration/dodo.py``) reach doit only through it. It is imported lazily
(``engine/__init__.py``): the CLI starts without doit. Importing it first loads doit's engine modules
without doit's command-line layer (``_install_light_doit``). ``PRIVATE_NAMES`` lists what we rely on
beyond doit's documented API; ``missing_private_names()`` names whatever a doit release moved, and
``tests/test_doit_contract.py`` fails on it. pyproject.toml pins doit to the versions tested here.

- ``checks.py``: up-to-date checks, the content checker, the dependency manager that keeps reasons;
- ``for_units.py``: jobs and task builds as doit tasks, run by doit's serial or thread runner;
- ``for_stages.py``: orchestration stages, and task dicts for doit's own loader (``dodo.py`` files).
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any


def _install_light_doit() -> None:
    """Load doit's engine modules without its package ``__init__``.

    ``import doit.control`` first runs ``doit/__init__.py``, which imports doit's command-line layer
    (``doit_cmd``, its plugin loader and ``importlib.metadata``): ~20 ms of every ``run``, ``status``
    or ``why`` that we never use. The ``doit`` package is registered with its ``__path__`` only, so its
    submodules import as usual; the first access to anything else on the package (``doit.run``,
    ``doit.__version__``, ``from doit import get_var``) runs the real ``__init__`` then.
    """
    if "doit" in sys.modules:
        return
    spec = importlib.util.find_spec("doit")
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return  # not installed as a regular package: let the normal import report it
    package = importlib.util.module_from_spec(spec)
    loading = False

    def complete(name: str) -> Any:
        nonlocal loading
        if loading:  # the real __init__ is running: its ``from doit import loader`` imports the submodule
            raise AttributeError(name)
        loading = True
        del package.__dict__["__getattr__"]
        assert spec.loader is not None
        spec.loader.exec_module(package)
        return getattr(package, name)

    package.__getattr__ = complete  # type: ignore[method-assign]
    sys.modules["doit"] = package


_install_light_doit()


class _ProcessRunnerUnused:
    """What doit's process runner would start or queue with: never called here (see below)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("orchastration runs doit's serial and thread runners only")


class _DebuggerUnused:
    """What doit's ``--pdb`` post-mortem would start: never turned on here (see below)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("orchastration never runs doit's post-mortem debugger")


def _import_runner_lightly() -> None:
    """Import ``doit.runner`` without what only its process runner and its debugger use (~15 ms of
    every run).

    It imports ``multiprocessing`` (``Process``, ``Queue``) and ``cloudpickle`` at the top for
    ``MRunner`` with child processes; we use its serial runner and its thread runner (every job is a
    subprocess already). ``doit.action`` imports ``pdb`` (~6 ms: ``cmd``, ``bdb``, ``pprint``, ...)
    for ``PythonAction``'s post-mortem under ``doit --pdb``, which we never turn on. While they load,
    ``cloudpickle`` reads as absent (doit falls back to ``pickle``), and ``multiprocessing`` and
    ``pdb`` are stand-ins whose ``Process``, ``Queue`` and ``Pdb`` raise if ever called; the thread
    runner compares its ``Child`` with that ``Process`` only to tell the two apart. No stand-in
    outlives the import: a later ``import multiprocessing`` (Dask's) or ``import pdb`` gets the real
    module. A module already imported is used as it is."""
    if "doit.runner" in sys.modules:
        return
    import types

    added = [name for name in ("multiprocessing", "cloudpickle", "pdb") if name not in sys.modules]
    if "multiprocessing" in added:
        stand_in = types.ModuleType("multiprocessing")
        stand_in.Process = stand_in.Queue = _ProcessRunnerUnused  # type: ignore[attr-defined]
        sys.modules["multiprocessing"] = stand_in
    if "pdb" in added:
        debugger = types.ModuleType("pdb")
        debugger.Pdb = _DebuggerUnused  # type: ignore[attr-defined]
        sys.modules["pdb"] = debugger
    if "cloudpickle" in added:
        sys.modules["cloudpickle"] = None  # type: ignore[assignment]
    try:
        importlib.import_module("doit.runner")
    finally:
        for name in added:
            sys.modules.pop(name, None)


_import_runner_lightly()

from doit.dependency import Dependency, JSONCodec, JsonDB, SqliteDB, UptodateCalculator  # noqa: E402
from doit.exceptions import TaskFailed  # noqa: E402
from doit.runner import MRunner, Runner  # noqa: E402

PRIVATE_NAMES: tuple[tuple[Any, str], ...] = (
    (Runner, "_handle_task_error"),  # overridden: an interrupt stops the run even with --keep-going
    (Runner, "_stop_running"),  # set by that override
    (MRunner, "Queue"),  # the thread runner's result queue: replaced by one Ctrl-C cannot break
    (SqliteDB, "_conn"),  # read in one query instead of one per task
    (SqliteDB, "_cache"),
    (SqliteDB, "_dirty"),  # committed as tasks finish, not only at the end (kill -9 keeps them)
    (JsonDB, "_db"),  # the orchestration database is dumped atomically
    (JsonDB, "_load"),
    (Dependency, "_get"),  # what UptodateCalculator.get_val is: a dependency's saved values
    (Dependency, "backend"),  # its database, to commit
    (Dependency, "_set"),  # file states saved as the action read them, not as they are after it
    (UptodateCalculator, "setup"),
)


def missing_private_names() -> list[str]:
    """The private doit names this module uses that the installed doit lacks (empty: all there).
    Instance attributes are looked up on real instances: an in-memory database, a fresh runner."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        instances = {
            Runner: Runner(None, None),
            SqliteDB: SqliteDB(":memory:", JSONCodec()),
            JsonDB: JsonDB(str(Path(tmp) / "absent.json"), JSONCodec()),
            Dependency: Dependency(JsonDB, str(Path(tmp) / "absent.json")),
        }
        missing = [
            f"{owner.__module__}.{owner.__name__}.{name}"
            for owner, name in PRIVATE_NAMES
            if not hasattr(owner, name) and not hasattr(instances.get(owner), name)
        ]
        with contextlib.suppress(AttributeError):
            instances[SqliteDB]._conn.close()
    if "get_log" not in inspect.signature(Dependency.get_status).parameters:
        missing.append("doit.dependency.Dependency.get_status(get_log=...)")
    return missing


# -- what a doit task's action returns ---------------------------------------------------------


def action_result(values: Mapping[str, Any] | None, failure: str, file_states: Mapping[str, Any] | None = None) -> Any:
    """What a doit action returns: the values to save, or a failure when ``values`` is None.
    ``file_states``: each file_dep's state as the action read it at its start, saved instead of
    the states doit would compute after the action (see ``checks.FILE_STATES_KEY``)."""
    if values is None:
        return TaskFailed(failure)
    from orchastration.engine.doit_adapter.checks import FILE_STATES_KEY

    return {**values, FILE_STATES_KEY: dict(file_states)} if file_states is not None else dict(values)


# The parts load on first use: a run of jobs never loads the stage runner, an orchestration never the
# unit runners (each part imports what it needs of doit).
_PARTS = {
    "FILE_STATES_KEY": "checks", "VALUES_KEY": "checks", "Explain": "checks", "content_checker": "checks",
    "StageEvents": "for_stages", "dodo_task": "for_stages", "run_stages": "for_stages", "stage_values": "for_stages",
    "UnitEvents": "for_units", "UnitGraph": "for_units", "UnitTask": "for_units", "forget": "for_units",
}  # fmt: skip

if TYPE_CHECKING:
    from orchastration.engine.doit_adapter.checks import FILE_STATES_KEY, VALUES_KEY, Explain, content_checker
    from orchastration.engine.doit_adapter.for_stages import StageEvents, dodo_task, run_stages, stage_values
    from orchastration.engine.doit_adapter.for_units import UnitEvents, UnitGraph, UnitTask, forget


def __getattr__(name: str) -> Any:
    part = _PARTS.get(name)
    if part is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{part}"), name)


__all__ = [
    "FILE_STATES_KEY", "PRIVATE_NAMES", "VALUES_KEY", "Explain", "StageEvents", "UnitEvents", "UnitGraph",
    "UnitTask", "action_result", "content_checker", "dodo_task", "forget", "missing_private_names", "run_stages",
    "stage_values",
]  # fmt: skip
