"""What runs on a dask worker: one job's command, through ``process.run_process``, its output shipped live.

Workers import this module by name, so they need orchastration installed (docs/distributed.md). The
command runs as it does locally (own process group, working dir, env, timeout, tree kill); what
``run_process`` would show on a console is collected instead, and a shipper thread sends it every
``SHIP_SECONDS`` to the CLI as dask events (topic: the CLI's client id). The CLI writes the job's log
files and console from them (as UTF-8 text: bytes that are not UTF-8 arrive as U+FFFD). A cancel
(Ctrl-C on the CLI, a lost worker) is pushed to every worker with ``Client.run(cancel, keys)``: it sets
the job's cancel event, and ``run_process`` kills the tree; so does a worker closing, or dask no
longer wanting the task (the CLI went away).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any, cast

SHIP_SECONDS = 0.1  # how often new output is sent: live enough, few messages
CHUNK = 1 << 16  # bytes per event message
END_WAIT_SECONDS = 10.0  # at worker shutdown: how long running commands get to be killed

# Per worker process: the cancel event of each running job (by dask key), and keys cancelled
# before they started (a cancel may overtake the task it is about).
_RUNNING: dict[str, threading.Event] = {}
_CANCELLED: set[str] = set()
_LOCK = threading.Lock()
_exit_hook = False


def run_job(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Run one job's command on this worker; how it ended, as plain data (``ProcessResult`` fields,
    ``worker``, ``messages``: how many output events were sent)."""
    from distributed import get_worker

    worker = get_worker()
    key, topic = str(spec["key"]), str(spec["topic"])
    cancel = _register(key)
    if cancel is None:
        return _ended(130, "interrupted", "interrupted", worker.address, 0)
    worker.log_event(topic, {"k": key, "w": worker.address})
    shipper = _Shipper(worker, topic, key, cancel)
    try:
        shipper.start()
        result = _run(spec, cancel, shipper)
    finally:
        shipper.finish()
        with _LOCK:
            _RUNNING.pop(key, None)
    return _ended(result.exit_code, result.status, result.message, worker.address, shipper.sent, result.warning,
                  result.duration_ms)  # fmt: skip


def _run(spec: Mapping[str, Any], cancel: threading.Event, shipper: _Shipper) -> Any:
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
        console=cast(IO[str], _Stream(shipper, 0)),
        err_console=cast(IO[str], _Stream(shipper, 1)),
        cancel=cancel,
    )


def _ended(
    code: int, status: str, message: str, worker: str, sent: int, warning: str = "", ms: int = 0
) -> dict[str, Any]:
    return {"exit_code": code, "status": status, "message": message, "warning": warning, "duration_ms": ms,
            "worker": worker, "messages": sent}  # fmt: skip


def _register(key: str) -> threading.Event | None:
    """The job's cancel event; None if it was cancelled before it started."""
    global _exit_hook
    with _LOCK:
        if key in _CANCELLED:
            _CANCELLED.discard(key)
            return None
        event = _RUNNING[key] = threading.Event()
        if not _exit_hook:  # a worker shutting down (SIGTERM, scale-down) kills what it runs
            import atexit

            atexit.register(_cancel_all)
            _exit_hook = True
    return event


def cancel(keys: Iterable[str]) -> int:
    """Kill the commands of these jobs on this worker (run by ``Client.run`` on every worker); a key
    not started yet never starts. Returns how many were running here."""
    hit = 0
    with _LOCK:
        for key in keys:
            event = _RUNNING.get(key)
            if event is None:
                _CANCELLED.add(key)
            else:
                event.set()
                hit += 1
    return hit


def _cancel_all() -> None:
    """At worker exit: cancel every running command and give the tree kills a moment."""
    import time

    with _LOCK:
        for event in _RUNNING.values():
            event.set()
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


class _Stream:
    """The console ``run_process`` writes one stream of the command's output to (as it reads it):
    kept for the shipper."""

    def __init__(self, shipper: _Shipper, index: int) -> None:
        self.shipper, self.index = shipper, index

    def write(self, text: str) -> int:
        with self.shipper.lock:
            self.shipper.pending[self.index].append(text)
        return len(text)

    def flush(self) -> None:
        """Nothing: the shipper sends every ``SHIP_SECONDS``."""


class _Shipper(threading.Thread):
    """Sends the output written to its two ``_Stream``s as ``{"k": key, "s": 1|2, "d": bytes}`` events
    (UTF-8), every ``SHIP_SECONDS``; and stops the command when the job is abandoned."""

    def __init__(self, worker: Any, topic: str, key: str, cancel: threading.Event) -> None:
        super().__init__(daemon=True)
        self.worker, self.topic, self.key, self.cancel = worker, topic, key, cancel
        self.pending: tuple[list[str], list[str]] = ([], [])
        self.sent = 0
        self.done = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        while not self.done.wait(SHIP_SECONDS):
            self.ship()
            if not self.cancel.is_set() and _abandoned(self.worker, self.key):
                self.cancel.set()

    def finish(self) -> None:
        """Stop the thread and send the rest."""
        self.done.set()
        if self.is_alive():
            self.join()
        self.ship()

    def ship(self) -> None:
        with self.lock:
            texts = ["".join(p) for p in self.pending]
            for p in self.pending:
                p.clear()
        for i, text in enumerate(texts):
            data = text.encode("utf-8", "surrogateescape")
            for at in range(0, len(data), CHUNK):
                self.worker.log_event(self.topic, {"k": self.key, "s": i + 1, "d": data[at : at + CHUNK]})
                self.sent += 1
