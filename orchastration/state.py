"""Versioned JSON state records, written atomically, with unique sortable timestamps.

This module owns reading and writing every state file: a reader never sees a
half-written file, and a crash never leaves one (temp file, fsync, replace).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from orchastration import __version__
from orchastration.json_text import indented

SCHEMA_VERSION = 1
PRIVATE_DIR = 0o700  # state dirs and files are the user's alone (job output, env hashes: docs/reliability.md)
PRIVATE_FILE = 0o600
KEY_FILE = "env.key"  # in <state>/engine/: the state dir's key for hashing env values

_ts_lock = threading.Lock()
_last_ts: list[datetime] = []


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    """RFC 3339 UTC with microseconds, e.g. ``2026-11-24T10:15:00.123456Z``."""
    d = dt if dt.tzinfo is UTC else dt.astimezone(UTC)
    # % formatting: a quarter of strftime's cost (f-strings: half), a few times a job
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond)  # noqa: UP031


def stamp(dt: datetime) -> str:
    """File-name timestamp, sortable: ``20261124T101500.123456Z``."""
    d = dt if dt.tzinfo is UTC else dt.astimezone(UTC)
    return "%04d%02d%02dT%02d%02d%02d.%06dZ" % (d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond)  # noqa: UP031


_STAMP = re.compile(r"[0-9]{8}T[0-9]{6}\.[0-9]{6}Z")


def is_stamp(text: str) -> bool:
    """Whether ``text`` is a ``stamp()`` (the name of a run's record and log files, before the suffix)."""
    return len(text) == 23 and _STAMP.fullmatch(text) is not None


def unique_now(clock: Callable[[], datetime] = utc_now) -> datetime:
    """A UTC time strictly later than any earlier call in this process."""
    with _ts_lock:
        now = clock()
        if _last_ts and now <= _last_ts[0]:
            now = _last_ts[0] + timedelta(microseconds=1)
        _last_ts[:] = [now]
        return now


def host_info() -> dict[str, str]:
    """The ``os`` and ``binary_version`` fields every record carries."""
    if not _HOST:
        if hasattr(os, "uname"):  # POSIX: what platform.system() and .machine() read, without importing it
            uname = os.uname()
            system, machine = uname.sysname, uname.machine
        else:
            import platform

            system, machine = platform.system(), platform.machine()
        _HOST.append(f"{system.lower()}-{machine.lower()}")
    return {"os": _HOST[0], "binary_version": __version__}


_HOST: list[str] = []
# A temp file as tempfile.mkstemp makes it (0600, not inherited, never through a link), without
# importing tempfile (and random) on every run's path.
_TEMP_FLAGS = (
    os.O_RDWR | os.O_CREAT | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOINHERIT", 0)
)  # fmt: skip


def _mkstemp(directory: Path, prefix: str) -> tuple[int, str]:
    """A new private file ``directory/<prefix><random>.tmp``: (descriptor, path)."""
    while True:
        path = os.path.join(directory, f"{prefix}{os.urandom(6).hex()}.tmp")
        try:
            return os.open(path, _TEMP_FLAGS, PRIVATE_FILE), path
        except FileExistsError:  # 48 random bits taken: try another name
            continue


def atomic_write_bytes(path: Path, data: bytes, mode: int | None = None, sync: bool = True) -> None:
    """Write ``data`` to ``path`` so readers see the old or the new file, never a part.

    ``mode`` (e.g. the old file's permissions) is applied before the swap; without
    it the file keeps the private 0600 of a temp file, right for state, not for docs.
    ``sync=False``: no fsync of the file and its directory; the caller makes it durable in a batch
    (``engine/durable.py``).
    """
    make_private_dir(path.parent)
    fd, tmp = _mkstemp(path.parent, f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(Path(tmp))
        raise
    if sync:
        _fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str, newline: str | None = None, sync: bool = True) -> None:
    """Atomically write text as UTF-8 (``newline`` as for ``open``; None keeps ``\\n``). A non-UTF-8
    file name in it (surrogate-escaped) is written as its bytes: read it back with ``surrogateescape``."""
    if newline:
        text = text.replace("\n", newline)
    atomic_write_bytes(path, text.encode("utf-8", "surrogateescape"), sync=sync)


_SURROGATE = re.compile("[\ud800-\udfff]")


def json_safe(text: str) -> str:
    """JSON text that encodes as UTF-8: a lone surrogate (a byte of a non-UTF-8 file name, as
    ``os.fsdecode`` gives it) becomes its JSON escape ``\\udcXX``, which ``json.loads`` reads back
    to the same string, and ``os.fsencode`` then to the original bytes (docs/jobs.md, "File names")."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text


def dumps(record: Any) -> str:
    """The canonical JSON text of a record (indented, sorted keys, trailing newline); UTF-8 safe."""
    return json_safe(indented(record)) + "\n"


def atomic_write_json(path: Path, record: Any, sync: bool = True) -> None:
    """Atomically write a JSON record."""
    atomic_write_text(path, dumps(record), sync=sync)


def read_json(path: Path) -> Any | None:
    """Read a JSON record; None when absent or unreadable (a torn file cannot exist)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None


def write_new_record(directory: Path, record: dict[str, Any], when: datetime | None = None) -> Path:
    """Write ``record`` as ``<directory>/<timestamp>.json`` under a name no other process holds.

    The name is claimed with a hard link, which fails if it exists, so two
    processes writing in the same microsecond still get two files.
    """
    make_private_dir(directory)
    data = dumps({"schema": SCHEMA_VERSION, **record}).encode("utf-8")
    moment = when or unique_now()
    fd, tmp = _mkstemp(directory, ".record.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        while True:
            target = directory / f"{stamp(moment)}.json"
            try:
                os.link(tmp, target)
                break
            except FileExistsError:
                moment += timedelta(microseconds=1)
            except OSError:  # file system without hard links: check then replace
                if target.exists():
                    moment += timedelta(microseconds=1)
                    continue
                os.replace(tmp, target)
                break
    finally:
        _unlink_quietly(Path(tmp))
    _fsync_dir(directory)
    return target


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable (POSIX); Windows has no directory handles to sync."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def claim_run_slot(directory: Path, when: datetime | None = None, empty: Path | None = None) -> tuple[str, datetime]:
    """Reserve a unique ``<timestamp>`` in ``directory`` by creating its empty ``.stdout.log``
    (``empty``: as a link to that shared empty file, see empty_logs.py; its writer must then use
    ``empty_logs.open_for_write``).

    Returns the timestamp string and time. The run then writes its logs to
    ``<timestamp>.stdout.log`` / ``.stderr.log`` and its record with ``write_record``.
    """
    moment = when or unique_now()
    made = False
    while True:
        name = stamp(moment)
        try:
            if empty is not None:
                from orchastration.empty_logs import link_empty

                link_empty(f"{directory}{os.sep}{name}.stdout.log", empty)  # (a Path join costs ~2 µs)
                return name, moment
            fd = os.open(directory / f"{name}.stdout.log", os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE)
        except FileExistsError:
            moment += timedelta(microseconds=1)
            continue
        except FileNotFoundError:  # the first run of this unit: make its directory (0700), then claim
            if made:
                raise
            try:
                os.mkdir(directory, PRIVATE_DIR)  # one call when only it is missing (a fresh clone's every unit)
            except FileNotFoundError:
                make_private_dir(directory)
            except FileExistsError:
                pass
            made = True
            continue
        os.close(fd)
        return name, moment


def write_record(
    directory: Path, name: str, record: dict[str, Any], update_last: bool = True, sync: bool = True
) -> Path:
    """Atomically write ``<directory>/<name>.json`` and (by default) ``last.json``."""
    full = {"schema": SCHEMA_VERSION, **record}
    path = directory / f"{name}.json"
    atomic_write_json(path, full, sync=sync)
    if update_last:
        atomic_write_json(directory / "last.json", full)
    return path


def make_private_dir(directory: Path) -> None:
    """Create ``directory`` and any missing parents with mode 0700 (existing ones are left as they are).

    ``Path.mkdir(mode=...)`` gives parents the default mode, so each missing level is made here."""
    if directory.is_dir():
        return
    missing: list[Path] = []
    here = directory
    while not here.is_dir():
        missing.append(here)
        if here.parent == here:
            break
        here = here.parent
    for level in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(level, PRIVATE_DIR)


def make_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (a file another program then opens, such
    as doit's sqlite database, keeps that mode). Its directory is made (0700) only when missing: the
    common case costs one system call, not a stat of the directory first."""
    for attempt in (0, 1):
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE))
            return
        except FileExistsError:
            return
        except FileNotFoundError:
            if attempt:
                raise
            make_private_dir(path.parent)


_keys: dict[Path, bytes] = {}
_keys_lock = threading.Lock()


def state_key(engine_dir: Path) -> bytes:
    """The state dir's random 32-byte key for hashing env values (HMAC-SHA256, docs/reliability.md).

    Kept hex-encoded in ``<engine_dir>/env.key`` (0600), made once: written to a private temp file,
    then hard-linked into place, which fails if another process made it first (then its key is read),
    so every process sees one whole key. Read once per process. Deleting it (with the rest of
    ``engine/``) makes every job with env values run once more."""
    from orchastration.errors import InputError

    path = engine_dir / KEY_FILE
    with _keys_lock:
        key = _keys.get(path)
        if key is None:
            try:
                key = _read_key(path) or _create_key(path)
            except OSError as exc:
                raise InputError(f"{path}: cannot read or create the state key: {exc.strerror or exc}") from None
            _keys[path] = key
        return key


def _read_key(path: Path, attempts: int = 50) -> bytes | None:
    """The key in ``path``; None if there is no file. A file still being written (no hard links) is
    waited for briefly."""
    import time

    for _ in range(attempts):
        try:
            text = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        except UnicodeDecodeError:
            text = ""
        if len(text) == 64:
            try:
                return bytes.fromhex(text)
            except ValueError:
                pass
        time.sleep(0.02)
    raise OSError(f"not a key file (delete it to make a new one): {path}")


def _write_synced(fd: int, data: bytes) -> None:
    """Write ``data`` to the open file ``fd`` durably, then close it."""
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _create_key(path: Path) -> bytes:
    import secrets

    make_private_dir(path.parent)
    data = (secrets.token_hex(32) + "\n").encode("ascii")
    fd, tmp = _mkstemp(path.parent, f".{path.name}.")  # 0600
    try:
        _write_synced(fd, data)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        except OSError:  # no hard links here: O_EXCL on the name itself
            try:
                out = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE)
            except FileExistsError:
                pass
            else:
                _write_synced(out, data)
    finally:
        _unlink_quietly(Path(tmp))
    _fsync_dir(path.parent)
    key = _read_key(path)
    if key is None:
        raise OSError(f"key file vanished: {path}")
    return key
