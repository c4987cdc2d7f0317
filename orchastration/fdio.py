"""Writing through a file descriptor: no file object (whose creation costs an ``fstat``, an ``ioctl``
and a ``seek``) for files the run writes once each, many of them (records, cache entries)."""

from __future__ import annotations

import os


def write_all(fd: int, data: bytes) -> None:
    """``data`` to a file descriptor, whole (``os.write`` may write less than asked)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
