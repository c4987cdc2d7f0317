"""``build run``: a task build is one engine unit (a doit task, like a job), recorded as ``build.run``.

The task is ``in_progress`` while its command runs, then ``done`` or ``failed``; a build whose
inputs and outputs are unchanged runs nothing and leaves the task ``done`` (``up-to-date``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from orchastration.config import Config, TaskConfig
from orchastration.dataclass_code import dataclass
from orchastration.logs import get_logger, log
from orchastration.outcomes import EXIT_INTERRUPTED, BuildStatus, TaskStatus, UnitStatus
from orchastration.paths import Paths
from orchastration.state import iso, read_json, unique_now
from orchastration.workflow.records import TaskRecord

if TYPE_CHECKING:
    from orchastration.engine import Unit
    from orchastration.engine.units import UnitResult
    from orchastration.workflow.facade import Workflow

ACTION = "build.run"
UNCHANGED = "inputs and outputs unchanged"
_log = get_logger("tasks")


@dataclass(frozen=True)
class BuildOutcome:
    """How ``build run`` ended: the task record after it, and what the task's command did."""

    task: TaskRecord
    build: BuildStatus  # done | failed | up-to-date | interrupted (failed with exit 130: Ctrl-C)
    exit_code: int
    message: str
    outputs: list[Path]  # absolute paths of the declared outputs
    record_path: Path | None  # the build.run record in state/runs/<task>/

    @property
    def skipped(self) -> bool:
        """True: inputs and outputs unchanged, nothing ran."""
        return self.build == BuildStatus.UP_TO_DATE

    @property
    def status(self) -> TaskStatus:
        """The task's status afterwards: ``done`` (also when up to date) or ``failed``."""
        return task_status(self.build)


def task_status(build: BuildStatus) -> TaskStatus:
    """The task's status after a build: up to date means the last build succeeded, so ``done``."""
    return TaskStatus.DONE if build in (BuildStatus.DONE, BuildStatus.UP_TO_DATE) else TaskStatus.FAILED


def task_unit(paths: Paths, task: TaskConfig) -> Unit:
    """The engine unit of a task build: named after the task, recorded in ``state/runs/<task>/``.

    Without declared inputs or outputs there is nothing to compare, so it always runs
    (docs/tasks.md: "with inputs/outputs declared, build run is incremental").
    """
    from orchastration.engine.units import command_unit

    return command_unit(
        task,
        depends_on=(),
        always_run=not (task.inputs or task.outputs),
        record_dir=paths.runs_dir / task.name,
        extra_record={"task_name": task.name, "action": ACTION},
    )


def run_task_unit(
    config: Config,
    paths: Paths,
    task: TaskConfig,
    *,
    force: bool,
    environ: Mapping[str, str],
    console: IO[str] | None,
    err_console: IO[str] | None,
) -> UnitResult:
    """The one call into the engine: run the task's unit (on the configured executor: a task build runs
    on dask like a job), streaming its output to the consoles (or restoring it from the output cache:
    docs/cache.md)."""
    from orchastration.cache.settings import open_store
    from orchastration.engine import run_units
    from orchastration.executors import choose, opened

    unit = task_unit(paths, task)
    store = open_store(config, environ, forced=[task.name] if force else ())
    with opened(choose(config, environ), [unit], {}, 1) as (executor, _):
        results = run_units(
            [unit], [task.name], paths=paths, hash_algorithm=config.hash.algorithm, environ=environ, force=force,
            console=console, err_console=err_console, prefix_output=False, executor=executor,
            **({} if store is None else {"store": store}),
        )  # fmt: skip
    return next(r for r in results if r.name == task.name)


def last_build(unit: UnitResult, start: datetime, end: datetime) -> tuple[BuildStatus, dict[str, Any]]:
    """How the command ended, and the task record's ``last_build`` entry for it."""
    if unit.status == UnitStatus.SKIPPED:
        entry = {"exit_code": 0, "status": BuildStatus.UP_TO_DATE, "start_time": iso(start), "end_time": iso(end),
                 "duration_ms": 0, "message": UNCHANGED, "record": None}  # fmt: skip
        return BuildStatus.UP_TO_DATE, entry
    record = read_json(unit.record_path) if unit.record_path else None
    times = record if isinstance(record, dict) else {}
    ran = unit.status in (UnitStatus.RAN, UnitStatus.RESTORED)
    exit_code = unit.exit_code if unit.exit_code is not None else 1
    status = BuildStatus.DONE if ran else BuildStatus.FAILED
    entry = {
        "exit_code": exit_code,
        "status": status,
        "start_time": str(times.get("start_time", iso(start))),
        "end_time": str(times.get("end_time", iso(end))),
        "duration_ms": unit.duration_ms,
        "message": unit.message or ("" if ran else unit.status),
        "record": str(unit.record_path) if unit.record_path else None,
    }
    # A command stopped by Ctrl-C is recorded failed, and `build run` exits 130 as interrupted.
    if status == BuildStatus.FAILED and exit_code == EXIT_INTERRUPTED:
        return BuildStatus.INTERRUPTED, entry
    return status, entry


def run(wf: Workflow, name: str, force: bool = False) -> BuildOutcome:
    """Run the task's command: in_progress while it runs, then done or failed (or up-to-date: nothing ran)."""
    task = wf.task_config(name)
    started = unique_now()
    wf.store.update(task, lambda rec: replace(rec, status=TaskStatus.IN_PROGRESS, last_run=iso(started)))
    log(_log, "info", "task build started", task=name)
    console = None if wf.quiet else wf.console
    err_console = None if wf.quiet else (wf.err_console or wf.console)
    try:
        start = unique_now()
        unit = run_task_unit(
            wf.config, wf.paths, task, force=force, environ=wf.environ, console=console, err_console=err_console
        )
        build, entry = last_build(unit, start, unique_now())
    except BaseException:
        # Interrupted or crashed: never leave the task in_progress (the original tool did).
        wf.store.update(task, lambda rec: replace(rec, status=TaskStatus.FAILED))
        raise
    record_path = unit.record_path
    if build == BuildStatus.UP_TO_DATE:
        record_path = wf.store.write_run(
            name, ACTION, started, unique_now(), BuildStatus.UP_TO_DATE, 0, UNCHANGED, skipped=True
        )
    status = task_status(build)

    def finish(rec: TaskRecord) -> TaskRecord:
        if build == BuildStatus.UP_TO_DATE and rec.last_build:  # keep the entry of the last real build
            return replace(rec, status=status)
        return replace(rec, status=status, last_build=entry)

    outputs = [(task.working_dir / rel).absolute() for rel in task.outputs]
    record = wf.store.update(task, finish)
    outcome = BuildOutcome(record, build, entry["exit_code"], entry["message"], outputs, record_path)
    if outcome.status == TaskStatus.FAILED:
        log(_log, "error", f"task build failed: {outcome.message}", task=name, exit=outcome.exit_code)
    else:
        log(_log, "info", "task build finished", task=name, status=outcome.status, exit=outcome.exit_code)
    return outcome
