"""The generic unit of work (one doit task) that jobs and task builds compile into, and its helpers."""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchastration.config import JobConfig, TaskConfig

GLOB_CHARS = frozenset("*?[")
# A relative POSIX path with no empty, "." or ".." segment and no trailing slash.
_SIMPLE = re.compile(r"^(?!\.{1,2}(?:/|$))(?:[^/]+/(?!\.{1,2}(?:/|$)))*[^/]+$")
INCOMPLETE = ".incomplete"  # marker in a record_dir while a run has not finished well

# UnitResult statuses; "not_run" = never started (a dependency failed, or the run stopped early).
RAN, SKIPPED, FAILED, TIMEOUT, INTERRUPTED, NOT_RUN = "ran", "skipped", "failed", "timeout", "interrupted", "not_run"
# A unit's status from how its process ended (orchastration.process.ProcessResult.status).
STATUS_OF_PROCESS = {"ok": RAN, "failed": FAILED, "not_found": FAILED, "timeout": TIMEOUT, "interrupted": INTERRUPTED}


@dataclass(frozen=True)
class Unit:
    """One doit task: a command with its inputs, outputs and dependencies."""

    name: str  # unique; the doit task name
    command: tuple[str, ...] | str
    shell: bool
    working_dir: Path
    env: Mapping[str, str]
    timeout_seconds: float
    inputs: tuple[str, ...]  # globs relative to working_dir
    outputs: tuple[str, ...]  # paths relative to working_dir
    depends_on: tuple[str, ...]  # names of other units
    always_run: bool
    record_dir: Path  # state/runs/<name>/: <timestamp>.json, .stdout.log, .stderr.log, last.json
    extra_record: Mapping[str, Any] = field(default_factory=dict)  # merged into each run record

    # Derived once per unit (a run of 1,000 units asks for each several times). cached_property
    # writes the instance dict directly, so it works on a frozen dataclass.
    @cached_property
    def abs_outputs(self) -> tuple[str, ...]:
        """The declared outputs, absolute."""
        wd = os.path.normpath(self.working_dir)
        return tuple(abs_path(wd, out) for out in self.outputs)

    @cached_property
    def abs_inputs(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The declared inputs, absolute: (literal paths, glob patterns), each in config order."""
        wd = os.path.normpath(self.working_dir)
        literals: list[str] = []
        globs: list[str] = []
        for pattern in self.inputs:
            (globs if is_glob(pattern) else literals).append(abs_path(wd, pattern))
        return tuple(literals), tuple(globs)

    @cached_property
    def signature(self) -> dict[str, str]:
        """See ``signature()``."""
        command = self.command if isinstance(self.command, str) else tuple(self.command)
        return {
            "command": _quick_digest((command, self.shell)),
            "env": _quick_digest(tuple(sorted(self.env.items()))),
            "working_dir": str(self.working_dir),
        }


def command_unit(
    cfg: JobConfig | TaskConfig,
    *,
    depends_on: tuple[str, ...],
    always_run: bool,
    record_dir: Path,
    extra_record: Mapping[str, Any],
) -> Unit:
    """A configured command (a job, a task's build) as a unit: what both configs share, plus the rest."""
    return Unit(
        name=cfg.name,
        command=cfg.command,
        shell=cfg.shell,
        working_dir=cfg.working_dir,
        env=dict(cfg.env),
        timeout_seconds=cfg.timeout_seconds,
        inputs=cfg.inputs,
        outputs=cfg.outputs,
        depends_on=depends_on,
        always_run=always_run,
        record_dir=record_dir,
        extra_record=extra_record,
    )


@dataclass(frozen=True)
class UnitResult:
    """The outcome of one unit in a run."""

    name: str
    status: str  # ran | skipped | failed | timeout | interrupted | not_run
    exit_code: int | None
    duration_ms: int
    record_path: Path | None
    reasons: tuple[str, ...]
    message: str


@dataclass(frozen=True)
class PlanItem:
    """A unit in run order with why it would run (empty: up to date)."""

    name: str
    reasons: tuple[str, ...]

    @property
    def would_run(self) -> bool:
        return bool(self.reasons)


def digest(value: Any) -> str:
    """A stable sha256 of a JSON-able value (command, env, ...)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _quick_digest(value: tuple[Any, ...]) -> str:
    """sha256 of the ``repr`` of a tuple of strings/bools: stable, and ~5x cheaper than JSON
    (computed for every unit on every run that reaches doit)."""
    return hashlib.sha256(repr(value).encode("utf-8", "surrogatepass")).hexdigest()


def signature(unit: Unit) -> dict[str, str]:
    """What besides files decides up-to-date: command, env (hashed: values may be secrets), working_dir."""
    return dict(unit.signature)


def env_summary(env: Mapping[str, str]) -> dict[str, Any]:
    """Env for records and logs: the names and one hash of the values, never the values."""
    return {"env_names": sorted(env), "env_hash": digest(sorted(env.items()))}


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


class DirListing:
    """Which names exist in a directory (and which are directories), one ``scandir`` per directory:
    far cheaper than a ``stat`` per input when many inputs share a directory."""

    def __init__(self) -> None:
        self._dirs: dict[str, dict[str, bool]] = {}

    def entries(self, parent: str) -> dict[str, bool]:
        """The names in directory ``parent`` (empty when unreadable), each with whether it is a directory.

        ``parent`` is what ``rpartition(os.sep)`` leaves of an absolute path: ``""`` is the root
        directory, ``"C:"`` the root of that drive."""
        entries = self._dirs.get(parent)
        if entries is None:
            entries = {}
            where = parent if parent and not parent.endswith(":") else parent + os.sep
            try:
                with os.scandir(where) as it:
                    for entry in it:
                        try:
                            entries[entry.name] = entry.is_dir()
                        except OSError:
                            entries[entry.name] = False
            except OSError:
                pass
            self._dirs[parent] = entries
        return entries


def input_patterns(unit: Unit, listing: DirListing | None = None) -> tuple[list[str], list[str]]:
    """The unit's inputs, absolute, split into what is expanded — its globs, and each literal
    directory as ``dir/**/*`` — and the other literal paths (files, or missing)."""
    literals, globs = unit.abs_inputs
    patterns = list(globs)
    plain: list[str] = []
    if listing is None:
        # Without a shared listing, one stat: a DirListing made for one unit would scan a whole
        # directory per unit (1,000 units with inputs in one 10,000-file directory: seconds).
        is_dir = [os.path.isdir(path) for path in literals]
    else:
        sep, entries = os.sep, listing.entries
        # hot: 1,000 units x 10 inputs; a path is normalised: no trailing separator
        is_dir = [bool(entries(parent).get(name)) for parent, _, name in (p.rpartition(sep) for p in literals)]
    for path, directory in zip(literals, is_dir, strict=True):
        if directory:
            patterns.append(os.path.join(path, "**", "*"))
        else:
            plain.append(path)
    return patterns, plain


def expand_inputs(unit: Unit, listing: DirListing | None = None) -> list[str]:
    """The unit's input files, absolute and sorted. Globs (and directories, as ``dir/**``) expand
    to the files they match; a literal path is kept even when missing, so doit orders the unit
    that produces it first, or reports ``input missing``."""
    patterns, plain = input_patterns(unit, listing)
    found = set(plain)
    for pattern in patterns:
        if _scan_one_level(pattern, found):
            continue
        for match in glob.iglob(pattern, recursive=True):
            if os.path.isfile(match):
                found.add(os.path.normpath(match))
    return sorted(found)


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
                        if entry.is_file():
                            found.add(f"{parent}{os.sep}{entry_name}")
                    except OSError:
                        pass
    except OSError:
        pass  # a missing directory matches nothing, as with glob
    return True


def output_paths(unit: Unit) -> list[str]:
    """The unit's declared outputs, absolute."""
    return list(unit.abs_outputs)


def display_path(unit: Unit, path: str) -> str:
    """A path as the user wrote it: relative to the working_dir when inside it."""
    try:
        rel = os.path.relpath(path, unit.working_dir)
    except ValueError:  # another drive on Windows
        return path
    return path if rel.startswith("..") else rel.replace(os.sep, "/")


def closure(
    units: Mapping[str, Unit], targets: Sequence[str], producers: Mapping[str, Sequence[str]] | None = None
) -> list[str]:
    """``targets`` and everything they depend on, dependencies first (stable, config order otherwise).

    ``producers`` adds implicit dependencies (see ``literal_producers``), as make builds a
    prerequisite that has a rule even when the target names no dependency.
    """
    order: list[str] = []
    seen: set[str] = set()
    extra = producers or {}

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for dep in (*units[name].depends_on, *extra.get(name, ())):
            visit(dep)
        order.append(name)

    for name in targets:
        visit(name)
    return order


def literal_producers(units: Mapping[str, Unit]) -> dict[str, list[str]]:
    """For each unit, the other units whose declared outputs are among its literal (non-glob) inputs."""
    producer = {path: u.name for u in units.values() for path in u.abs_outputs}
    found: dict[str, list[str]] = {}
    for unit in units.values():
        names = [producer.get(path) for path in unit.abs_inputs[0]]
        deps = [n for n in dict.fromkeys(names) if n is not None and n != unit.name]
        if deps:
            found[unit.name] = deps
    return found


def index(units: Iterable[Unit]) -> dict[str, Unit]:
    """Units by name; a dependency on a unit not in the set is a programming error."""
    table = {u.name: u for u in units}
    for unit in table.values():
        for dep in unit.depends_on:
            if dep not in table:
                raise ValueError(f"unit {unit.name!r} depends on unknown unit {dep!r}")
    return table
