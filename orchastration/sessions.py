"""Session records: one JSON file per ``run`` invocation in ``state/sessions/<stamp>.json``.

A session says what one invocation did as a whole (argv, start and end, each job's result, record
path, start time and execution slot, the ``depends_on`` edges among its jobs, counts per status);
``history`` lists them, ``--trace`` and ``report`` are derived from them (docs/observability.md).
The no-op ``run`` answered before the parser (``cli/fast_run.py``) writes one too, so this module
imports only ``os`` and ``time`` at the top: json loads when a session is written or read.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: the no-op ``run`` never imports typing
if TYPE_CHECKING:
    from typing import Any

    from orchastration.engine.units import UnitResult

SESSION_SCHEMA = 1
SESSIONS_DIR = "sessions"
STATUS_ORDER = ("ran", "restored", "skipped", "failed", "timeout", "interrupted", "not_run")


def now_us() -> int:
    """Wall-clock time in µs since the epoch (what session times and trace ``ts`` are measured in)."""
    return time.time_ns() // 1000


def stamp_of(us: int) -> str:
    """The sortable file-name stamp of a time (``20261124T101500.123456Z``, as run records use)."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(us // 1_000_000)) + f".{us % 1_000_000:06d}Z"


def iso_of(us: int) -> str:
    """RFC 3339 UTC with microseconds (``2026-11-24T10:15:00.123456Z``)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(us // 1_000_000)) + f".{us % 1_000_000:06d}Z"


def assign_slots(spans: Iterable[tuple[str, int, int]], slots: int | None) -> dict[str, int]:
    """The execution slot of each ``(name, start_us, end_us)``: in start order, the lowest slot free at
    its start. Each job's span lies inside its worker thread's time on it, so ``slots`` (= -j) is
    always enough; a clock hiccup that would need one more reuses the slot that freed first.
    ``slots`` None (``-j`` left to the executor: a dask cluster's threads): as many as needed."""
    free_at = [0] * max(1, slots or 1)
    found: dict[str, int] = {}
    for name, start, end in sorted(spans, key=lambda s: (s[1], s[2])):
        slot = next((i for i, t in enumerate(free_at) if t <= start), None)
        if slot is None and slots is None:
            free_at.append(0)
            slot = len(free_at) - 1
        elif slot is None:
            slot = min(range(len(free_at)), key=free_at.__getitem__)
        free_at[slot] = max(end, start)
        found[name] = slot
    return found


def count(statuses: Iterable[str]) -> dict[str, int]:
    """Counts per status, in the order the summary line uses."""
    tally: dict[str, int] = {}
    for status in statuses:
        tally[status] = tally.get(status, 0) + 1
    return {s: tally[s] for s in (*STATUS_ORDER, *sorted(set(tally) - set(STATUS_ORDER))) if s in tally}


class Recorder:
    """Collects one ``run`` invocation as it happens (``on_start`` from worker threads, ``on_result``
    from doit's loop) and builds the session record at the end."""

    def __init__(self, argv: Sequence[str], *, kind: str, parallel: int | None, selected: Sequence[str]) -> None:
        self.argv, self.kind, self.parallel, self.selected = list(argv), kind, parallel, list(selected)
        self.started = now_us()
        self.starts: dict[str, int] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.edges: dict[str, list[str]] | None = None
        self.extra: dict[str, Any] = {}
        self.exit_code: int | None = None  # set by the command when it returns
        import threading

        self._lock = threading.Lock()

    def on_start(self, name: str) -> None:
        """A job's command is about to start: its start time (the trace event's ``ts``)."""
        with self._lock:
            self.starts[name] = now_us()

    def on_result(self, result: UnitResult) -> None:
        """A job's final result (its duration is the record's: the trace's ``dur``)."""
        entry = {
            "name": result.name,
            "status": str(result.status),
            "exit_code": result.exit_code,
            "duration_ms": result.duration_ms,
            "record": None if result.record_path is None else str(result.record_path),
            "reasons": list(result.reasons),
            "message": result.message,
        }
        with self._lock:
            self.jobs[result.name] = entry

    def add(self, entry: Mapping[str, Any], start_us: int | None) -> None:
        """A finished piece of work known only afterwards (an orchestration's agent run)."""
        with self._lock:
            self.jobs[str(entry["name"])] = dict(entry)
            if start_us is not None:
                self.starts[str(entry["name"])] = start_us

    def finish(self, exit_code: int | None, error: str = "") -> dict[str, Any]:
        """The session record (start times and slots filled in)."""
        ended = now_us()
        with self._lock:
            jobs = [dict(j) for j in self.jobs.values()]
            starts = dict(self.starts)
        spans = []
        for job in jobs:
            start = starts.get(job["name"])
            job["start_us"] = start
            if start is not None:
                spans.append((job["name"], start, start + job["duration_ms"] * 1000))
        slots = assign_slots(spans, self.parallel)
        parallel = self.parallel or max([*slots.values(), 0]) + 1
        for job in jobs:
            job["slot"] = slots.get(job["name"])
        names = {job["name"] for job in jobs}
        edges = None
        if self.edges is not None:  # the depends_on edges among the session's jobs
            edges = {n: [d for d in deps if d in names] for n, deps in self.edges.items() if n in names and deps}
        return session_record(
            self.argv, kind=self.kind, started=self.started, ended=ended, parallel=parallel,
            selected=self.selected, jobs=jobs, edges=edges, exit_code=exit_code, error=error, **self.extra,
        )  # fmt: skip


def session_record(
    argv: Sequence[str],
    *,
    kind: str,
    started: int,
    ended: int,
    parallel: int,
    selected: Sequence[str],
    jobs: Sequence[Mapping[str, Any]],
    edges: Mapping[str, Sequence[str]] | None,
    exit_code: int | None,
    error: str = "",
    **extra: Any,
) -> dict[str, Any]:
    """A session record (schema 1): what ``history``, ``--trace`` and ``report`` read."""
    return {
        "schema": SESSION_SCHEMA,
        "kind": kind,
        "stamp": stamp_of(started),
        "argv": list(argv),
        "start_time": iso_of(started),
        "end_time": iso_of(ended),
        "start_us": started,
        "duration_ms": max(0, (ended - started) // 1000),
        "parallel": parallel,
        "selected": list(selected),
        "exit_code": exit_code,
        "error": error,
        "counts": count(str(j["status"]) for j in jobs),
        "jobs": list(jobs),
        "edges": None if edges is None else {k: list(v) for k, v in edges.items()},
        **extra,
    }


def to_json(value: Any) -> str:
    """Compact JSON of a record. The no-op answer's record (names, numbers) is written without loading
    the json module (~2 ms of its ~80 ms); once a run has loaded it, its C encoder writes the whole
    record (a run's 1,000 jobs: ~1 ms, where this encoder in Python took ~4 ms)."""
    loaded = sys.modules.get("json")
    if loaded is not None:
        return str(loaded.dumps(value, ensure_ascii=False, separators=(",", ":")))
    return _to_json(value)


def _to_json(value: Any) -> str:
    if isinstance(value, str):
        if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
            return f'"{value}"'
    elif value is None or isinstance(value, bool):
        return "null" if value is None else ("true" if value else "false")
    elif isinstance(value, int):
        return str(value)
    elif isinstance(value, list):
        return "[" + ",".join(map(_to_json, value)) + "]"
    elif isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return "{" + ",".join(f"{_to_json(k)}:{_to_json(v)}" for k, v in value.items()) + "}"
    import json

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def write_session(state_dir: Path, record: Mapping[str, Any], durable: bool = True) -> Path:
    """Write ``state/sessions/<stamp>.json`` atomically (a temp file, fsync unless not ``durable``,
    hard-linked to a name no other process holds: two sessions started in the same µs get two files)."""
    directory = state_dir / SESSIONS_DIR
    os.makedirs(directory, mode=0o700, exist_ok=True)
    data = to_json(dict(record)).encode("utf-8", "surrogatepass")
    started = int(record["start_us"])
    tmp = directory / f".{stamp_of(started)}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        while True:
            target = directory / f"{stamp_of(started)}.json"
            try:
                os.link(tmp, target)
                return target
            except FileExistsError:
                started += 1
            except OSError:  # no hard links here (some network file systems): check, then replace
                if target.exists():
                    started += 1
                    continue
                os.replace(tmp, target)
                return target
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def write_noop_session(
    state_dir: Path, argv: Sequence[str], selected: Sequence[str], names: Sequence[str], started: int
) -> None:
    """The session of a no-op ``run`` answered before the parser, kept cheap (~0.5 ms for 1,000 jobs):
    the skipped jobs as one list of names (``session_jobs`` expands it), no edges (the config model is
    not loaded on that path; ``report`` reads them from the jobs' last records), and no fsync: a crash
    can lose this record (readers skip an unreadable one), never tear it. Never fails the run."""
    record = session_record(
        argv, kind="jobs", started=started, ended=now_us(), parallel=1, selected=selected, jobs=[], edges=None,
        exit_code=0, fast_path=True, skipped_jobs=list(names),
    )  # fmt: skip
    record["counts"] = {"skipped": len(names)} if names else {}
    with contextlib.suppress(OSError, ValueError):
        write_session(state_dir, record, durable=False)


def session_jobs(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A session's jobs, in the order they finished (a no-op session's skipped names expanded)."""
    jobs = [dict(j) for j in record.get("jobs") or () if isinstance(j, dict) and isinstance(j.get("name"), str)]
    for name in record.get("skipped_jobs") or ():
        jobs.append({"name": str(name), "status": "skipped", "exit_code": 0, "duration_ms": 0, "record": None})
    return jobs


def session_files(state_dir: Path) -> list[Path]:
    """Every session record, newest first."""
    try:
        names = [n for n in os.listdir(state_dir / SESSIONS_DIR) if n.endswith(".json") and not n.startswith(".")]
    except OSError:
        return []
    return [state_dir / SESSIONS_DIR / n for n in sorted(names, reverse=True)]


def read_session(path: Path) -> dict[str, Any] | None:
    """A session record, or None if unreadable or not one."""
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="surrogateescape"))
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) and data.get("schema") == SESSION_SCHEMA else None


def recent(state_dir: Path, limit: int | None) -> list[dict[str, Any]]:
    """The newest ``limit`` readable sessions (all when None), newest first."""
    found: list[dict[str, Any]] = []
    for path in session_files(state_dir):
        if limit is not None and len(found) >= limit:
            break
        record = read_session(path)
        if record is not None:
            found.append(record)
    return found


def find_session(state_dir: Path, ref: str | None) -> tuple[Path, dict[str, Any]]:
    """The session ``ref`` names (a stamp, a unique stamp prefix, or a file path); the newest when None.
    An unknown one is an ``InputError`` naming it."""
    from orchastration.errors import InputError

    if ref and (ref.endswith(".json") or os.sep in ref) and Path(ref).is_file():
        path = Path(ref)
    else:
        files = session_files(state_dir)
        if ref:
            files = [p for p in files if p.name.startswith(ref)]
        if not files:
            where = state_dir / SESSIONS_DIR
            raise InputError(f"session {ref}: not found in {where}" if ref else f"no sessions recorded in {where}")
        if ref and len(files) > 1 and not any(p.stem == ref for p in files):
            raise InputError(f"session {ref}: ambiguous ({len(files)} sessions start with it)")
        path = next((p for p in files if p.stem == ref), files[0])
    record = read_session(path)
    if record is None:
        raise InputError(f"{path}: not a session record")
    return path, record
