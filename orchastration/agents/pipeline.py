"""Run an orchestration: one at a time, phase by phase (``rounds``), each phase's steps as doit
tasks (``stages``), ending in a run record."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from orchastration.agents import context as ctxmod
from orchastration.agents import resume, rounds
from orchastration.agents.base import Agent
from orchastration.agents.gates import Approval, GateAgent
from orchastration.agents.records import AgentRun, write_run_record
from orchastration.agents.registry import build_registry
from orchastration.agents.stages import RunSetup, Stages
from orchastration.config import Config, OrchestrationConfig, TaskConfig
from orchastration.dataclass_code import dataclass, field
from orchastration.engine.stage_tasks import run_tasks
from orchastration.errors import ConfigError, TemplateError
from orchastration.locking import hold
from orchastration.logs import get_logger, log
from orchastration.outcomes import OrchestrationStatus
from orchastration.paths import Paths
from orchastration.state import claim_run_slot, unique_now

_log = get_logger("agents")
INTERRUPT_GRACE_SECONDS = 10.0


@dataclass
class RunOptions:
    """What the user asked for on the command line."""

    goal: str = ""
    task: str | None = None  # None: a task named like the orchestration, if configured
    parallel: int | None = None  # agents at once (-j); None: as many as the widest step
    force: bool = False
    approval: Approval = field(default_factory=Approval)  # how gates decide: --yes, a terminal, or wait


@dataclass
class OrchestrationOutcome:
    """How a run ended, for the CLI to print and reduce to an exit code."""

    name: str
    status: OrchestrationStatus
    message: str
    record_path: Path
    agents: list[AgentRun] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)


def resolve_task(config: Config, orch: OrchestrationConfig, explicit: str | None) -> TaskConfig | None:
    """``--task``, else the orchestration's ``task`` (either must exist), else the task named like the
    orchestration, else no task."""
    if explicit is not None:
        return config.task(explicit)
    if orch.task is not None:
        return config.task(orch.task)
    return config.tasks.get(orch.name)


def declares_reads(agent: Agent) -> bool:
    """True if the agent's up-to-date check compares only the context keys it reads (the built-ins, a
    command agent with ``context_keys``), not the whole context."""
    from orchastration.agents.builtin import BuiltinAgent
    from orchastration.agents.command import CommandAgent

    if isinstance(agent, CommandAgent):
        return agent.config.context_keys is not None
    return isinstance(agent, BuiltinAgent)


class OrchestrationRun:
    """One run of one orchestration (also answers ``--dry-run``)."""

    def __init__(
        self,
        config: Config,
        paths: Paths,
        orch: OrchestrationConfig,
        options: RunOptions,
        *,
        environ: Mapping[str, str],
        emit: Callable[[str], None] | None = None,
        console: IO[str] | None = None,
        err_console: IO[str] | None = None,
        quiet: bool = False,
    ) -> None:
        from orchastration.workflow import Workflow

        self.config, self.paths, self.orch, self.options = config, paths, orch, options
        self.task = resolve_task(config, orch, options.task)
        self.parallel = options.parallel or max(len(step) for step in orch.steps)
        self.directory = paths.orchestrations_dir / orch.name
        self.db_file = paths.engine_dir / "orchestrations" / f"{orch.name}.json"
        self.loop_file = paths.engine_dir / "orchestrations" / f"{orch.name}.loop.json"
        self._loop_start = ""
        environ = dict(environ)
        workflow = Workflow(config, paths, console=console, quiet=quiet, environ=environ)
        self.setup = RunSetup(
            config, orch, build_registry(config), self.task, workflow, self.directory, paths.engine_dir, environ,
            force=options.force, err_console=err_console, emit=emit, approval=options.approval,
        )  # fmt: skip
        self.stages = Stages(self.setup, ctxmod.initial_context(options.goal, self._task_name()))
        self._shared = rounds.one_state(orch, lambda name: declares_reads(self.setup.registry.get(name)))

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
                agent = self.setup.registry.get(name)
                if isinstance(agent, GateAgent):
                    try:
                        agent.check_templates()
                    except TemplateError as exc:
                        raise TemplateError(f"{self.config.display_path}: {exc}") from None
                if isinstance(agent, CommandAgent):
                    try:
                        used = agent.check_templates()
                    except TemplateError as exc:
                        raise TemplateError(f"{self.config.display_path}: {exc}") from None
                    if self.task is None and "task" in used:
                        raise ConfigError(self._no_task(name))
                    if not agent.config.working_dir.is_dir():
                        raise ConfigError(
                            f"{self.config.display_path}: agents.{name}.working_dir: "
                            f"directory not found: {agent.config.working_dir}"
                        )

    def _no_task(self, agent: str) -> str:
        name = self.orch.name
        return (
            f"agents.{agent}: its templates use 'task', but orchestration {name} has no task "
            f'(give --task TASK, set task = "..." in [orchestrations.{name}], or add [tasks.{name}])'
        )

    def run(self) -> OrchestrationOutcome:
        """Run every phase, write the record, and say how it ended.

        One run of an orchestration at a time: a second one waits (and says so) instead of racing."""
        self.preflight()

        def waiting() -> None:
            log(_log, "warn", "another run of this orchestration is in progress: waiting", orchestration=self.orch.name)

        with hold(self.paths.engine_dir / "locks" / f"orchestration-{self.orch.name}.lock", on_wait=waiting):
            return self._run_locked()

    def _run_locked(self) -> OrchestrationOutcome:
        stages = self.stages
        stages.slot, start = claim_run_slot(self.directory)
        status, last_round = OrchestrationStatus.FAILED, 1
        log(_log, "info", "orchestration started", orchestration=self.orch.name, task=self._task_name())
        with open(self.directory / f"{stages.slot}.stdout.log", "w", encoding="utf-8") as stages.line_log:
            try:
                ok, last_round = rounds.run_rounds(self.orch, self)
                status = OrchestrationStatus.SUCCESS if ok else stages.stopped_status()
            except KeyboardInterrupt:
                self.setup.cancel.set()
                stages.active.wait_idle(INTERRUPT_GRACE_SECONDS)  # running agents see the flag, stop their commands
                status = OrchestrationStatus.INTERRUPTED
                stages.errors[:] = ["interrupted"]
            finally:
                stages.line_log.flush()
        end = unique_now()
        message = "; ".join(stages.errors) if status != OrchestrationStatus.SUCCESS else ""
        runs = stages.ordered_runs()  # the record lists agents as configured; the lines came as they finished
        path = write_run_record(
            self.directory, stages.slot, orchestration=self.orch.name, steps=self.orch.steps,
            goal=self.options.goal, task=self._task_name(), start=start, end=end, status=status,
            message=message, agents=runs, context=stages.context, rounds=last_round,
            max_review_rounds=self.orch.max_review_rounds, force=self.options.force, parallel=self.parallel,
            totals=stages.totals,
        )  # fmt: skip
        log(_log, "info", "orchestration finished", orchestration=self.orch.name, status=status, record=str(path))
        return OrchestrationOutcome(self.orch.name, status, message, path, runs, dict(stages.context))

    def _task_name(self) -> str | None:
        return self.task.name if self.task else None

    def stage_name(self, k: int, name: str, rnd: int) -> str:
        """The doit task of agent ``name`` at step ``k`` (0-based) in round ``rnd``."""
        return rounds.stage_name(self.orch, k, name, rnd, self._shared)

    # -- what the round machine drives (rounds.Phases) ------------------------------------------
    def run_phase(self, steps: list[int], rnd: int) -> bool:
        """Compile the steps into doit tasks and run them; True if every agent succeeded or was skipped."""
        tasks = self.stages.phase_tasks(steps, rnd, self.stage_name)
        failures_before = len(self.stages.errors)
        run_tasks(tasks, self.db_file, self.stages, self.parallel, self.options.force)
        self.stages.merge_rest(steps, rnd)
        return len(self.stages.errors) == failures_before

    def review_failed(self, review: int, rnd: int) -> bool:
        """True if round ``rnd`` failed only at the Reviewer of step ``review`` (0-based)."""
        return rounds.only_review_failed(self.stages.runs, self.stages.errors, review, rnd)

    def new_round(self) -> None:
        """The failed review is kept in the record; the new round decides."""
        self.stages.errors.clear()

    def loop_start(self, build: int, review: int) -> int:
        """Round 1, or the round the last loop begun on this context passed in, if it is up to date."""
        from orchastration.engine.stage_tasks import saved_values

        self._loop_start = resume.start_digest(self.stages.context)
        if self.options.force:
            return 1
        memo = resume.load(self.loop_file)
        values_of = saved_values(self.db_file)
        rnd, context, why = resume.resume_round(self.stages, values_of, self.stage_name, memo, (build, review))
        if why:
            log(_log, "info", "review loop starts at round 1", orchestration=self.orch.name, reason=why)
            return 1
        log(_log, "info", "review loop up to date: resumed", orchestration=self.orch.name, round=rnd)
        self.stages.context = context
        return rnd

    def loop_passed(self, build: int, rnd: int) -> None:
        """Remember the round the loop passed in, and the context it began with."""
        resume.save(self.loop_file, self._loop_start, rnd, self.stages.step_context[(build, rnd)])
