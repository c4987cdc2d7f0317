"""One run's shared state: its units in order, their inputs and checks, and the results as they come.

doit's main loop and its worker threads share it: ``execute`` is each unit's doit action (through
``engine/runner.py``), and the ``UnitEvents`` methods turn doit's verdicts into ``UnitResult``s.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from orchastration.dataclass_code import dataclass, field
from orchastration.engine.doit_adapter import UnitEvents, action_result
from orchastration.engine.runner import Landing, UnitRunner, run_unit
from orchastration.engine.units import Unit, UnitResult
from orchastration.engine.uptodate import UnitCheck
from orchastration.locking import ActiveCount
from orchastration.outcomes import UnitStatus
from orchastration.state import make_private_dir

ResultCallback = Callable[[UnitResult], None]


@dataclass
class Session(UnitEvents):
    """Everything one run shares between doit's main loop and its worker threads."""

    table: dict[str, Unit]
    order: list[str]
    runner: UnitRunner
    checks: dict[str, UnitCheck]
    inputs: dict[str, list[str]]
    edges: dict[str, list[str]] = field(default_factory=dict)  # each unit's dependencies (engine/graph.py)
    forced: set[str] = field(default_factory=set)
    prefixed: bool = False
    threaded: bool = False
    dispatching: bool = False  # doit's thread runner runs: its main loop hands units to the threads
    on_start: Callable[[str], None] | None = None
    on_result: ResultCallback | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    reasons_of: Callable[[str], list[str]] = lambda name: []  # doit's reasons, once it checked a unit
    outcomes: dict[str, UnitResult] = field(default_factory=dict)
    results: dict[str, UnitResult] = field(default_factory=dict)
    running: ActiveCount = field(default_factory=ActiveCount)
    landings: dict[str, Landing] = field(default_factory=dict)  # run_unit's UnitRun.landing
    _position: dict[str, int] = field(default_factory=dict)  # each unit's place in ``order``
    # Commits (keep=True) or drops (False) the state doit saved for a unit, at once (now=True) or
    # with the next ``commit_staged()`` (the adapter's; from the flusher's queue).
    commit: Callable[[str, bool, bool], None] = lambda name, keep, now: None
    commit_staged: Callable[[], None] = lambda: None

    def report(self, result: UnitResult) -> None:
        """A unit's final result (the first one reported wins)."""
        if result.name in self.results:
            return
        self.results[result.name] = result
        if self.on_result is not None:
            self.on_result(result)

    def action(self, name: str) -> Callable[[], Any]:
        """The doit action of a unit."""
        return lambda: self.execute(name)

    def execute(self, name: str) -> Any:
        """Run a unit (in a worker thread when -j > 1); returns what doit saves, or a failure."""
        with self.running.active():
            reasons = tuple(self.reasons_of(name))
            if self.cancel.is_set():
                self.outcomes[name] = UnitResult(name, UnitStatus.NOT_RUN, None, 0, None, reasons, "run interrupted")
                return action_result(None, "run interrupted")
            run = run_unit(
                self.runner,
                self.table[name],
                self.inputs[name],
                reasons=reasons,
                dep_runs=self.checks[name].dep_runs,
                prefix=f"[{name}] " if self.prefixed else "",
                cancel=self.cancel if self.threaded else None,  # serial: Ctrl-C reaches run_process directly
                on_start=self.on_start,
                ahead=self.ahead_of(name),
            )
            if run.result.status == UnitStatus.INTERRUPTED:
                self.cancel.set()
            self.outcomes[name] = run.result
            if run.landing is not None:
                self.landings[name] = run.landing
            return action_result(run.values, run.result.message or run.result.status, file_states=run.inputs)

    def ahead_of(self, name: str) -> Callable[[], None] | None:
        """One at a time (no ``-j``), under a flusher: what queues, ahead of the bookkeeping, to be
        done while this one's command runs (``run_unit`` calls it then; not for a unit restored from the
        cache: no command, no wait to fill), the next unit's run directory (made on its first run:
        a new inode, slow on a file system that scans past recently deleted ones) and the hashing of
        its inputs — the latter only for a unit no other unit of the run feeds (no edges): its
        inputs cannot change under it during the run — and then its lookup in the result store. A
        unit doit then skips merely cost the reads (and, if it never ran here, leaves its
        run directory empty)."""
        flusher = self.runner.flusher
        if flusher is None or self.threaded:
            return None
        if not self._position:
            self._position.update((n, i) for i, n in enumerate(self.order))
        at = self._position.get(name)
        if at is None or at + 1 >= len(self.order):
            return None
        after = self.order[at + 1]
        if after in self.results:
            return None
        unit = self.table[after]
        paths = [] if self.edges.get(after) else self.inputs[after]
        cache, store = self.runner.cache, self.runner.store

        def ahead() -> None:
            with contextlib.suppress(OSError):  # the unit itself says so when it claims its run slot
                make_private_dir(unit.record_dir)
            hashed = cache.prefetch(paths)
            if paths and len(hashed) == len(paths):
                # Its cache lookup too (a key, a manifest read: on a cold cache a miss the jobs'
                # thread then takes as it is, if the inputs hash the same when the unit starts). Not
                # with an input left to the unit itself (just modified, missing): hashing it here
                # would cache the very read prefetch leaves alone.
                store.look_ahead(unit, hashed)

        # Ahead of the bookkeeping still queued for the jobs before it (records, cache entries,
        # database rows): queued behind them it often ran after this command had ended, and the
        # jobs' thread hashed the inputs itself (half of them at 1,000 x 10).
        return lambda: flusher.submit(ahead, first=True)

    # -- what doit reports (UnitEvents) ---------------------------------------------------------
    def succeeded(self, name: str) -> None:
        # doit has saved the unit's state (in memory): the flusher's queue commits it once the
        # record is written, then lets the record say it finished (last.json, the incomplete mark
        # cleared), never before (docs/reliability.md).
        landing = self.landings.pop(name, None)
        if landing is not None:
            landing.land(self.commit, self.commit_staged)
        self.report(self.outcomes[name])
        restored = landing is not None and self.outcomes[name].status == UnitStatus.RESTORED
        if restored and self.runner.flusher and not self.dispatching:
            # No command to overlap it with: here, in order (doit's thread runner's main loop
            # dispatches the next units instead: a jobs' thread or the flusher's takes the work).
            self.runner.flusher.run_queued()

    def failed(self, name: str, message: str, dependency_failed: bool) -> None:
        if name in self.outcomes:
            flusher = self.runner.flusher
            if flusher is not None:  # doit dropped the unit's state: make that survive a crash too
                flusher.submit(lambda: self.commit(name, True, True))
            self.report(self.outcomes[name])
            return
        reasons = tuple(self.reasons_of(name))
        if dependency_failed:
            done = self.results
            failed = ", ".join(
                d for d in self.table[name].depends_on if d in done and done[d].status != UnitStatus.SKIPPED
            )
            text = f"not run: dependency failed: {failed or message}"
            self.report(UnitResult(name, UnitStatus.NOT_RUN, None, 0, None, reasons, text))
        else:
            missing = [r for r in reasons if r.startswith("input missing: ")]
            text = "; ".join(missing) if missing else (message.splitlines()[0] if message else "failed")
            self.report(UnitResult(name, UnitStatus.FAILED, None, 0, None, reasons, text))

    def up_to_date(self, name: str) -> None:
        self.report(UnitResult(name, UnitStatus.SKIPPED, 0, 0, None, (), ""))

    def stopping(self) -> bool:
        return self.cancel.is_set()

    def finishing(self) -> None:
        if self.runner.flusher is not None:
            self.runner.flusher.drain()

    def interrupted(self) -> None:
        """Ctrl-C while doit waits for results: cancel the running units (they are killed as a tree)."""
        self.cancel.set()
