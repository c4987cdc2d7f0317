"""``build run``: run a task's command in its working_dir and record the outcome."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO

from orchastration.config import Config, TaskConfig
from orchastration.paths import Paths
from orchastration.state import claim_run_slot, host_info, iso, unique_now, write_record


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


def run_build(
    config: Config,
    paths: Paths,
    task: TaskConfig,
    *,
    force: bool = False,
    console: IO[str] | None = None,
) -> BuildResult:
    """Run the task command once, streaming to ``console`` and saving logs beside the run record."""
    from orchastration.process import command_text, run_process

    runs = paths.runs_dir / task.name
    slot, start = claim_run_slot(runs)
    base = runs / slot
    result = run_process(
        task.command,
        shell=task.shell,
        cwd=task.working_dir,
        env=dict(task.env),
        timeout=task.timeout_seconds,
        stdout_path=base.with_name(f"{slot}.stdout.log"),
        stderr_path=base.with_name(f"{slot}.stderr.log"),
        console=console,
    )
    end = unique_now()
    status = "done" if result.exit_code == 0 else "failed"
    record = {
        "task_name": task.name,
        "action": "build.run",
        "start_time": iso(start),
        "end_time": iso(end),
        "duration_ms": result.duration_ms,
        "status": status,
        "exit_code": result.exit_code,
        "message": result.message,
        "command": command_text(task.command),
        "working_dir": str(task.working_dir),
        "stdout_path": str(base.with_name(f"{slot}.stdout.log")),
        "stderr_path": str(base.with_name(f"{slot}.stderr.log")),
        **host_info(),
    }
    path = write_record(runs, slot, record, update_last=False)
    return BuildResult(
        exit_code=result.exit_code,
        status=status,
        skipped=False,
        start_time=iso(start),
        end_time=iso(end),
        duration_ms=result.duration_ms,
        message=result.message,
        record_path=path,
    )
