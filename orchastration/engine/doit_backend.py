"""Units compiled into doit tasks and run in-process by doit's runner: doit orders, parallelises
(threads) and decides up to date; each task's action runs the command and writes its record."""

from __future__ import annotations

import gc
import os
import queue
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from doit.control import TaskControl
from doit.dependency import JsonDB, SqliteDB
from doit.exceptions import BaseFail, InvalidDodoFile, InvalidTask, UnmetDependency
from doit.runner import MThreadRunner, Runner
from doit.task import Task

from orchastration.engine import fastpath
from orchastration.engine.session import ResultCallback, Session
from orchastration.engine.units import (
    FAILED,
    INTERRUPTED,
    NOT_RUN,
    SKIPPED,
    TIMEOUT,
    DirListing,
    PlanItem,
    Unit,
    UnitResult,
    abs_path,
    closure,
    expand_inputs,
    index,
    is_glob,
    literal_producers,
    output_paths,
)
from orchastration.engine.uptodate import ExplainingDependency, HashCache, UnitCheck, checker_class
from orchastration.errors import ConfigError
from orchastration.paths import Paths

DB_NAME = "doit.sqlite3"


class _Reporter:
    """doit reporter turning doit's events into UnitResults."""

    def __init__(self, session: Session) -> None:
        self.s = session
        self.errors: list[str] = []

    def add_success(self, task: Any) -> None:
        self.s.report(self.s.outcomes[task.name])

    def add_failure(self, task: Any, fail: BaseFail) -> None:
        name = task.name
        if name in self.s.outcomes:
            self.s.report(self.s.outcomes[name])
            return
        reasons = tuple(self.s.dep.reasons.get(name, ())) if self.s.dep is not None else ()
        if isinstance(fail, UnmetDependency):
            done = self.s.results
            failed = ", ".join(d for d in self.s.table[name].depends_on if d in done and done[d].status != SKIPPED)
            message = f"not run: dependency failed: {failed or fail.get_msg().strip()}"
            self.s.report(UnitResult(name, NOT_RUN, None, 0, None, reasons, message))
        else:
            missing = [r for r in reasons if r.startswith("input missing: ")]
            text = fail.get_msg().strip()
            message = "; ".join(missing) if missing else (text.splitlines()[0] if text else "failed")
            self.s.report(UnitResult(name, FAILED, None, 0, None, reasons, message))

    def skip_uptodate(self, task: Any) -> None:
        self.s.report(UnitResult(task.name, SKIPPED, 0, 0, None, (), ""))

    def runtime_error(self, msg: str) -> None:
        self.errors.append(msg)

    def _ignore(self, *args: Any) -> None:
        pass

    initialize = get_status = execute_task = skip_ignore = cleanup_error = teardown_task = complete_run = _ignore


def _stopping(runner: Any, session: Session) -> None:
    if session.cancel.is_set():
        runner._stop_running = True  # an interrupt ends the run even with --keep-going


class _SerialRunner(Runner):  # type: ignore[misc]
    def __init__(self, session: Session, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.session = session

    def _handle_task_error(self, node: Any, base_fail: Any) -> None:
        super()._handle_task_error(node, base_fail)
        _stopping(self, self.session)


class _ThreadRunner(MThreadRunner):  # type: ignore[misc]
    def __init__(self, session: Session, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.session = session
        cancel = session.cancel

        class InterruptibleQueue(queue.Queue):  # type: ignore[type-arg]
            """The main loop's result queue: Ctrl-C cancels the running units, then keeps collecting."""

            def get(self, block: bool = True, timeout: float | None = None) -> Any:
                while True:
                    try:
                        return super().get(block, timeout)
                    except KeyboardInterrupt:
                        cancel.set()

        self.Queue = InterruptibleQueue

    def _handle_task_error(self, node: Any, base_fail: Any) -> None:
        super()._handle_task_error(node, base_fail)
        _stopping(self, self.session)


def _compile(session: Session) -> list[Any]:
    """One doit Task per unit: inputs -> file_dep, outputs -> targets, depends_on -> task_dep."""
    tasks = []
    for name in session.order:
        unit = session.table[name]
        tasks.append(
            Task(
                name,
                actions=[(session.execute, [name])],
                file_dep=session.inputs[name],
                targets=output_paths(unit),
                task_dep=list(unit.depends_on),
                uptodate=[session.checks[name]],
                verbosity=0,
                io={"capture": False},  # our action streams itself; doit must not swap sys.stdout
            )
        )
    return tasks


def _session(units: Iterable[Unit], targets: Sequence[str], algorithm: str, force: bool | Iterable[str]) -> Session:
    table = index(units)
    order = closure(table, targets, literal_producers(table))
    forced = set(targets) if force is True else set(force or ())
    cache = HashCache(algorithm)
    listing = DirListing()
    inputs = {}
    for n in order:
        # A unit's own outputs are never its inputs (``inputs = ["app/*.py"]`` with
        # ``outputs = ["app/b.py"]``): doit would see a task depending on itself.
        own = set(table[n].abs_outputs)
        inputs[n] = [p for p in expand_inputs(table[n], listing) if p not in own]
    _check_file_cycles(table, order, inputs)
    return Session(
        table=table,
        order=order,
        algorithm=algorithm,
        cache=cache,
        checks={n: UnitCheck(table[n], cache, forced=n in forced) for n in order},
        inputs=inputs,
    )


def _edges(table: dict[str, Unit], order: list[str], inputs: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each unit's dependencies: its ``depends_on`` and the units that output one of its inputs
    (doit makes a unit depend on the producer of its file_dep)."""
    producer = {p: n for n in order for p in table[n].abs_outputs}
    return {
        n: list(dict.fromkeys([*table[n].depends_on, *(producer[p] for p in inputs[n] if producer.get(p, n) != n)]))
        for n in order
    }


def _check_file_cycles(table: dict[str, Unit], order: list[str], inputs: dict[str, list[str]]) -> None:
    """A loop through inputs and outputs (or ``depends_on``) is a config error naming the units,
    found before anything runs."""
    edges = _edges(table, order, inputs)
    done: set[str] = set()
    for start in order:
        if start in done:
            continue
        trail, on_trail = [start], {start}
        stack = [iter(edges[start])]
        while stack:  # iterative depth-first search: a chain of 10,000 units needs no recursion
            dep = next(stack[-1], None)
            if dep is None:
                stack.pop()
                node = trail.pop()
                on_trail.discard(node)
                done.add(node)
            elif dep in on_trail:
                loop = trail[trail.index(dep) :]
                first = loop.index(min(loop))  # start at the smallest name: one message per loop
                cycle = [*loop[first:], *loop[:first], loop[first]]
                raise ConfigError(f"dependency cycle through inputs and outputs: {' -> '.join(cycle)}")
            elif dep not in done and dep in edges:
                stack.append(iter(edges[dep]))
                trail.append(dep)
                on_trail.add(dep)


class _PreloadedSqliteDB(SqliteDB):  # type: ignore[misc]
    """doit's sqlite3 backend, read in one query instead of one per task (1,000 tasks: ~40 ms less)."""

    def __init__(self, name: str, codec: Any, *, module_name: str | None = None) -> None:
        super().__init__(name, codec, module_name=module_name)
        for row in self._conn.execute("select task_id, task_data from doit"):
            self._cache[row["task_id"]] = row["task_data"]


def _dependency(session: Session, db_path: Path, read_only: bool = False) -> Any:
    # sqlite3: every commit is atomic and journaled, so a crash mid-run never corrupts the database.
    # Read-only callers with no database yet use an in-memory JSON one that is never written.
    db_class = JsonDB if read_only and not db_path.exists() else _PreloadedSqliteDB
    return ExplainingDependency(
        db_class,
        str(db_path),
        checker_cls=checker_class(session.cache),
        checks=session.checks,
        units=session.table,
    )


def run_units(
    units: Iterable[Unit],
    targets: Sequence[str],
    *,
    paths: Paths,
    hash_algorithm: str,
    force: bool | Iterable[str] = False,
    jobs: int = 1,
    keep_going: bool = False,
    dry_run: bool = False,
    console: IO[str] | None = None,
    err_console: IO[str] | None = None,
    on_result: ResultCallback | None = None,
    on_start: Callable[[str], None] | None = None,
    on_lock_wait: Callable[[], None] | None = None,
    fast_key: str | None = None,
    prefix_output: bool | None = None,
) -> list[UnitResult]:
    """Run ``targets`` and what they depend on through doit; results in completion order.

    ``force``: True forces ``targets`` (not their dependencies), or give the names to force.
    ``dry_run`` runs nothing: each unit comes back ``skipped`` (up to date) or ``not_run`` with
    its reasons. Takes the state lock (``on_lock_wait`` is called if another run holds it).
    ``fast_key``: write a no-op summary under this key when everything ends ran/skipped.
    """
    from orchastration.engine.lock import state_lock

    if dry_run:
        items = plan(units, targets, paths=paths, hash_algorithm=hash_algorithm, force=force)
        out = [UnitResult(i.name, NOT_RUN if i.would_run else SKIPPED, None, 0, None, i.reasons, "") for i in items]
        for result in out:
            if on_result is not None:
                on_result(result)
        return out
    # Loading thousands of units (sessions, doit tasks, the database) makes Python's cycle collector
    # rescan the growing heap again and again: ~25 ms of a 1,000-unit run. It is paused while
    # loading; what was loaded lives as long as the run, so it is then frozen out of later scans
    # (engine.run_units unfreezes and restores the collector, whatever happens).
    collecting = gc.isenabled()
    gc.disable()
    session = _session(units, targets, hash_algorithm, force)
    session.console, session.err_console = console, err_console
    session.prefixed = jobs > 1 if prefix_output is None else prefix_output
    session.threaded = jobs > 1
    session.on_start, session.on_result = on_start, on_result
    interrupted = False
    with state_lock(paths.engine_dir, on_lock_wait):
        fastpath.invalidate(paths.engine_dir)
        try:
            control = TaskControl(_compile(session))
            control.process(list(targets))
        except (InvalidTask, InvalidDodoFile) as exc:
            raise ConfigError(f"cannot build the task graph: {exc}") from None
        session.dep = _dependency(session, paths.engine_dir / DB_NAME)
        gc.freeze()
        if collecting:
            gc.enable()
        reporter = _Reporter(session)
        runner_args = (session, session.dep, reporter)
        runner: Any = (
            _ThreadRunner(*runner_args, continue_=keep_going, num_process=jobs)
            if jobs > 1
            else _SerialRunner(*runner_args, continue_=keep_going)
        )
        try:
            runner.run_all(control.task_dispatcher())
        except KeyboardInterrupt:
            interrupted = True
            session.cancel.set()
            session.wait_idle(30)
            for outcome in list(session.outcomes.values()):
                session.report(outcome)
        for name in session.order:  # never started: a dependency failed, or the run stopped
            if name not in session.results:
                why = "run interrupted" if session.cancel.is_set() else "run stopped after a failure"
                session.report(UnitResult(name, NOT_RUN, None, 0, None, (), f"not run: {why}"))
        results = [session.results[n] for n in session.results]
        if reporter.errors and not any(r.status in (FAILED, TIMEOUT, INTERRUPTED) for r in results):
            raise ConfigError(reporter.errors[0].strip())
        always = any(session.table[n].always_run for n in session.order)  # never a no-op
        # Only a run where nothing ran leaves a summary: a unit that just ran has fresh (racy) outputs.
        if fast_key and not always and all(r.status == SKIPPED for r in results):
            files = [p for n in session.order for p in (*session.inputs[n], *session.table[n].abs_outputs)]
            db = [str(paths.engine_dir / DB_NAME)]  # a database removed by hand voids the summary
            fastpath.write(paths.engine_dir, fast_key, session.order, files, _patterns(session), anchors=db)
    if interrupted and not any(r.status == INTERRUPTED for r in results):
        raise KeyboardInterrupt
    return results


def _patterns(session: Session) -> list[str]:
    """Every glob the inputs expand (a literal directory counts as ``dir/**/*``), absolute."""
    patterns = []
    for name in session.order:
        unit = session.table[name]
        for pattern in unit.inputs:
            path = abs_path(os.path.normpath(unit.working_dir), pattern)
            if is_glob(pattern):
                patterns.append(path)
            elif os.path.isdir(path):
                patterns.append(os.path.join(path, "**", "*"))
    return patterns


def plan(
    units: Iterable[Unit],
    targets: Sequence[str],
    *,
    paths: Paths,
    hash_algorithm: str,
    force: bool | Iterable[str] = False,
) -> list[PlanItem]:
    """Every unit ``targets`` need, in run order, with the reasons it would run now (doit's verdict)."""
    session = _session(units, targets, hash_algorithm, force)
    tasks = {t.name: t for t in _compile(session)}
    try:
        TaskControl(list(tasks.values()))
    except (InvalidTask, InvalidDodoFile) as exc:
        raise ConfigError(f"cannot build the task graph: {exc}") from None
    dep = _dependency(session, paths.engine_dir / DB_NAME, read_only=True)
    session.dep = dep
    items: list[PlanItem] = []
    will_run: set[str] = set()
    edges = _edges(session.table, session.order, session.inputs)
    for name in session.order:
        dep.get_status(tasks[name], tasks)
        reasons = list(dep.reasons.get(name, ()))
        reasons += [f"dependency will run: {d}" for d in edges[name] if d in will_run]
        reasons = [r for r in reasons if not (r.startswith("dependency ran: ") and r[16:] in will_run)]
        if reasons:
            will_run.add(name)
        items.append(PlanItem(name, tuple(dict.fromkeys(reasons))))
    return items


def why(units: Iterable[Unit], name: str, *, paths: Paths, hash_algorithm: str) -> list[str]:
    """Every reason ``name`` would run now, or ``[]`` when it is up to date."""
    items = plan(units, [name], paths=paths, hash_algorithm=hash_algorithm)
    return list(items[-1].reasons)


def forget(names: Iterable[str] | None, *, paths: Paths) -> None:
    """Drop doit's up-to-date state of ``names`` (all when None), so they run next time."""
    from orchastration.engine.lock import state_lock

    db_path = paths.engine_dir / DB_NAME
    with state_lock(paths.engine_dir):
        fastpath.invalidate(paths.engine_dir)
        if not db_path.exists():
            return
        db = SqliteDB(str(db_path), codec=_codec())
        if names is None:
            db.remove_all()
        else:
            for name in names:
                db.remove(name)
        db.dump()


def _codec() -> Any:
    from doit.dependency import JSONCodec

    return JSONCodec()
