"""``build run``: a task build is one engine unit (a doit task, like a job), recorded as ``build.run``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from orchastration.config import Config, TaskConfig
from orchastration.paths import Paths
from orchastration.state import iso, read_json, unique_now

if TYPE_CHECKING:
    from orchastration.engine import Unit

ACTION = "build.run"


@dataclass(frozen=True)
class BuildResult:
    """How the task's command ended (before it becomes the task's status)."""

    exit_code: int
    status: str  # done | failed | up-to-date
    skipped: bool
    start_time: str
    end_time: str
    duration_ms: int
    message: str
    record_path: Path | None


def task_unit(paths: Paths, task: TaskConfig) -> Unit:
    """The engine unit of a task build: named after the task, recorded in ``state/runs/<task>/``.

    Without declared inputs or outputs there is nothing to compare, so it always runs
    (SPEC: a build is incremental only "with inputs/outputs declared").
    """
    from orchastration.engine.units import command_unit

    return command_unit(
        task,
        depends_on=(),
        always_run=not (task.inputs or task.outputs),
        record_dir=paths.runs_dir / task.name,
        extra_record={"task_name": task.name, "action": ACTION},
    )


def run_build(
    config: Config,
    paths: Paths,
    task: TaskConfig,
    *,
    force: bool = False,
    console: IO[str] | None = None,
    err_console: IO[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> BuildResult:
    """Run the task's unit through the engine, streaming its output to the consoles."""
    from orchastration.engine import run_units
    from orchastration.engine.units import RAN, SKIPPED

    start = unique_now()
    results = run_units(
        [task_unit(paths, task)],
        [task.name],
        paths=paths,
        hash_algorithm=config.hash.algorithm,
        environ=environ,
        force=force,
        console=console,
        err_console=err_console,
        prefix_output=False,
    )
    result = next(r for r in results if r.name == task.name)
    end = unique_now()
    if result.status == SKIPPED:
        return BuildResult(0, "up-to-date", True, iso(start), iso(end), 0, "inputs and outputs unchanged", None)
    record = read_json(result.record_path) if result.record_path else None
    times = record if isinstance(record, dict) else {}
    exit_code = result.exit_code if result.exit_code is not None else 1
    return BuildResult(
        exit_code=exit_code,
        status="done" if result.status == RAN else "failed",
        skipped=False,
        start_time=str(times.get("start_time", iso(start))),
        end_time=str(times.get("end_time", iso(end))),
        duration_ms=result.duration_ms,
        message=result.message or ("" if result.status == RAN else result.status),
        record_path=result.record_path,
    )
