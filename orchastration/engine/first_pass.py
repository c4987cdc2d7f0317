"""The first pass: units of a run that never ran here, done in run order before doit is asked about
anything, without doit's per-task scheduling, up-to-date check and thread hand-offs; doit then orders,
checks and runs the rest.

One job at a time (no ``-j``), a unit that never ran (doit holds no state for it) is certain to run
or be restored: doit's check could only say so. While every unit before it in the run order was done by
this pass, such a unit is done here whatever it takes (restored from the result store, or its command
run: a first build, a fresh clone, a new branch's build dir). Once a unit is left to doit (it ran
before, is forced or ``always_run``, or an input is missing: doit says how), a later unit is done here
only when the store holds its work and every unit it depends on (and every ``after`` unit of the run)
was done here: restored out of order, as a restore changes nothing another unit's command could see.
With ``-j`` the pass only does the latter, from the start, and asks only the local cache: commands,
and a shared cache's round trips, are doit's threads', side by side.

Each unit goes through the one unit runner (``run_unit``: the same record, logs, hashes and saved state
as when doit asks for it), and its state is saved in doit's graph as doit would have. A unit done here
that another unit depends on stays in doit's graph (up to date: doit orders the dependent after it).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from orchastration.dataclass_code import dataclass, field
from orchastration.engine.doit_adapter import action_result
from orchastration.engine.lookahead import MIN_UNITS, STAGING, Lookahead, discard
from orchastration.engine.result_store import NO_STORE
from orchastration.engine.runner import run_unit
from orchastration.engine.uptodate import hashes_of, never_run_reason, without_run_dir
from orchastration.logs import get_logger, log
from orchastration.outcomes import UnitStatus
from orchastration.state import PRIVATE_DIR

if TYPE_CHECKING:
    from pathlib import Path

    from orchastration.engine.doit_adapter import UnitGraph
    from orchastration.engine.session import Session

_LOG = get_logger("engine")
Lookup = Callable[[Any, Mapping[str, str | None]], bool]  # ResultStore.find or look_ahead
# Lookups out of run order that find nothing, one after another, before the pass stops: on a cold
# cache it would only hash, on the main thread and before anything runs, the inputs the run hashes
# anyway (meanwhile, on its bookkeeping thread, while each command runs).
GIVE_UP_AFTER = 8


@dataclass
class FirstPass:
    """What the pass did: the units done (restored or run), how many of them ran their command, and
    the first one that did not end well (the pass stopped there)."""

    done: list[str] = field(default_factory=list)
    ran: int = 0
    failed: str | None = None
    ahead: int = 0  # units whose inputs and lookup the look-ahead process read (engine/lookahead.py)


def first_pass(session: Session, graph: UnitGraph, names: Sequence[str], restore_only: bool = False) -> FirstPass:
    """Do each qualifying unit of ``names`` (in run order), report it and save its state in ``graph``
    as doit would have; stops at a unit that did not end well (reported as failed). ``restore_only``
    (``-j``): only units the local cache holds, as the pass does once a unit was left to doit (a
    shared cache is not asked: doit's threads wait for its round trips side by side)."""
    out = FirstPass()
    try:
        _pass(session, graph, names, out, restore_only)
    finally:
        if out.done or out.failed:
            restored = len(out.done) - out.ran
            log(_LOG, "info", "first pass", restored=restored, ran=out.ran, failed=out.failed, ahead=out.ahead)
    return out


def _pass(session: Session, graph: UnitGraph, names: Sequence[str], out: FirstPass, restore_only: bool) -> None:
    fresh = without_run_dir(session.table[n] for n in names)  # before this pass (or its look-ahead) makes any
    store = session.runner.store
    lookup = store.look_ahead if restore_only else store.find  # (look_ahead: the local cache only)
    flusher = session.runner.flusher
    staging = None if flusher is None else flusher.directory / STAGING  # (in the engine dir)
    ahead = _look_ahead(session, graph, names, lookup, staging)
    if ahead is None:
        discard(staging)  # outputs a killed run's look-ahead staged
    try:
        _units(session, graph, names, out, fresh, ahead, lookup, leading=not restore_only)
    finally:
        if ahead is not None:
            ahead.close()
            out.ahead = ahead.taken


def _look_ahead(
    session: Session, graph: UnitGraph, names: Sequence[str], lookup: Lookup, staging: Path | None
) -> Lookahead | None:
    """The look-ahead process (``engine/lookahead.py``) for the units of the pass with no dependency,
    when the store holds the first of them (it is looked up here: the pass's own lookup of it);
    ``staging``: where it writes their outputs ahead."""
    runner, chosen = session.runner, set(names)
    store, cache = runner.store, runner.cache
    if store is NO_STORE:
        return None
    alone = [n for n in names if not _doits(session, graph, n, set(), chosen)]  # (none of them done yet)
    if len(alone) <= MIN_UNITS:
        return None
    first = session.table[alone[0]]
    states = {p: cache.try_state(p) for p in session.inputs[first.name]}
    if any(s is None for s in states.values()) or not lookup(first, hashes_of(states)):
        return None  # a cold cache: the pass hashes each unit's inputs while the one before runs
    return Lookahead.start(alone[1:], session.table, session.inputs, cache, store, staging)


def _units(
    session: Session,
    graph: UnitGraph,
    names: Sequence[str],
    out: FirstPass,
    fresh: set[str],
    ahead: Lookahead | None,
    lookup: Lookup,
    leading: bool,
) -> None:
    """``leading``: every unit so far was done here, so this one is, whatever it takes; once False,
    only a unit ``lookup`` finds in the store (and whose dependencies were done here) is."""
    runner = session.runner
    store = runner.store
    chosen, done = set(names), set[str]()
    runs: dict[str, str | None] = {}  # the run id each unit done here saved (its dependents' ``deps``)
    misses = 0
    for name in names:
        if not leading and (store is NO_STORE or misses >= GIVE_UP_AFTER):
            return  # nothing to restore, or a cold cache: the rest is doit's (and the runner's lookup)
        unit = session.table[name]
        if session.cancel.is_set():
            return
        if _doits(session, graph, name, done, chosen):
            leading = False
            continue
        states = _states(session, name, ahead)
        if leading and any(s is None for s in states.values()):
            leading = False  # an input missing or unreadable: doit's verdict and words
        if not leading and not lookup(unit, hashes_of(states)):
            misses += 1
            continue
        misses = 0
        check = session.checks[name]
        check.dep_runs = {dep: runs.get(dep) for dep in unit.depends_on}
        reason = "never run" if name in fresh else never_run_reason(unit)
        if name in fresh and (ahead is None or name not in ahead.made):
            _make_run_dir(unit.record_dir)
        run = run_unit(runner, unit, session.inputs[name], reasons=(reason,), dep_runs=check.dep_runs,
                       prefix=f"[{name}] " if session.prefixed else "", cancel=None, on_start=session.on_start,
                       ahead=session.ahead_of(name), states=states)  # fmt: skip
        session.outcomes[name] = run.result
        if run.values is None or run.result.status not in (UnitStatus.RESTORED, UnitStatus.RAN):
            if run.result.status == UnitStatus.INTERRUPTED:
                session.cancel.set()  # as when doit runs it: nothing more starts
            session.failed(name, run.result.message, False)
            out.failed = name
            return
        graph.save(name, action_result(run.values, "", file_states=run.inputs))
        if run.landing is not None:
            session.landings[name] = run.landing
        check.done_in_run = True  # kept in doit's graph for a dependent: not checked again
        session.succeeded(name)
        done.add(name)
        out.done.append(name)
        out.ran += run.result.status == UnitStatus.RAN
        runs[name] = str(run.values["run"])


def _doits(session: Session, graph: UnitGraph, name: str, done: set[str], chosen: set[str]) -> bool:
    """Left to doit whatever the store holds: forced, ``always_run``, a dependency (or an ``after``
    unit of the run) not done here, or state doit already holds for it."""
    unit = session.table[name]
    return (
        name in session.forced
        or unit.always_run
        or any(d not in done for d in session.edges[name])
        or any(a in chosen and a not in done for a in unit.after)
        or not graph.never_run(name)
    )


def _make_run_dir(path: Path) -> None:
    """A never-run unit's runs directory, known missing: made first, not found missing by the run
    slot's link (a failed link, a lookup and two exceptions less a unit of a first build)."""
    with contextlib.suppress(OSError):  # (the unit says so itself when it claims its slot)
        os.mkdir(path, PRIVATE_DIR)


def _states(session: Session, name: str, ahead: Lookahead | None) -> dict[str, list[Any] | None]:
    """The unit's input states: as the look-ahead read them (its store lookup adopted with them), or
    read now."""
    runner, unit = session.runner, session.table[name]
    if ahead is not None:
        taken = ahead.take(name)
        if taken is not None:
            states, found = taken
            for path, state in states.items():
                runner.cache.adopt(path, state)
            runner.store.adopt(unit, found)
            return dict(states)
    return {p: runner.cache.try_state(p) for p in session.inputs[name]}
