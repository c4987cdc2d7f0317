"""The local cache directory: blobs stored once by sha256, one small manifest per key, written to a
temp file and renamed into place (two runs storing one key leave one good entry), LRU eviction by the
manifests' mtime (touched on a hit, unless already touched within ``TOUCH_AFTER_SECONDS``), and the
hit/miss figures of the last run."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from orchastration.dataclass_code import dataclass
from orchastration.fdio import write_all

_CHUNK = 1 << 20
LAYOUT = "v1"  # the directory under ``dir`` this format writes (an older layout is never read)
STATS = "stats.json"
_STALE_TEMP_SECONDS = 3600.0
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_SMALL = 1 << 20  # a log up to this size is hashed in memory: an existing blob is then never written
_counter = itertools.count()
# A hit touches its manifest (the LRU order) only when it was last touched longer ago than this: the
# order of entries used within the same hour does not matter to eviction (as ``relatime`` for atime),
# and a fresh clone restoring from entries made or used just before saves a system call a job.
TOUCH_AFTER_SECONDS = 3600.0
_READ = os.O_RDONLY | getattr(os, "O_BINARY", 0)


class BlobMismatch(Exception):
    """A blob's content is not what its name says (a torn write, a changed file, tampering)."""


def copy_hashing(src: IO[bytes], dst: IO[bytes]) -> tuple[str, int]:
    """Copy a stream, returning the sha256 and size of what was copied."""
    h, size = hashlib.sha256(), 0
    while chunk := src.read(_CHUNK):
        h.update(chunk)
        dst.write(chunk)
        size += len(chunk)
    return h.hexdigest(), size


@dataclass(frozen=True)
class Usage:
    """What the cache directory holds."""

    entries: int
    size: int  # bytes: blobs and manifests


class LocalCache:
    """A cache directory (``[cache] dir``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.base = root / LAYOUT
        self.written = 0  # bytes of new blobs and manifests this process wrote (the size estimate)
        self._dirs: set[Path] = set()  # directories known to exist (a mkdir per file costs a syscall)
        self._recent: set[str] = set()  # keys whose manifest read showed a touch within TOUCH_AFTER_SECONDS
        self._lock = threading.Lock()

    def manifest_path(self, key: str) -> Path:
        return self.base / "entries" / key[:2] / f"{key}.json"

    def blob_path(self, sha256: str) -> Path:
        return self.base / "blobs" / sha256[:2] / sha256

    def _mkdir(self, directory: Path) -> None:
        if directory not in self._dirs:
            directory.mkdir(parents=True, exist_ok=True)
            with self._lock:
                self._dirs.add(directory)

    def _temp(self, directory: Path) -> tuple[int, str]:
        """A new temp file (one ``open``: unique by pid, thread and a counter)."""
        self._mkdir(directory)
        name = str(directory / f".tmp-{os.getpid()}-{threading.get_ident()}-{next(_counter)}")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        return os.open(name, flags, 0o600), name

    def read_manifest(self, key: str) -> bytes | None:
        """The manifest's bytes, or None when there is no entry (its mtime noted for ``touch``)."""
        try:
            fd = os.open(self.manifest_path(key), _READ)  # no file object: one open, fstat, read, close
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            data = os.read(fd, st.st_size + 1)  # one byte more: the end seen in this one read (as hash_file)
            if len(data) > st.st_size:  # it grew since the fstat: read on to its end
                while chunk := os.read(fd, _CHUNK):
                    data += chunk
        except OSError:
            return None
        finally:
            os.close(fd)
        if time.time() - st.st_mtime < TOUCH_AFTER_SECONDS:
            with self._lock:
                self._recent.add(key)
        return data

    def write_manifest(self, key: str, data: bytes) -> None:
        """Write (or replace) the manifest atomically. The blobs go in first, so a reader that finds a
        manifest finds its blobs (unless evicted meanwhile: then it is a miss). Through the file
        descriptor alone: a file object would cost an fstat, an ioctl and a seek (a cold build stores
        an entry per job)."""
        target = self.manifest_path(key)
        fd, tmp = self._temp(target.parent)
        try:
            try:
                write_all(fd, data)
            finally:
                os.close(fd)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self.written += len(data)

    def recent(self, key: str) -> bool:
        """Whether ``key``'s manifest, as read here, was touched within ``TOUCH_AFTER_SECONDS``."""
        with self._lock:
            return key in self._recent

    def used_recently(self, key: str) -> None:
        """``key``'s manifest was read recently touched (by another process, the look-ahead)."""
        with self._lock:
            self._recent.add(key)

    def touch(self, key: str) -> None:
        """Mark an entry used now (LRU), unless its manifest, as read, was touched within ``TOUCH_AFTER_SECONDS``."""
        with self._lock:
            if key in self._recent:
                return
        with contextlib.suppress(OSError):
            os.utime(self.manifest_path(key))

    def has_blob(self, sha256: str) -> bool:
        return self.blob_path(sha256).is_file()

    def put_file(self, path: Path | str, expected: str | None = None) -> tuple[str, int]:
        """Store a file's content once; returns its sha256 and size. With ``expected`` (the hash the
        run already computed) an existing blob is not read again; a file changed since is refused."""
        if expected is not None and self.has_blob(expected):
            return expected, os.stat(path).st_size
        with open(path, "rb") as src:
            return self.put_stream(src, expected)

    def put_log(self, path: Path | str) -> tuple[str, int]:
        """Store a run's log: an empty or small one hashed in memory first (most are empty or repeat)."""
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            size = 0
        if size == 0 or size > _SMALL:
            if size == 0 and self.has_blob(EMPTY_SHA256):
                return EMPTY_SHA256, 0
            return self.put_file(path) if size else self.put_bytes(b"")
        with open(path, "rb") as fh:
            return self.put_bytes(fh.read())

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Store bytes once."""
        sha = hashlib.sha256(data).hexdigest()
        if not self.has_blob(sha):
            import io

            self.put_stream(io.BytesIO(data), sha)
        return sha, len(data)

    def put_stream(self, src: IO[bytes], expected: str | None = None) -> tuple[str, int]:
        """Store a stream's content once (see ``put_file``)."""
        tmp_dir = self.base / "tmp"
        fd, tmp = self._temp(tmp_dir)
        try:
            with os.fdopen(fd, "wb") as dst:
                sha, size = copy_hashing(src, dst)
            if expected is not None and sha != expected:
                raise BlobMismatch(f"changed while being stored (expected {expected[:12]}, got {sha[:12]})")
            target = self.blob_path(sha)
            if not target.exists():
                self._mkdir(target.parent)
                os.replace(tmp, target)
                self.written += size
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return sha, size

    def open_blob(self, sha256: str) -> IO[bytes]:
        return open(self.blob_path(sha256), "rb")

    # -- housekeeping ---------------------------------------------------------------------------
    def _files(self, sub: str) -> Iterator[os.DirEntry[str]]:
        top = self.base / sub
        try:
            shards = list(os.scandir(top))
        except OSError:
            return
        for shard in shards:
            if shard.is_dir(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    yield from (e for e in os.scandir(shard.path) if not e.name.startswith(".tmp-"))

    def usage(self) -> Usage:
        """Entries and bytes held."""
        entries = list(self._files("entries"))
        size = sum(_size(e) for e in entries) + sum(_size(e) for e in self._files("blobs"))
        return Usage(len(entries), size)

    def prune(self, max_size: int) -> Usage:
        """Evict the least recently used entries until the cache holds at most ``max_size`` bytes, then
        drop blobs no entry names and stale temp files; returns what is left."""
        from orchastration.cache.entry import BadEntry, load_unchecked

        entries = sorted(self._files("entries"), key=_mtime, reverse=True)  # newest first
        blobs = {e.name: _size(e) for e in self._files("blobs")}
        kept: set[str] = set()
        total, count = 0, 0
        for entry in entries:
            try:
                names = load_unchecked(Path(entry.path).read_bytes())
            except (OSError, BadEntry):
                names = None
            cost = _size(entry) + sum(blobs.get(n, 0) for n in names or () if n not in kept)
            if names is None or total + cost > max_size:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                continue
            kept.update(names)
            total, count = total + cost, count + 1
        for name in blobs.keys() - kept:
            with contextlib.suppress(OSError):
                os.unlink(self.blob_path(name))
        self._drop_stale_temps()
        return Usage(count, total)

    def _drop_stale_temps(self) -> None:
        limit = time.time() - _STALE_TEMP_SECONDS
        for sub in ("tmp",):
            with contextlib.suppress(OSError):
                for entry in os.scandir(self.base / sub):
                    if _mtime(entry) < limit:
                        with contextlib.suppress(OSError):
                            os.unlink(entry.path)

    def clear(self) -> None:
        """Remove every entry and blob (only what this cache wrote: its layout dir and stats file)."""
        import shutil

        shutil.rmtree(self.base, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.unlink(self.root / STATS)


def _size(entry: os.DirEntry[str]) -> int:
    try:
        return entry.stat(follow_symlinks=False).st_size
    except OSError:
        return 0


def _mtime(entry: os.DirEntry[str]) -> float:
    try:
        return entry.stat(follow_symlinks=False).st_mtime
    except OSError:
        return 0.0
