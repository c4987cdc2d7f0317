"""The one door to doit: every import of doit and every use of its private names lives here.

Jobs and task builds (``engine/runs.py``), orchestration stages (``engine/stages.py``) and doit-native
``dodo.py`` files (``orchastration/dodo.py``) reach doit only through this module. It is imported
lazily (``engine/__init__.py``): the CLI starts without doit. ``PRIVATE_NAMES`` lists what we rely on
beyond doit's documented API; ``missing_private_names()`` names whatever a doit release moved, and
``tests/test_doit_contract.py`` fails on it. pyproject.toml pins doit to the versions tested here.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import os
import queue
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol


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

from doit.control import TaskControl  # noqa: E402
from doit.dependency import (  # noqa: E402
    Dependency,
    FileChangedChecker,
    JSONCodec,
    JsonDB,
    SqliteDB,
    UptodateCalculator,
)
from doit.exceptions import BaseFail, InvalidDodoFile, InvalidTask, TaskFailed, UnmetDependency  # noqa: E402
from doit.runner import MRunner, MThreadRunner, Runner  # noqa: E402
from doit.task import Stream, Task  # noqa: E402

from orchastration.errors import ConfigError  # noqa: E402

# Everything we use that doit does not document as API: (object, attribute).
PRIVATE_NAMES: tuple[tuple[Any, str], ...] = (
    (Runner, "_handle_task_error"),  # overridden: an interrupt stops the run even with --keep-going
    (Runner, "_stop_running"),  # set by that override
    (MRunner, "Queue"),  # the thread runner's result queue: replaced by one Ctrl-C cannot break
    (SqliteDB, "_conn"),  # read in one query instead of one per task
    (SqliteDB, "_cache"),
    (JsonDB, "_db"),  # the orchestration database is dumped atomically
    (JsonDB, "_load"),
    (Dependency, "_get"),  # what UptodateCalculator.get_val is: a dependency's saved values
    (UptodateCalculator, "setup"),
)
VALUES_KEY = "_values_:"  # doit's database key of a task's saved values


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


def action_result(values: Mapping[str, Any] | None, failure: str) -> Any:
    """What a doit action returns: the values to save, or a failure when ``values`` is None."""
    return dict(values) if values is not None else TaskFailed(failure)


# -- up-to-date checks -------------------------------------------------------------------------

_CALL_SIGNATURE = inspect.Signature(
    [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in ("task", "values")]
)


class _Uptodate(UptodateCalculator):  # type: ignore[misc]
    """A plain up-to-date check ``check(values) -> bool`` as a doit ``uptodate`` callable; a check
    with a ``values_of`` attribute gets a reader of other tasks' saved values."""

    def __init__(self, check: Callable[[Mapping[str, Any]], bool]) -> None:
        super().__init__()
        self.check = check
        # doit inspects every uptodate callable's signature on every check; a precomputed
        # __signature__ spares inspect the work (1,000 jobs: ~40 ms).
        self.__signature__ = _CALL_SIGNATURE

    def setup(self, dep_manager: Any, tasks_dict: Any) -> None:
        super().setup(dep_manager, tasks_dict)
        if hasattr(self.check, "values_of"):
            get = self.get_val
            self.check.values_of = lambda name: get(name, VALUES_KEY)

    def __call__(self, task: Any, values: Mapping[str, Any] | None) -> bool:
        return bool(self.check(values or {}))


def content_checker(
    algorithm: str,
    changed: Callable[[str, os.stat_result, Any], bool],
    state: Callable[[str, os.stat_result], Any],
) -> type[FileChangedChecker]:
    """A doit file checker from two functions: ``changed(path, stat, saved)`` and ``state(path, stat)``.
    Its class name names the algorithm, so doit reruns everything (``checker_changed``) when
    ``hash.algorithm`` changes."""

    class _Checker(FileChangedChecker):  # type: ignore[misc]
        def check_modified(self, file_path: str, file_stat: os.stat_result, saved: Any) -> bool:
            return changed(file_path, file_stat, saved)

        def get_state(self, dep: str, current_state: Any) -> Any:
            st = os.stat(dep)
            if current_state and list(current_state[:2]) == [st.st_mtime_ns, st.st_size]:
                return None  # unchanged: skip re-hashing
            return state(dep, st)

    _Checker.__name__ = _Checker.__qualname__ = f"ContentChecker_{algorithm}"
    return _Checker


# Reasons (doit's ``get_status(get_log=True)`` reasons dict, whether it never ran) -> our words.
Explain = Callable[[str, Mapping[str, Any], bool], list[str]]


class _ExplainingDependency(Dependency):  # type: ignore[misc]
    """doit's dependency manager that keeps every reason a task is not up to date."""

    def __init__(self, *args: Any, explain: Explain, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.explain = explain
        self.reasons: dict[str, list[str]] = {}

    def save_success(self, task: Any, result_hash: str | None = None) -> None:
        # A unit's action returns a dict: doit saves it as the task's values and, again, whole as
        # its "result:" (read only by doit's result_dep, which units never use). The run id stands
        # in for the second copy: half the database to decode on every run.
        if result_hash is None and isinstance(task.values, dict) and "run" in task.values:
            result_hash = str(task.values["run"])
        super().save_success(task, result_hash)

    def get_status(self, task: Any, tasks_dict: Any, get_log: bool = False) -> Any:
        never_run = "run" not in (self.get_values(task.name) or {})  # one cached read, no extra query
        # Two doit quirks around a missing input: its name is passed through str.format twice (a
        # brace in it raises ValueError), and, collecting every reason (get_log), a later "changed"
        # reason turns the missing input's "error" back into "run". Braced names are checked here,
        # and any missing input ends as an error: the unit fails instead of running without it.
        braced = {d for d in task.file_dep if ("{" in d or "}" in d) and not os.path.exists(d)}
        task.file_dep -= braced
        try:
            result = super().get_status(task, tasks_dict, get_log=True)
        finally:
            task.file_dep |= braced
        for dep in sorted(braced):
            result.add_reason("missing_file_dep", dep, "error")
        missing = result.reasons.get("missing_file_dep")
        if missing:
            result.status = "error"
            result.error_reason = "Dependent file '" + missing[0] + "' does not exist."
        self.reasons[task.name] = self.explain(task.name, result.reasons, never_run)
        return result


class _PreloadedSqliteDB(SqliteDB):  # type: ignore[misc]
    """doit's sqlite3 backend, read in one query instead of one per task (1,000 tasks: ~40 ms less).
    ``only``: the tasks to read, when a run needs a few of many (others load on demand, as in doit)."""

    def __init__(self, name: str, codec: Any, *, module_name: str | None = None, only: Sequence[str] = ()) -> None:
        super().__init__(name, codec, module_name=module_name)
        query = "select task_id, task_data from doit"
        rows = (
            self._conn.execute(f"{query} where task_id in ({','.join('?' * len(only))})", list(only))
            if 0 < len(only) <= _FEW
            else self._conn.execute(query)
        )
        for row in rows:
            self._cache[row["task_id"]] = row["task_data"]


_FEW = 200  # below this many tasks, read just those rows (sqlite allows 999 parameters everywhere)


# -- jobs and task builds: units as doit tasks -------------------------------------------------


class UnitTask:
    """What doit needs of one unit: its action, files, dependencies and up-to-date check."""

    __slots__ = ("name", "action", "file_dep", "targets", "task_dep", "check")

    def __init__(
        self,
        name: str,
        action: Callable[[], Any],
        file_dep: Sequence[str],
        targets: Sequence[str],
        task_dep: Sequence[str],
        check: Callable[[Mapping[str, Any]], bool],
    ) -> None:
        self.name, self.action, self.file_dep, self.targets = name, action, file_dep, targets
        self.task_dep, self.check = task_dep, check


def _doit_tasks(tasks: Iterable[UnitTask]) -> list[Any]:
    return [
        Task(
            t.name,
            actions=[(t.action,)],
            file_dep=t.file_dep,
            targets=list(t.targets),
            task_dep=list(t.task_dep),
            uptodate=[_Uptodate(t.check)],
            verbosity=0,
            io={"capture": False},  # our action streams itself; doit must not swap sys.stdout
        )
        for t in tasks
    ]


def _control(tasks: list[Any], start: Sequence[str] | None) -> Any:
    try:
        control = TaskControl(tasks)
        control.process(None if start is None else list(start))
    except (InvalidTask, InvalidDodoFile) as exc:
        raise ConfigError(f"cannot build the task graph: {exc}") from None
    return control


def _dependency(
    db_path: Path, checker: type, explain: Explain, read_only: bool = False, only: Sequence[str] = ()
) -> _ExplainingDependency:
    # sqlite3: every commit is atomic and journaled, so a crash mid-run never corrupts the database.
    # Read-only callers with no database yet use an in-memory JSON one that is never written.
    db_class: Any = JsonDB if read_only and not db_path.exists() else _PreloadedSqliteDB
    if only and db_class is _PreloadedSqliteDB:
        db_class = _only(only)
    return _ExplainingDependency(db_class, str(db_path), checker_cls=checker, explain=explain)


def _only(only: Sequence[str]) -> Callable[..., _PreloadedSqliteDB]:
    def make(name: str, codec: Any, **kw: Any) -> _PreloadedSqliteDB:
        return _PreloadedSqliteDB(name, codec, only=only, **kw)

    return make


class UnitEvents:
    """What a run of units hears from doit (a reporter's events)."""

    def succeeded(self, name: str) -> None:
        """The unit's action returned its values."""

    def failed(self, name: str, message: str, dependency_failed: bool) -> None:
        """The unit's action failed, or doit failed it before running it (``dependency_failed``:
        a dependency did not succeed; else an error such as a missing input)."""

    def up_to_date(self, name: str) -> None:
        """doit found the unit up to date."""

    def stopping(self) -> bool:
        """True when the run was interrupted: doit must start nothing more, even with keep-going."""
        return False


class _Reporter:
    """doit reporter forwarding the events a run needs; prints nothing (the CLI prints)."""

    def __init__(self, events: UnitEvents) -> None:
        self.events = events
        self.errors: list[str] = []

    def add_success(self, task: Any) -> None:
        self.events.succeeded(task.name)

    def add_failure(self, task: Any, fail: BaseFail) -> None:
        self.events.failed(task.name, fail.get_msg().strip(), isinstance(fail, UnmetDependency))

    def skip_uptodate(self, task: Any) -> None:
        self.events.up_to_date(task.name)

    def runtime_error(self, msg: str) -> None:
        self.errors.append(msg)

    def _ignore(self, *args: Any) -> None:
        pass

    initialize = get_status = execute_task = skip_ignore = cleanup_error = teardown_task = complete_run = _ignore


class _SerialRunner(Runner):  # type: ignore[misc]
    def __init__(self, events: UnitEvents, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.events = events

    def _handle_task_error(self, node: Any, base_fail: Any) -> None:
        super()._handle_task_error(node, base_fail)
        if self.events.stopping():
            self._stop_running = True  # an interrupt ends the run even with --keep-going


class _ThreadRunner(MThreadRunner):  # type: ignore[misc]
    def __init__(self, events: UnitEvents, on_interrupt: Callable[[], None], *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.events = events

        class InterruptibleQueue(queue.Queue):  # type: ignore[type-arg]
            """The main loop's result queue: Ctrl-C cancels the running units, then keeps collecting."""

            def get(self, block: bool = True, timeout: float | None = None) -> Any:
                while True:
                    try:
                        return super().get(block, timeout)
                    except KeyboardInterrupt:
                        on_interrupt()

        self.Queue = InterruptibleQueue

    def _handle_task_error(self, node: Any, base_fail: Any) -> None:
        super()._handle_task_error(node, base_fail)
        if self.events.stopping():
            self._stop_running = True


class UnitGraph:
    """The doit side of one run of units: their tasks, dependency manager and reasons."""

    def __init__(
        self,
        tasks: Sequence[UnitTask],
        db_path: Path,
        checker: type,
        explain: Explain,
        *,
        start: Sequence[str] | None = None,
        read_only: bool = False,
        only: Sequence[str] = (),
    ) -> None:
        self.tasks = {t.name: t for t in _doit_tasks(tasks)}
        self.control = _control(list(self.tasks.values()), start)
        self.dep = _dependency(db_path, checker, explain, read_only=read_only, only=only)

    def reasons(self, name: str) -> list[str]:
        """Our words for why doit judged ``name`` not up to date (after it checked it)."""
        return self.dep.reasons.get(name, [])

    def check(self, name: str) -> None:
        """Ask doit whether ``name`` is up to date, without running anything (fills ``reasons``)."""
        self.dep.get_status(self.tasks[name], self.tasks)

    def run(
        self, events: UnitEvents, *, parallel: int, keep_going: bool, on_interrupt: Callable[[], None]
    ) -> list[str]:
        """Let doit order, check and run the tasks; returns doit's runtime errors. A KeyboardInterrupt
        in the serial runner propagates (the caller stops the running command)."""
        reporter = _Reporter(events)
        runner: Any = (
            _ThreadRunner(events, on_interrupt, self.dep, reporter, continue_=keep_going, num_process=parallel)
            if parallel > 1
            else _SerialRunner(events, self.dep, reporter, continue_=keep_going)
        )
        runner.run_all(self.control.task_dispatcher())
        return reporter.errors


def forget(db_path: Path, names: Iterable[str] | None) -> None:
    """Delete doit's saved state of ``names`` (all when None)."""
    if not db_path.exists():
        return
    db = SqliteDB(str(db_path), codec=JSONCodec())
    if names is None:
        db.remove_all()
    else:
        for name in names:
            db.remove(name)
    db.dump()


# -- orchestration stages ----------------------------------------------------------------------


def _atomic_json_db() -> type:
    """doit's JSON backend with an atomic dump and a forgiving load (a crash never tears the file)."""
    from orchastration.logs import get_logger, log
    from orchastration.state import atomic_write_text

    class AtomicJsonDB(JsonDB):  # type: ignore[misc]
        def dump(self) -> None:
            atomic_write_text(Path(self.name), self.codec.encode(self._db))

        def _load(self) -> Any:
            # Written atomically, so only a hand edit can break it: then every stage just runs again.
            try:
                return super()._load()
            except Exception:
                log(get_logger("agents"), "warn", "unreadable up-to-date state: starting afresh", file=self.name)
                return {}

    return AtomicJsonDB


def stage_values(db_file: Path) -> Callable[[str], dict[str, Any]]:
    """Read-only access to the values doit saved per stage (for ``--dry-run``)."""
    if not db_file.exists():
        return lambda name: {}
    dep = Dependency(_atomic_json_db(), str(db_file))
    return lambda name: dict(dep.get_values(name) or {})


class StageEvents(Protocol):
    """What an orchestration hears from doit's reporter (``engine.stages.Events``)."""

    def skipped(self, name: str) -> None: ...

    def failed_early(self, name: str, message: str) -> None: ...


def run_stages(
    stages: Sequence[tuple[str, Callable[[], Any], Sequence[str], Callable[[Mapping[str, Any]], bool] | None]],
    db_file: Path,
    events: StageEvents,
    parallel: int,
    force: bool,
) -> int:
    """Run stages ``(name, action, deps, uptodate or None = always)`` with doit's thread runner;
    returns doit's result code (0: all succeeded)."""
    tasks = [
        Task(
            name,
            [(action,)],
            task_dep=list(deps),
            uptodate=[_Uptodate(check)] if check is not None else [False],
            io={"capture": False},  # no sys.stdout swapping: it is process-wide and the runner uses threads
            verbosity=0,
        )
        for name, action, deps, check in stages
    ]

    class Reporter:
        def __init__(self, outstream: Any = None, options: Any = None) -> None:
            pass

        def skip_uptodate(self, task: Any) -> None:
            events.skipped(task.name)

        def add_failure(self, task: Any, fail: Any) -> None:
            if not isinstance(fail, UnmetDependency):
                events.failed_early(task.name, fail.get_msg().strip().splitlines()[-1] if fail.get_msg() else "")

        def runtime_error(self, msg: str) -> None:
            events.failed_early("", msg)

        def _ignore(self, *args: Any) -> None:
            pass

        initialize = get_status = execute_task = add_success = skip_ignore = _ignore
        cleanup_error = teardown_task = complete_run = _ignore

    db_file.parent.mkdir(parents=True, exist_ok=True)
    control = _control(tasks, None)
    dep_manager = Dependency(_atomic_json_db(), str(db_file))
    runner = MThreadRunner(
        dep_manager, Reporter(), continue_=True, always_execute=force, stream=Stream(0), num_process=max(1, parallel)
    )
    return int(runner.run_all(control.task_dispatcher()))


# -- doit-native dodo.py files -----------------------------------------------------------------


def dodo_task(
    name: str,
    action: Callable[[], str | None],
    *,
    file_dep: Sequence[str],
    targets: Sequence[str],
    task_dep: Sequence[str],
    config: Mapping[str, str] | None,
) -> dict[str, Any]:
    """A task dict for doit's own loader. ``action`` returns None, or why it failed; ``config``: values
    whose change reruns the task (None: it always runs)."""
    from doit.tools import config_changed

    def act() -> Any:
        failure = action()
        return True if failure is None else TaskFailed(f"job {name}: {failure}")

    return {
        "basename": name,
        "actions": [(act,)],
        "file_dep": list(file_dep),
        "targets": list(targets),
        "task_dep": list(task_dep),
        "uptodate": [False] if config is None else [config_changed(dict(config))],
        "clean": True,
        "verbosity": 2,
        "io": {"capture": False},  # the action streams and logs itself: never hold output in memory
    }
