"""Up to date, in our terms: content hashes of files (cached per run), the per-unit check (command,
env, working_dir, outputs, dependencies) and reasons in plain words. doit calls these through
``engine/doit_adapter.py``; nothing here imports doit."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from typing import Any

from orchastration.engine.fastpath import RACY_SECONDS
from orchastration.engine.units import INCOMPLETE, Unit, display_path, incomplete_mark, output_files
from orchastration.hashing import hash_file
from orchastration.patterns import NotRegularFile
from orchastration.state import read_json


class HashCache:
    """Content hashes keyed by (path, mtime_ns, size): each file is hashed at most once per run."""

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self._hashes: dict[tuple[str, int, int], str] = {}
        self._lock = threading.Lock()

    def state(self, path: str, st: os.stat_result | None = None) -> list[Any]:
        """``[mtime_ns, size, hash]`` of a file (raises OSError when it is missing, ``NotRegularFile``
        for a FIFO or device: reading it could block or never end)."""
        st = st or os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(errno.EISDIR, "a directory", path)
            raise NotRegularFile(path)
        key = (path, st.st_mtime_ns, st.st_size)
        with self._lock:
            known = self._hashes.get(key)
        if known is None:
            known = hash_file(path, self.algorithm, st.st_size)
            with self._lock:
                self._hashes[key] = known
        return [st.st_mtime_ns, st.st_size, known]

    def seed(self, path: str, digest: str, algorithm: str) -> None:
        """A file this process just wrote with content it knows the ``algorithm`` hash of (a restored
        output): its hash is kept under its stat now, so it is not read back (other algorithms: no-op)."""
        if algorithm != self.algorithm:
            return
        with contextlib.suppress(OSError):
            st = os.stat(path)
            with self._lock:
                self._hashes[(path, st.st_mtime_ns, st.st_size)] = digest

    def adopt(self, path: str, state: Sequence[Any]) -> None:
        """A file's ``state`` as another process read it (``engine/lookahead.py``): kept under its stat."""
        mtime_ns, size, digest = state
        with self._lock:
            self._hashes[(path, int(mtime_ns), int(size))] = str(digest)

    def prefetch(self, paths: Iterable[str]) -> dict[str, str]:
        """Hash ``paths`` ahead of the unit that reads them (on another thread, while a command runs);
        the hashes of those hashed. A file modified in the last ``RACY_SECONDS`` is left alone (nor
        hashed by anything else ahead): an edit in the same timestamp tick after this read, keeping its
        size, would go unseen until the unit's own hashing."""
        now = time.time()
        hashed: dict[str, str] = {}
        for path in paths:
            found = self.settled_state(path, now)
            if found is not None:
                hashed[path] = str(found[2])
        return hashed

    def settled_state(self, path: str, now: float) -> list[Any] | None:
        """``state(path)`` read ahead of its unit, or None: missing, unreadable, not a regular file, or
        modified within ``RACY_SECONDS`` of ``now`` (left to the unit itself)."""
        try:
            st = os.stat(path)
            if stat.S_ISREG(st.st_mode) and now - st.st_mtime >= RACY_SECONDS:
                return self.state(path, st)
        except Exception:  # missing or unreadable: the unit itself says so
            pass
        return None

    def hash(self, path: str) -> str | None:
        """The content hash of ``path``, or None when it is missing or unreadable."""
        found = self.try_state(path)
        return None if found is None else str(found[2])

    def try_state(self, path: str) -> list[Any] | None:
        """``state(path)``, or None when it is missing or unreadable."""
        try:
            return self.state(path)
        except Exception:  # missing or unreadable (OSError, InputError)
            return None


def hashes_of(states: Mapping[str, list[Any] | None]) -> dict[str, str | None]:
    """Each file's content hash from its ``HashCache`` state (None: missing or unreadable)."""
    return {p: None if s is None else str(s[2]) for p, s in states.items()}


def changed(cache: HashCache, path: str, st: os.stat_result, state: Any) -> bool:
    """Compare a file with its saved state: equal stat => same; else compare content."""
    try:
        mtime_ns, size, saved = state
    except (TypeError, ValueError):
        return True
    if not stat.S_ISREG(st.st_mode):
        return True  # now a directory, a FIFO, ...: never read it
    if st.st_mtime_ns == mtime_ns and st.st_size == size:
        return False
    if st.st_size != size:
        return True
    return bool(cache.state(path, st)[2] != saved)


def checker_class(cache: HashCache) -> type:
    """doit's file checker for ``cache``'s algorithm: a file is unchanged when its stat is, else
    when its content hash is (see ``changed``)."""
    from orchastration.engine.doit_adapter import content_checker

    return content_checker(
        cache.algorithm,
        lambda path, st, saved: changed(cache, path, st, saved),
        lambda path, st: cache.state(path, st),
    )


class UnitCheck:
    """A unit's up-to-date check, given the values its last successful run saved: false when forced,
    always_run, never run, when the command, env, working_dir, outputs (deleted or edited) or a
    dependency's last run changed, or when that run did not make a declared output. ``values_of``
    reads another unit's saved values (set by doit)."""

    def __init__(self, unit: Unit, cache: HashCache, forced: bool = False, settle: bool = False) -> None:
        self.unit, self.cache, self.forced = unit, cache, forced
        self.settle = settle  # under the state lock: a settled mark is renamed into place (``settled_mark``)
        self.values_of: Callable[[str], Any] | None = None
        self.reasons: list[str] = []
        self.dep_runs: dict[str, str | None] = {}  # dependency -> its last run id, for the values
        # Restored by this run before doit was asked (engine/first_pass.py): up to date, whether or
        # not its record has been put in place yet (the run's flusher does that in its own time).
        self.done_in_run = False

    def __call__(self, values: Mapping[str, Any]) -> bool:
        if self.done_in_run:
            self.reasons = []
            return True
        unit = self.unit
        reasons: list[str] = []
        self.dep_runs = {dep: self._run_of(dep) for dep in unit.depends_on}
        if self.forced:
            reasons.append("forced")
        if unit.always_run:
            reasons.append("always_run")
        if not values or "run" not in values:
            reasons.append(never_run_reason(unit))
        elif os.path.exists(incomplete_mark(unit)) and not settled_mark(unit, values["run"], self.settle):
            reasons.append(never_run_reason(unit))  # a run that did not finish: "last run interrupted"
        else:
            saved_sig = values.get("sig", {})
            for key, now in unit.signature.items():
                if saved_sig.get(key) != now:
                    reasons.append(f"{key} changed")
            reasons += self._output_reasons(values)
            saved_deps = values.get("deps", {})
            for dep, run in self.dep_runs.items():
                if saved_deps.get(dep) != run:
                    reasons.append(f"dependency ran: {dep}")
        self.reasons = reasons
        return not reasons

    def _run_of(self, dep: str) -> str | None:
        values = self.values_of(dep) if self.values_of is not None else None
        return values.get("run") if isinstance(values, dict) else None

    def _output_reasons(self, values: Mapping[str, Any]) -> list[str]:
        """The declared outputs changed, or a file the last run made is missing or edited, or a glob
        output matches nothing (a missing literal output is doit's ``missing_target``), or a declared
        output the last run did not make has appeared since (its run never counts as up to date)."""
        unit, reasons = self.unit, []
        saved: Mapping[str, Any] = values.get("outputs") or {}
        declared = values.get("declared")
        if (sorted(saved) if declared is None else declared) != unit.declared_outputs:
            reasons.append("outputs changed")
        literal = unit.abs_outputs
        for path, state in saved.items():
            try:
                st = os.stat(path)
            except OSError:
                if path not in literal:
                    reasons.append(f"output missing: {display_path(unit, path)}")
                continue
            if changed(self.cache, path, st, state):
                reasons.append(f"output changed: {display_path(unit, path)}")
        not_made = values.get("missing") or ()  # saved only when the last run left one out
        if unit.output_globs or not_made:
            absent = output_files(unit)[1]
            for pattern in absent:
                if pattern in unit.output_globs:
                    reasons.append(f"output missing: {display_path(unit, pattern)}")
            for path in not_made:  # still absent: "output missing" (above, or doit's missing_target)
                if path in unit.declared_outputs and path not in absent:
                    reasons.append(f"output missing at last run: {display_path(unit, path)}")
        return reasons


def settled_mark(unit: Unit, run_id: Any, settle: bool) -> bool:
    """Whether the unit's incomplete mark is the record of its last committed run whose settling a
    crash cut short: the mark is ``last.json`` (one file, two names: ``records.settle_run`` links it
    there just before renaming it) and names the run the engine saved. ``settle`` (the caller holds
    the state lock): rename it into place now. Anything else is a run that did not finish."""
    directory = unit.record_dir
    mark = directory / INCOMPLETE
    try:
        if not os.path.samefile(mark, directory / "last.json"):
            return False
    except OSError:
        return False
    record = read_json(mark)
    if not isinstance(run_id, str) or os.path.basename(run_id) != run_id or not isinstance(record, dict):
        return False
    if record.get("run_id") != run_id:
        return False
    if settle:
        with contextlib.suppress(OSError):
            os.replace(mark, directory / f"{run_id}.json")
    return True


def never_run_reason(unit: Unit) -> str:
    """``never run``, or why the last run does not count (failed, interrupted, forgotten)."""
    last = read_json(unit.record_dir / "last.json")
    if isinstance(last, dict) and last.get("status"):
        status = last["status"]
        if status != "ran":
            return f"last run {status}"
        if os.path.exists(incomplete_mark(unit)):
            return "last run interrupted"
        return "state forgotten"
    if os.path.exists(incomplete_mark(unit)):
        return "last run interrupted"  # the first run was killed before it wrote a record
    return "never run"


def without_run_dir(units: Iterable[Unit]) -> set[str]:
    """The units whose runs directory does not exist: ``never_run_reason`` says ``never run`` for
    each, known from one listing of their parent directory instead of two failed lookups a unit (a
    first build, a fresh clone). A parent that cannot be listed leaves its units out (looked up)."""
    listed: dict[str, set[str] | None] = {}
    out: set[str] = set()
    for unit in units:
        parent, name = os.path.split(unit.record_dir)
        if parent not in listed:
            try:
                listed[parent] = {os.path.normcase(n) for n in os.listdir(parent)}
            except FileNotFoundError:
                listed[parent] = set()
            except OSError:
                listed[parent] = None
        names = listed[parent]
        if names is not None and os.path.normcase(name) not in names:
            out.add(unit.name)
    return out


def describe(
    unit: Unit, check: UnitCheck, doit_reasons: Mapping[str, Any], never_run: bool, produced: Set[str] = frozenset()
) -> list[str]:
    """doit's status reasons (with get_log) and ours, in the words of docs/jobs.md. An input another unit
    produces is not "missing" before that unit has run (a dry run, ``why``)."""
    reasons = list(check.reasons)
    for dep in sorted(doit_reasons.get("missing_file_dep", []) or []):
        if dep not in produced:
            reasons.append(f"input missing: {display_path(unit, dep)}")
    if never_run:
        return reasons  # every file "changed" when there is no saved state: say it once
    for target in doit_reasons.get("missing_target", []):
        reasons.append(f"output missing: {display_path(unit, target)}")
    if doit_reasons.get("checker_changed"):
        reasons.append("hash algorithm changed")
        return reasons  # doit dropped the saved file states: every input reads as changed
    for dep in sorted(doit_reasons.get("added_file_dep", []) or []):
        reasons.append(f"input added: {display_path(unit, dep)}")
    for dep in sorted(doit_reasons.get("removed_file_dep", []) or []):
        reasons.append(f"input removed: {display_path(unit, dep)}")
    added = set(doit_reasons.get("added_file_dep", []) or [])
    for dep in sorted(doit_reasons.get("changed_file_dep", []) or []):
        if dep not in added:
            reasons.append(f"input changed: {display_path(unit, dep)}")
    return reasons
