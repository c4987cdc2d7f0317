"""The state-dir lock (filelock): one run changes engine state at a time; others wait and say so."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = "state.lock"


@contextmanager
def state_lock(engine_dir: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the state lock; if another process has it, call ``on_wait`` once and block until free.

    filelock uses fcntl/msvcrt locks, which the OS releases when a holder dies, so a crashed
    run never leaves the state dir locked.
    """
    from filelock import FileLock, Timeout

    engine_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(engine_dir / LOCK_NAME))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if on_wait is not None:
            on_wait()
        lock.acquire(poll_interval=0.05)
    try:
        yield
    finally:
        lock.release()


def lock_path(engine_dir: Path) -> Path:
    """The lock file (for messages)."""
    return engine_dir / LOCK_NAME
