"""Run records of units: one versioned JSON file per run, its log files, and ``last.json`` (newest wins)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchastration.process import ProcessResult

from orchastration.engine.units import INCOMPLETE, STATUS_OF_PROCESS, Unit, display_path, env_summary
from orchastration.state import (
    PRIVATE_FILE,
    atomic_write_json,
    claim_run_slot,
    host_info,
    iso,
    make_private_file,
    read_json,
    unique_now,
    utc_now,
    write_record,
)


def start_run(unit: Unit) -> tuple[str, datetime]:
    """Claim a unique ``<timestamp>`` for a run and mark the unit incomplete until it ends well."""
    run_id, started = claim_run_slot(unit.record_dir, unique_now())
    make_private_file(unit.record_dir / f"{run_id}.stderr.log")  # private from the start; the runner keeps the mode
    make_private_file(unit.record_dir / INCOMPLETE)
    return run_id, started


def log_paths(unit: Unit, run_id: str) -> tuple[Path, Path]:
    """The ``.stdout.log`` / ``.stderr.log`` of a run."""
    return unit.record_dir / f"{run_id}.stdout.log", unit.record_dir / f"{run_id}.stderr.log"


def build_record(
    unit: Unit,
    *,
    run_id: str,
    started: datetime,
    result: ProcessResult,
    program: str | None,
    inputs: Mapping[str, str | None],
    outputs: Mapping[str, str | None],
    reasons: Sequence[str],
    algorithm: str,
) -> dict[str, Any]:
    """The record of one run that just ended with ``result``: the fields docs/jobs.md lists, with hashes,
    reasons and the doit task name (no env values)."""
    out_log, err_log = log_paths(unit, run_id)
    command: Any = unit.command if isinstance(unit.command, str) else list(unit.command)
    record: dict[str, Any] = {
        "run_id": run_id,
        "name": unit.name,
        "doit_task": unit.name,
        "start_time": iso(started),
        "end_time": iso(utc_now()),
        "duration_ms": result.duration_ms,
        "exit_code": result.exit_code,
        "status": STATUS_OF_PROCESS[result.status],
        "message": result.message,
        "stdout_path": str(out_log),
        "stderr_path": str(err_log),
        **host_info(),
        "command": command,
        "shell": unit.shell,
        "program": program,
        "working_dir": str(unit.working_dir),
        "timeout_seconds": unit.timeout_seconds,
        **env_summary(unit),
        "hash_algorithm": algorithm,
        "inputs": {display_path(unit, p): h for p, h in sorted(inputs.items())},
        "outputs": {display_path(unit, p): h for p, h in sorted(outputs.items())},
        "depends_on": list(unit.depends_on),
        "reasons": list(reasons),
    }
    record.update(unit.extra_record)
    return record


def finish_run(unit: Unit, run_id: str, record: dict[str, Any]) -> Path:
    """Write the record and, if it is the newest, ``last.json``; a good run clears the incomplete mark."""
    path = write_record(unit.record_dir, run_id, record, update_last=False)
    update_last(unit.record_dir, run_id, path)
    if record.get("status") in ("ran", "restored"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(unit.record_dir / INCOMPLETE)
    return path


def update_last(directory: Path, run_id: str, record_path: Path) -> None:
    """Copy a record to ``last.json`` unless a newer run already did (runs may finish out of order)."""
    from filelock import FileLock

    with FileLock(str(directory / ".last.lock"), mode=PRIVATE_FILE):
        current = read_json(directory / "last.json")
        if isinstance(current, dict) and str(current.get("run_id", "")) > run_id:
            return
        # A hard link renamed over last.json: atomic, and no second copy of the data to write and
        # fsync (the record itself was already written durably). Copy where links are unsupported.
        tmp = directory / f".last.{run_id}.tmp"
        try:
            os.link(record_path, tmp)
            os.replace(tmp, directory / "last.json")
            return
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        record = read_json(record_path)
        if record is not None:
            atomic_write_json(directory / "last.json", record)
