"""doit's side of "up to date": our plain checks as ``uptodate`` callables, a content-hash file checker,
the dependency manager that keeps every reason, and the sqlite backend read in one query."""

from __future__ import annotations

import inspect
import os
import sqlite3
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from doit.dependency import Dependency, FileChangedChecker, JsonDB, SqliteDB, UptodateCalculator

from orchastration.engine.lock import state_dir_error

_CALL_SIGNATURE = inspect.Signature(
    [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in ("task", "values")]
)

VALUES_KEY = "_values_:"  # doit's database key of a task's saved values
# The key, in what a unit's action returns, of its file_deps' states as read before the command ran
# (``action_result``); taken out of the values before they are saved.
FILE_STATES_KEY = "_file_states_"


class Uptodate(UptodateCalculator):  # type: ignore[misc]
    """A plain up-to-date check ``check(values) -> bool`` as a doit ``uptodate`` callable; a check
    with a ``values_of`` attribute gets a reader of other tasks' saved values."""

    def __init__(self, check: Callable[[Mapping[str, Any]], bool]) -> None:
        super().__init__()
        self.check = check
        # doit inspects every uptodate callable's signature on every check; a precomputed
        # __signature__ spares inspect the work (1,000 jobs: ~40 ms).
        self.__signature__ = _CALL_SIGNATURE

    def setup(self, dep_manager: Any, tasks_dict: Any) -> None:
        super().setup(dep_manager, tasks_dict)
        if hasattr(self.check, "values_of"):
            get = self.get_val
            self.check.values_of = lambda name: get(name, VALUES_KEY)

    def __call__(self, task: Any, values: Mapping[str, Any] | None) -> bool:
        return bool(self.check(values or {}))


def content_checker(
    algorithm: str,
    changed: Callable[[str, os.stat_result, Any], bool],
    state: Callable[[str, os.stat_result], Any],
) -> type[FileChangedChecker]:
    """A doit file checker from two functions: ``changed(path, stat, saved)`` and ``state(path, stat)``.
    Its class name names the algorithm, so doit reruns everything (``checker_changed``) when
    ``hash.algorithm`` changes."""

    class _Checker(FileChangedChecker):  # type: ignore[misc]
        def check_modified(self, file_path: str, file_stat: os.stat_result, saved: Any) -> bool:
            return changed(file_path, file_stat, saved)

        def get_state(self, dep: str, current_state: Any) -> Any:
            st = os.stat(dep)
            if current_state and list(current_state[:2]) == [st.st_mtime_ns, st.st_size]:
                return None  # unchanged: skip re-hashing
            return state(dep, st)

    _Checker.__name__ = _Checker.__qualname__ = f"ContentChecker_{algorithm}"
    return _Checker


# Reasons (doit's ``get_status(get_log=True)`` reasons dict, whether it never ran) -> our words.
Explain = Callable[[str, Mapping[str, Any], bool], list[str]]


class _ExplainingDependency(Dependency):  # type: ignore[misc]
    """doit's dependency manager that keeps every reason a task is not up to date."""

    def __init__(self, *args: Any, explain: Explain, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.explain = explain
        self.reasons: dict[str, list[str]] = {}

    def save_success(self, task: Any, result_hash: str | None = None) -> None:
        # A unit's action returns a dict: doit saves it as the task's values and, again, whole as
        # its "result:" (read only by doit's result_dep, which units never use). The run id stands
        # in for the second copy: half the database to decode on every run.
        values = task.values if isinstance(task.values, dict) else {}
        if result_hash is None and "run" in values:
            result_hash = str(values["run"])
        before = values.pop(FILE_STATES_KEY, None)
        if before is None:
            super().save_success(task, result_hash)
            return
        # doit would save each file_dep's state as it is now, after the action: an input edited
        # while the command ran would look unchanged next time, its output made from the old one
        # trusted. Save the states the action read at its start instead (docs/reliability.md);
        # they cost nothing here (no stat, no hash: the runner took them before the command).
        deps, task.file_dep = task.file_dep, set()
        try:
            super().save_success(task, result_hash)
        finally:
            task.file_dep = deps
        for dep in deps:
            state = before.get(dep)  # None (unreadable at the start): reads as changed next time
            if state != self._get(task.name, dep):
                self._set(task.name, dep, state)
        self._set(task.name, "deps:", tuple(deps))

    def never_run(self, name: str) -> bool:
        """No state saved for ``name``: it never ran (or its state was dropped). One cached read."""
        return "run" not in (self.get_values(name) or {})

    def get_status(self, task: Any, tasks_dict: Any, get_log: bool = False) -> Any:
        never_run = self.never_run(task.name)
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
        self.reasons[task.name] = self.explain(task.name, result.reasons, never_run)
        return result


class _PreloadedSqliteDB(SqliteDB):  # type: ignore[misc]
    """doit's sqlite3 backend, read in one query instead of one per task (1,000 tasks: ~40 ms less).
    ``only``: the tasks to read, when a run needs a few of many (others load on demand, as in doit)."""

    def __init__(self, name: str, codec: Any, *, module_name: str | None = None, only: Sequence[str] = ()) -> None:
        super().__init__(name, codec, module_name=module_name)
        # Write-ahead log, synced at checkpoints: a commit costs a write, no fsync, and a committed
        # task survives a crash of this process; a power cut may lose the last commits, never the
        # database's integrity (docs/reliability.md). The run's flusher syncs the WAL in its batches.
        self._conn.execute("pragma journal_mode=wal")
        self._conn.execute("pragma synchronous=normal")
        query = "select task_id, task_data from doit"
        subset = 0 < len(only) <= _FEW
        rows = (
            self._conn.execute(f"{query} where task_id in ({','.join('?' * len(only))})", list(only))
            if subset
            else self._conn.execute(query)
        )
        for row in rows:
            self._cache[row["task_id"]] = row["task_data"]
        # Read whole (or these tasks): a task not found has no row, no query needed to learn it
        # again (doit asks once per task; a first build asks for every one).
        self._read: Collection[str] | None = frozenset(only) if subset else None
        self._path = name
        self._writer: sqlite3.Connection | None = None  # ``commit``'s, on the flusher's thread
        self._pending = threading.Lock()
        self._removed: set[str] = set()

    def _get_task_data(self, task_id: str) -> Any:
        if self._read is None or task_id in self._read:
            return {}
        return super()._get_task_data(task_id)

    def remove(self, task_id: str) -> None:
        """doit drops a failed task's state (main thread): the delete is written by ``commit``'s
        thread (or at the end), never through this connection while a run goes on."""
        with self._pending:
            self._cache.pop(task_id, None)
            self._dirty.discard(task_id)
            self._removed.add(task_id)

    def commit(self, task_id: str, keep: bool = True, now: bool = True) -> None:
        """Make what doit holds for ``task_id`` survive a crash of this process: its saved state
        (``keep``) or none (``keep=False``: it runs again next time), with the deletes of failed
        tasks so far. Runs in the run's flusher queue (its thread, or the jobs' thread: one at a
        time), through a connection of its own (doit
        itself writes every task at the end of the run, so a killed run lost them all).
        ``now=False``: written into the connection's open transaction, committed with the others
        of its group by ``commit_staged`` (one transaction for many tasks: a commit costs ~40 µs)."""
        if not keep:
            self.remove(task_id)
        with self._pending:
            removed, self._removed = self._removed, set()
            row = (task_id, self.codec.encode(self._cache[task_id])) if task_id in self._dirty else None
            self._dirty.discard(task_id)
        if self._writer is None:
            self._writer = sqlite3.connect(self._path, check_same_thread=False)
            self._writer.execute("pragma synchronous=normal")
        if removed:
            self._writer.executemany("delete from doit where task_id=?", [(t,) for t in removed])
        if row is not None:
            self._writer.execute("insert or replace into doit values (?,?)", row)
        if now:
            self._writer.commit()

    def commit_staged(self) -> None:
        """Commit what ``commit(now=False)`` wrote since the last commit."""
        if self._writer is not None:
            self._writer.commit()

    def dump(self) -> None:
        """doit's end of the run: what no commit wrote (deletes included), through doit's connection."""
        if self._writer is not None:
            self._writer.commit()  # (a staged group is ended before: this only makes sure)
            self._writer.close()
            self._writer = None
        with self._pending:
            removed, self._removed = self._removed, set()
        for task_id in removed:
            self._conn.execute("delete from doit where task_id=?", (task_id,))
        super().dump()


_FEW = 200  # below this many tasks, read just those rows (sqlite allows 999 parameters everywhere)


def dependency(
    db_path: Path, checker: type, explain: Explain, read_only: bool = False, only: Sequence[str] = ()
) -> _ExplainingDependency:
    # sqlite3: every commit is atomic and journaled, so a crash mid-run never corrupts the database.
    # Read-only callers with no database yet use an in-memory JSON one that is never written.
    # A database that cannot be written (a read-only or full state dir) is an error naming it now,
    # before anything runs, not at the end of the run when doit saves it (docs/reliability.md).
    import sqlite3

    db_class: Any = JsonDB if read_only and not db_path.exists() else _PreloadedSqliteDB
    if only and db_class is _PreloadedSqliteDB:
        db_class = _only(only)
    try:
        if not read_only:
            os.close(os.open(db_path, os.O_RDWR | os.O_CREAT, 0o600))
        return _ExplainingDependency(db_class, str(db_path), checker_cls=checker, explain=explain)
    except (OSError, sqlite3.OperationalError) as exc:
        raise state_dir_error(db_path.parent, exc, db_path) from None


def _only(only: Sequence[str]) -> Callable[..., _PreloadedSqliteDB]:
    def make(name: str, codec: Any, **kw: Any) -> _PreloadedSqliteDB:
        return _PreloadedSqliteDB(name, codec, only=only, **kw)

    return make
