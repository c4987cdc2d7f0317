"""The state-dir lock: one run changes engine state at a time; others wait and say so."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from orchastration.errors import OrchastrationError
from orchastration.locking import hold

LOCK_NAME = "state.lock"


class StateDirError(OrchastrationError):
    """The state dir cannot be written (read-only, full, not a directory): exit 2, before anything runs."""


@contextmanager
def state_lock(engine_dir: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the state lock; if another process has it, call ``on_wait`` once and block until free.
    A state dir that cannot be written is a ``StateDirError`` naming it, raised before anything runs."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(hold(engine_dir / LOCK_NAME, on_wait))
            _check_writable(engine_dir)
        except OSError as exc:
            raise state_dir_error(engine_dir, exc) from None
        yield


def state_dir_error(directory: Path, exc: BaseException, file: Path | None = None) -> StateDirError:
    """``cannot write the state dir <dir>: [<file>: ]<reason>`` (docs/reliability.md)."""
    reason = str(exc)
    if isinstance(exc, OSError):
        reason = "not a directory" if isinstance(exc, FileExistsError) else exc.strerror or reason
        file = Path(exc.filename) if exc.filename else file
    if file is not None and file != directory:
        reason = f"{file.name if file.parent == directory else file}: {reason}"
    return StateDirError(f"cannot write the state dir {directory}: {reason}")


def _check_writable(directory: Path) -> None:
    """Create and remove a file in ``directory``: the lock file alone proves nothing once it exists."""
    probe = directory / f".write-test.{os.getpid()}"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        os.unlink(probe)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror) from None  # the dir, not the probe's name


def lock_path(engine_dir: Path) -> Path:
    """The lock file (for messages)."""
    return engine_dir / LOCK_NAME
