"""Run an orchestration: steps of agents as doit tasks, phase by phase, with review rounds and a record.

A run is one doit invocation per phase. Without review rounds the only phase is
every step. With ``max_review_rounds`` > 1 the first phase ends at the Reviewer's
step; while the review fails and rounds remain, a phase reruns the Builder's step
through the Reviewer's; a last phase runs the steps after it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from orchastration.agents import context as ctxmod
from orchastration.agents.base import FAILED, SKIPPED, AgentContext, AgentResult, Fingerprint, is_builder, is_reviewer
from orchastration.agents.incremental import hash_files, saved_values, stale_reasons
from orchastration.agents.records import AgentRun, write_run_record
from orchastration.agents.registry import Registry, build_registry
from orchastration.config import Config, OrchestrationConfig, TaskConfig
from orchastration.engine.stages import Events, StageTask, run_tasks
from orchastration.errors import ConfigError, TemplateError
from orchastration.logs import get_logger, log
from orchastration.paths import Paths
from orchastration.state import claim_run_slot, unique_now

_log = get_logger("agents")
INTERRUPT_GRACE_SECONDS = 10.0


@dataclass
class RunOptions:
    """What the user asked for on the command line."""

    goal: str = ""
    task: str | None = None  # None: a task named like the orchestration, if configured
    jobs: int | None = None  # None: as many as the widest step
    force: bool = False


@dataclass
class OrchestrationOutcome:
    """How a run ended, for the CLI to print and reduce to an exit code."""

    name: str
    status: str  # success | failed | interrupted
    message: str
    record_path: Path
    agents: list[AgentRun] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)


def resolve_task(config: Config, orchestration: str, explicit: str | None) -> TaskConfig | None:
    """``--task`` (must exist), else the task named like the orchestration, else no task."""
    if explicit is not None:
        return config.task(explicit)
    return config.tasks.get(orchestration)


def review_loop(orch: OrchestrationConfig) -> tuple[int, int] | None:
    """(first builder step, reviewer step), 0-based, when failed reviews send work back; else None."""
    if orch.max_review_rounds <= 1:
        return None
    reviews = [i for i, step in enumerate(orch.steps) if any(is_reviewer(a) for a in step)]
    if not reviews:
        return None
    review = reviews[-1]
    builds = [i for i in range(review + 1) if any(is_builder(a) for a in orch.steps[i])]
    return (builds[0] if builds else review), review


class OrchestrationRun(Events):
    """One run of one orchestration (also answers ``--dry-run``)."""

    def __init__(
        self,
        config: Config,
        paths: Paths,
        orch: OrchestrationConfig,
        options: RunOptions,
        *,
        emit: Callable[[str], None] | None = None,
        console: IO[str] | None = None,
        err_console: IO[str] | None = None,
        environ: Mapping[str, str] | None = None,
        quiet: bool = False,
    ) -> None:
        from orchastration.workflow import Workflow

        self.config, self.paths, self.orch, self.options = config, paths, orch, options
        self.registry: Registry = build_registry(config)
        self.task = resolve_task(config, orch.name, options.task)
        self.jobs = options.jobs or max(len(step) for step in orch.steps)
        self.environ = dict(environ) if environ is not None else None
        self.err_console = err_console
        self.workflow = Workflow(config, paths, console=console, quiet=quiet, environ=environ or {})
        self.emit_cb = emit
        self.cancel = threading.Event()
        self.directory = paths.orchestrations_dir / orch.name
        self.db_file = paths.engine_dir / "orchestrations" / f"{orch.name}.json"
        self.context: dict[str, Any] = ctxmod.initial_context(options.goal, self.task.name if self.task else None)
        self.runs: list[AgentRun] = []
        self._phase = 0
        self._phase_of: dict[int, int] = {}
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self.step_context: dict[tuple[int, int], dict[str, Any]] = {}
        self._results: dict[tuple[int, str, int], dict[str, Any]] = {}
        self._fingerprints: dict[tuple[int, str, int], Fingerprint] = {}
        self._restore: dict[tuple[int, str, int], dict[str, Any]] = {}
        self._names: dict[str, tuple[int, str, int]] = {}
        self._merged: set[tuple[int, int]] = set()
        self._active = 0
        self._idle = threading.Condition(self._lock)
        self._slot = ""
        self._line_log: IO[str] | None = None

    # -- checks before anything runs --------------------------------------------------
    def preflight(self) -> None:
        """Usage/config problems that must stop the run before it starts (exit 2)."""
        from orchastration.agents.command import CommandAgent

        if self.task is not None and not self.task.working_dir.is_dir():
            raise ConfigError(
                f"{self.config.display_path}: tasks.{self.task.name}.working_dir: "
                f"directory not found: {self.task.working_dir}"
            )
        for step in self.orch.steps:
            for name in step:
                agent = self.registry.get(name)
                if isinstance(agent, CommandAgent):
                    try:
                        agent.check_templates()
                    except TemplateError as exc:
                        raise TemplateError(f"{self.config.display_path}: {exc}") from None
                    if not agent.config.working_dir.is_dir():
                        raise ConfigError(
                            f"{self.config.display_path}: agents.{name}.working_dir: "
                            f"directory not found: {agent.config.working_dir}"
                        )

    # -- the run --------------------------------------------------------------------------
    def run(self) -> OrchestrationOutcome:
        """Run every phase, write the record, and say how it ended."""
        self.preflight()
        with self._run_lock():
            return self._run_locked()

    @contextlib.contextmanager
    def _run_lock(self) -> Iterator[None]:
        """One run of an orchestration at a time: a second one waits (and says so) instead of racing."""
        from filelock import FileLock, Timeout

        lock_dir = self.paths.engine_dir / "locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(lock_dir / f"orchestration-{self.orch.name}.lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            log(_log, "warn", "another run of this orchestration is in progress: waiting", orchestration=self.orch.name)
            lock.acquire(poll_interval=0.05)
        try:
            yield
        finally:
            lock.release()

    def _run_locked(self) -> OrchestrationOutcome:
        self._slot, start = claim_run_slot(self.directory)
        status, rounds = "failed", 1
        log(_log, "info", "orchestration started", orchestration=self.orch.name, task=self._task_name())
        with open(self.directory / f"{self._slot}.stdout.log", "w", encoding="utf-8") as self._line_log:
            try:
                ok, rounds = self._run_phases()
                status = "success" if ok else "failed"
            except KeyboardInterrupt:
                self.cancel.set()
                self._wait_idle()
                status = "interrupted"
                self.errors[:] = ["interrupted"]
            finally:
                self._line_log.flush()
        end = unique_now()
        message = "; ".join(self.errors) if status != "success" else ""
        # The record lists agents as configured (phase, step, position); the printed lines came as they finished.
        self.runs.sort(key=lambda r: (self._phase_of[id(r)], r.step, self.orch.steps[r.step - 1].index(r.name)))
        path = write_run_record(
            self.directory, self._slot, orchestration=self.orch.name, steps=self.orch.steps,
            goal=self.options.goal, task=self._task_name(), start=start, end=end, status=status,
            message=message, agents=self.runs, context=self.context, rounds=rounds,
            max_review_rounds=self.orch.max_review_rounds, force=self.options.force, jobs=self.jobs,
        )  # fmt: skip
        log(_log, "info", "orchestration finished", orchestration=self.orch.name, status=status, record=str(path))
        return OrchestrationOutcome(self.orch.name, status, message, path, list(self.runs), dict(self.context))

    def _task_name(self) -> str | None:
        return self.task.name if self.task else None

    def _run_phases(self) -> tuple[bool, int]:
        steps = list(range(len(self.orch.steps)))
        loop = review_loop(self.orch)
        if loop is None:
            return self._run_phase(steps, 1), 1
        build, review = loop
        ok, rnd = self._run_phase(steps[: review + 1], 1), 1
        while not ok and rnd < self.orch.max_review_rounds and self._only_review_failed(review, rnd):
            rnd += 1
            self.errors.clear()  # the failed review is kept in the record, the new round decides
            ok = self._run_phase(steps[build : review + 1], rnd)
        if ok and review + 1 < len(steps):
            ok = self._run_phase(steps[review + 1 :], rnd)
        return ok, rnd

    def _only_review_failed(self, review: int, rnd: int) -> bool:
        failed = [r for r in self.runs if r.round == rnd and r.status == FAILED]
        conflicts = [e for e in self.errors if "both wrote context key" in e]
        return bool(failed) and not conflicts and all(r.step == review + 1 and is_reviewer(r.name) for r in failed)

    def stage_name(self, k: int, name: str, rnd: int) -> str:
        """The doit task of an agent stage; the up-to-date state of later rounds is kept apart.

        Only the steps a review sends back get a round suffix: the steps after the
        review run once whatever the round, so they keep one state.
        """
        loop = review_loop(self.orch)
        again = loop is not None and loop[0] <= k <= loop[1] and rnd > 1
        return f"s{k + 1}.{name}" + (f".r{rnd}" if again else "")

    def _run_phase(self, steps: list[int], rnd: int) -> bool:
        """Compile the steps into doit tasks and run them; True if every agent succeeded or was skipped."""
        self.step_context[(steps[0], rnd)] = ctxmod.snapshot(self.context)
        stages: list[StageTask] = []
        previous: list[str] = []
        for k in steps:
            names = []
            for name in self.orch.steps[k]:
                key = (k, name, rnd)
                tname = self.stage_name(k, name, rnd)
                self._names[tname] = key
                names.append(tname)
                stages.append(StageTask(tname, self._action(key), previous, self._uptodate(key)))
            if k != steps[-1]:
                merge = f"s{k + 1}.merge.r{rnd}"
                stages.append(StageTask(merge, self._merge_action(k, rnd), names))
                previous = [*names, merge]
        failures_before = len(self.errors)
        self._phase += 1
        run_tasks(stages, self.db_file, self, self.jobs, self.options.force)
        for k in steps:  # the last step, or one that failed, was not merged inside doit
            if (k, rnd) not in self._merged and any((k, n, rnd) in self._results for n in self.orch.steps[k]):
                self._merge(k, rnd)
        return len(self.errors) == failures_before

    # -- doit callbacks -------------------------------------------------------------------
    def agent_context(self, key: tuple[int, str, int]) -> AgentContext:
        """What the agent of ``key`` (step, name, round) gets."""
        k, name, rnd = key
        algorithm = self.config.hash.algorithm
        return AgentContext(
            orchestration=self.orch.name, step=k + 1, round=rnd, context=self.step_context[(k, rnd)],
            config=self.config, task=self.task, workflow=self.workflow,
            log_base=self.directory / f"{self._slot}.s{k + 1}-{name}-r{rnd}",
            environ=self.environ, force=self.options.force,
            cancel=self.cancel, err_console=self.err_console,
            hash_files=lambda paths: hash_files(paths, algorithm),
        )  # fmt: skip

    def _uptodate(self, key: tuple[int, str, int]) -> Callable[[dict[str, Any]], bool]:
        def check(values: dict[str, Any]) -> bool:
            try:
                fp = self.registry.get(key[1]).fingerprint(self.agent_context(key))
            except Exception as exc:  # a broken check must not hide the agent: run it
                log(_log, "warn", "up-to-date check failed", agent=key[1], error=str(exc))
                return False
            self._fingerprints[key] = fp
            if stale_reasons(fp, values, self.config.hash.algorithm):
                return False
            self._restore[key] = dict(values.get("updates") or {})
            return True

        return check

    def _action(self, key: tuple[int, str, int]) -> Callable[[], Any]:
        def act() -> Any:
            with self._lock:
                self._active += 1
            try:
                return self._execute(key)
            finally:
                with self._lock:
                    self._active -= 1
                    self._idle.notify_all()

        return act

    def _execute(self, key: tuple[int, str, int]) -> Any:
        k, name, rnd = key
        agent = self.registry.get(name)
        ctx = self.agent_context(key)
        start = unique_now()
        try:
            fp = self._fingerprints.get(key) or agent.fingerprint(ctx)
            result = agent.execute(ctx)
        except Exception as exc:  # a bug in an agent fails that agent, not the whole tool
            _log.debug("agent crashed", exc_info=True)
            fp = Fingerprint({}, {}, always_run="crashed")
            result = AgentResult(FAILED, f"internal error: {type(exc).__name__}: {exc}")
        self._results[key] = dict(result.updates)
        run = AgentRun(name, k + 1, rnd, start, unique_now(), result.status, result.message or result.status,
                       result.lines, result.stdout_path, result.stderr_path)  # fmt: skip
        self._finish(run)
        if result.status == FAILED:
            self.errors.append(f"agent {name} (step {k + 1}, round {rnd}) failed: {result.message}")
            return False
        return saved_values(fp, result, self.config.hash.algorithm)

    def _merge_action(self, k: int, rnd: int) -> Callable[[], bool]:
        return lambda: self._merge(k, rnd)

    def _merge(self, k: int, rnd: int) -> bool:
        results = [(n, self._results[(k, n, rnd)]) for n in self.orch.steps[k] if (k, n, rnd) in self._results]
        merged, error = ctxmod.merge_step(self.context, results, k + 1)
        self.context = merged
        self._merged.add((k, rnd))
        self.step_context[(k + 1, rnd)] = ctxmod.snapshot(merged)
        if error:
            self.errors.append(error)
            return False
        return True

    def skipped(self, name: str) -> None:
        """doit found the stage up to date: restore its saved results."""
        key = self._names.get(name)
        if key is None:
            return
        k, agent, rnd = key
        self._results[key] = self._restore.pop(key, {})
        now = unique_now()
        self._finish(AgentRun(agent, k + 1, rnd, now, now, SKIPPED, "up-to-date: previous results restored"))

    def failed_early(self, name: str, message: str) -> None:
        """Record a stage that failed before its action ran."""
        key = self._names.get(name)
        if key is None or any(r.name == key[1] and r.step == key[0] + 1 and r.round == key[2] for r in self.runs):
            return
        now = unique_now()
        self._finish(AgentRun(key[1], key[0] + 1, key[2], now, now, FAILED, message or "failed"))
        self.errors.append(f"agent {key[1]} (step {key[0] + 1}) failed: {message}")

    def _finish(self, run: AgentRun) -> None:
        with self._lock:
            self.runs.append(run)
            self._phase_of[id(run)] = self._phase
        for line in [*run.lines, run.line()]:
            self._emit(line)
        log(_log, "info", "agent finished", orchestration=self.orch.name, agent=run.name, step=run.step,
            round=run.round, status=run.status, duration_ms=run.duration_ms)  # fmt: skip

    def _emit(self, line: str) -> None:
        with self._lock:
            if self._line_log is not None and not self._line_log.closed:
                self._line_log.write(line + "\n")
            if self.emit_cb is not None:
                self.emit_cb(line)

    def _wait_idle(self) -> None:
        """After Ctrl-C: let running agents see the cancel flag and stop their commands."""
        with self._idle:
            self._idle.wait_for(lambda: self._active == 0, timeout=INTERRUPT_GRACE_SECONDS)
