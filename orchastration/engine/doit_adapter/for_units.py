"""Jobs and task builds as doit tasks: compiled, ordered and run by doit's serial or thread runner,
doit's events forwarded to the run (``UnitEvents``)."""

from __future__ import annotations

import contextlib
import inspect
import queue
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from doit.control import TaskControl
from doit.dependency import JSONCodec, SqliteDB
from doit.exceptions import BaseFail, InvalidDodoFile, InvalidTask, UnmetDependency
from doit.runner import MThreadRunner, Runner
from doit.task import Task

from orchastration.engine.doit_adapter.checks import Explain, Uptodate, dependency
from orchastration.errors import ConfigError


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


_NO_PARAMETERS = inspect.Signature()


def _doit_tasks(tasks: Sequence[UnitTask]) -> list[Any]:
    for t in tasks:
        # doit inspects each action's signature before calling it (for its keyword arguments); ours
        # take none: a precomputed signature spares inspect the work.
        with contextlib.suppress(AttributeError):
            t.action.__signature__ = _NO_PARAMETERS  # type: ignore[attr-defined]
    return [
        Task(
            t.name,
            actions=[(t.action,)],
            file_dep=t.file_dep,
            targets=list(t.targets),
            task_dep=list(t.task_dep),
            uptodate=[Uptodate(t.check)],
            verbosity=0,
            io={"capture": False},  # our action streams itself; doit must not swap sys.stdout
        )
        for t in tasks
    ]


def control(tasks: list[Any], start: Sequence[str] | None) -> Any:
    try:
        control = TaskControl(tasks)
        control.process(None if start is None else list(start))
    except (InvalidTask, InvalidDodoFile) as exc:
        raise ConfigError(f"cannot build the task graph: {exc}") from None
    return control


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

    def finishing(self) -> None:
        """doit is about to write its database at the end of the run: finish what writes to it."""


class _Reporter:
    """doit reporter forwarding the events a run needs; prints nothing (the CLI prints)."""

    def __init__(self, events: UnitEvents) -> None:
        self.events = events
        self.errors: list[str] = []

    def add_success(self, task: Any) -> None:
        # doit called save_success just before (in memory): the run commits it (``UnitGraph.commit``).
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

    def finish(self) -> Any:
        self.events.finishing()
        return super().finish()


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

    def finish(self) -> Any:
        self.events.finishing()
        return super().finish()


class _Done:
    """What doit's ``Dependency.save_success`` reads of a task (its name, values, result and file_dep,
    a set as doit's ``Task`` holds it): a unit done without doit's runner is saved through this."""

    __slots__ = ("file_dep", "name", "result", "values")

    def __init__(self, name: str, file_dep: set[str]) -> None:
        self.name, self.file_dep = name, file_dep
        self.values: dict[str, Any] = {}
        self.result: Any = None


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
        self._specs = {t.name: t for t in tasks}
        self._tasks: dict[str, Any] | None = None
        self.start = start
        self.control = control(list(self.tasks.values()), start) if read_only else None  # run: at `run()`
        self.dep = dependency(db_path, checker, explain, read_only=read_only, only=only)

    @property
    def tasks(self) -> dict[str, Any]:
        """doit's tasks of the units, made on first use (~10 µs a task): the units the first pass does
        are saved without one (``save``), so a first build or a fresh clone it does whole makes none."""
        if self._tasks is None:
            self._tasks = {t.name: t for t in _doit_tasks(list(self._specs.values()))}
        return self._tasks

    def never_run(self, name: str) -> bool:
        """No state saved for ``name``: it never ran (or its state was dropped)."""
        return self.dep.never_run(name)

    def save(self, name: str, values: Mapping[str, Any]) -> None:
        """Save what ``name``'s action returned as doit does after a success (in memory until
        ``commit``), for a unit done without doit's runner."""
        task: Any = self._tasks.get(name) if self._tasks is not None else None
        if task is None:  # (no doit task made yet: what its dependency manager reads of one)
            task = _Done(name, set(self._specs[name].file_dep))
        task.values = dict(values)
        self.dep.save_success(task)

    def narrow(self, names: Sequence[str], start: Sequence[str]) -> None:
        """doit runs ``names`` only (from ``start``), the others being done already."""
        keep = set(names)
        self._specs = {n: t for n, t in self._specs.items() if n in keep}
        if self._tasks is not None:
            self._tasks = {n: t for n, t in self._tasks.items() if n in keep}
        self.start, self.control = start, None

    def reasons(self, name: str) -> list[str]:
        """Our words for why doit judged ``name`` not up to date (after it checked it)."""
        return self.dep.reasons.get(name, [])

    def commit(self, name: str, keep: bool = True, now: bool = True) -> None:
        """Make the state doit holds for ``name`` (``keep=False``: none) survive a crash; callable from
        another thread (the run's flusher). ``now=False``: at the next ``commit_staged``."""
        self.dep.backend.commit(name, keep, now)

    def commit_staged(self) -> None:
        """Commit what ``commit(now=False)`` left staged."""
        self.dep.backend.commit_staged()

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
        if self.control is None:
            self.control = control(list(self.tasks.values()), self.start)
        runner.run_all(self.control.task_dispatcher())
        return reporter.errors

    def finish(self, events: UnitEvents) -> list[str]:
        """Nothing left for doit to run: save its database as its runner does at the end."""
        events.finishing()
        self.dep.close()
        return []


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
