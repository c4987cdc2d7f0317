"""One run's shared state and the action doit calls for each unit: run the command, write its record."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from doit.exceptions import TaskFailed

from orchastration.engine.records import build_record, finish_run, run_command, start_run
from orchastration.engine.units import (
    INTERRUPTED,
    NOT_RUN,
    RAN,
    STATUS_OF_PROCESS,
    Unit,
    UnitResult,
    signature,
)
from orchastration.engine.uptodate import HashCache, UnitCheck
from orchastration.logs import get_logger, log
from orchastration.process import resolve_program

_LOG = get_logger("engine")
ResultCallback = Callable[[UnitResult], None]


@dataclass
class Session:
    """Everything one run shares between doit's main loop and its worker threads."""

    table: dict[str, Unit]
    order: list[str]
    algorithm: str
    cache: HashCache
    checks: dict[str, UnitCheck]
    inputs: dict[str, list[str]]
    edges: dict[str, list[str]] = field(default_factory=dict)  # each unit's dependencies (doit_backend._edges)
    forced: set[str] = field(default_factory=set)
    console: IO[str] | None = None
    err_console: IO[str] | None = None
    prefixed: bool = False
    threaded: bool = False
    on_start: Callable[[str], None] | None = None
    on_result: ResultCallback | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    dep: Any = None
    outcomes: dict[str, UnitResult] = field(default_factory=dict)
    results: dict[str, UnitResult] = field(default_factory=dict)
    active: int = 0
    idle: threading.Condition = field(default_factory=threading.Condition)

    def report(self, result: UnitResult) -> None:
        if result.name in self.results:
            return
        self.results[result.name] = result
        if self.on_result is not None:
            self.on_result(result)

    def execute(self, name: str) -> Any:
        """The doit action of a unit (runs in a worker thread when -j > 1)."""
        with self.idle:
            self.active += 1
        try:
            return self._execute(name)
        finally:
            with self.idle:
                self.active -= 1
                self.idle.notify_all()

    def _execute(self, name: str) -> Any:
        unit = self.table[name]
        reasons = tuple(self.dep.reasons.get(name, ())) if self.dep is not None else ()
        if self.cancel.is_set():
            self.outcomes[name] = UnitResult(name, NOT_RUN, None, 0, None, reasons, "run interrupted")
            return TaskFailed("run interrupted")
        run_id, started = start_run(unit)
        inputs = {p: self.cache.hash(p) for p in self.inputs[name]}
        if self.on_start is not None:
            self.on_start(name)
        log(_LOG, "debug", "unit started", unit=name, record=run_id, reasons=list(reasons))
        program = None
        if not unit.shell and not isinstance(unit.command, str) and unit.command:
            program = resolve_program(unit.command[0], unit.working_dir, {**os.environ, **unit.env})
        res = run_command(
            unit,
            run_id,
            console=self.console,
            err_console=self.err_console,
            prefix=f"[{name}] " if self.prefixed else "",
            cancel=self.cancel if self.threaded else None,  # serial: Ctrl-C reaches run_process directly
        )
        status = STATUS_OF_PROCESS[res.status]
        # Jobs are audited in the log file at info; task builds log their own "task build finished".
        level = "debug" if "task_name" in unit.extra_record else "info"
        log(_LOG, level, "job finished", job=name, status=status, exit=res.exit_code, duration_ms=res.duration_ms)
        if status == INTERRUPTED:
            self.cancel.set()
        outputs = {p: self.cache.hash(p) for p in unit.abs_outputs}
        record = build_record(
            unit,
            run_id=run_id,
            started=started,
            result=res,
            program=program,
            inputs=inputs,
            outputs=outputs,
            reasons=reasons,
            algorithm=self.algorithm,
        )
        path = finish_run(unit, run_id, record)
        self.outcomes[name] = UnitResult(name, status, res.exit_code, res.duration_ms, path, reasons, res.message)
        if status != RAN:
            return TaskFailed(res.message or status)
        # A declared output the command did not make is left out: the next run reruns the unit.
        saved_outputs = {out: self.cache.state(out) for out in unit.abs_outputs if os.path.exists(out)}
        for out, target in zip(unit.outputs, unit.abs_outputs, strict=True):
            if outputs[target] is None:
                log(_LOG, "warning", f"{name}: declared output not created: {out}", unit=name, file=out)
        return {"run": run_id, "sig": signature(unit), "outputs": saved_outputs, "deps": self.checks[name].dep_runs}

    def wait_idle(self, seconds: float) -> None:
        """Wait for running actions to end (after an interrupt they are being killed)."""
        deadline = time.monotonic() + seconds
        with self.idle:
            while self.active and time.monotonic() < deadline:
                self.idle.wait(0.1)
