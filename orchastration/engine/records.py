"""Run records of units: one versioned JSON file per run, its log files, and ``last.json`` (newest wins)."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchastration.process import ProcessResult

from orchastration.empty_logs import link_empty, own_file, shared_empty
from orchastration.engine.units import STATUS_OF_PROCESS, Unit, env_summary, incomplete_mark
from orchastration.fdio import write_all
from orchastration.patterns import displayer
from orchastration.state import (
    SCHEMA_VERSION,
    atomic_write_json,
    claim_run_slot,
    dumps,
    host_info,
    iso,
    read_json,
    unique_now,
    utc_now,
    write_record,
)


def start_run(unit: Unit, empty: Path | None = None) -> tuple[str, datetime]:
    """Claim a unique ``<timestamp>`` for a run and mark the unit incomplete until it ends well
    (``empty``: the unit's ``shared_empty`` file, if the caller has it at hand)."""
    empty = empty or shared_empty(unit.record_dir)
    run_id, started = claim_run_slot(unit.record_dir, unique_now(), empty)
    # The logs are links to the shared empty file until written (empty_logs.py): a log with output
    # is made 0600 by whoever writes it (pipes.LogFiles, the output cache's replay). So is the mark:
    # no inode is made on the jobs' path; ``finish_run`` writes the record into a file of its own.
    link_empty(incomplete_mark(unit), empty, exist_ok=True)  # kept: the mark of a run that did not finish
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
    ended: datetime | None = None,
    logs: tuple[Path, Path] | None = None,
) -> dict[str, Any]:
    """The record of one run that ended with ``result`` (at ``ended``, default now): the fields
    docs/jobs.md lists, with hashes, reasons and the doit task name (no env values). ``logs``: the
    run's ``log_paths``, if the caller has them at hand."""
    out_log, err_log = logs or log_paths(unit, run_id)
    command: Any = unit.command if isinstance(unit.command, str) else list(unit.command)
    shown = displayer(unit.working_dir)
    record: dict[str, Any] = {
        "run_id": run_id,
        "name": unit.name,
        "doit_task": unit.name,
        "start_time": iso(started),
        "end_time": iso(ended or utc_now()),
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
        "inputs": {shown(p): h for p, h in sorted(inputs.items())},
        "outputs": {shown(p): h for p, h in sorted(outputs.items())},
        "depends_on": list(unit.depends_on),
        "reasons": list(reasons),
    }
    record.update(result.record_fields)  # where it ran, from a remote executor (docs/distributed.md)
    record.update(unit.extra_record)
    return record


GOOD = ("ran", "restored")  # a run whose result counts: it ran, or the output cache restored it


def finish_run(
    unit: Unit,
    run_id: str,
    record: dict[str, Any],
    *,
    sync: bool = True,
    settle: bool = True,
    locked: bool = False,
    path: Path | None = None,
) -> Path:
    """Write the record and, if it is the newest, ``last.json``; a good run clears the incomplete mark.
    Returns the record's path.

    ``sync=False``: the caller makes the files durable in a batch (``engine/durable.py``).
    ``settle=False`` (a good run only): the record is written into the unit's incomplete mark, and
    ``settle_run`` renames it into place once the engine's state says the unit is up to date, so no
    record claims a finished run the engine would forget after a crash (docs/reliability.md).
    ``locked``: the caller holds the state lock (no other process writes ``last.json`` here, none
    runs this unit, so the mark is this run's own). ``path``: the record's, if the caller has it at hand."""
    path = path or unit.record_dir / f"{run_id}.json"
    good = record.get("status") in GOOD
    if not locked:  # a ``dodo.py`` run: a record of its own, written atomically
        write_record(unit.record_dir, run_id, record, update_last=False, sync=sync)
        settle_run(unit, run_id, path, ran=good, sync=sync, locked=locked, pending=False)
        return path
    # Written into the mark, a name no reader parses: a crash mid-write leaves a mark that says
    # "interrupted", never a part of a record; the rename puts the record in place and clears the
    # mark in one step (one file per run). The mark is replaced, never written through: it is a link
    # to the shared empty file (or what a killed run of this unit left).
    data = dumps({"schema": SCHEMA_VERSION, **record}).encode("utf-8")
    fd = own_file(incomplete_mark(unit))
    try:
        write_all(fd, data)
    finally:
        os.close(fd)
    if settle or not good:
        settle_run(unit, run_id, path, sync=sync, locked=locked)
    return path


def settle_run(
    unit: Unit,
    run_id: str,
    path: Path,
    *,
    ran: bool = True,
    sync: bool = True,
    locked: bool = False,
    pending: bool = True,
) -> None:
    """Put a pending record (the incomplete mark) in place and point ``last.json`` at it; a record
    written elsewhere (``pending=False``): clear the mark if the run was good.

    A pending record becomes ``last.json`` first (a hard link to the mark), then takes its name: a
    crash between the two leaves a mark that *is* ``last.json``, which the next run recognises as a
    finished run and renames into place (``uptodate.settled_mark``). The other order left, after a
    crash between the two, a record in place and a ``last.json`` nothing would ever update."""
    if pending:
        mark = incomplete_mark(unit)
        update_last(unit.record_dir, run_id, mark, sync=sync, locked=locked)
        os.replace(mark, path)
        return
    update_last(unit.record_dir, run_id, path, sync=sync, locked=locked)
    if ran:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(incomplete_mark(unit))


_LAST = threading.Lock()  # last.json writers of this process (the state lock keeps other processes out)


def update_last(
    directory: Path, run_id: str, record_path: Path | str, *, sync: bool = True, locked: bool = False
) -> None:
    """Copy a record to ``last.json`` unless a newer run already did (runs may finish out of order).
    ``locked``: the caller holds the project's state lock, so a lock of this process is enough;
    otherwise (a ``dodo.py`` run by doit's process pool) a file lock."""
    if locked:
        with _LAST:
            _replace_last(directory, run_id, record_path, sync)
        return
    from orchastration.locking import hold

    with hold(directory / ".last.lock"):
        _replace_last(directory, run_id, record_path, sync)


def _replace_last(directory: Path, run_id: str, record_path: Path | str, sync: bool) -> None:
    """Replace ``last.json`` by a hard link to the record (a copy where links are unsupported)."""
    last = f"{directory}{os.sep}last.json"
    with contextlib.suppress(OSError):
        # None yet (a unit's first run: a cold build, a fresh clone): the link itself, made whole
        # in one step, is ``last.json`` (a rename less). One there already fails it: compared below.
        os.link(record_path, last)
        return
    current = read_json(Path(last))
    if isinstance(current, dict) and str(current.get("run_id", "")) > run_id:
        return
    # A hard link renamed over last.json: atomic, and no second copy of the data to write and
    # fsync (the record itself is made durable by its writer). Copy where links are unsupported.
    tmp = f"{directory}{os.sep}.last.{run_id}.tmp"
    try:
        os.link(record_path, tmp)
        os.replace(tmp, last)
        return
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    record = read_json(Path(record_path))
    if record is not None:
        atomic_write_json(Path(last), record, sync=sync)
