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
from collections.abc import Callable
from pathlib import Path

DEFAULT_INTERVAL = 0.2  # seconds: how old the newest unsynced record can get


class Flusher:
    """Syncs what a run wrote in batches: at most every ``interval`` seconds, and once at ``close()``."""

    def __init__(self, directory: Path, interval: float = DEFAULT_INTERVAL) -> None:
        self.directory = directory
        self.interval = interval
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._files: list[Path] = []  # Windows only: the files to flush one by one
        self._dirty = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self.syncs = 0  # how many batches were synced (for tests and the log)

    def dirty(self, path: Path) -> None:
        """``path`` was written (and renamed into place) without an fsync: sync it with the next batch."""
        with self._lock:
            if self._closed:
                _sync_paths(self.directory, [path])
                return
            self._dirty = True
            if os.name == "nt":
                self._files.append(path)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="orchastration-flusher", daemon=True)
                self._thread.start()
        self._wake.set()

    def close(self) -> None:
        """Sync everything still dirty and stop the thread (the run's last write is durable on return)."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._stop.set()
        self._wake.set()
        if thread is not None:
            thread.join()
        self._flush()

    def _loop(self) -> None:
        while True:
            self._wake.wait()
            # Let a batch gather: jobs finishing within ``interval`` share one sync. Closing ends
            # the wait at once (``close`` syncs what is left itself).
            if self._stop.wait(self.interval):
                return
            self._wake.clear()
            self._flush()

    def _flush(self) -> None:
        with self._lock:
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
