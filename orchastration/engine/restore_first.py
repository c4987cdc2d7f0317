"""Restored first: the units of a run that never ran here and whose work the result store holds (a fresh
clone, a new branch's build dir, a CI machine, all with a warm output cache) are restored in run order
before doit is asked about anything; doit then orders, checks and runs the rest.

Each such unit is restored by the one unit runner (``run_unit``: the same record, logs, hashes and saved
state as a restore doit asked for), without doit's per-task scheduling, up-to-date check and thread
hand-offs: ~0.5 ms a unit of a 1,000-unit fresh clone. A unit qualifies when it is not forced or
``always_run``, doit holds no state for it, every unit it depends on (and every ``after`` unit of the
run) was restored here, and the store finds its entry for its inputs as they are now. Anything else is
doit's, as before; a restored unit another unit depends on stays in doit's graph (up to date: doit
orders the dependent after it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from orchastration.dataclass_code import dataclass, field
from orchastration.engine.doit_adapter import action_result
from orchastration.engine.runner import run_unit
from orchastration.engine.uptodate import never_run_reason
from orchastration.logs import get_logger, log
from orchastration.outcomes import UnitStatus

if TYPE_CHECKING:
    from orchastration.engine.doit_adapter import UnitGraph
    from orchastration.engine.session import Session

_LOG = get_logger("engine")
# Lookups that find nothing, one after another, before the pass stops: on a cold cache it would only
# hash, on the main thread and before anything runs, the inputs the run hashes anyway (meanwhile, on
# its bookkeeping thread, while each command runs).
GIVE_UP_AFTER = 8


@dataclass
class RestoredFirst:
    """What the pass did: the units restored, and the first one that ended otherwise (its cache entry
    went away between the lookup and the restore, so its command ran, and failed)."""

    done: list[str] = field(default_factory=list)
    failed: str | None = None


def restore_first(session: Session, graph: UnitGraph, names: Sequence[str]) -> RestoredFirst:
    """Restore each qualifying unit of ``names`` (in run order), report it and save its state in
    ``graph`` as doit would have; stops at a unit that did not end well (reported as failed)."""
    out = RestoredFirst()
    try:
        _restore(session, graph, names, out)
    finally:
        if out.done or out.failed:
            log(_LOG, "info", "restored first", units=len(out.done), failed=out.failed)
    return out


def _restore(session: Session, graph: UnitGraph, names: Sequence[str], out: RestoredFirst) -> None:
    runner = session.runner
    store, cache = runner.store, runner.cache
    chosen, done = set(names), set[str]()
    runs: dict[str, str | None] = {}  # the run id each restored unit saved (its dependents' ``deps``)
    misses = 0
    for name in names:
        if misses >= GIVE_UP_AFTER:
            return  # a cold cache: the rest is doit's (and the runner's own lookup), as without this pass
        unit = session.table[name]
        if session.cancel.is_set():
            return
        if name in session.forced or unit.always_run:
            continue
        if any(d not in done for d in session.edges[name]) or any(a in chosen and a not in done for a in unit.after):
            continue
        if not graph.never_run(name):
            continue
        states = {p: cache.try_state(p) for p in session.inputs[name]}
        if not store.find(unit, {p: None if s is None else str(s[2]) for p, s in states.items()}):
            misses += 1
            continue
        misses = 0
        check = session.checks[name]
        check.dep_runs = {dep: runs.get(dep) for dep in unit.depends_on}
        run = run_unit(runner, unit, session.inputs[name], reasons=(never_run_reason(unit),), dep_runs=check.dep_runs,
                       prefix=f"[{name}] " if session.prefixed else "", cancel=None, on_start=session.on_start,
                       ahead=None, states=states)  # fmt: skip
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
        runs[name] = str(run.values["run"])
