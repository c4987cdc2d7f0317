"""The one unit runner: run a unit's command (once doit said it must), record the run, and return
what doit saves for the next up-to-date check.

Two seams, each with a local default:

- **where** the command runs: an ``Executor`` (``LocalExecutor``: a subprocess on this machine through
  ``process.run_process``; a distributed executor submits it elsewhere);
- **whether** it needs to run at all: a ``ResultStore`` that already holds the result of this exact
  work may restore it instead (``NO_STORE``: none; an output cache plugs in here).

Jobs and task builds (``engine/session.py``) and doit-native ``dodo.py`` files (``orchastration/dodo.py``)
all run units through ``run_unit``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from orchastration.dataclass_code import dataclass, field
from orchastration.empty_logs import shared_empty
from orchastration.engine.records import GOOD, build_record, finish_run, log_paths, settle_run, start_run
from orchastration.engine.result_store import NO_STORE, Restored, ResultStore
from orchastration.engine.units import STATUS_OF_PROCESS, Unit, UnitResult, display_path, output_files
from orchastration.engine.uptodate import HashCache, hashes_of
from orchastration.logs import get_logger, log
from orchastration.outcomes import UNIT_STATUS_OF_PROCESS, ProcessStatus, UnitStatus
from orchastration.state import utc_now

if TYPE_CHECKING:
    from orchastration.engine.durable import Flusher
    from orchastration.process import ProcessResult

_LOG = get_logger("engine")


@dataclass(frozen=True)
class Launch:
    """How one run of a unit's command is wired: environment, log files, consoles, cancellation."""

    environ: Mapping[str, str]  # the environment the command inherits (the unit's env on top)
    stdout_path: Path
    stderr_path: Path
    console: IO[str] | None = None
    err_console: IO[str] | None = None
    prefix: str = ""  # before each console line ("[job] " when jobs run in parallel)
    cancel: threading.Event | None = None  # set: kill the command's process tree
    on_running: Callable[[], None] | None = None  # the command has started (the caller now waits)
    # A log that gets nothing is a link to this file (empty_logs.py); given, ``stdout_path`` is the
    # run's slot, reserved as such a link before the run (``records.start_run``).
    empty_log: Path | None = None


class Executor(Protocol):
    """Where a unit's command runs."""

    def run(self, unit: Unit, launch: Launch) -> ProcessResult:
        """Run the command to completion (never raises for the command's own failure)."""
        ...


class LocalExecutor:
    """The default executor: a subprocess on this machine, in its own process group."""

    def run(self, unit: Unit, launch: Launch) -> ProcessResult:
        """``process.run_process`` with the unit's command, working dir, env and timeout."""
        return _run_process()(
            unit.command,
            shell=unit.shell,
            cwd=unit.working_dir,
            env=unit.env,
            base_env=launch.environ,
            timeout=unit.timeout_seconds,
            stdout_path=launch.stdout_path,
            stderr_path=launch.stderr_path,
            console=launch.console,
            err_console=launch.err_console,
            prefix=launch.prefix,
            cancel=launch.cancel,
            on_running=launch.on_running,
            empty_log=launch.empty_log,
        )


LOCAL = LocalExecutor()


def _run_process() -> Callable[..., ProcessResult]:
    """``process.run_process``, imported on the first run of a command (not by ``why`` or a dry run),
    then taken from here (an import statement a job cost ~5 % of the jobs' thread in ``py-spy``)."""
    if not _RUN_PROCESS:
        from orchastration.process import run_process

        _RUN_PROCESS.append(run_process)
    return _RUN_PROCESS[0]


_RUN_PROCESS: list[Callable[..., ProcessResult]] = []


@dataclass(frozen=True)
class UnitRunner:
    """What every run of a unit in one engine run shares."""

    algorithm: str
    environ: Mapping[str, str]
    cache: HashCache = field(default_factory=lambda: HashCache("sha256"))
    console: IO[str] | None = None
    err_console: IO[str] | None = None
    executor: Executor = LOCAL
    store: ResultStore = NO_STORE
    # A run of the engine (under the state lock) makes records durable in batches and settles a good
    # run's record only once doit's state holds it (``UnitRun.settle``); None: each record is synced
    # and settled at once (``dodo.py`` files run by doit itself).
    flusher: Flusher | None = None


@dataclass(frozen=True)
class UnitRun:
    """One finished run: its result, the values doit saves (None: it did not succeed), and each
    input's ``[mtime_ns, size, hash]`` as the command found it at its start (None: unreadable).
    ``landing``: for a good run under a flusher, what lands it once doit saved its state."""

    result: UnitResult
    values: dict[str, Any] | None
    inputs: dict[str, list[Any] | None] = field(default_factory=dict)
    landing: Landing | None = None


def run_unit(
    runner: UnitRunner,
    unit: Unit,
    inputs: Sequence[str],
    *,
    reasons: Sequence[str] = (),
    dep_runs: Mapping[str, str | None] | None = None,
    prefix: str = "",
    cancel: threading.Event | None = None,
    on_start: Callable[[str], None] | None = None,
    ahead: Callable[[], None] | None = None,
    states: Mapping[str, list[Any] | None] | None = None,
) -> UnitRun:
    """Run ``unit`` (its expanded ``inputs`` hashed before, its outputs after) and write its record.

    ``reasons``: why doit runs it (for the record); ``dep_runs``: its dependencies' last run ids
    (saved so the next check sees whether one ran since). Under a flusher its queued bookkeeping
    waits while this thread works and is done while the command runs (``Flusher.hold``,
    ``command_started``; a restored unit's once doit saved its state: ``run_queued``); ``ahead`` is
    called just before the command starts (work to queue for that time). ``states``: the inputs'
    states (``HashCache.try_state``) the caller read just before, to use instead of reading them again."""
    if runner.flusher is not None:
        runner.flusher.hold()
    return _run_unit(runner, unit, inputs, reasons, dep_runs, prefix, cancel, on_start, ahead, states)


def _run_unit(
    runner: UnitRunner,
    unit: Unit,
    inputs: Sequence[str],
    reasons: Sequence[str],
    dep_runs: Mapping[str, str | None] | None,
    prefix: str,
    cancel: threading.Event | None,
    on_start: Callable[[str], None] | None,
    ahead: Callable[[], None] | None,
    given: Mapping[str, list[Any] | None] | None,
) -> UnitRun:
    try:
        empty = shared_empty(unit.record_dir)
        run_id, started = start_run(unit, empty)
    except OSError as exc:  # a read-only or full state dir: this unit fails, the run goes on
        return _unwritable(unit, exc, reasons)
    # The inputs' states before the command starts are what doit saves for the next check (not
    # their states after it): an input edited while the command runs reruns the unit next time.
    states = dict(given) if given is not None else {p: runner.cache.try_state(p) for p in inputs}
    hashes = hashes_of(states)
    if on_start is not None:
        on_start(unit.name)
    path = unit.record_dir / f"{run_id}.json"
    log(_LOG, "debug", "unit started", unit=unit.name, record=str(path), reasons=list(reasons))
    out_log, err_log = log_paths(unit, run_id)
    flusher = runner.flusher
    launch = Launch(runner.environ, out_log, err_log, runner.console, runner.err_console, prefix, cancel,
                    None if flusher is None else flusher.command_started, empty)  # fmt: skip
    restored, res = _restore_or_run(runner, unit, hashes, launch, ahead)
    ended = utc_now()
    status = UnitStatus.RESTORED if restored is not None else UNIT_STATUS_OF_PROCESS[ProcessStatus(res.status)]
    # The outputs are the files they name now: literal files, the files under a directory, what a
    # glob matches (docs/jobs.md); a declared output naming nothing is recorded null.
    files, missing = output_files(unit)
    made = {p: runner.cache.try_state(p) for p in files}
    outputs = hashes_of(made)
    outputs.update(dict.fromkeys(missing))
    ending = _Ending(runner, unit, run_id, path, started, ended, res, restored, hashes, outputs, tuple(reasons),
                     (out_log, err_log))  # fmt: skip
    good = status in (UnitStatus.RAN, UnitStatus.RESTORED)
    if good and runner.flusher is not None:
        # A good run under a flusher: its log line, record and cache entry are written while the
        # next command runs (``Flusher.command_started``; a slow save by the flusher's thread); the
        # record is put in place once doit's state holds the run (``Landing``).
        slow = status == UnitStatus.RAN and runner.store.slow_save(
            unit, sum(s[1] for s in made.values() if s is not None), (out_log, err_log)
        )
        runner.flusher.submit(ending.write, heavy=slow)
        result = UnitResult(unit.name, status, res.exit_code, res.duration_ms, path, tuple(reasons), res.message)
        values = _saved_values(unit, run_id, made, missing, dep_runs)
        return UnitRun(result, values, states, Landing(ending, runner.flusher))
    try:
        ending.write()
    except OSError as exc:
        return _unwritable(unit, exc, reasons, res)
    result = UnitResult(unit.name, status, res.exit_code, res.duration_ms, path, tuple(reasons), res.message)
    if not good:
        return UnitRun(result, None, states)
    return UnitRun(result, _saved_values(unit, run_id, made, missing, dep_runs), states)


def _restore_or_run(
    runner: UnitRunner,
    unit: Unit,
    hashes: Mapping[str, str | None],
    launch: Launch,
    ahead: Callable[[], None] | None,
) -> tuple[Restored | None, ProcessResult]:
    """The unit restored from the result store, or its command run (the flusher's queued work done
    while it runs: ``Launch.on_running``)."""
    restored = runner.store.restore(unit, hashes, launch)
    if restored is not None:
        return restored, restored.result
    if ahead is not None:
        ahead()
    res = runner.executor.run(unit, launch)  # Launch.on_running: the queue's work while it runs
    return None, res


@dataclass
class _Ending:
    """What is left to do once a run's command ended: its log line, record and cache entry."""

    runner: UnitRunner
    unit: Unit
    run_id: str
    path: Path  # the record's
    started: datetime
    ended: datetime
    res: ProcessResult
    restored: Restored | None
    inputs: dict[str, str | None]
    outputs: dict[str, str | None]
    reasons: tuple[str, ...]
    logs: tuple[Path, Path]  # the run's log_paths
    # The record is in its mark. Else (it could not be written: logged; or its write was cut short)
    # the run is not kept.
    written: bool = False

    def write(self) -> None:
        """Log the run's end, write its record (a good one as pending under a flusher) and keep a
        run's outputs in the result store. Raises OSError when the record cannot be written
        (deferred: logged instead, and ``written`` stays False)."""
        runner, unit, res, path = self.runner, self.unit, self.res, self.path
        status = STATUS_OF_PROCESS[res.status] if self.restored is None else UnitStatus.RESTORED.value
        # Jobs are audited in the log file at info; task builds log their own "task build finished".
        level = "debug" if "task_name" in unit.extra_record else "info"
        log(_LOG, level, "job finished", job=unit.name, status=status, exit=res.exit_code, duration_ms=res.duration_ms,
            record=str(path))  # fmt: skip
        if res.warning:
            log(_LOG, "warning", f"{unit.name}: {res.warning}", unit=unit.name)
        record = build_record(
            unit, run_id=self.run_id, started=self.started, result=res, program=_program(runner, unit),
            inputs=self.inputs, outputs=self.outputs, reasons=self.reasons, algorithm=runner.algorithm,
            ended=self.ended, logs=self.logs,
        )  # fmt: skip
        if self.restored is not None:
            record.update(status=status, cache=dict(self.restored.cache))
        try:
            _write_record(runner, unit, self.run_id, record, path)
        except OSError as exc:
            if runner.flusher is None or status not in GOOD:
                raise
            from orchastration.pipes import write_error

            message = f"{unit.name}: {write_error(unit.record_dir, exc)}; it runs again next time"
            log(_LOG, "warning", message, unit=unit.name)
            return
        self.written = True
        if status == UnitStatus.RAN.value:
            runner.store.save(unit, record)


class Landing:
    """A good run's last step under a flusher, once doit saved its state: ``land(commit, staged)``
    queues the commit of that state (``commit(name, keep, now)``) and the record's settling behind
    the record's write; a run whose record could not be written is not kept (it runs again next
    time). A restore's state is committed with the other restores of its group (``Flusher.grouped``:
    one transaction, ``staged()``) and its record settled once it is; a run's, at once."""

    def __init__(self, ending: _Ending, flusher: Flusher) -> None:
        self.ending, self.flusher = ending, flusher

    def land(self, commit: Callable[[str, bool, bool], None], staged: Callable[[], None]) -> None:
        """Commit, then settle, in the flusher's order."""
        self.flusher.submit(lambda: self._land(commit, staged))

    def _land(self, commit: Callable[[str, bool, bool], None], staged: Callable[[], None]) -> None:
        ending, name = self.ending, self.ending.unit.name
        if not ending.written:
            # No record says it ran (none could be written, or its write was cut short: the mark
            # is still the empty link, never to be settled as a record): doit must not say it is
            # up to date.
            commit(name, False, True)
            return
        if ending.restored is None:
            # A run's: done while the next command runs, spread one job at a time (a group's commit
            # and settling at once made the jobs' thread late for the command's end: cold builds ~2 %
            # slower for ~4 % less CPU).
            commit(name, True, True)
            self._settle()
            return
        commit(name, True, False)  # a restore's: committed with its group (Flusher.grouped)
        self.flusher.grouped(staged, self._settle)

    def _settle(self) -> None:
        ending, name = self.ending, self.ending.unit.name
        try:
            settle_run(ending.unit, ending.run_id, ending.path, sync=False, locked=True)
        except OSError as exc:
            log(_LOG, "warning", f"{name}: cannot update last.json: {exc}", unit=name)
            return
        self.flusher.dirty(ending.path)


def _write_record(runner: UnitRunner, unit: Unit, run_id: str, record: dict[str, Any], path: Path) -> None:
    """Write the run's record (at ``path``): synced and settled at once, or (under a flusher) durable
    with the next batch, a good run's put in place once doit's state holds it (``Landing``)."""
    if runner.flusher is None:
        finish_run(unit, run_id, record, path=path)
        return
    finish_run(unit, run_id, record, sync=False, settle=False, locked=True, path=path)
    if record.get("status") not in GOOD:
        runner.flusher.dirty(path)


def _program(runner: UnitRunner, unit: Unit) -> str | None:
    """The executable an argv command resolves to, for the record (None for a shell command)."""
    from orchastration.process import resolve_program

    if unit.shell or isinstance(unit.command, str) or not unit.command:
        return None
    return resolve_program(unit.command[0], unit.working_dir, {**runner.environ, **unit.env})


def _saved_values(
    unit: Unit,
    run_id: str,
    made: Mapping[str, list[Any] | None],
    missing: Sequence[str],
    dep_runs: Mapping[str, str | None] | None,
) -> dict[str, Any]:
    """What doit saves after a successful run. A declared output the command did not make is left
    out (and warned about) and listed in ``missing``: the run is not trusted, the next check reruns
    the unit (``output missing``, or ``output missing at last run`` once the file has appeared). The
    declared list is saved when the files differ from it (a directory, a glob, a missing output), for
    ``outputs changed``."""
    for target in missing:
        shown = display_path(unit, target)
        log(_LOG, "warning", f"{unit.name}: declared output not created: {shown}", unit=unit.name, file=shown)
    saved_outputs = {p: s for p, s in made.items() if s is not None}
    values = {"run": run_id, "sig": dict(unit.signature), "outputs": saved_outputs, "deps": dict(dep_runs or {})}
    if sorted(saved_outputs) != unit.declared_outputs:
        values["declared"] = unit.declared_outputs
    if missing:
        values["missing"] = sorted(missing)
    return values


def _unwritable(unit: Unit, exc: OSError, reasons: Sequence[str], res: ProcessResult | None = None) -> UnitRun:
    """A unit whose record cannot be written fails (naming the path) and is not saved as up to date."""
    from orchastration.pipes import write_error

    message = write_error(unit.record_dir, exc)
    log(_LOG, "info", f"{unit.name}: {message}", unit=unit.name)
    code, ms = (res.exit_code, res.duration_ms) if res is not None else (None, 0)
    return UnitRun(UnitResult(unit.name, UnitStatus.FAILED, code, ms, None, tuple(reasons), message), None)
