"""Compile the steps of an orchestration phase into doit tasks and run them with doit's thread runner.

Each agent of step k is one doit task with ``task_dep`` on every agent of step
k-1 and on that step's merge task; its ``uptodate`` callable compares the agent's
fingerprint with the values doit saved at its last success. doit is imported
only here, inside functions: the CLI starts without it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchastration.logs import get_logger, log
from orchastration.state import atomic_write_text

# What the pipeline gives the driver: callables doit calls back.
Action = Callable[[], Any]  # returns False (failed) or a dict of values to save
Uptodate = Callable[[dict[str, Any]], bool]  # gets the saved values


@dataclass(frozen=True)
class StageTask:
    """One doit task: an agent stage or a step's merge."""

    name: str
    action: Action
    deps: Sequence[str]
    uptodate: Uptodate | None = None  # None: always runs (merge tasks)


class Events:
    """What the pipeline hears from doit's reporter."""

    def skipped(self, name: str) -> None:
        """An agent task was up to date."""

    def failed_early(self, name: str, message: str) -> None:
        """A task failed without its action running (dependency error, not a blocked dependency)."""


def database_class() -> type:
    """doit's JSON backend, written atomically (a crash never leaves a torn file)."""
    from doit.dependency import JsonDB

    class AtomicJsonDB(JsonDB):  # type: ignore[misc]
        """doit's JsonDB with an atomic dump and a forgiving load."""

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


def saved_values(db_file: Path) -> Callable[[str], dict[str, Any]]:
    """Read-only access to the values doit saved per task (for ``--dry-run``)."""
    from doit.dependency import Dependency

    if not db_file.exists():
        return lambda name: {}
    dep = Dependency(database_class(), str(db_file))
    return lambda name: dict(dep.get_values(name) or {})


def run_tasks(stages: Sequence[StageTask], db_file: Path, events: Events, jobs: int, force: bool) -> int:
    """Run the stage tasks; returns doit's result code (0 all succeeded)."""
    from doit.control import TaskControl
    from doit.dependency import Dependency
    from doit.exceptions import UnmetDependency
    from doit.runner import MThreadRunner
    from doit.task import Stream, Task

    def up_to_date(check: Uptodate) -> Callable[..., bool]:
        def call(task: Any, values: Any) -> bool:
            return check(dict(values or {}))

        return call

    tasks = [
        Task(
            stage.name,
            [(stage.action,)],
            task_dep=list(stage.deps),
            uptodate=[up_to_date(stage.uptodate)] if stage.uptodate is not None else [False],
            io={"capture": False},  # no sys.stdout swapping: it is process-wide and the runner uses threads
            verbosity=0,
        )
        for stage in stages
    ]

    class Reporter:
        """Forward the events the pipeline needs; print nothing (the CLI prints)."""

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
    control = TaskControl(tasks)
    control.process(None)
    dep_manager = Dependency(database_class(), str(db_file))
    runner = MThreadRunner(
        dep_manager, Reporter(), continue_=True, always_execute=force, stream=Stream(0), num_process=max(1, jobs)
    )
    return int(runner.run_all(control.task_dispatcher()))
