"""Empty log files that cost no inode: a run's ``.stdout.log`` / ``.stderr.log`` that stays empty is a
hard link to one shared, read-only empty file of its runs directory (``runs/.empty.log``).

Most build commands print nothing, and a cold build, or a fresh clone restoring from the output cache,
writes two logs for every job: on a file system that scans for a free inode after mass deletes (ext4
right after the previous build's state was removed), creating those files was a third of the run. A
link allocates nothing. A log that gets output is a file of its own: it is never written through the
link (``open_for_write`` replaces the link first), so the shared file stays empty. Readers see an empty
file either way; removing a log removes one link. Where hard links are not possible (a file system
without them, the link-count limit: 65,000 on ext4, 1,024 on NTFS) a plain empty file is made instead.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

EMPTY_LOG = ".empty.log"  # in the runs directory; no job or task name starts with a dot
_MODE = 0o400 if os.name == "posix" else 0o600  # Windows: a read-only file's links cannot be deleted
_WRITE = os.O_WRONLY | os.O_CREAT | getattr(os, "O_BINARY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


_SHARED: dict[str, Path] = {}  # runs directory -> its shared empty file (a run asks once a unit)


def shared_empty(record_dir: Path) -> Path:
    """The shared empty file for the runs kept in ``record_dir`` (``runs/<name>``)."""
    runs = os.path.dirname(record_dir)
    found = _SHARED.get(runs)
    if found is None:
        if len(_SHARED) >= 64:  # (a long-lived embedder with many state dirs)
            _SHARED.clear()
        found = _SHARED[runs] = Path(runs, EMPTY_LOG)
    return found


def link_empty(path: Path | str, empty: Path, exist_ok: bool = False) -> None:
    """Make ``path``, which must not exist, an empty file: a link to ``empty`` (made if missing,
    renewed when it has too many links), else a file of its own. FileExistsError if ``path``
    exists (a reserved name: a run slot), unless ``exist_ok`` (it is left as it is); FileNotFoundError
    if its directory does not."""
    for attempt in range(3):
        try:
            os.link(empty, path)
            return
        except FileExistsError:
            if exist_ok:
                return
            raise
        except FileNotFoundError:
            if not os.path.isdir(os.path.dirname(path)):
                raise  # the directory of ``path`` is missing: the caller makes it
            if os.path.exists(empty):
                continue  # made since the link failed (another thread's first run): link again
        except OSError:  # too many links, or no hard links here: a new shared file, then a file of its own
            if attempt:
                break
        try:
            _renew(empty)
        except OSError:
            break
    try:
        fd = os.open(path, _WRITE | os.O_EXCL, 0o600)
    except FileExistsError:
        if exist_ok:
            return
        raise
    os.close(fd)


def _renew(empty: Path) -> None:
    """Put a new shared empty file in place (atomically: links made before keep the old one)."""
    tmp = f"{empty}.{os.getpid()}-{threading.get_ident()}.tmp"
    try:
        os.close(os.open(tmp, _WRITE | os.O_EXCL, _MODE))
        os.chmod(tmp, _MODE)  # the umask may have kept bits the mode asked for
        os.replace(tmp, empty)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def open_for_write(path: Path | str) -> int:
    """Open ``path`` for writing from the start (created 0600 if missing; an existing file keeps its
    mode), never through a link: a log reserved as a link to the shared empty file (or any file
    with other links) is first replaced by a new file of its own."""
    flags = _WRITE | os.O_TRUNC
    try:
        fd = os.open(path, flags, 0o600)
    except PermissionError:
        if not _linked(path):
            raise
    else:
        if os.fstat(fd).st_nlink <= 1:
            return fd
        os.close(fd)  # truncating the shared file did nothing: it is empty
    return own_file(path)


def own_file(path: Path | str) -> int:
    """A new empty file of its own (0600) renamed over ``path``, open for writing: what ``path`` was (a
    link to the shared empty file, say) is never written through. Renamed while empty, then written by
    the caller (a reader may see it empty or in part meanwhile: for marks and logs, never records): on
    ext4 a rename over an existing name forces the new file's pending data to disk first
    (``auto_da_alloc``), ~55 µs a file on this project's build machine."""
    tmp = f"{path}.{os.getpid()}-{threading.get_ident()}.tmp"
    try:
        fd = os.open(tmp, _WRITE | os.O_EXCL | _CLOEXEC, 0o600)
    except FileExistsError:  # left by a killed process that had this id: never renamed into place
        os.unlink(tmp)
        fd = os.open(tmp, _WRITE | os.O_EXCL | _CLOEXEC, 0o600)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return fd


def _linked(path: Path | str) -> bool:
    try:
        return os.stat(path).st_nlink > 1
    except OSError:
        return False
