"""``--trace FILE``: a session as Chrome trace events (``{"traceEvents": [...]}``), which Perfetto and
``chrome://tracing`` open (docs/observability.md).

One complete event (``"ph": "X"``) per job (or agent) that ran in the session: ``ts`` its start in
µs from the session's start, ``dur`` the record's own ``duration_ms`` (the same measurement, so the
two agree), ``tid`` its execution slot (``0 .. -j - 1``), ``args`` its status, exit code, reasons and
cache source. Jobs that did not run (skipped, not run) have no event: they are listed in ``otherData``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PID = 1


def read_end(path: str, limit: int | None = None) -> bytes:
    """A file's bytes (only its last ``limit`` ones), b'' if unreadable. Plain ``os`` calls: a report
    reads thousands of small files, and the buffered ``open`` costs twice as much per file."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except OSError:
        return b""
    try:
        size = os.fstat(fd).st_size
        start = 0 if limit is None else max(0, size - limit)
        os.lseek(fd, start, os.SEEK_SET)
        return os.read(fd, size - start) if size > start else b""
    except OSError:
        return b""
    finally:
        os.close(fd)


def read_records(jobs: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each job's run record (the file its session entry names), by job name; unreadable ones left out."""
    import json

    found: dict[str, dict[str, Any]] = {}
    cache: dict[str, Any] = {}
    for job in jobs:
        path = job.get("record")
        if not isinstance(path, str):
            continue
        if path not in cache:  # the agents of an orchestration share one record
            try:
                cache[path] = json.loads(read_end(path).decode("utf-8", "surrogateescape") or "null")
            except (ValueError, RecursionError):
                cache[path] = None
        if isinstance(cache[path], dict):
            found[str(job["name"])] = cache[path]
    return found


def cache_source(record: Mapping[str, Any] | None) -> str | None:
    """Where a restored job's result came from (the record's ``cache.source``), else None."""
    cache = (record or {}).get("cache")
    source = cache.get("source") if isinstance(cache, dict) else None
    return str(source) if source is not None else None


def trace(session: Mapping[str, Any], records: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The Chrome trace of a session (``records``: its jobs' run records, for the cache source)."""
    from orchastration.sessions import session_jobs

    origin = int(session.get("start_us") or 0)
    slots = max(1, int(session.get("parallel") or 1))
    events: list[dict[str, Any]] = [
        {"name": "process_name", "ph": "M", "pid": PID, "tid": 0, "args": {"name": f"orchastration {session['stamp']}"}}
    ]
    for slot in range(slots):
        events.append({"name": "thread_name", "ph": "M", "pid": PID, "tid": slot, "args": {"name": f"slot {slot}"}})
        events.append({"name": "thread_sort_index", "ph": "M", "pid": PID, "tid": slot, "args": {"sort_index": slot}})
    idle = []
    for job in session_jobs(session):
        if job.get("start_us") is None:
            idle.append({"name": job["name"], "status": job.get("status")})
            continue
        name = str(job["name"])
        events.append(
            {
                "name": name,
                "cat": str(session.get("kind") or "jobs"),
                "ph": "X",
                "ts": int(job["start_us"]) - origin,
                "dur": int(job.get("duration_ms") or 0) * 1000,
                "pid": PID,
                "tid": min(max(0, int(job.get("slot") or 0)), slots - 1),
                "args": job_args(job, records.get(name)),
            }
        )
    other = {"session": session["stamp"], "argv": session.get("argv"), "counts": session.get("counts"), "idle": idle}
    return {"traceEvents": events, "displayTimeUnit": "ms", "otherData": other}


def job_args(job: Mapping[str, Any], record: Mapping[str, Any] | None) -> dict[str, Any]:
    """A trace event's ``args``: status, exit code, reasons, cache source (and an agent's step/round)."""
    args: dict[str, Any] = {
        "status": job.get("status"),
        "exit_code": job.get("exit_code"),
        "reasons": list(job.get("reasons") or ()),
        "cache": cache_source(record),
    }
    for key in ("message", "step", "round", "record"):
        if job.get(key):
            args[key] = job[key]
    return args


def write_trace(path: Path, session: Mapping[str, Any]) -> None:
    """Write the session's trace to ``path`` atomically (a user file: mode 0644)."""
    import json

    from orchastration.sessions import session_jobs
    from orchastration.state import atomic_write_bytes

    data = trace(session, read_records(session_jobs(session)))
    atomic_write_bytes(path, json.dumps(data, ensure_ascii=False).encode("utf-8", "surrogateescape"), mode=0o644)


def check_output_path(option: str, value: str, cwd: Path) -> Path:
    """``--trace FILE`` / ``-o FILE`` made absolute; its directory must exist (checked before the run)."""
    from orchastration.errors import UsageError

    path = Path(value).expanduser()
    path = path if path.is_absolute() else cwd / path
    if path.is_dir():
        raise UsageError(f"{option} {value}: is a directory")
    if not path.parent.is_dir():
        raise UsageError(f"{option} {value}: directory not found: {path.parent}")
    return path
