"""Finding a run's captured output (``logs JOB|TASK``) and the tail of a failed job's stderr (``run -q``).

Every run of a job or task build leaves ``state/runs/<name>/<timestamp>.json`` with ``stdout_path`` and
``stderr_path`` beside its ``<timestamp>.stdout.log`` / ``.stderr.log`` (docs/jobs.md, "Records and
state"). Task actions without a command (``plan.create``, ...) write records there too, without logs:
they are passed over. Nothing here prints.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from orchastration.dataclass_code import dataclass
from orchastration.errors import InputError, UsageError
from orchastration.state import read_json

# A run's <timestamp>, as the user may type it (a record file's name works too).
_STAMP = re.compile(r"^[0-9]{8}T[0-9]{6}(\.[0-9]+)?Z?(-[0-9]+)?$")
TAIL_LINES = 20  # how much of a failed job's stderr `run -q` shows


@dataclass(frozen=True)
class RunLogs:
    """The log files of one run of a job or task build."""

    name: str
    run_id: str
    stdout_path: Path
    stderr_path: Path
    record_path: Path | None  # None: a run killed before it wrote its record (only its logs remain)


def find_run(runs_dir: Path, name: str, stamp: str | None = None) -> RunLogs:
    """The logs of the newest recorded run of ``name`` with captured output, or of run ``stamp``.

    Raises ``UsageError`` (exit 2) when there is no such run, naming the job and what was looked for."""
    directory = runs_dir / name
    if stamp is not None:
        return _given_run(directory, name, stamp)
    for record_path in _records_newest_first(directory):
        logs = _logs_of(name, record_path)
        if logs is not None:
            return logs
    raise UsageError(f"{name}: no runs recorded (nothing in {directory})")


def _records_newest_first(directory: Path) -> list[Path]:
    """The run records of a directory, newest first (``last.json`` first: usually the answer)."""
    try:
        names = sorted((n for n in os.listdir(directory) if n.endswith(".json") and n != "last.json"), reverse=True)
    except OSError:
        return []
    return [directory / "last.json", *(directory / n for n in names)]


def _logs_of(name: str, record_path: Path) -> RunLogs | None:
    """The logs a record names (None: not a record of a run with captured output)."""
    record = read_json(record_path)
    if not isinstance(record, dict):
        return None
    out, err, run_id = record.get("stdout_path"), record.get("stderr_path"), record.get("run_id")
    if not (isinstance(out, str) and isinstance(err, str)):
        return None
    if record_path.name == "last.json":
        run_id = run_id if isinstance(run_id, str) else "last"
        record_path = record_path.with_name(f"{run_id}.json")
    return RunLogs(name, record_path.stem, Path(out), Path(err), record_path if record_path.is_file() else None)


def _given_run(directory: Path, name: str, stamp: str) -> RunLogs:
    """Run ``stamp`` of ``name``: its record's logs, or the logs a run killed before its record left."""
    stamp = stamp.removesuffix(".json")
    if not _STAMP.match(stamp):
        raise UsageError(
            f"--run: not a run timestamp: '{stamp}' (e.g. 20261124T101500.123456Z; see 'logs {name} --path')"
        )
    record_path = directory / f"{stamp}.json"
    logs = _logs_of(name, record_path)
    if logs is not None:
        return logs
    out, err = directory / f"{stamp}.stdout.log", directory / f"{stamp}.stderr.log"
    if out.is_file() or err.is_file():
        return RunLogs(name, stamp, out, err, None)
    raise UsageError(f"{name}: no run {stamp} recorded (nothing in {directory})")


def read_log(path: Path, chunk: int = 1 << 16) -> Iterator[bytes]:
    """A log file's bytes in chunks (never whole in memory: a log may be huge); a missing or
    unreadable one (pruned, or never written) is an input error naming it."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below, after the last chunk
    except FileNotFoundError:
        raise InputError(f"{path}: log file missing") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read log file: {exc.strerror}") from None
    with fh:
        while data := fh.read(chunk):
            yield data


def tail_lines(path: Path, count: int = TAIL_LINES, block: int = 65536) -> list[str]:
    """The last ``count`` lines of a text file (read from its end: a log may be huge); [] if unreadable."""
    try:
        with open(path, "rb") as fh:
            end = fh.seek(0, os.SEEK_END)
            data, pos = b"", end
            while pos > 0 and data.count(b"\n") <= count:
                step = min(block, pos)
                pos -= step
                fh.seek(pos)
                data = fh.read(step) + data
    except OSError:
        return []
    lines = data.decode("utf-8", "replace").splitlines()
    return lines[-count:]


def stderr_tail(record_path: Path | None, count: int = TAIL_LINES) -> list[str]:
    """The last ``count`` lines of the stderr log of the run ``record_path`` records."""
    if record_path is None:
        return []
    logs = _logs_of(record_path.parent.name, record_path)
    stderr = logs.stderr_path if logs is not None else record_path.with_suffix(".stderr.log")
    return tail_lines(stderr, count)
