"""The doit side of an orchestration run: each agent stage's action and up-to-date check, each
step's merge, and what doit reports (a stage skipped as up to date, or failed before it ran).

A stage is keyed ``(step, agent, round)`` (step 0-based). Each agent of a step reads the context
as the step began; the merge task after the step applies their updates in the listed order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from orchastration.agents import context as ctxmod
from orchastration.agents.attempts import add_costs
from orchastration.agents.base import AgentContext, AgentResult, Fingerprint
from orchastration.agents.incremental import hash_files, saved_values, stale_reasons
from orchastration.agents.records import AgentRun
from orchastration.agents.registry import Registry
from orchastration.agents.rounds import merge_name
from orchastration.config import Config, OrchestrationConfig, TaskConfig
from orchastration.dataclass_code import dataclass, field
from orchastration.engine.stage_tasks import Events, StageTask
from orchastration.locking import ActiveCount
from orchastration.logs import get_logger, log
from orchastration.outcomes import AgentStatus, OrchestrationStatus
from orchastration.state import unique_now

_log = get_logger("agents")
StageKey = tuple[int, str, int]  # (0-based step, agent name, round)


@dataclass(frozen=True)
class RunSetup:
    """What every stage of a run shares: the config, the agents, and the run's services."""

    config: Config
    orch: OrchestrationConfig
    registry: Registry
    task: TaskConfig | None
    workflow: Any  # orchastration.workflow.Workflow (built lazily)
    directory: Path  # <state>/orchestrations/<name>
    engine_dir: Path  # <state>/engine
    environ: Mapping[str, str]  # what every command an agent starts inherits
    force: bool = False
    err_console: IO[str] | None = None
    emit: Callable[[str], None] | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    approval: Any = None  # agents.gates.Approval


class Stages(Events):
    """The stages of one run: the shared context, the agents' results, and the callbacks doit calls."""

    def __init__(self, setup: RunSetup, context: dict[str, Any]) -> None:
        self.setup = setup
        self.context = context
        self.slot = ""  # the run's timestamp slot: names its log files
        self.line_log: IO[str] | None = None  # <slot>.stdout.log: every printed line
        self.runs: list[AgentRun] = []
        self.errors: list[str] = []
        self.gate_stops: dict[str, AgentStatus] = {}  # error -> waiting | rejected: a gate stopped the run
        self.totals: dict[str, Any] = {}  # cost_usd and tokens summed over the agents that ran
        self.step_context: dict[tuple[int, int], dict[str, Any]] = {}
        self.active = ActiveCount()
        self._phase = 0
        self._phase_of: dict[int, int] = {}
        self._lock = threading.Lock()
        self._results: dict[StageKey, dict[str, Any]] = {}
        self._fingerprints: dict[StageKey, Fingerprint] = {}
        self._restore: dict[StageKey, dict[str, Any]] = {}
        self._names: dict[str, StageKey] = {}
        self._merged: set[tuple[int, int]] = set()

    # -- a phase --------------------------------------------------------------------------
    def phase_tasks(self, steps: list[int], rnd: int, stage_name: Callable[[int, str, int], str]) -> list[StageTask]:
        """The doit tasks of ``steps`` in round ``rnd``: each agent after the previous step and its merge."""
        self.step_context[(steps[0], rnd)] = ctxmod.snapshot(self.context)
        stages: list[StageTask] = []
        previous: list[str] = []
        for k in steps:
            names = []
            for name in self.setup.orch.steps[k]:
                key = (k, name, rnd)
                tname = stage_name(k, name, rnd)
                self._names[tname] = key
                names.append(tname)
                stages.append(StageTask(tname, self._action(key), previous, self._uptodate(key)))
            if k != steps[-1]:
                merge = merge_name(k, rnd)
                stages.append(StageTask(merge, self._merge_action(k, rnd), names))
                previous = [*names, merge]
        self._phase += 1
        return stages

    def merge_rest(self, steps: list[int], rnd: int) -> None:
        """Merge the steps doit did not: the last one, or one that failed."""
        for k in steps:
            if (k, rnd) not in self._merged and any((k, n, rnd) in self._results for n in self.setup.orch.steps[k]):
                self._merge(k, rnd)

    def ordered_runs(self) -> list[AgentRun]:
        """The agent runs as configured (phase, step, position in the step), not as they finished."""
        steps = self.setup.orch.steps
        return sorted(self.runs, key=lambda r: (self._phase_of[id(r)], r.step, steps[r.step - 1].index(r.name)))

    def agent_context(self, key: StageKey) -> AgentContext:
        """What the agent of ``key`` (step, name, round) gets."""
        k, name, rnd = key
        setup = self.setup
        algorithm = setup.config.hash.algorithm
        return AgentContext(
            orchestration=setup.orch.name, step=k + 1, round=rnd, context=self.step_context[(k, rnd)],
            config=setup.config, task=setup.task, workflow=setup.workflow,
            log_base=setup.directory / f"{self.slot}.s{k + 1}-{name}-r{rnd}",
            environ=setup.environ, force=setup.force,
            cancel=setup.cancel, err_console=setup.err_console,
            hash_files=lambda paths: hash_files(paths, algorithm), engine_dir=setup.engine_dir,
            approval=setup.approval,
        )  # fmt: skip

    # -- what doit calls ----------------------------------------------------------------------
    def _uptodate(self, key: StageKey) -> Callable[[dict[str, Any]], bool]:
        def check(values: dict[str, Any]) -> bool:
            try:
                fp = self.setup.registry.get(key[1]).fingerprint(self.agent_context(key))
            except Exception as exc:  # a broken check must not hide the agent: run it
                log(_log, "warn", "up-to-date check failed", agent=key[1], error=str(exc))
                return False
            self._fingerprints[key] = fp
            if stale_reasons(fp, values, self.setup.config.hash.algorithm):
                return False
            self._restore[key] = dict(values.get("updates") or {})
            return True

        return check

    def _action(self, key: StageKey) -> Callable[[], Any]:
        def act() -> Any:
            with self.active.active():
                return self._execute(key)

        return act

    def stopped_status(self) -> OrchestrationStatus:
        """How a run that did not succeed ended: failed, else rejected or waiting at a gate."""
        stops = [self.gate_stops.get(e) for e in self.errors]
        if not stops or None in stops:
            return OrchestrationStatus.FAILED
        if AgentStatus.REJECTED in stops:
            return OrchestrationStatus.REJECTED
        return OrchestrationStatus.WAITING

    def over_budget(self) -> str:
        """``budget exceeded: $X of $Y`` once the run's summed cost passes ``max_cost_usd``; else ``""``."""
        limit, spent = self.setup.orch.max_cost_usd, self.totals.get("cost_usd", 0.0)
        if limit is None or spent <= limit:
            return ""
        return f"budget exceeded: ${spent:.2f} of ${limit:.2f}"

    def _execute(self, key: StageKey) -> Any:
        k, name, rnd = key
        budget = self.over_budget()
        if budget:  # no further agent starts; the run fails with the one message
            if budget not in self.errors:
                self.errors.append(budget)
            now = unique_now()
            self._finish(AgentRun(name, k + 1, rnd, now, now, AgentStatus.FAILED, f"not started: {budget}"))
            return False
        agent = self.setup.registry.get(name)
        ctx = self.agent_context(key)
        start = unique_now()
        try:
            fp = self._fingerprints.get(key) or agent.fingerprint(ctx)
            result = agent.execute(ctx)
        except Exception as exc:  # a bug in an agent fails that agent, not the whole tool
            _log.debug("agent crashed", exc_info=True)
            fp = Fingerprint({}, {}, always_run="crashed")
            result = AgentResult(AgentStatus.FAILED, f"internal error: {type(exc).__name__}: {exc}")
        self._results[key] = dict(result.updates)
        with self._lock:
            add_costs(self.totals, result.details)
        run = AgentRun(name, k + 1, rnd, start, unique_now(), result.status, result.message or result.status,
                       result.lines, result.stdout_path, result.stderr_path, dict(result.details))  # fmt: skip
        self._finish(run)
        if run.failed:
            self.errors.append(f"agent {name} (step {k + 1}, round {rnd}) failed: {result.message}")
            return False
        if result.status in (AgentStatus.WAITING, AgentStatus.REJECTED):  # a gate stops what follows
            stop = f"gate {name} (step {k + 1}) {result.status}: {result.message}"
            self.errors.append(stop)
            self.gate_stops[stop] = result.status
            return False
        return saved_values(fp, result, self.setup.config.hash.algorithm)

    def _merge_action(self, k: int, rnd: int) -> Callable[[], bool]:
        return lambda: self._merge(k, rnd)

    def _merge(self, k: int, rnd: int) -> bool:
        steps = self.setup.orch.steps
        results = [(n, self._results[(k, n, rnd)]) for n in steps[k] if (k, n, rnd) in self._results]
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
        self._finish(
            AgentRun(agent, k + 1, rnd, now, now, AgentStatus.SKIPPED, "up-to-date: previous results restored")
        )

    def failed_early(self, name: str, message: str) -> None:
        """Record a stage that failed before its action ran."""
        key = self._names.get(name)
        if key is None or any(r.name == key[1] and r.step == key[0] + 1 and r.round == key[2] for r in self.runs):
            return
        now = unique_now()
        self._finish(AgentRun(key[1], key[0] + 1, key[2], now, now, AgentStatus.FAILED, message or "failed"))
        self.errors.append(f"agent {key[1]} (step {key[0] + 1}) failed: {message}")

    def _finish(self, run: AgentRun) -> None:
        with self._lock:
            self.runs.append(run)
            self._phase_of[id(run)] = self._phase
        for line in [*run.lines, run.line()]:
            self._emit(line)
        log(_log, "info", "agent finished", orchestration=self.setup.orch.name, agent=run.name, step=run.step,
            round=run.round, status=run.status, duration_ms=run.duration_ms)  # fmt: skip

    def _emit(self, line: str) -> None:
        with self._lock:
            if self.line_log is not None and not self.line_log.closed:
                self.line_log.write(line + "\n")
            if self.setup.emit is not None:
                self.setup.emit(line)
