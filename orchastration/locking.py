"""Cross-process file locks and a count of running actions.

A lock is an OS lock on an open lock file (``flock`` on POSIX, ``msvcrt.locking`` on Windows), which
the OS releases when its holder dies, so a crashed run never leaves anything locked. Each ``hold``
opens the file itself, so two threads of one process exclude each other like two processes. (This
replaced the ``filelock`` package: the same OS calls, but importing it cost ~10-40 ms of every
command's start-up.)
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

POLL_SECONDS = 0.05


@contextmanager
def hold(
    path: Path,
    on_wait: Callable[[], None] | None = None,
    *,
    timeout: float | None = None,
    mode: int | None = None,
) -> Iterator[None]:
    """Hold the lock file ``path`` (its directory is created); if another holder has it, call
    ``on_wait`` once, then wait until it is free (``timeout`` seconds at most: ``TimeoutError``).
    ``mode``: the lock file's permissions when it is created (default: private to the user)."""
    from orchastration.state import PRIVATE_FILE, make_private_dir

    make_private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), PRIVATE_FILE if mode is None else mode)
    try:
        if not _try_lock(fd):
            if on_wait is not None:
                on_wait()
            deadline = None if timeout is None else time.monotonic() + timeout
            while not _try_lock(fd):
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(f"{path}: locked by another process")
                time.sleep(POLL_SECONDS)
        try:
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)


if os.name == "nt":  # pragma: no cover - exercised on Windows
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class ActiveCount:
    """How many actions are running, shared between worker threads, so an interrupted run can wait
    for the ones being stopped: ``with count.active(): ...`` around each, ``wait_idle`` after."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = threading.Condition()

    @contextmanager
    def active(self) -> Iterator[None]:
        """Count the enclosed action as running."""
        with self._idle:
            self._count += 1
        try:
            yield
        finally:
            with self._idle:
                self._count -= 1
                self._idle.notify_all()

    def wait_idle(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for every running action to end; True if none is left."""
        deadline = time.monotonic() + seconds
        with self._idle:
            while self._count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(min(left, 0.1))
        return True
