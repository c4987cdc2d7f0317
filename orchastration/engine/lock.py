"""The state-dir lock: one run changes engine state at a time; others wait and say so."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from orchastration.locking import hold

LOCK_NAME = "state.lock"


@contextmanager
def state_lock(engine_dir: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the state lock; if another process has it, call ``on_wait`` once and block until free."""
    with hold(engine_dir / LOCK_NAME, on_wait):
        yield


def lock_path(engine_dir: Path) -> Path:
    """The lock file (for messages)."""
    return engine_dir / LOCK_NAME
