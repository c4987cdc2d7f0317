"""The up-to-date summary: a compact record of the files of every unit doit last judged up to date,
so an unchanged rerun answers before doit (or even the config model) is imported, and a rerun where
little changed hands doit only the units that changed and what depends on them.

The summary is only a cache of doit's verdicts. It is keyed by the config file's bytes and the
requested names, and lists, per unit that ended ``skipped`` in the last run, the (mtime_ns, size,
inode) of each of its inputs and outputs — the shortcut doit's own checker takes — and a digest of
what each of its globs matched. Every run that goes through doit reads it under the state lock,
deletes all summaries, and writes a fresh one after the run. A unit's entry is trusted only if every
one of those is unchanged; a unit that ran, failed or was never seen has no entry, and files
modified within ``RACY_SECONDS`` of writing are not trusted (a same-size edit in the same timestamp
tick would be invisible), so such a unit has no entry either and the next run asks doit again. The
doit database is an anchor: if it changed, nothing in the summary is trusted.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from orchastration import __version__
from orchastration.named_tuple import NamedTuple
from orchastration.paths import home_key

FORMAT = "orchastration-fastpath 2"
RACY_SECONDS = 2.0
_DIR = "fast"

# One unit of the last run as the summary holds it: its ``F``/``G`` lines, verbatim.
Entry = tuple[str, ...]


def make_key(config_bytes: bytes, config_path: str, names: Sequence[str], kind: str = "jobs", home: str = "") -> str:
    """The summary key: tool version, config file (path and bytes), what was asked for, and what ``~``
    means (``home``: a unit's working_dir and patterns may start with it)."""
    h = hashlib.sha256()
    for part in (FORMAT, __version__, kind, config_path, "\0".join(names), home):
        h.update(part.encode("utf-8", "surrogateescape") + b"\0")
    h.update(config_bytes)
    return h.hexdigest()[:32]


def jobs_key(config_path: Path | None, config_bytes: bytes, names: Sequence[str], environ: Mapping[str, str]) -> str:
    """The summary key of a ``run`` of the jobs ``names`` (empty: every job) with this config file, in
    ``environ``: everything the units' meaning depends on (the same as ``jobs.cached_config``'s key)."""
    names = sorted(set(names)) or ["*"]
    return make_key(config_bytes, str(config_path or ""), names, kind="jobs", home=home_key(environ))


def disabled(environ: Mapping[str, str]) -> bool:
    """``ORCHASTRATION_NO_FASTPATH`` set: no summary is read or written, doit decides every job."""
    return bool(environ.get("ORCHASTRATION_NO_FASTPATH"))


def _glob_digest(pattern: str) -> str:
    return _glob_matches(pattern)[0]


def _glob_matches(pattern: str) -> tuple[str, list[str]]:
    """A digest of what a glob matches (as the expansion does, exactly), and the matches."""
    from orchastration.patterns import NotRegularFile, files_matching

    try:
        matches = sorted(files_matching(pattern))
    except NotRegularFile:
        return "special", []  # never a digest: doit decides, and the run reports the file
    return hashlib.sha256("\0".join(matches).encode("utf-8", "surrogateescape")).hexdigest()[:24], matches


def _entry(files: Iterable[str], globs: Iterable[str], racy_from: int) -> Entry | None:
    """A unit's lines: a ``G`` line per glob (input or output) and an ``F`` line per file — its
    inputs and outputs, what its globs match, and, for a directory output, every file under it
    (as ``dir/**/*``)."""
    todo = set(files)
    patterns = set(globs)
    lines = []
    for pattern in sorted(patterns):
        digest, matches = _glob_matches(pattern)
        lines.append(f"G\t{digest}\t{pattern}")
        todo.update(matches)
    for path in sorted(todo):
        try:
            st = os.stat(path)
        except OSError:
            return None
        if stat.S_ISDIR(st.st_mode):
            under = os.path.join(path, "**", "*")
            if under not in patterns:
                patterns.add(under)
                digest, matches = _glob_matches(under)
                lines.append(f"G\t{digest}\t{under}")
                more = _entry(matches, (), racy_from)
                if more is None:
                    return None
                lines.extend(more)
        if st.st_mtime_ns >= racy_from:
            return None
        lines.append(_file_line("F", path, st))
    return tuple(lines)


def _file_line(kind: str, path: str, st: os.stat_result) -> str:
    """A file's line: ``F`` (a unit's input or output) or ``A`` (an anchor), its stat shortcut, the path."""
    return f"{kind}\t{st.st_mtime_ns}\t{st.st_size}\t{st.st_ino}\t{path}"


class _Checker:
    """Checks summary lines against the file system, each file and glob at most once."""

    def __init__(self) -> None:
        self._files: dict[str, bool] = {}
        self._globs: dict[str, str] = {}

    def holds(self, line: str) -> bool:
        kind = line[:1]
        if kind in ("F", "A"):
            known = self._files.get(line)
            if known is None:
                path = line.split("\t", 4)[-1]
                try:
                    known = _file_line(kind, path, os.stat(path)) == line
                except OSError:
                    known = False
                self._files[line] = known
            return known
        if kind == "G":
            _, want, pattern = line.split("\t", 2)
            digest = self._globs.get(pattern)
            if digest is None:
                digest = self._globs[pattern] = _glob_digest(pattern)
            return digest == want
        return False


class Summary(NamedTuple):
    """What a summary still vouches for: the last run's order and the entries of unchanged units."""

    order: list[str]
    entries: dict[str, Entry]


class Summaries:
    """The up-to-date summaries of one state dir, and what this process has already read of them.

    One ``run`` may read its summary twice: the no-op test before the parser (``noop``), then the
    check under the state lock (``trusted``). The files are stat'ed once, a snapshot taken at the
    first read (an edit racing with the start of a run is seen by the next run), and a summary found
    stale is not tested again. The same object serves both reads: the CLI hands it from the one to
    the other (``cli/fast_run.py`` -> ``jobs.run``)."""

    def __init__(self, engine_dir: Path) -> None:
        self.engine_dir = engine_dir
        self._last: tuple[str, str, _Checker] | None = None  # key, text, checker of the last no-op test
        self._missed: set[str] = set()  # keys found stale in this process: only ever makes a check go to doit

    def path(self, key: str) -> Path:
        """Where the summary for ``key`` lives."""
        return self.engine_dir / _DIR / f"{key}.txt"

    def noop(self, config_path: Path | None, names: Sequence[str], environ: Mapping[str, str]) -> list[str] | None:
        """The jobs of a ``run`` of ``names`` (empty: all) known to be a no-op, in the last run's order,
        answered without the config model or doit; None when doit has to decide. The one entry point
        of the no-op answer, before the parser and after it."""
        if config_path is None or disabled(environ):
            return None
        try:
            data = config_path.read_bytes()
        except OSError:
            return None
        key = jobs_key(config_path, data, names, environ)
        if key in self._missed:
            return None
        found = self.check(key)
        if found is None:
            self._missed.add(key)
        return found

    def _read(self, key: str, reuse: bool) -> tuple[list[str], _Checker] | None:
        """The summary's lines and a checker (``reuse``: the one the no-op test left for this summary)."""
        last, self._last = self._last, None
        try:
            with open(self.path(key), encoding="utf-8", errors="surrogateescape") as fh:
                text = fh.read()
        except OSError:
            return None
        lines = text.split("\n")
        if len(lines) < 4 or lines[0] != FORMAT or lines[1] != key or lines[-1] != "":
            return None
        if reuse and last is not None and last[:2] == (key, text):
            return lines, last[2]
        checker = _Checker()
        if not reuse:
            self._last = (key, text, checker)
        return lines, checker

    def check(self, key: str) -> list[str] | None:
        """The names in run order when the summary for ``key`` vouches for every unit, else None
        (stops at the first change: this is the no-op test run before anything else loads)."""
        read = self._read(key, reuse=False)
        if read is None:
            return None
        lines, checker = read
        order = lines[2].split("\t") if lines[2] else []
        seen: set[str] = set()
        for line in lines[3:-1]:
            if line[:2] == "U\t":
                seen.add(line[2:])
            elif not checker.holds(line):
                return None
        return order if seen.issuperset(order) else None

    def trusted(self, key: str) -> Summary | None:
        """The units the summary for ``key`` still vouches for, with their entries (to carry over);
        None without a summary, or when its anchors changed."""
        read = self._read(key, reuse=True)
        if read is None:
            return None
        lines, checker = read
        found: dict[str, Entry] = {}
        name: str | None = None
        entry: list[str] = []
        ok = True
        for line in [*lines[3:-1], "U\t"]:
            if line[:2] == "U\t":
                if name is not None and ok:
                    found[name] = tuple(entry)
                name, entry, ok = line[2:], [], True
            elif name is None:  # an anchor: if it changed, nothing here holds
                if not checker.holds(line):
                    return None
            else:
                entry.append(line)
                ok = ok and checker.holds(line)
        return Summary(lines[2].split("\t") if lines[2] else [], found)

    def invalidate(self) -> None:
        """Drop every summary (done under the state lock before any run or state change)."""
        self._last = None
        directory = self.engine_dir / _DIR
        try:
            names = os.listdir(directory)
        except OSError:
            return
        for name in names:
            with contextlib.suppress(OSError):
                os.unlink(directory / name)

    def write(
        self,
        key: str,
        order: Sequence[str],
        units: Iterable[tuple[str, Iterable[str], Iterable[str]]],
        anchors: Iterable[str] = (),
        carried: Mapping[str, Entry] | None = None,
    ) -> int:
        """Write the summary of a run; returns how many units it vouches for (0: no summary written).

        ``units``: (name, files, glob patterns) of units doit just judged up to date; a unit with a file
        missing or modified within ``RACY_SECONDS`` is left out. ``carried``: entries of units this run
        trusted from the previous summary (checked at its start), kept as they were. ``anchors`` (the
        dependency database) must stay the same file but are exempt from the freshness rule: their
        content is not what the summary vouches for."""
        from orchastration.state import atomic_write_text

        self._last = None
        racy_from = time.time_ns() - int(RACY_SECONDS * 1e9)
        lines = [FORMAT, key, "\t".join(order)]
        for path in sorted(set(anchors)):
            try:
                st = os.stat(path)
            except OSError:
                return 0
            lines.append(_file_line("A", path, st))
        count = 0
        for name, entry in (carried or {}).items():
            lines.append(f"U\t{name}")
            lines.extend(entry)
            count += 1
        for name, files, globs in units:
            fresh = _entry(files, globs, racy_from)
            if fresh is not None:
                lines.append(f"U\t{name}")
                lines.extend(fresh)
                count += 1
        if count:  # atomic, not synced: lost to a power cut, the next run asks doit
            atomic_write_text(self.path(key), "\n".join(lines) + "\n", sync=False)
        return count


def entry_files(entry: Entry) -> list[str]:
    """The files (inputs and outputs) of a unit's entry."""
    return [line.split("\t", 4)[4] for line in entry if line[:1] == "F"]
