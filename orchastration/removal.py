"""Deleting a path inside a root directory without ever following a symlink out of it, even when a
directory on the way is swapped for a symlink while we work (``clean``: docs/jobs.md).

POSIX: the root is opened, then each directory on the way with ``O_NOFOLLOW | O_DIRECTORY``
relative to the one before, and the last name is removed relative to its parent's descriptor
(``unlink(name, dir_fd=...)``; a directory with ``shutil.rmtree(name, dir_fd=...)``, which never
follows a symlink either). Nothing is ever resolved by path after the check, so no race is left.
Windows has no ``dir_fd``: every directory on the way is checked not to be a link or junction just
before the path is removed (the best check available; a narrow race remains there).
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Callable
from enum import Enum


class Removal(Enum):
    """What ``remove_inside`` did."""

    REMOVED = "removed"
    ABSENT = "absent"
    LINKED = "a directory on the way is a symlink"  # refused: it could lead anywhere
    FAILED = "failed"


def relative_parts(root: str, path: str) -> list[str] | None:
    """``path`` (absolute, normalised) as the names under ``root`` leading to it; None when it is not
    strictly inside ``root`` (lexically: ``..``, another drive, the root itself)."""
    try:
        rel = os.path.relpath(path, root)
    except ValueError:  # another drive on Windows
        return None
    if rel == os.curdir or rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
        return None
    return [part for part in rel.split(os.sep) if part]


def remove_inside(root: str, parts: list[str]) -> tuple[Removal, str]:
    """Remove ``root/parts...`` (a file, a symlink itself, or a directory tree), never anything reached
    through a symlinked directory. Returns what happened and, for a failure, why."""
    if os.name == "nt" or not _HAVE_DIR_FD:
        return _remove_by_path(root, parts)
    try:
        parent = _open_parent(root, parts[:-1])
    except _Linked:
        return Removal.LINKED, ""
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):  # missing, or a file on the way: no such output
            return Removal.ABSENT, ""
        return Removal.FAILED, exc.strerror or str(exc)
    name = parts[-1]
    try:
        st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(name, dir_fd=parent)
        else:
            os.unlink(name, dir_fd=parent)  # a symlink goes itself, never its target
    except FileNotFoundError:
        return Removal.ABSENT, ""
    except (OSError, RecursionError) as exc:
        return Removal.FAILED, getattr(exc, "strerror", None) or str(exc)
    finally:
        os.close(parent)
    return Removal.REMOVED, ""


_HAVE_DIR_FD = {os.open, os.stat, os.unlink}.issubset(os.supports_dir_fd) and shutil.rmtree.avoids_symlink_attacks


class _Linked(Exception):
    """A directory on the way is a symlink."""


def _open_parent(root: str, parts: list[str]) -> int:
    """A descriptor of ``root/parts...``, each step opened relative to the last with no symlink followed
    (raises ``_Linked`` for a symlink on the way)."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    fd = os.open(root, flags)
    try:
        for part in parts:
            try:
                step = os.open(part, flags | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                # A symlink fails with ELOOP (ENOTDIR on Linux with O_DIRECTORY, EMLINK on FreeBSD).
                linked = exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK)
                if linked and stat.S_ISLNK(os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode):
                    raise _Linked(part) from None
                raise
            os.close(fd)
            fd = step
    except BaseException:
        os.close(fd)
        raise
    return fd


def _is_link(path: str) -> bool:
    """A symlink, or on Windows any reparse point (junctions too)."""
    st = os.lstat(path)
    reparse = getattr(st, "st_file_attributes", 0) & getattr(stat, "FILE_ATTRIBUTE_REPARSE_POINT", 0)
    return stat.S_ISLNK(st.st_mode) or bool(reparse)


def _remove_by_path(root: str, parts: list[str]) -> tuple[Removal, str]:
    """The Windows branch: check every directory on the way, then remove by path."""
    path = root
    try:
        for part in parts[:-1]:
            path = os.path.join(path, part)
            if _is_link(path):
                return Removal.LINKED, ""
        path = os.path.join(path, parts[-1])
        if not _is_link(path) and os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    except FileNotFoundError:
        return Removal.ABSENT, ""
    except (OSError, RecursionError) as exc:
        return Removal.FAILED, getattr(exc, "strerror", None) or str(exc)
    return Removal.REMOVED, ""


def remove_files_inside(root: str, parts: list[str], names: list[str]) -> dict[str, int | str]:
    """Remove the files ``names`` (regular files or symlinks themselves, never a directory) from the
    directory ``root/parts...``, reached without following a symlink (``prune``: docs/observability.md).

    Returns, per name, the bytes its removal freed (0 for a file with other hard links, or already gone)
    or why it failed; a directory on the way that is a symlink fails every name. The directory is opened
    once for all of them."""
    if os.name == "nt" or not _HAVE_DIR_FD:
        return _remove_files_by_path(root, parts, names)
    try:
        parent = _open_parent(root, parts)
    except _Linked:
        return dict.fromkeys(names, Removal.LINKED.value)
    except OSError as exc:
        gone = exc.errno in (errno.ENOENT, errno.ENOTDIR)
        return dict.fromkeys(names, 0 if gone else exc.strerror or str(exc))
    try:
        return {name: _unlink_file(name, lambda n: os.lstat(n, dir_fd=parent), lambda n: os.unlink(n, dir_fd=parent))
                for name in names}  # fmt: skip
    finally:
        os.close(parent)


def _unlink_file(name: str, lstat: Callable[[str], os.stat_result], unlink: Callable[[str], None]) -> int | str:
    """Unlink one file (not a directory); the bytes freed, or why not."""
    try:
        st = lstat(name)
        if stat.S_ISDIR(st.st_mode):
            return "a directory"
        unlink(name)
    except FileNotFoundError:
        return 0
    except OSError as exc:
        return exc.strerror or str(exc)
    return st.st_size if st.st_nlink <= 1 else 0


def _remove_files_by_path(root: str, parts: list[str], names: list[str]) -> dict[str, int | str]:
    """The Windows branch of ``remove_files_inside``: every directory on the way checked not to be a link."""
    path = root
    try:
        for part in parts:
            path = os.path.join(path, part)
            if _is_link(path):
                return dict.fromkeys(names, Removal.LINKED.value)
    except FileNotFoundError:
        return dict.fromkeys(names, 0)
    except OSError as exc:
        return dict.fromkeys(names, exc.strerror or str(exc))
    return {name: _unlink_file(os.path.join(path, name), os.lstat, os.unlink) for name in names}
