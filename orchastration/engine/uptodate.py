"""doit up-to-date plumbing: a content-hash file checker for the configured algorithm, the per-unit
``uptodate`` check (command/env/working_dir, outputs, dependencies), and reasons in plain words."""

from __future__ import annotations

import inspect
import os
import threading
from collections.abc import Mapping, Set
from typing import Any

from doit.dependency import Dependency, FileChangedChecker, UptodateCalculator

from orchastration.engine.units import INCOMPLETE, Unit, display_path
from orchastration.hashing import hash_file
from orchastration.state import read_json


class HashCache:
    """Content hashes keyed by (path, mtime_ns, size): each file is hashed at most once per run."""

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self._hashes: dict[tuple[str, int, int], str] = {}
        self._lock = threading.Lock()

    def state(self, path: str, st: os.stat_result | None = None) -> list[Any]:
        """``[mtime_ns, size, hash]`` of a file (raises OSError when it is missing)."""
        st = st or os.stat(path)
        key = (path, st.st_mtime_ns, st.st_size)
        with self._lock:
            known = self._hashes.get(key)
        if known is None:
            known = hash_file(path, self.algorithm)
            with self._lock:
                self._hashes[key] = known
        return [st.st_mtime_ns, st.st_size, known]

    def hash(self, path: str) -> str | None:
        """The content hash of ``path``, or None when it is missing or unreadable."""
        try:
            return str(self.state(path)[2])
        except Exception:  # missing or unreadable (OSError, InputError)
            return None


def changed(cache: HashCache, path: str, st: os.stat_result, state: Any) -> bool:
    """Compare a file with its saved state: equal stat => same; else compare content."""
    try:
        mtime_ns, size, saved = state
    except (TypeError, ValueError):
        return True
    if st.st_mtime_ns == mtime_ns and st.st_size == size:
        return False
    if st.st_size != size:
        return True
    return bool(cache.state(path, st)[2] != saved)


def checker_class(cache: HashCache) -> type[FileChangedChecker]:
    """A doit file checker hashing with ``cache``'s algorithm; its class name names the algorithm,
    so doit reruns everything (``checker_changed``) when ``hash.algorithm`` changes."""

    class _Checker(FileChangedChecker):  # type: ignore[misc]
        def check_modified(self, file_path: str, file_stat: os.stat_result, state: Any) -> bool:
            return changed(cache, file_path, file_stat, state)

        def get_state(self, dep: str, current_state: Any) -> Any:
            st = os.stat(dep)
            if current_state and list(current_state[:2]) == [st.st_mtime_ns, st.st_size]:
                return None  # unchanged: skip re-hashing
            return cache.state(dep, st)

    _Checker.__name__ = _Checker.__qualname__ = f"ContentChecker_{cache.algorithm}"
    return _Checker


class UnitCheck(UptodateCalculator):  # type: ignore[misc]
    """doit ``uptodate`` callable: false when forced, always_run, never run, or when the command,
    env, working_dir, outputs (deleted or edited) or a dependency's last run changed."""

    def __init__(self, unit: Unit, cache: HashCache, forced: bool = False) -> None:
        super().__init__()
        self.unit, self.cache, self.forced = unit, cache, forced
        # doit inspects every uptodate callable's signature on every check; a precomputed
        # __signature__ spares inspect the work (1,000 jobs: ~40 ms).
        self.__signature__ = _CALL_SIGNATURE
        self.reasons: list[str] = []
        self.dep_runs: dict[str, str | None] = {}  # dependency -> its last run id, for the values

    def __call__(self, task: Any, values: Mapping[str, Any]) -> bool:
        unit = self.unit
        reasons: list[str] = []
        self.dep_runs = {dep: self._run_of(dep) for dep in unit.depends_on}
        if self.forced:
            reasons.append("forced")
        if unit.always_run:
            reasons.append("always_run")
        if not values or "run" not in values:
            reasons.append(never_run_reason(unit))
        elif os.path.exists(f"{unit.record_dir}{os.sep}{INCOMPLETE}"):  # str, not pathlib: hot for many units
            reasons.append(never_run_reason(unit))  # a run that did not finish: "last run interrupted"
        else:
            saved_sig = values.get("sig", {})
            for key, now in unit.signature.items():
                if saved_sig.get(key) != now:
                    reasons.append(f"{key} changed")
            reasons += self._output_reasons(values.get("outputs", {}))
            saved_deps = values.get("deps", {})
            for dep, run in self.dep_runs.items():
                if saved_deps.get(dep) != run:
                    reasons.append(f"dependency ran: {dep}")
        self.reasons = reasons
        return not reasons

    def _run_of(self, dep: str) -> str | None:
        values = self.get_val(dep, "_values_:") if self.get_val else None
        return values.get("run") if isinstance(values, dict) else None

    def _output_reasons(self, saved: Mapping[str, Any]) -> list[str]:
        reasons = []
        current = self.unit.abs_outputs
        if sorted(saved) != sorted(current):
            reasons.append("outputs changed")
        for path in current:
            try:
                st = os.stat(path)
            except OSError:
                continue  # doit reports it as a missing target
            if path in saved and changed(self.cache, path, st, saved[path]):
                reasons.append(f"output changed: {display_path(self.unit, path)}")
        return reasons


_CALL_SIGNATURE = inspect.Signature(
    [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in ("task", "values")]
)


def never_run_reason(unit: Unit) -> str:
    """``never run``, or why the last run does not count (failed, interrupted, forgotten)."""
    last = read_json(unit.record_dir / "last.json")
    if isinstance(last, dict) and last.get("status"):
        status = last["status"]
        if status != "ran":
            return f"last run {status}"
        if (unit.record_dir / INCOMPLETE).exists():
            return "last run interrupted"
        return "state forgotten"
    if (unit.record_dir / INCOMPLETE).exists():
        return "last run interrupted"  # the first run was killed before it wrote a record
    return "never run"


def describe(
    unit: Unit, check: UnitCheck, doit_reasons: Mapping[str, Any], never_run: bool, produced: Set[str] = frozenset()
) -> list[str]:
    """doit's status reasons (with get_log) and ours, in the words of SPEC. An input another unit
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


class ExplainingDependency(Dependency):  # type: ignore[misc]
    """doit's dependency manager that keeps every reason a task is not up to date."""

    def __init__(self, *args: Any, checks: Mapping[str, UnitCheck], units: Mapping[str, Unit], **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.checks, self.units = checks, units
        self.produced = {p for unit in units.values() for p in unit.abs_outputs}
        self.reasons: dict[str, list[str]] = {}

    def save_success(self, task: Any, result_hash: str | None = None) -> None:
        # A unit's action returns a dict: doit saves it as the task's values and, again, whole as
        # its "result:" (read only by doit's result_dep, which units never use). The run id stands
        # in for the second copy: half the database to decode on every run.
        if result_hash is None and isinstance(task.values, dict) and "run" in task.values:
            result_hash = str(task.values["run"])
        super().save_success(task, result_hash)

    def get_status(self, task: Any, tasks_dict: Any, get_log: bool = False) -> Any:
        never_run = "run" not in (self.get_values(task.name) or {})  # one cached read, no extra query
        # Two doit quirks around a missing input: its name is passed through str.format twice (a
        # brace in it raises ValueError), and, collecting every reason (get_log), a later "changed"
        # reason turns the missing input's "error" back into "run". Braced names are checked here,
        # and any missing input ends as an error: the unit fails instead of running without it.
        braced = {d for d in task.file_dep if ("{" in d or "}" in d) and not os.path.exists(d)}
        task.file_dep -= braced
        try:
            result = super().get_status(task, tasks_dict, get_log=True)
        finally:
            task.file_dep |= braced
        for dep in sorted(braced):
            result.add_reason("missing_file_dep", dep, "error")
        missing = result.reasons.get("missing_file_dep")
        if missing:
            result.status = "error"
            result.error_reason = "Dependent file '" + missing[0] + "' does not exist."
        check = self.checks.get(task.name)
        unit = self.units.get(task.name)
        if check is not None and unit is not None:
            self.reasons[task.name] = describe(unit, check, result.reasons, never_run, self.produced)
        return result
