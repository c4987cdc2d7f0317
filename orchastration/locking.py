"""Cross-process file locks (filelock) and a count of running actions.

filelock uses fcntl/msvcrt locks, which the OS releases when a holder dies, so a crashed run never
leaves anything locked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

POLL_SECONDS = 0.05


@contextmanager
def hold(path: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the lock file ``path`` (its directory is created); if another process holds it, call
    ``on_wait`` once, then block until it is free."""
    from filelock import FileLock, Timeout

    from orchastration.state import PRIVATE_FILE, make_private_dir

    make_private_dir(path.parent)
    lock = FileLock(str(path), mode=PRIVATE_FILE)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if on_wait is not None:
            on_wait()
        lock.acquire(poll_interval=POLL_SECONDS)
    try:
        yield
    finally:
        lock.release()


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
