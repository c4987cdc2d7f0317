"""What an ``inputs``/``outputs`` pattern names: the one vocabulary of jobs, task builds and agents.

As docs/jobs.md says: patterns are relative to a working dir (``~`` expands), globs expand to the
files they match (``**`` recurses, ``*`` skips hidden names, as ``glob`` does), a literal directory
means every file under it, and any other literal path is kept even when missing.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import stat
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from pathlib import Path

from orchastration.errors import InputError

GLOB_CHARS = frozenset("*?[")
# A relative POSIX path with no empty, "." or ".." segment and no trailing slash.
_SIMPLE = re.compile(r"^(?!\.{1,2}(?:/|$))(?:[^/]+/(?!\.{1,2}(?:/|$)))*[^/]+$")


def is_glob(pattern: str) -> bool:
    """True when ``pattern`` has glob magic (``*``, ``?``, ``[``)."""
    return not GLOB_CHARS.isdisjoint(pattern)


def abs_path(working_dir: Path | str, relative: str) -> str:
    """``relative`` resolved against ``working_dir``, normalised (no symlink resolution)."""
    if relative.startswith("~"):
        relative = os.path.expanduser(relative)
    if os.sep == "/" and _SIMPLE.match(relative):
        return f"{working_dir}/{relative}"  # already normal: skip normpath (hot for many inputs)
    return os.path.normpath(os.path.join(working_dir, relative))


def split_patterns(working_dir: Path | str, patterns: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The patterns, absolute: (literal paths, glob patterns), each in the given order."""
    wd = os.path.normpath(working_dir)
    literals: list[str] = []
    globs: list[str] = []
    for pattern in patterns:
        (globs if is_glob(pattern) else literals).append(abs_path(wd, pattern))
    return tuple(literals), tuple(globs)


def output_paths(working_dir: Path | str, outputs: Iterable[str]) -> tuple[str, ...]:
    """Declared outputs, absolute."""
    wd = os.path.normpath(working_dir)
    return tuple(abs_path(wd, out) for out in outputs)


def output_files(literals: Sequence[str], globs: Sequence[str]) -> tuple[list[str], list[str]]:
    """What absolute outputs name now (docs/jobs.md): each literal file, every file under a literal
    directory, the files each glob matches; and the declared outputs that name nothing (a missing
    literal, a glob matching nothing)."""
    files: list[str] = []
    missing: list[str] = []
    for path in literals:
        try:
            mode = os.stat(path).st_mode
        except (OSError, ValueError):
            missing.append(path)
            continue
        if stat.S_ISDIR(mode):
            files.extend(_matching_quietly(os.path.join(path, "**", "*")))
        else:
            files.append(path)
    for pattern in globs:
        found = _matching_quietly(pattern)
        files.extend(found)
        if not found:
            missing.append(pattern)
    return sorted(set(files)), missing


def _matching_quietly(pattern: str) -> list[str]:
    """``files_matching``, with a FIFO or device among the matches leaving the rest out (an output is
    never read as an input is)."""
    try:
        return list(files_matching(pattern))
    except NotRegularFile:
        return []


def own_outputs(literals: Sequence[str], globs: Sequence[str]) -> Callable[[str], bool]:
    """Whether a file is one of these outputs: a literal one, under a literal one (a directory), or
    matched by a glob — decided on the path alone, no file system access."""
    exact = set(literals)
    under = tuple(path + os.sep for path in literals)
    matchers = [_glob_matcher(pattern) for pattern in globs]
    if not matchers:
        return lambda path: path in exact or path.startswith(under)
    return lambda path: path in exact or path.startswith(under) or any(m(path) for m in matchers)


def _glob_matcher(pattern: str) -> Callable[[str], bool]:
    """Whether a normalised absolute path is one ``files_matching(pattern)`` would find."""
    parts = pattern.split(os.sep)
    first = next((i for i, part in enumerate(parts) if is_glob(part)), len(parts))
    base = os.sep.join(parts[:first]) or os.sep
    prefix = base if base.endswith(os.sep) else base + os.sep
    segments = [_Segment(part) for part in parts[first:] if part]

    def matches(path: str) -> bool:
        return path.startswith(prefix) and _matches(segments, path[len(prefix) :].split(os.sep))

    return matches


def display_path(working_dir: Path | str, path: str) -> str:
    """A path as the user wrote it: relative to ``working_dir`` when inside it (``/``), else as it is."""
    return displayer(working_dir)(path)


def displayer(working_dir: Path | str) -> Callable[[str], str]:
    """``display_path`` for one working dir, checked once: a normal path under it is cut at the prefix
    (``relpath`` without its ~5 µs); normal, unasked, when no empty or ``.``-led segment, no end ``/``."""
    base = str(working_dir)
    if not os.path.isabs(base) or os.path.normpath(base) != base:
        return lambda path: _relative_or_as_is(working_dir, path)
    sep, prefix, alt = os.sep, base.rstrip(os.sep) + os.sep, os.altsep or os.sep  # (the root: one separator)
    cut, dot, double = len(prefix), sep + ".", sep + sep

    def shown(path: str) -> str:
        tail = path[cut - 1 :] if path.startswith(prefix) and len(path) > cut else ""  # from the separator on
        if tail and (
            (dot not in tail and double not in tail and (alt == sep or alt not in tail) and tail[-1] != sep)
            or os.path.normpath(path) == path
        ):
            return path[cut:].replace(sep, "/")
        return _relative_or_as_is(working_dir, path)

    return shown


def _relative_or_as_is(working_dir: Path | str, path: str) -> str:
    try:
        rel = os.path.relpath(path, working_dir)
    except ValueError:  # another drive on Windows
        rel = os.pardir
    return path if rel == os.pardir or rel.startswith(os.pardir + os.sep) else rel.replace(os.sep, "/")


# What a path is, as input expansion needs to know it: a file (or missing: kept as a plain path), a
# directory (every file under it), or anything else (a FIFO, socket or device: never an input).
FILE, DIR, OTHER = 0, 1, 2


class NotRegularFile(InputError):
    """A FIFO, socket or device matched by an input: reading it could block or never end."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path} is {file_kind(path)}: inputs must be regular files or directories")
        self.path = path


def file_kind(path: str) -> str:
    """``a FIFO``, ``a socket``, ``a character device``, ... (for messages)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return "not a regular file"
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):  # fmt: skip
        if test(mode):
            return name
    return "not a regular file"


def _kind_of_entry(entry: os.DirEntry[str]) -> int:
    """FILE, DIR or OTHER for a ``scandir`` entry (no system call for plain files and directories)."""
    try:
        if entry.is_file():  # the common case first: one check per file
            return FILE
        if entry.is_dir():
            return DIR
        entry.stat()  # a broken symlink raises: a missing path, kept as a plain one
    except OSError:
        return FILE
    return OTHER


def _kind_of_path(path: str) -> int:
    """FILE, DIR or OTHER for a path (one ``stat``; missing or unreadable: FILE)."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return FILE
    return DIR if stat.S_ISDIR(mode) else FILE if stat.S_ISREG(mode) else OTHER


def _special(path: str) -> bool:
    """A glob match that is neither a file nor a directory, nor a broken link."""
    return _kind_of_path(path) == OTHER


class DirListing:
    """Which names exist in a directory (and what each is), one ``scandir`` per directory: far
    cheaper than a ``stat`` per input when many inputs share a directory."""

    def __init__(self) -> None:
        self._dirs: dict[str, dict[str, int]] = {}

    def entries(self, parent: str) -> dict[str, int]:
        """The names in directory ``parent`` (empty when unreadable), each with its kind (FILE, DIR, OTHER).

        ``parent`` is what ``rpartition(os.sep)`` leaves of an absolute path: ``""`` is the root
        directory, ``"C:"`` the root of that drive."""
        entries = self._dirs.get(parent)
        if entries is None:
            entries = {}
            where = parent if parent and not parent.endswith(":") else parent + os.sep
            try:
                with os.scandir(where) as it:
                    for entry in it:
                        entries[entry.name] = _kind_of_entry(entry)
            except OSError:
                pass
            self._dirs[parent] = entries
        return entries


def input_patterns(
    literals: Sequence[str], globs: Sequence[str], listing: DirListing | None = None
) -> tuple[list[str], list[str]]:
    """Absolute inputs (as ``split_patterns`` gives them) split into what is expanded — the globs,
    and each literal directory as ``dir/**/*`` — and the other literal paths (files, or missing).
    A literal FIFO, socket or device raises ``NotRegularFile``."""
    patterns = list(globs)
    plain: list[str] = []
    if listing is None:
        # Without a shared listing, one stat: a DirListing made for one unit would scan a whole
        # directory per unit (1,000 units with inputs in one 10,000-file directory: seconds).
        kinds = [_kind_of_path(path) for path in literals]
    else:
        sep, entries = os.sep, listing.entries
        # hot: 1,000 units x 10 inputs; a path is normalised: no trailing separator
        kinds = [entries(parent).get(name, FILE) for parent, _, name in (p.rpartition(sep) for p in literals)]
    for path, kind in zip(literals, kinds, strict=True):
        if kind == DIR:
            patterns.append(os.path.join(path, "**", "*"))
        elif kind == OTHER:
            raise NotRegularFile(path)
        else:
            plain.append(path)
    return patterns, plain


def expand(literals: Sequence[str], globs: Sequence[str], listing: DirListing | None = None) -> list[str]:
    """Absolute inputs expanded to files, absolute and sorted. Globs (and directories, as ``dir/**``)
    expand to the files they match; a literal path is kept even when missing, so doit orders the
    unit that produces it first, or reports ``input missing``. A FIFO, socket or device among them
    raises ``NotRegularFile`` (docs/jobs.md: inputs must be regular files)."""
    patterns, plain = input_patterns(literals, globs, listing)
    found = set(plain)
    for pattern in patterns:
        if not _scan_one_level(pattern, found):
            found.update(files_matching(pattern))
    return sorted(found)


def files_matching(pattern: str) -> Iterator[str]:
    """The files an absolute glob ``pattern`` matches, normalised, as ``glob.iglob(recursive=True)``
    finds them, except that ``**`` never descends into a symlinked directory: a link loop such as
    ``/proc/self/root`` would never end (Python 3.13's pathlib does not follow them either).
    A match that is a FIFO, socket or device raises ``NotRegularFile``."""
    if "**" not in pattern:
        for match in glob.iglob(pattern):
            if os.path.isfile(match):
                yield os.path.normpath(match)
            elif _special(match):
                raise NotRegularFile(os.path.normpath(match))
        return
    if pattern.endswith(os.sep):
        return  # names only directories
    parts = pattern.split(os.sep)
    first = next(i for i, part in enumerate(parts) if is_glob(part))
    base = os.sep.join(parts[:first]) or os.sep
    if is_glob(base) or not os.path.isdir(base):
        return
    segments = [_Segment(part) for part in parts[first:] if part]
    hidden_ok = any(seg.text.startswith(".") for seg in segments)
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        if not hidden_ok:
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        rel = os.path.relpath(dirpath, base)
        comps = [] if rel == os.curdir else rel.split(os.sep)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if _matches(segments, [*comps, name]):
                if os.path.isfile(path):  # not a broken link
                    yield os.path.normpath(path)
                elif _special(path):
                    raise NotRegularFile(os.path.normpath(path))


class _Segment:
    """One part of a pattern: ``**`` (any number of non-hidden directories) or a name pattern
    (``*`` and ``?`` never match a leading '.' unless the part starts with one, as in ``glob``)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.deep = text == "**"
        flat = os.path.normcase(text) if os.name == "nt" else text
        self.match = re.compile(fnmatch.translate(flat)).match

    def accepts(self, name: str) -> bool:
        if name.startswith(".") and not self.text.startswith("."):
            return False
        return bool(self.match(os.path.normcase(name) if os.name == "nt" else name))


def _matches(segments: Sequence[_Segment], comps: Sequence[str]) -> bool:
    """Whether a file's path components ``comps`` match the pattern's ``segments``: ``**`` takes zero
    or more directories (or, last, anything below); the file name itself must be taken by the last
    segment (every other segment matches a directory, as in ``glob``)."""
    last = len(segments) - 1
    states = _closure(segments, {0})
    for depth, comp in enumerate(comps):
        final = depth == len(comps) - 1
        nxt: set[int] = set()
        for i in states:
            if i > last:
                continue
            seg = segments[i]
            if seg.deep:
                if comp.startswith("."):
                    continue
                if not final:
                    nxt.add(i)  # ** takes this directory and may take more
                elif i == last:
                    return True  # a trailing ** takes the file
            elif seg.accepts(comp):
                if final and i == last:
                    return True
                if not final:
                    nxt.add(i + 1)
        states = _closure(segments, nxt)
        if not states:
            return False
    return False


def _closure(segments: Sequence[_Segment], states: set[int]) -> set[int]:
    """``states`` plus every state reached by letting a ``**`` match nothing."""
    out = set(states)
    stack = list(states)
    while stack:
        i = stack.pop()
        if i < len(segments) and segments[i].deep and i + 1 not in out:
            out.add(i + 1)
            stack.append(i + 1)
    return out


def expand_inputs(
    working_dir: Path | str,
    inputs: Iterable[str],
    exclude: Collection[str] = (),
    listing: DirListing | None = None,
) -> list[str]:
    """The files ``inputs`` (relative to ``working_dir``) name, absolute and sorted, without the
    absolute paths in ``exclude`` (a unit's own outputs are never its inputs)."""
    files = expand(*split_patterns(working_dir, inputs), listing=listing)
    return [p for p in files if p not in exclude] if exclude else files


def _scan_one_level(path: str, found: set[str]) -> bool:
    """Expand ``dir/*.txt`` (magic only in the last part, no ``**``) with one ``scandir``: its
    entries know whether they are files, where ``glob`` + ``isfile`` costs a stat per match.
    Same matches as ``glob.iglob`` (hidden names only for a pattern starting with '.').
    Returns False when the pattern has another shape."""
    parent, sep, name = path.rpartition(os.sep)
    if not sep or is_glob(parent) or "**" in name or (os.altsep and os.altsep in name):
        return False
    hidden_ok = name.startswith(".")
    # One compiled matcher for the directory (fnmatch.fnmatch re-normalises and looks it up per name).
    match = re.compile(fnmatch.translate(os.path.normcase(name))).match
    normcase = os.path.normcase if os.name == "nt" else None
    try:
        with os.scandir(parent or os.sep) as entries:
            for entry in entries:
                entry_name = entry.name
                if not hidden_ok and entry_name.startswith("."):
                    continue
                if match(normcase(entry_name) if normcase else entry_name):
                    try:
                        is_file = entry.is_file()
                    except OSError:
                        continue
                    if is_file:
                        found.add(f"{parent}{os.sep}{entry_name}")
                    elif _kind_of_entry(entry) == OTHER:
                        raise NotRegularFile(f"{parent}{os.sep}{entry_name}")
    except OSError:
        pass  # a missing directory matches nothing, as with glob
    return True
