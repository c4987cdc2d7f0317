"""Restored outputs written ahead of their restore (docs/cache.md, "Restoring"): the first pass's
look-ahead process (``engine/lookahead.py``), on another core, writes each output of a unit it found in
the local cache into a staging directory of the state dir, and the pass renames the file into place
instead of writing it (a file made and written a restored output less on the pass's path).

A staged file is written whole and checked against its hash before the look-ahead names it to the
pass; the pass takes it only for the entry it restores (the same blob), and writes the output itself
where a rename cannot take it (another file system, a directory made since). Only the outputs of up to
``STAGE_MAX`` bytes are staged, and only where their directory is on the staging directory's file
system. The staging directory is the look-ahead's (``lookahead.STAGING``): the run's alone (the state
lock), emptied before the look-ahead starts (what a killed run left) and removed, with whatever the pass
did not take, once it has ended.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from orchastration.cache.local import BlobMismatch, copy_hashing
from orchastration.fdio import write_all

if TYPE_CHECKING:
    from orchastration.cache.entry import Blob, Manifest
    from orchastration.cache.local import LocalCache
    from orchastration.engine.units import Unit

STAGE_MAX = 1 << 20  # bigger outputs are written by the pass (the look-ahead stays ahead of it)
Staged = dict[str, tuple[str, str]]  # an output (as the entry names it) -> (staged file, blob sha256)
_WRITE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


def output_path(unit: Unit, rel: str) -> str:
    """Where an entry's output ``rel`` (``/``-separated, relative to the working dir) is restored."""
    return os.path.join(unit.working_dir, *rel.split("/"))


def write_blob(path: str, blob: Blob, local: LocalCache) -> None:
    """A new file ``path`` (which must not exist) holding ``blob``, with its mode: checked against its
    hash while written (``BlobMismatch``), removed again if anything fails."""
    fd = os.open(path, _WRITE, 0o600)
    try:
        if blob.data is not None:  # checked against its hash when the manifest was read
            write_all(fd, blob.data)
            sha = blob.sha256
        else:
            with os.fdopen(os.dup(fd), "wb") as dst, local.open_blob(blob.sha256) as src:
                sha, _ = copy_hashing(src, dst)
        if sha != blob.sha256:
            raise BlobMismatch(f"blob {blob.sha256[:12]} is corrupt")
        if hasattr(os, "fchmod"):
            os.fchmod(fd, blob.mode)
        else:  # Windows: no fchmod (only the read-only bit means anything there)
            os.chmod(path, blob.mode)
        os.close(fd)
        fd = -1
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise


def write_beside(target: str, blob: Blob, local: LocalCache) -> str:
    """``blob`` written next to ``target`` (its directory made if missing), under a name of this
    process and thread: the temporary file a restore renames into place."""
    tmp = f"{target}.{os.getpid()}-{threading.get_ident()}.restore"
    try:
        write_blob(tmp, blob, local)
    except FileNotFoundError:  # its directory is not there (yet)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        write_blob(tmp, blob, local)
    except FileExistsError:  # left by a killed run of this process id: never written through
        os.unlink(tmp)
        write_blob(tmp, blob, local)
    return tmp


class Stager:
    """The look-ahead's end: writes a found unit's outputs into the staging directory."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._device = os.stat(directory).st_dev
        self._same: dict[str, bool] = {}  # an output's directory: on the staging directory's file system
        self._names = itertools.count()

    def stage(self, unit: Unit, manifest: Manifest, local: LocalCache, own: Callable[[str], bool]) -> Staged:
        """The unit's outputs written ahead (those it can: the rest the pass writes itself)."""
        staged: Staged = {}
        for rel, blob in manifest.outputs.items():
            target = output_path(unit, rel)
            if blob.size > STAGE_MAX or not own(target) or not self._same_device(os.path.dirname(target)):
                continue
            path = f"{self.directory}{os.sep}.{next(self._names)}"
            try:
                write_blob(path, blob, local)
            except (OSError, BlobMismatch):
                continue  # the pass writes it, and says what is wrong with the entry
            staged[rel] = (path, blob.sha256)
        return staged

    def _same_device(self, parent: str) -> bool:
        same = self._same.get(parent)
        if same is None:
            try:
                same = os.stat(parent).st_dev == self._device
            except OSError:  # not there yet: the pass makes it, and writes the output
                same = False
            self._same[parent] = same
        return same
