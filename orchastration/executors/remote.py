"""What runs on a dask worker: one job's command, through ``process.run_process``, its output shipped live.

Workers import this module by name, so they need orchastration installed (docs/distributed.md). The
command runs as it does locally (own process group, working dir, env, timeout, tree kill); what
``run_process`` would show on a console is collected instead and sent to the CLI as dask events
(topic: the CLI's client id) by the worker process's one shipper thread, every ``SHIP_SECONDS``
while jobs run. When the command ends, the task's own thread sends the rest of its output, then the
result (``{"k": key, "r": {...}}``): the CLI takes the result from that event, in order after the
output, and never fetches it from the worker. The CLI writes the job's log files and console (as
UTF-8 text: bytes that are not UTF-8 arrive as U+FFFD). A cancel (Ctrl-C on the CLI, a lost worker)
is pushed to every worker with ``Client.run(cancel, keys)``: it sets the job's cancel event, and
``run_process`` kills the tree; so does a worker closing, or dask no longer wanting the task (the
CLI went away).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any, cast

SHIP_SECONDS = 0.1  # how often new output is sent: live enough, few messages
CHUNK = 1 << 16  # bytes per event message
END_WAIT_SECONDS = 10.0  # at worker shutdown: how long running commands get to be killed

# Per worker process: the running jobs (by dask key), and keys cancelled before they started (a
# cancel may overtake the task it is about). ``_WAKE`` (on ``_LOCK``) wakes the shipper for a job.
_RUNNING: dict[str, _Job] = {}
_CANCELLED: set[str] = set()
_LOCK = threading.Lock()
_WAKE = threading.Condition(_LOCK)
_shipper: threading.Thread | None = None


def run_job(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Run one job's command on this worker; how it ended, as plain data (``ProcessResult`` fields,
    ``worker``, ``messages``: how many output events were sent before it), also sent as the job's
    last event."""
    from distributed import get_worker

    worker = get_worker()
    key, topic = str(spec["key"]), str(spec["topic"])
    job = _register(worker, topic, key)
    if job is None:
        data = _ended(130, "interrupted", "interrupted", worker.address, 0)
    else:
        try:
            result = _run(spec, job)
        finally:
            with _LOCK:
                _RUNNING.pop(key, None)
            job.ship()
        data = _ended(result.exit_code, result.status, result.message, worker.address, job.sent, result.warning,
                      result.duration_ms)  # fmt: skip
    worker.log_event(topic, {"k": key, "r": data})
    return data


def _run(spec: Mapping[str, Any], job: _Job) -> Any:
    from orchastration.process import run_process

    command = spec["command"]
    return run_process(
        command if isinstance(command, str) else tuple(command),
        shell=bool(spec["shell"]),
        cwd=Path(spec["cwd"]),
        env=dict(spec["env"]),
        # The worker's environment (its PATH, its HOME) under the job's env, as a local job gets the CLI's.
        base_env=dict(os.environ),
        timeout=float(spec["timeout"]),
        console=cast(IO[str], _Stream(job, 0)),
        err_console=cast(IO[str], _Stream(job, 1)),
        cancel=job.cancel,
    )


def _ended(
    code: int, status: str, message: str, worker: str, sent: int, warning: str = "", ms: int = 0
) -> dict[str, Any]:
    return {"exit_code": code, "status": status, "message": message, "warning": warning, "duration_ms": ms,
            "worker": worker, "messages": sent}  # fmt: skip


def _register(worker: Any, topic: str, key: str) -> _Job | None:
    """The running job; None if it was cancelled before it started. Starts the shipper (and the
    exit hook) with the process's first job."""
    global _shipper
    with _LOCK:
        if key in _CANCELLED:
            _CANCELLED.discard(key)
            return None
        job = _RUNNING[key] = _Job(worker, topic, key)
        _WAKE.notify()
        if _shipper is None:
            import atexit

            atexit.register(_cancel_all)  # a worker shutting down (SIGTERM, scale-down) kills what it runs
            _shipper = threading.Thread(target=_shipping, name="orchastration-shipper", daemon=True)
            _shipper.start()
    return job


def _shipping() -> None:
    """The worker process's shipper: while jobs run, every ``SHIP_SECONDS`` it sends their new output
    and stops the commands of jobs dask abandoned. Asleep while none run."""
    while True:
        with _WAKE:
            _WAKE.wait_for(lambda: bool(_RUNNING))
        time.sleep(SHIP_SECONDS)
        with _LOCK:
            jobs = list(_RUNNING.values())
        for job in jobs:
            job.ship()
            if not job.cancel.is_set() and _abandoned(job.worker, job.key):
                job.cancel.set()


def cancel(keys: Iterable[str]) -> int:
    """Kill the commands of these jobs on this worker (run by ``Client.run`` on every worker); a key
    not started yet never starts. Returns how many were running here."""
    hit = 0
    with _LOCK:
        for key in keys:
            job = _RUNNING.get(key)
            if job is None:
                _CANCELLED.add(key)
            else:
                job.cancel.set()
                hit += 1
    return hit


def _cancel_all() -> None:
    """At worker exit: cancel every running command and give the tree kills a moment."""
    with _LOCK:
        for job in _RUNNING.values():
            job.cancel.set()
    deadline = time.monotonic() + END_WAIT_SECONDS
    while _RUNNING and time.monotonic() < deadline:
        time.sleep(0.05)


def running() -> list[str]:
    """The keys of the jobs running on this worker (for checks and tests)."""
    with _LOCK:
        return sorted(_RUNNING)


def missing_dirs(dirs: Iterable[str]) -> list[str]:
    """The directories of ``dirs`` this worker does not see (the shared file system check)."""
    return [d for d in dirs if not os.path.isdir(d)]


def _abandoned(worker: Any, key: str) -> bool:
    """The job's command should stop: its worker is closing (SIGTERM, scale-down), or dask no longer
    wants the task (the CLI that submitted it went away, or cancelled it)."""
    if getattr(getattr(worker, "status", None), "name", "") in ("closing", "closed", "failed"):
        return True
    tasks = getattr(getattr(worker, "state", None), "tasks", None)
    if not isinstance(tasks, Mapping):
        return False
    task = tasks.get(key)
    return task is None or getattr(task, "state", "") in ("cancelled", "released", "forgotten")


class _Job:
    """A job running here: its cancel event, and the output written to its two ``_Stream``s until
    shipped as ``{"k": key, "s": 1|2, "d": bytes}`` events (UTF-8)."""

    def __init__(self, worker: Any, topic: str, key: str) -> None:
        self.worker, self.topic, self.key = worker, topic, key
        self.cancel = threading.Event()
        self.pending: tuple[list[str], list[str]] = ([], [])
        self.sent = 0
        self.lock = threading.Lock()  # held while sending too: the shipper and the job's thread keep order

    def ship(self) -> None:
        """Send what was written since the last time."""
        with self.lock:
            if not (self.pending[0] or self.pending[1]):
                return
            texts = ["".join(p) for p in self.pending]
            for p in self.pending:
                p.clear()
            for i, text in enumerate(texts):
                data = text.encode("utf-8", "surrogateescape")
                for at in range(0, len(data), CHUNK):
                    self.worker.log_event(self.topic, {"k": self.key, "s": i + 1, "d": data[at : at + CHUNK]})
                    self.sent += 1


class _Stream:
    """The console ``run_process`` writes one stream of the command's output to (as it reads it):
    kept for the shipper."""

    def __init__(self, job: _Job, index: int) -> None:
        self.job, self.index = job, index

    def write(self, text: str) -> int:
        with self.job.lock:
            self.job.pending[self.index].append(text)
        return len(text)

    def flush(self) -> None:
        """Nothing: the shipper sends every ``SHIP_SECONDS``."""
