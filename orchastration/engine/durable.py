"""Durable in batches: files a run writes without an fsync each are synced together, off the jobs' path.

A run writes a record, two log files and a database row per job. Syncing each record (and its
directory) cost two fsyncs per job, ~9 ms each on a busy disk: more than the job itself for small
jobs. Instead every file is written atomically (temp file + rename, so no reader ever sees a part of
one) and the writer says ``dirty()``; a background thread syncs the state dir's file system at most
every ``interval`` seconds while anything is dirty, and ``close()`` syncs what is left before the
run returns. The promise (docs/reliability.md): a crash of this process loses nothing that finished
(the operating system has every write); a power cut loses at most the last ``interval`` of records,
and a record it left empty reads as absent, never as a part.

How a file system is synced: Linux ``syncfs`` on the state dir (one call for every dirty file);
other POSIX systems ``sync``; Windows has neither, so each dirty file is flushed (``os.fsync`` is
``FlushFileBuffers`` there) by the thread.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

DEFAULT_INTERVAL = 0.2  # seconds: how old the newest unsynced record can get
BACKLOG = 64  # pieces of work queued at most before ``submit`` waits
HOLD_SECONDS = 0.02  # a hold keeps the thread waiting at most this long (it never starves)


class Flusher:
    """Syncs what a run wrote in batches (at most every ``interval`` seconds, and once at ``close()``),
    and does the run's bookkeeping in order, off the jobs' path (``submit``).

    One background thread does both. ``submit(work)`` queues a callable; the queue runs in order, so
    work queued after other work sees its effects (a record is written before the database row that
    vouches for it is committed: docs/reliability.md). While a job's command runs the thread writes the
    records, cache entries and database rows of the jobs before it.
    """

    def __init__(self, directory: Path, interval: float = DEFAULT_INTERVAL, *, gated: bool = False) -> None:
        self.directory = directory
        self.interval = interval
        # ``gated`` (one job at a time): the thread starts a piece of work only while the jobs' thread
        # waits for a command (``hold``/``release``). Two Python threads share one interpreter lock:
        # each system call of the jobs' thread (starting a process, reading its pipes) let this thread
        # in, and the jobs' thread then waited for it to let go (~0.6 ms a job at 1,000 jobs).
        self._gated = gated
        self._open = threading.Event()
        self._open.set()
        self._cond = threading.Condition()
        self._work: deque[Callable[[], object]] = deque()
        self._busy = False
        self._files: list[Path] = []  # Windows only: the files to flush one by one
        self._dirty = False
        self._due = 0.0  # when the oldest unsynced write must be synced (monotonic)
        self._stop = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.syncs = 0  # how many batches were synced (for tests and the log)

    def dirty(self, path: Path) -> None:
        """``path`` was written (and renamed into place) without an fsync: sync it with the next batch."""
        with self._cond:
            if self._closed:
                _sync_paths(self.directory, [path])
                return
            if not self._dirty:
                self._dirty, self._due = True, time.monotonic() + self.interval
            if os.name == "nt":
                self._files.append(path)
            self._start()
            self._cond.notify_all()

    def hold(self) -> None:
        """The calling thread is about to work on the jobs' path: pieces of work wait (``gated`` only)."""
        if self._gated:
            self._open.clear()

    def release(self) -> None:
        """The calling thread waits (for a command): queued work may run."""
        self._open.set()

    def submit(self, work: Callable[[], object], first: bool = False) -> None:
        """Run ``work`` on the thread after everything submitted before it (at once once closed);
        ``first``: before everything still queued (work nothing queued depends on, that the jobs'
        thread will soon want done: the next job's run directory and input hashes)."""
        with self._cond:
            while len(self._work) >= BACKLOG and not self._closed:
                self._open.set()
                self._cond.wait()  # the thread is behind: let it catch up (bounds what a crash can drop)
            if not self._closed:
                if first:
                    self._work.appendleft(work)
                else:
                    self._work.append(work)
                self._start()
                self._cond.notify_all()
                return
        work()

    def drain(self) -> None:
        """Wait until everything submitted so far has run; re-raises what a piece of work raised."""
        self._open.set()
        with self._cond:
            while self._work or self._busy:
                self._cond.wait()
            error, self._error = self._error, None
        if error is not None:
            raise error

    def close(self) -> None:
        """Run what is queued, sync everything still dirty and stop the thread (the run's last write
        is durable on return)."""
        self._open.set()
        with self._cond:
            self._stop = True
            thread = self._thread
            self._cond.notify_all()
        if thread is not None:
            thread.join()
        with self._cond:
            # Work submitted after the thread stopped (a unit still running after an interrupt) runs
            # here; anything later runs at once in ``submit``. Nothing is left queued for ``drain``.
            self._closed = True
            late, self._work = list(self._work), deque()
        for work in late:
            work()
        self._flush()
        self.drain()

    def _start(self) -> None:
        if self._thread is None:  # (the lock is held)
            self._thread = threading.Thread(target=self._loop, name="orchastration-flusher", daemon=True)
            self._thread.start()

    def _next(self) -> Callable[[], object] | None:
        """The next piece of work, or None: time to sync a batch (or stop, when ``_stop`` and idle)."""
        with self._cond:
            while True:
                now = time.monotonic()
                if self._dirty and (now >= self._due or (self._stop and not self._work)):
                    return None
                if self._work:
                    self._busy = True
                    return self._work.popleft()
                if self._stop:
                    return None
                self._cond.wait(self._due - now if self._dirty else None)

    def _loop(self) -> None:
        while True:
            work = self._next()
            if work is None:
                self._flush()
                with self._cond:
                    if self._stop and not self._work and not self._dirty:
                        return
                continue
            self._open.wait(HOLD_SECONDS)
            if not _SYNCFS:  # load what the batch's sync needs now, while a command runs, not at the run's end
                _syncfs()
            try:
                work()
            except BaseException as exc:  # kept for drain(): a bug must not vanish with the thread
                with self._cond:
                    self._error = self._error or exc
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _flush(self) -> None:
        with self._cond:
            if not self._dirty:
                return
            files, self._files, self._dirty = self._files, [], False
        _sync_paths(self.directory, files)
        self.syncs += 1


def _sync_paths(directory: Path, files: list[Path]) -> None:
    """Make every write under ``directory``'s file system durable (``files``: what to flush where
    the file system cannot be synced as a whole). Best effort: a failing sync is not a failed job."""
    syncfs = _syncfs()
    if syncfs is not None:
        with contextlib.suppress(OSError):
            fd = os.open(directory, os.O_RDONLY)
            try:
                syncfs(fd)
            finally:
                os.close(fd)
        return
    if os.name == "posix":
        os.sync()
        return
    for path in files:  # Windows
        with contextlib.suppress(OSError), open(path, "rb+") as fh:
            os.fsync(fh.fileno())


_SYNCFS: list[Callable[[int], int] | None] = []


def _syncfs() -> Callable[[int], int] | None:
    """Linux ``syncfs(2)`` through ctypes (loaded once), or None where there is none."""
    if not _SYNCFS:
        found: Callable[[int], int] | None = None
        if sys.platform.startswith("linux"):
            with contextlib.suppress(OSError, AttributeError):
                import ctypes

                found = ctypes.CDLL(None, use_errno=True).syncfs
        _SYNCFS.append(found)
    return _SYNCFS[0]
