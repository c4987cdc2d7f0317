"""The first pass: units of a run that never ran here, done in run order before doit is asked about
anything, without doit's per-task scheduling, up-to-date check and thread hand-offs; doit then orders,
checks and runs the rest.

One job at a time (no ``-j``), a unit that never ran (doit holds no state for it) is certain to run or
be restored: doit's check could only say so. While every unit before it in the run order was done by
this pass, such a unit is done here whatever it takes (restored from the result store, or its command
run: a first build, a fresh clone, a new branch's build dir). Once a unit is left to doit (it ran
before, is forced or ``always_run``, or an input is missing: doit says how), a later unit is done here
only when the store holds its work and every unit it depends on (and every ``after`` unit of the run)
was done here: restored out of order, as a restore changes nothing another unit's command could see.

Each unit goes through the one unit runner (``run_unit``: the same record, logs, hashes and saved state
as when doit asks for it), and its state is saved in doit's graph as doit would have. A unit done here
that another unit depends on stays in doit's graph (up to date: doit orders the dependent after it).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from orchastration.dataclass_code import dataclass, field
from orchastration.engine.doit_adapter import action_result
from orchastration.engine.lookahead import MIN_UNITS, Lookahead
from orchastration.engine.result_store import NO_STORE
from orchastration.engine.runner import run_unit
from orchastration.engine.uptodate import hashes_of, never_run_reason, without_run_dir
from orchastration.logs import get_logger, log
from orchastration.outcomes import UnitStatus
from orchastration.state import PRIVATE_DIR

if TYPE_CHECKING:
    from orchastration.engine.doit_adapter import UnitGraph
    from orchastration.engine.session import Session

_LOG = get_logger("engine")
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


def first_pass(session: Session, graph: UnitGraph, names: Sequence[str]) -> FirstPass:
    """Do each qualifying unit of ``names`` (in run order), report it and save its state in ``graph``
    as doit would have; stops at a unit that did not end well (reported as failed)."""
    out = FirstPass()
    try:
        _pass(session, graph, names, out)
    finally:
        if out.done or out.failed:
            restored = len(out.done) - out.ran
            log(_LOG, "info", "first pass", restored=restored, ran=out.ran, failed=out.failed, ahead=out.ahead)
    return out


def _pass(session: Session, graph: UnitGraph, names: Sequence[str], out: FirstPass) -> None:
    fresh = without_run_dir(session.table[n] for n in names)  # before this pass (or its look-ahead) makes any
    ahead = _look_ahead(session, graph, names)
    try:
        _units(session, graph, names, out, fresh, ahead)
    finally:
        if ahead is not None:
            ahead.close()
            out.ahead = ahead.taken


def _look_ahead(session: Session, graph: UnitGraph, names: Sequence[str]) -> Lookahead | None:
    """The look-ahead process (``engine/lookahead.py``) for the units of the pass with no dependency,
    when the store holds the first of them (it is looked up here: the pass's own lookup of it)."""
    runner, chosen = session.runner, set(names)
    store, cache = runner.store, runner.cache
    if store is NO_STORE:
        return None
    alone = [
        n for n in names
        if n not in session.forced and not session.table[n].always_run
        and not session.edges[n]  # (its depends_on, and the producers of its inputs)
        and not any(a in chosen for a in session.table[n].after) and graph.never_run(n)
    ]  # fmt: skip
    if len(alone) <= MIN_UNITS:
        return None
    first = session.table[alone[0]]
    states = {p: cache.try_state(p) for p in session.inputs[first.name]}
    if any(s is None for s in states.values()) or not store.find(first, hashes_of(states)):
        return None  # a cold cache: the pass hashes each unit's inputs while the one before runs
    return Lookahead.start(alone[1:], session.table, session.inputs, cache, store)


def _units(
    session: Session, graph: UnitGraph, names: Sequence[str], out: FirstPass, fresh: set[str], ahead: Lookahead | None
) -> None:
    runner = session.runner
    store = runner.store
    chosen, done = set(names), set[str]()
    runs: dict[str, str | None] = {}  # the run id each unit done here saved (its dependents' ``deps``)
    leading = True  # every unit so far was done here: this one is, whatever it takes
    misses = 0
    for name in names:
        if not leading and (store is NO_STORE or misses >= GIVE_UP_AFTER):
            return  # nothing to restore, or a cold cache: the rest is doit's (and the runner's lookup)
        unit = session.table[name]
        if session.cancel.is_set():
            return
        if (
            name in session.forced
            or unit.always_run
            or any(d not in done for d in session.edges[name])
            or any(a in chosen and a not in done for a in unit.after)
            or not graph.never_run(name)
        ):
            leading = False
            continue
        states = _states(session, name, ahead)
        if leading and any(s is None for s in states.values()):
            leading = False  # an input missing or unreadable: doit's verdict and words
        if not leading and not store.find(unit, hashes_of(states)):
            misses += 1
            continue
        misses = 0
        check = session.checks[name]
        check.dep_runs = {dep: runs.get(dep) for dep in unit.depends_on}
        reason = "never run" if name in fresh else never_run_reason(unit)
        if name in fresh and (ahead is None or name not in ahead.made):
            # Its runs directory, known missing: made first, not found missing by the run slot's
            # link (a failed link, a lookup and two exceptions less a unit of a first build).
            with contextlib.suppress(OSError):  # (the unit says so itself when it claims its slot)
                os.mkdir(unit.record_dir, PRIVATE_DIR)
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
