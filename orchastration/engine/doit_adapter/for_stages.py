"""Orchestration stages as doit tasks (run by doit's thread runner, saved in an atomic JSON database),
and task dicts for doit's own loader (``dodo.py`` files)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from doit.dependency import Dependency, JsonDB
from doit.exceptions import TaskFailed, UnmetDependency
from doit.runner import MThreadRunner
from doit.task import Stream, Task

from orchastration.engine.doit_adapter.checks import Uptodate
from orchastration.engine.doit_adapter.for_units import control as task_control


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
    """What an orchestration hears from doit's reporter (``engine.stage_tasks.Events``)."""

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
            uptodate=[Uptodate(check)] if check is not None else [False],
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
    control = task_control(tasks, None)
    dep_manager = Dependency(_atomic_json_db(), str(db_file))
    runner = MThreadRunner(
        dep_manager, Reporter(), continue_=True, always_execute=force, stream=Stream(0), num_process=max(1, parallel)
    )
    return int(runner.run_all(control.task_dispatcher()))


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
