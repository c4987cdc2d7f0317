"""Runs of units (jobs, task builds) through doit: ``run_units``, ``plan`` (what would run, and why),
``why`` and ``forget``. doit orders, parallelises (threads) and decides up to date; each task's
action runs the unit through ``engine/runner.py``."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from orchastration.engine.doit_adapter import Explain, UnitGraph, UnitTask
from orchastration.engine.doit_adapter import forget as forget_in_db
from orchastration.engine.durable import Flusher
from orchastration.engine.fastpath import Summaries
from orchastration.engine.first_pass import first_pass
from orchastration.engine.graph import Graph, build, for_doit, upstream
from orchastration.engine.lock import state_dir_error, state_lock
from orchastration.engine.result_store import NO_STORE, ResultStore
from orchastration.engine.runner import LOCAL, Executor, UnitRunner
from orchastration.engine.session import ResultCallback, Session
from orchastration.engine.units import PlanItem, Unit, UnitResult, input_patterns
from orchastration.engine.uptodate import HashCache, UnitCheck, checker_class, describe
from orchastration.errors import ConfigError
from orchastration.logs import get_logger, log
from orchastration.outcomes import UnitStatus
from orchastration.paths import Paths

DB_NAME = "doit.sqlite3"
_LOG = get_logger("engine")
_FAILURES = (UnitStatus.FAILED, UnitStatus.TIMEOUT, UnitStatus.INTERRUPTED)


def run_units(
    units: Iterable[Unit],
    targets: Sequence[str],
    *,
    paths: Paths,
    hash_algorithm: str,
    environ: Mapping[str, str],
    force: bool | Iterable[str] = False,
    parallel: int = 1,
    keep_going: bool = False,
    dry_run: bool = False,
    console: IO[str] | None = None,
    err_console: IO[str] | None = None,
    on_result: ResultCallback | None = None,
    on_start: Callable[[str], None] | None = None,
    on_lock_wait: Callable[[], None] | None = None,
    summaries: Summaries | None = None,
    summary_key: str | None = None,
    prefix_output: bool | None = None,
    executor: Executor = LOCAL,
    store: ResultStore = NO_STORE,
) -> list[UnitResult]:
    """Run ``targets`` and what they depend on through doit; results in completion order.

    ``force``: True forces ``targets`` (not their dependencies), or give the names to force.
    ``dry_run`` runs nothing: each unit comes back ``skipped`` (up to date) or ``not_run`` with
    its reasons. Takes the state lock (``on_lock_wait`` is called if another run holds it).
    ``environ``: what every command inherits. ``summary_key``: the up-to-date summary's key (see
    engine/fastpath.py): units the summary of the last run under this key still vouches for are
    reported ``skipped`` without asking doit, and a new summary is written for the units that end
    up to date (``summaries``: the reader the no-op test already used, if any).
    """
    units = list(units)
    if dry_run:
        return _dry_run(plan(units, targets, paths=paths, hash_algorithm=hash_algorithm, force=force), on_result)
    # Records, logs, database: durable in batches; the bookkeeping runs while a command does, done
    # by a jobs' thread that started one (engine/durable.py).
    flusher = Flusher(paths.engine_dir, gated=True)
    runner = UnitRunner(hash_algorithm, environ, HashCache(hash_algorithm), console, err_console, executor, store,
                        flusher)  # fmt: skip
    summaries = summaries or Summaries(paths.engine_dir)
    with _gc_paused() as loaded, state_lock(paths.engine_dir, on_lock_wait), contextlib.closing(flusher):
        # Units the last run's summary still vouches for are up to date; doit decides the rest and
        # everything downstream of them. No summary: doit decides every unit.
        summary = _trusted(summaries, summary_key, units)
        graph = build(units, targets, summary)
        session = _session(graph, runner, targets, force)
        session.prefixed = parallel > 1 if prefix_output is None else prefix_output
        session.threaded = parallel > 1
        session.on_start, session.on_result = on_start, on_result
        carried = summary.entries if summary is not None else {}
        names = for_doit(graph, carried.keys(), session.forced) if carried else list(session.order)
        if summary_key:
            log(_LOG, "info", "up-to-date check", units=len(session.order), by_summary=len(session.order) - len(names))
        interrupted = _run(session, names, targets, paths.engine_dir / DB_NAME, parallel, keep_going, loaded)
        results = [session.results[n] for n in session.results]
        if summary_key and not interrupted:
            _write_summary(summaries, summary_key, session, names, carried, paths.engine_dir / DB_NAME)
    if interrupted and not any(r.status == UnitStatus.INTERRUPTED for r in results):
        raise KeyboardInterrupt
    return results


def _trusted(summaries: Summaries, key: str | None, units: list[Unit]) -> Any:
    """The last run's summary under ``key`` if it still vouches for these units (and none after this run)."""
    summary = summaries.trusted(key) if key else None
    summaries.invalidate()
    if summary is not None and not set(summary.order).issubset(u.name for u in units):
        summary = None  # not these units (cannot happen with a matching key; be safe)
    return summary


def _dry_run(items: list[PlanItem], on_result: ResultCallback | None) -> list[UnitResult]:
    """A plan as results: ``skipped`` (up to date) or ``not_run`` with its reasons."""
    out = [UnitResult(i.name, UnitStatus.NOT_RUN if i.would_run else UnitStatus.SKIPPED, None, 0, None, i.reasons, "")
           for i in items]  # fmt: skip
    for result in out:
        if on_result is not None:
            on_result(result)
    return out


def _session(graph: Graph, runner: UnitRunner, targets: Sequence[str], force: bool | Iterable[str]) -> Session:
    forced = set(targets) if force is True else set(force or ())
    checks = {n: UnitCheck(graph.table[n], runner.cache, forced=n in forced, settle=True) for n in graph.order}
    return Session(graph.table, graph.order, runner, checks, graph.inputs, graph.edges, forced)


def _run(
    session: Session,
    names: list[str],
    targets: Sequence[str],
    db_path: Path,
    parallel: int,
    keep_going: bool,
    loaded: Callable[[], None],
) -> bool:
    """Report the units doit need not see as skipped, let doit decide and run ``names``, report the
    units never started; True when interrupted."""
    chosen = set(names)
    for name in session.order:
        if name not in chosen:
            session.report(UnitResult(name, UnitStatus.SKIPPED, 0, 0, None, (), ""))
    interrupted, errors = False, list[str]()
    if names:
        # Every unit: doit starts from the targets, as it would on its own; a subset: from each unit in it.
        start = list(targets) if len(names) == len(session.order) else names
        store = session.runner.store  # a unit's cache key covers its dependencies' (docs/cache.md)
        store.open(session.table, session.inputs, session.runner.cache)
        try:
            interrupted, errors = _run_doit(session, names, start, db_path, parallel, keep_going, loaded)
        finally:
            store.close()
    loaded()
    for name in session.order:  # never started: a dependency failed, or the run stopped
        if name not in session.results:
            why = "run interrupted" if session.cancel.is_set() else "run stopped after a failure"
            session.report(UnitResult(name, UnitStatus.NOT_RUN, None, 0, None, (), f"not run: {why}"))
    if errors and not any(r.status in _FAILURES for r in session.results.values()):
        raise ConfigError(errors[0].strip())
    return interrupted


def _run_doit(
    session: Session,
    names: list[str],
    start: list[str],
    db_path: Path,
    parallel: int,
    keep_going: bool,
    loaded: Callable[[], None],
) -> tuple[bool, list[str]]:
    """Let doit order, check and run the units ``names`` (starting from ``start``): (interrupted,
    doit's runtime errors)."""
    import sqlite3

    chosen = set(names)  # ``after`` units in this run: doit orders them as task_dep, but no check sees them
    tasks = [
        UnitTask(n, session.action(n), session.inputs[n], session.table[n].abs_outputs,
                 [*session.table[n].depends_on, *(a for a in session.table[n].after if a in chosen)],
                 session.checks[n])
        for n in names
    ]  # fmt: skip
    explain = _explainer(session.table, session.checks)
    graph = UnitGraph(tasks, db_path, checker_class(session.runner.cache), explain, start=start, only=names)
    session.reasons_of, session.commit = graph.reasons, graph.commit
    session.commit_staged = graph.commit_staged
    loaded()
    try:
        if _for_doit(session, graph, names, keep_going):
            session.dispatching = session.threaded
            errors = graph.run(session, parallel=parallel, keep_going=keep_going, on_interrupt=session.interrupted)
        else:
            errors = graph.finish(session)
    except sqlite3.OperationalError as exc:  # doit saves its database at the end: the disk filled up
        raise state_dir_error(db_path.parent, exc, db_path) from None
    except KeyboardInterrupt:
        session.cancel.set()
        session.running.wait_idle(30)
        for outcome in list(session.outcomes.values()):
            session.report(outcome)
        return True, []
    return False, errors


def _for_doit(session: Session, graph: UnitGraph, names: list[str], keep_going: bool) -> bool:
    """Do first what never ran (``engine/first_pass.py``), then narrow doit's graph to the rest and
    what it depends on; False: nothing is left for doit. With ``-j`` the pass only restores what the
    local cache holds (one thread restoring small entries beats N taking turns at the interpreter
    lock: a fresh clone of 1,000 x 10 took 2.3 x as long at ``-j 2``); doit's threads run the rest
    side by side, and restore what only a shared cache holds (its round trips waited for together)."""
    first = first_pass(session, graph, names, restore_only=session.threaded)
    if not first.done and first.failed is None:
        return True
    settled = set(first.done)
    if first.failed is not None:
        if not keep_going:
            return False  # the rest is reported not run: the run stopped after a failure
        settled |= _report_dependents(session, names, first.failed)
    rest = [n for n in names if n not in settled]
    if not rest:
        return False
    chosen = set(names)
    # The rest and what doit needs to order them (their task_dep: units done first among them, up to date).
    needed = upstream(rest, lambda n: [*session.edges[n], *(a for a in session.table[n].after if a in chosen)])
    graph.narrow([n for n in names if n in needed], rest)
    return True


def _report_dependents(session: Session, names: list[str], failed: str) -> set[str]:
    """The units downstream of ``failed`` (reported not run) and ``failed`` itself."""
    out = {failed}
    for name in names:  # run order: dependencies first
        if name not in out and any(d in out for d in session.edges[name]):
            out.add(name)
            why = f"not run: dependency failed: {failed}"
            session.report(UnitResult(name, UnitStatus.NOT_RUN, None, 0, None, (), why))
    return out


def _write_summary(
    summaries: Summaries, key: str, session: Session, names: list[str], carried: Mapping[str, Any], db: Path
) -> None:
    """The summary of this run: the units doit judged up to date, and those the last one vouched for."""
    fresh = [
        (
            n,
            [*session.inputs[n], *session.table[n].abs_outputs],
            [*input_patterns(session.table[n])[0], *session.table[n].output_globs],
        )  # fmt: skip
        for n in names
        if session.results[n].status == UnitStatus.SKIPPED and not session.table[n].always_run
    ]
    chosen = set(names)
    kept = {n: e for n, e in carried.items() if n not in chosen}
    # A database changed by anything else voids the summary.
    summaries.write(key, session.order, fresh, anchors=[str(db)], carried=kept)


def _explainer(table: Mapping[str, Unit], checks: Mapping[str, UnitCheck]) -> Explain:
    """doit's reasons and ours for a unit, in plain words (``uptodate.describe``)."""
    produced = {p for unit in table.values() for p in unit.abs_outputs}

    def explain(name: str, reasons: Mapping[str, Any], never_run: bool) -> list[str]:
        check, unit = checks.get(name), table.get(name)
        return describe(unit, check, reasons, never_run, produced) if check and unit else []

    return explain


@contextlib.contextmanager
def _gc_paused() -> Iterator[Callable[[], None]]:
    """Loading thousands of units (sessions, doit tasks, the database) makes Python's cycle collector
    rescan the growing heap again and again: ~25 ms of a 1,000-unit run. It is paused while loading;
    what was loaded lives as long as the run, so ``loaded()`` freezes it out of later scans and
    resumes collecting. On exit the collector is as it was found."""
    collecting = gc.isenabled()
    gc.disable()
    done = False

    def loaded() -> None:
        nonlocal done
        if done:  # called once doit has loaded, and again when the run ends (doit may not have run)
            return
        done = True
        gc.freeze()
        if collecting:
            gc.enable()

    try:
        yield loaded
    finally:
        gc.unfreeze()
        if collecting:
            gc.enable()


def plan(
    units: Iterable[Unit],
    targets: Sequence[str],
    *,
    paths: Paths,
    hash_algorithm: str,
    force: bool | Iterable[str] = False,
) -> list[PlanItem]:
    """Every unit ``targets`` need, in run order, with the reasons it would run now (doit's verdict)."""
    with _gc_paused():  # only loads and checks: no cycles worth collecting
        graph = build(units, targets)
        cache = HashCache(hash_algorithm)
        forced = set(targets) if force is True else set(force or ())
        checks = {n: UnitCheck(graph.table[n], cache, forced=n in forced) for n in graph.order}
        tasks = [
            UnitTask(n, _never, graph.inputs[n], graph.table[n].abs_outputs, graph.table[n].depends_on, checks[n])
            for n in graph.order
        ]
        db = paths.engine_dir / DB_NAME
        doit = UnitGraph(tasks, db, checker_class(cache), _explainer(graph.table, checks), read_only=True)
        items: list[PlanItem] = []
        will_run: set[str] = set()
        may_run: set[str] = set()
        for name in graph.order:
            doit.check(name)
            reasons = [r for r in doit.reasons(name) if not (r.startswith("dependency ran: ") and r[16:] in will_run)]
            reasons += _upstream_reasons(graph.edges[name], graph.table[name].depends_on, will_run, may_run)
            if any(not r.startswith(MAY_RUN) for r in reasons):
                will_run.add(name)
            elif reasons:
                may_run.add(name)
            items.append(PlanItem(name, tuple(dict.fromkeys(reasons))))
    return items


MAY_RUN = "may run: "


def _upstream_reasons(edges: Sequence[str], declared: Sequence[str], will: set[str], may: set[str]) -> list[str]:
    """Reasons from what runs before a unit (docs/jobs.md): a ``depends_on`` dependency that will run
    makes it run; one linked only by a file makes it run only if that file's content changes, which
    no plan can know (``may run: ...``); so does a dependency that itself only may run."""
    out = []
    for dep in edges:
        if dep in will:
            out.append(f"dependency will run: {dep}" if dep in declared else f"{MAY_RUN}dependency will run: {dep}")
        elif dep in may:
            out.append(f"{MAY_RUN}dependency may run: {dep}")
    return out


def _never() -> None:
    raise AssertionError("a plan runs nothing")


def why(units: Iterable[Unit], name: str, *, paths: Paths, hash_algorithm: str) -> list[str]:
    """Every reason ``name`` would run now, or ``[]`` when it is up to date."""
    items = plan(units, [name], paths=paths, hash_algorithm=hash_algorithm)
    return list(items[-1].reasons)


def forget(names: Iterable[str] | None, *, paths: Paths) -> None:
    """Drop doit's up-to-date state of ``names`` (all when None), so they run next time."""
    with state_lock(paths.engine_dir):
        Summaries(paths.engine_dir).invalidate()
        forget_in_db(paths.engine_dir / DB_NAME, names)
