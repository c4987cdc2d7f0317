"""The no-op fast path: a compact stat summary, written after a fully successful run, that lets an
unchanged rerun answer "all up to date" before doit (or even the config model) is imported.

The summary is only a cache of doit's verdict. It is keyed by the config file's bytes and the
requested names; every run that goes through doit deletes all summaries first (under the state
lock) and writes a fresh one only when every unit ended ran or skipped. A summary is trusted only
if every file still has the recorded (mtime_ns, size, inode) — the shortcut doit's own checker
takes — and glob patterns still match the same files. Files modified within ``RACY_SECONDS`` of
writing are not trusted (a same-size edit in the same timestamp tick would be invisible), so no
summary is written then and the next run asks doit again.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from orchastration import __version__

FORMAT = "orchastration-fastpath 1"
RACY_SECONDS = 2.0
_DIR = "fast"


def make_key(config_bytes: bytes, config_path: str, names: Sequence[str], kind: str = "jobs") -> str:
    """The summary key: tool version, config file (path and bytes), what was asked for."""
    h = hashlib.sha256()
    for part in (FORMAT, __version__, kind, config_path, "\0".join(names)):
        h.update(part.encode("utf-8", "surrogateescape") + b"\0")
    h.update(config_bytes)
    return h.hexdigest()[:32]


def summary_path(engine_dir: Path, key: str) -> Path:
    """Where the summary for ``key`` lives."""
    return engine_dir / _DIR / f"{key}.txt"


def invalidate(engine_dir: Path) -> None:
    """Drop every summary (done under the state lock before any run or state change)."""
    directory = engine_dir / _DIR
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        with contextlib.suppress(OSError):
            os.unlink(directory / name)


def _glob_digest(pattern: str) -> str:
    matches = sorted(os.path.normpath(m) for m in glob.iglob(pattern, recursive=True) if os.path.isfile(m))
    return hashlib.sha256("\0".join(matches).encode("utf-8", "surrogateescape")).hexdigest()[:24]


def write(
    engine_dir: Path,
    key: str,
    order: Sequence[str],
    files: Iterable[str],
    globs: Iterable[str],
    anchors: Iterable[str] = (),
) -> bool:
    """Write the summary for a run that ended fully up to date; False when a file is too fresh or gone.

    ``anchors`` (the dependency database) must stay the same file but are exempt from the
    freshness rule: their content is not what the summary vouches for."""
    from orchastration.state import atomic_write_text

    now_ns = time.time_ns()
    racy_from = now_ns - int(RACY_SECONDS * 1e9)
    lines = [FORMAT, key, "\t".join(order)]
    for pattern in sorted(set(globs)):
        lines.append(f"G\t{_glob_digest(pattern)}\t{pattern}")
    anchor_set = set(anchors)
    for path in sorted(set(files) | anchor_set):
        try:
            st = os.stat(path)
        except OSError:
            return False
        if st.st_mtime_ns >= racy_from and path not in anchor_set:
            return False
        lines.append(f"F\t{st.st_mtime_ns}\t{st.st_size}\t{st.st_ino}\t{path}")
    atomic_write_text(summary_path(engine_dir, key), "\n".join(lines) + "\n")
    return True


def check(engine_dir: Path, key: str) -> list[str] | None:
    """The names in run order when the summary for ``key`` still holds, else None."""
    try:
        with open(summary_path(engine_dir, key), encoding="utf-8", errors="surrogateescape") as fh:
            text = fh.read()
    except OSError:
        return None
    lines = text.split("\n")
    if len(lines) < 4 or lines[0] != FORMAT or lines[1] != key or lines[-1] != "":
        return None
    stat = os.stat
    for line in lines[3:-1]:
        if line[0] == "F":
            _, mtime, size, ino, path = line.split("\t", 4)
            try:
                st = stat(path)
            except OSError:
                return None
            if st.st_mtime_ns != int(mtime) or st.st_size != int(size) or st.st_ino != int(ino):
                return None
        elif line[0] == "G":
            _, want, pattern = line.split("\t", 2)
            if _glob_digest(pattern) != want:
                return None
        else:
            return None
    return lines[2].split("\t") if lines[2] else []
