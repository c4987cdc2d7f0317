"""Units compiled into doit tasks and run in-process by doit's runner: doit orders, parallelises
(threads) and decides up to date; each task's action runs the command and writes its record."""

from __future__ import annotations

import functools
import gc
import queue
from collections.abc import Callable, Iterable, Sequence, Set
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
    PlanItem,
    Unit,
    UnitResult,
    closure,
    expand_inputs,
    index,
    input_patterns,
    literal_producers,
)
from orchastration.engine.uptodate import ExplainingDependency, HashCache, UnitCheck, checker_class
from orchastration.errors import ConfigError
from orchastration.logs import get_logger, log
from orchastration.paths import Paths
from orchastration.patterns import DirListing

DB_NAME = "doit.sqlite3"
_LOG = get_logger("engine")


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


def _compile(session: Session, names: Iterable[str] | None = None) -> list[Any]:
    """One doit Task per unit (``names``, default all): inputs -> file_dep, outputs -> targets,
    depends_on -> task_dep."""
    tasks = []
    for name in session.order if names is None else names:
        unit = session.table[name]
        tasks.append(
            Task(
                name,
                actions=[(session.execute, [name])],
                file_dep=session.inputs[name],
                targets=list(unit.abs_outputs),
                task_dep=list(unit.depends_on),
                uptodate=[session.checks[name]],
                verbosity=0,
                io={"capture": False},  # our action streams itself; doit must not swap sys.stdout
            )
        )
    return tasks


def _for_doit(session: Session, trusted: Set[str], forced: Set[str]) -> list[str]:
    """The units doit has to decide, in run order: every unit the summary does not vouch for (or
    forced, or always_run), everything downstream of one, and what those depend on (doit needs
    their tasks to order them, and decides them too)."""
    edges = session.edges
    changed = {n for n in session.order if n not in trusted or n in forced or session.table[n].always_run}
    if not changed:
        return []
    affected: set[str] = set()
    for name in session.order:  # dependencies come first in run order: one pass finds every dependent
        if name in changed or any(dep in affected for dep in edges[name]):
            affected.add(name)
    needed: set[str] = set()
    stack = list(affected)
    while stack:
        name = stack.pop()
        if name not in needed:
            needed.add(name)
            stack.extend(edges[name])
    return [n for n in session.order if n in needed]


def _session(
    units: Iterable[Unit],
    targets: Sequence[str],
    algorithm: str,
    force: bool | Iterable[str],
    summary: fastpath.Summary | None = None,
) -> Session:
    """The run's units in order with their expanded inputs. With a ``summary`` of the same config
    and targets, its order stands and the inputs of the units it vouches for are its own lists
    (their files and globs are unchanged): only the other units are expanded again."""
    table = index(units)
    order = summary.order if summary is not None else closure(table, targets, literal_producers(table))
    known = summary.entries if summary is not None else {}
    forced = set(targets) if force is True else set(force or ())
    cache = HashCache(algorithm)
    # One scandir per input directory pays off for many units; for the few a summary leaves, a stat
    # per literal input is cheaper than listing a 10,000-file directory.
    listing = DirListing() if len(order) - len(known) > _FEW_TO_LIST else None
    inputs: dict[str, list[str]] = {}
    for n in order:
        # A unit's own outputs are never its inputs (``inputs = ["app/*.py"]`` with
        # ``outputs = ["app/b.py"]``): doit would see a task depending on itself.
        own = set(table[n].abs_outputs)
        entry = known.get(n)
        files = fastpath.entry_files(entry) if entry is not None else expand_inputs(table[n], listing)
        inputs[n] = [p for p in files if p not in own]
    edges = _edges(table, order, inputs)
    _check_file_cycles(order, edges)
    return Session(
        table=table,
        order=order,
        algorithm=algorithm,
        cache=cache,
        checks={n: UnitCheck(table[n], cache, forced=n in forced) for n in order},
        inputs=inputs,
        edges=edges,
        forced=forced,
    )


def _edges(table: dict[str, Unit], order: list[str], inputs: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each unit's dependencies: its ``depends_on`` and the units that output one of its inputs
    (doit makes a unit depend on the producer of its file_dep)."""
    producer = {p: n for n in order for p in table[n].abs_outputs}
    return {
        n: list(dict.fromkeys([*table[n].depends_on, *(producer[p] for p in inputs[n] if producer.get(p, n) != n)]))
        for n in order
    }


def _check_file_cycles(order: list[str], edges: dict[str, list[str]]) -> None:
    """A loop through inputs and outputs (or ``depends_on``) is a config error naming the units,
    found before anything runs."""
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
    """doit's sqlite3 backend, read in one query instead of one per task (1,000 tasks: ~40 ms less).
    ``only``: the tasks to read, when a run needs a few of many (others load on demand, as in doit)."""

    def __init__(self, name: str, codec: Any, *, module_name: str | None = None, only: Sequence[str] = ()) -> None:
        super().__init__(name, codec, module_name=module_name)
        query = "select task_id, task_data from doit"
        rows = (
            self._conn.execute(f"{query} where task_id in ({','.join('?' * len(only))})", list(only))
            if 0 < len(only) <= _FEW
            else self._conn.execute(query)
        )
        for row in rows:
            self._cache[row["task_id"]] = row["task_data"]


_FEW_TO_LIST = 50
_FEW = 200  # below this many tasks, read just those rows (sqlite allows 999 parameters everywhere)


def _dependency(session: Session, db_path: Path, read_only: bool = False, only: Sequence[str] = ()) -> Any:
    # sqlite3: every commit is atomic and journaled, so a crash mid-run never corrupts the database.
    # Read-only callers with no database yet use an in-memory JSON one that is never written.
    db_class: Any = JsonDB if read_only and not db_path.exists() else _PreloadedSqliteDB
    if only and db_class is _PreloadedSqliteDB:
        db_class = functools.partial(_PreloadedSqliteDB, only=only)
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
    ``fast_key``: the up-to-date summary's key (see engine/fastpath.py): units the summary of the
    last run under this key still vouches for are reported ``skipped`` without asking doit, and a
    new summary is written for the units that end up to date.
    """
    from orchastration.engine.lock import state_lock

    units = list(units)

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
    interrupted = False
    with state_lock(paths.engine_dir, on_lock_wait):
        # Units the last run's summary still vouches for are up to date; doit decides the rest and
        # everything downstream of them. No summary: doit decides every unit.
        summary = fastpath.trusted(paths.engine_dir, fast_key) if fast_key else None
        fastpath.invalidate(paths.engine_dir)
        if summary is not None and not set(summary.order).issubset(u.name for u in units):
            summary = None  # not these units (cannot happen with a matching key; be safe)
        session = _session(units, targets, hash_algorithm, force, summary)
        session.console, session.err_console = console, err_console
        session.prefixed = jobs > 1 if prefix_output is None else prefix_output
        session.threaded = jobs > 1
        session.on_start, session.on_result = on_start, on_result
        carried = summary.entries if summary is not None else {}
        names = _for_doit(session, carried.keys(), session.forced) if carried else list(session.order)
        chosen = set(names)
        if fast_key:
            by_summary = len(session.order) - len(names)
            log(_LOG, "info", "up-to-date check", units=len(session.order), by_summary=by_summary)
        for name in session.order:
            if name not in chosen:
                session.report(UnitResult(name, SKIPPED, 0, 0, None, (), ""))
        errors: list[str] = []
        if names:
            # Every unit: doit starts from the targets, as it would on its own; a subset: from each unit in it.
            process = list(targets) if len(names) == len(session.order) else names
            interrupted = _run_doit(session, names, process, paths, jobs, keep_going, collecting, errors)
        if collecting:
            gc.enable()
        for name in session.order:  # never started: a dependency failed, or the run stopped
            if name not in session.results:
                why = "run interrupted" if session.cancel.is_set() else "run stopped after a failure"
                session.report(UnitResult(name, NOT_RUN, None, 0, None, (), f"not run: {why}"))
        results = [session.results[n] for n in session.results]
        if errors and not any(r.status in (FAILED, TIMEOUT, INTERRUPTED) for r in results):
            raise ConfigError(errors[0].strip())
        if fast_key and not interrupted:
            fresh = [
                (n, [*session.inputs[n], *session.table[n].abs_outputs], input_patterns(session.table[n])[0])
                for n in names
                if session.results[n].status == SKIPPED and not session.table[n].always_run
            ]
            kept = {n: e for n, e in carried.items() if n not in chosen}
            db = [str(paths.engine_dir / DB_NAME)]  # a database changed by anything else voids the summary
            fastpath.write(paths.engine_dir, fast_key, session.order, fresh, anchors=db, carried=kept)
    if interrupted and not any(r.status == INTERRUPTED for r in results):
        raise KeyboardInterrupt
    return results


def _run_doit(
    session: Session,
    names: list[str],
    process: list[str],
    paths: Paths,
    jobs: int,
    keep_going: bool,
    collecting: bool,
    errors: list[str],
) -> bool:
    """Let doit order, check and run the units ``names`` (starting from ``process``); True when
    interrupted. doit's runtime errors are appended to ``errors``."""
    try:
        control = TaskControl(_compile(session, names))
        control.process(process)
    except (InvalidTask, InvalidDodoFile) as exc:
        raise ConfigError(f"cannot build the task graph: {exc}") from None
    session.dep = _dependency(session, paths.engine_dir / DB_NAME, only=names)
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
    interrupted = False
    try:
        runner.run_all(control.task_dispatcher())
    except KeyboardInterrupt:
        interrupted = True
        session.cancel.set()
        session.wait_idle(30)
        for outcome in list(session.outcomes.values()):
            session.report(outcome)
    errors.extend(reporter.errors)
    return interrupted


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
    edges = session.edges
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
