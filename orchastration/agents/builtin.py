"""The four built-in agents: Planner, Builder, Reviewer and Doc, driving the task workflow."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchastration.agents import context as keys
from orchastration.agents.base import AgentContext, AgentResult, Fingerprint
from orchastration.agents.incremental import task_inputs
from orchastration.config import TaskConfig
from orchastration.errors import OrchastrationError
from orchastration.outcomes import AgentStatus, BuildStatus, ReviewStatus
from orchastration.patterns import output_paths

REVIEW_OUTPUT_LINES = 60  # of the review command's output, in the context as review.output

# Word for word from the original tool.
CAPABILITIES = {
    "PlannerAgent": "Create a structured task plan from a goal",
    "BuilderAgent": "Execute planned tasks to produce outputs",
    "ReviewerAgent": "Review outputs for quality and correctness",
    "DocAgent": "Document results and outcomes",
}


def planned_tasks(ctx: AgentContext) -> list[str]:
    """``plan.tasks`` as a list of names (anything else reads as no plan)."""
    value = ctx.context.get(keys.PLAN_TASKS)
    return [str(v) for v in value] if isinstance(value, list) else []


def task_settings(task: TaskConfig) -> dict[str, Any]:
    """The parts of a task's config that change what building it does."""
    return {
        "name": task.name,
        "working_dir": str(task.working_dir),
        "command": task.command if isinstance(task.command, str) else list(task.command),
        "shell": task.shell,
        "env": dict(sorted(task.env.items())),
        "inputs": list(task.inputs),
        "outputs": list(task.outputs),
        "timeout_seconds": task.timeout_seconds,
        "review_command": list(task.review_command),
        "status": task.status,
        "description": task.description,
        "documents": list(task.documents),
    }


def _hash(ctx: AgentContext, paths: list[Path]) -> dict[str, str]:
    assert ctx.hash_files is not None
    return ctx.hash_files(paths)


def _guard(ctx: AgentContext, work: Callable[[AgentResult], None]) -> AgentResult:
    """Run ``work``; a user-facing error (unknown task, bad template...) fails the agent with its message."""
    result = AgentResult(AgentStatus.SUCCESS)
    if ctx.cancel.is_set():
        return AgentResult(AgentStatus.FAILED, "interrupted")
    try:
        work(result)
    except OrchastrationError as exc:
        result.status, result.message = AgentStatus.FAILED, str(exc)
    return result


class BuiltinAgent:
    """Shared parts of the built-in agents."""

    name = ""
    builtin = True
    description = ""
    reads: tuple[str, ...] = ()

    @property
    def capabilities(self) -> tuple[str, ...]:
        """The capability string of the original tool."""
        return (CAPABILITIES[self.name],)

    def tasks(self, ctx: AgentContext) -> list[TaskConfig]:
        """Config of the planned tasks that exist."""
        return [ctx.config.tasks[n] for n in planned_tasks(ctx) if n in ctx.config.tasks]

    def execute(self, ctx: AgentContext) -> AgentResult:
        """Do the agent's work; a user-facing error fails the agent with its message."""
        return _guard(ctx, lambda result: self.work(ctx, result))

    def work(self, ctx: AgentContext, result: AgentResult) -> None:
        """The agent's work, filling in ``result``."""
        raise NotImplementedError

    def fingerprint(self, ctx: AgentContext) -> Fingerprint:
        """Its name, the settings of the planned tasks and the context keys it reads."""
        return Fingerprint(
            agent={
                "agent": self.name,
                "tasks": [{**task_settings(t), "env": ctx.env_digest(t.env)} for t in self.tasks(ctx)],
            },
            context=keys.read_keys(ctx.context, self.reads),
        )


class PlannerAgent(BuiltinAgent):
    """Records the goal and plans the run's task (``plan create``)."""

    name = "PlannerAgent"
    description = "Plans the task (plan create) and records the goal"
    reads = (keys.GOAL, keys.TASK_NAME)

    def tasks(self, ctx: AgentContext) -> list[TaskConfig]:
        """The run's task (the Planner plans it; it is not planned yet)."""
        return [ctx.task] if ctx.task is not None else []

    def work(self, ctx: AgentContext, result: AgentResult) -> None:
        """Record the goal and plan the run's task."""
        result.updates[keys.PLAN_GOAL] = ctx.context.get(keys.GOAL, "")
        result.updates[keys.PLAN_TASKS] = [ctx.task.name] if ctx.task is not None else []
        if ctx.task is None:
            result.message = "no task: empty plan"
            return
        record = ctx.workflow.plan_create(ctx.task.name)
        result.lines.append(f"task={ctx.task.name} status={record.status}")
        result.message = f"planned task {ctx.task.name}"


class PlannedTasksAgent(BuiltinAgent):
    """A built-in agent that works on the planned tasks (none planned: nothing to do)."""

    verb = ""  # what it does to a task: build, document

    def work(self, ctx: AgentContext, result: AgentResult) -> None:
        """Work on the planned tasks, if any."""
        names = planned_tasks(ctx)
        if not names:
            result.message = f"no planned tasks: nothing to {self.verb}"
            return
        self.work_on(ctx, names, result)

    def work_on(self, ctx: AgentContext, names: list[str], result: AgentResult) -> None:
        """Work on the planned tasks ``names``, filling in ``result``."""
        raise NotImplementedError


class BuilderAgent(PlannedTasksAgent):
    """Builds every planned task (``build run``) and collects their absolute output paths."""

    name = "BuilderAgent"
    description = "Builds the planned tasks (build run) and collects their outputs"
    verb = "build"
    reads = (keys.PLAN_TASKS,)

    def fingerprint(self, ctx: AgentContext) -> Fingerprint:
        """The shared inputs plus what this agent also reads."""
        base = super().fingerprint(ctx)
        tasks = self.tasks(ctx)
        files = [path for task in tasks for path in task_inputs(task)]
        # As for `build run`: a task declaring no inputs and no outputs is never up to date.
        blind = [t.name for t in tasks if not t.inputs and not t.outputs]
        always = f"task {blind[0]} declares no inputs or outputs" if blind else ""
        for task in tasks:
            # `plan create` resets the status: a task not `done` must be built (or found up to date) again.
            record = ctx.workflow.store.load(task.name)
            status = record.status if record is not None else "not created"
            if status != "done" and not always:
                always = f"task {task.name} status is {status}"
        return Fingerprint(base.agent, base.context, _hash(ctx, files), always)

    def work_on(self, ctx: AgentContext, names: list[str], result: AgentResult) -> None:
        """Build each planned task, in order, until one is interrupted."""
        outputs: list[str] = []
        failed: list[str] = []
        for name in names:
            if ctx.cancel.is_set():
                failed.append(f"{name} (interrupted)")
                break
            outcome = ctx.workflow.build_run(name, force=ctx.force)
            if outcome.skipped:
                result.lines.append(f"task={name} status=up-to-date")
            else:
                result.lines.append(f"task={name} exit={outcome.exit_code} status={outcome.status}")
            outputs.extend(str(p) for p in outcome.outputs)
            if outcome.status != BuildStatus.DONE:
                failed.append(f"{name} (exit {outcome.exit_code})")
        result.updates[keys.BUILD_OUTPUTS] = outputs
        result.produced = list(outputs)
        if failed:
            result.status = AgentStatus.FAILED
            result.message = f"build failed: {', '.join(failed)}"
        else:
            result.message = f"built {', '.join(names)}"


class ReviewerAgent(BuiltinAgent):
    """Checks that every build output exists, then runs each planned task's ``review_command``."""

    name = "ReviewerAgent"
    description = "Checks every build output exists, then runs the task's review_command"
    reads = (keys.PLAN_TASKS, keys.BUILD_OUTPUTS)

    def fingerprint(self, ctx: AgentContext) -> Fingerprint:
        """The outputs it checks, and the task's inputs (what a ``review_command`` such as tests reads)."""
        base = super().fingerprint(ctx)
        files = _context_outputs(ctx) + [path for task in self.tasks(ctx) for path in task_inputs(task)]
        return Fingerprint(base.agent, base.context, _hash(ctx, files))

    def work(self, ctx: AgentContext, result: AgentResult) -> None:
        """Check the build outputs, then run each planned task's ``review_command``."""
        tasks = self.tasks(ctx)
        raw = ctx.context.get(keys.BUILD_OUTPUTS)
        outputs = [str(p) for p in raw] if isinstance(raw, list) else []
        status, report = self._check(outputs)
        if status != ReviewStatus.FAILED:
            for task in tasks:
                if task.review_command:
                    ok, detail, log = self._review_command(ctx, task)
                    report += f"; review_command {'passed' if ok else 'failed'}{detail}"
                    result.updates[keys.REVIEW_OUTPUT] = _tail(log, REVIEW_OUTPUT_LINES)
                    result.updates[keys.REVIEW_LOG] = str(log)
                    if not ok:
                        status = ReviewStatus.FAILED
                    elif status == ReviewStatus.SKIPPED:
                        status = ReviewStatus.PASSED
        result.updates[keys.REVIEW_STATUS] = status.value
        result.updates[keys.REVIEW_REPORT] = report
        for task in tasks:
            ctx.workflow.record_review(task.name, status.value, report)
        result.message = report
        if status == ReviewStatus.FAILED:
            result.status = AgentStatus.FAILED

    @staticmethod
    def _check(outputs: list[str]) -> tuple[ReviewStatus, str]:
        if not outputs:
            return ReviewStatus.SKIPPED, "no outputs to review"
        missing = [p for p in outputs if not Path(p).exists()]
        if missing:
            return ReviewStatus.FAILED, f"missing outputs: {', '.join(missing)}"
        return ReviewStatus.PASSED, "all outputs present"

    @staticmethod
    def _review_command(ctx: AgentContext, task: TaskConfig) -> tuple[bool, str, Path]:
        """Run it: (passed, why not, its full log: stdout then stderr in one file)."""
        from orchastration.process import run_process

        base = ctx.log_base
        logs = [base.with_name(f"{base.name}.{task.name}.review.{s}.log") for s in ("stdout", "stderr")]
        res = run_process(
            list(task.review_command),
            cwd=task.working_dir,
            env=dict(task.env),
            base_env=ctx.environ,
            timeout=task.timeout_seconds,
            stdout_path=logs[0],
            stderr_path=logs[1],
            cancel=ctx.cancel,
        )
        log = base.with_name(f"{base.name}.{task.name}.review.log")
        with open(log, "wb") as out:
            for part in logs:
                with contextlib.suppress(OSError), open(part, "rb") as src:
                    shutil.copyfileobj(src, out)
        return res.exit_code == 0, "" if res.exit_code == 0 else f" ({res.message})", log


class DocAgent(PlannedTasksAgent):
    """Documents every planned task (``doc generate``)."""

    name = "DocAgent"
    description = "Documents the planned tasks (doc generate)"
    verb = "document"
    reads = (keys.PLAN_TASKS, keys.BUILD_OUTPUTS, keys.REVIEW_STATUS, keys.REVIEW_REPORT)

    def fingerprint(self, ctx: AgentContext) -> Fingerprint:
        """The shared inputs plus what this agent also reads."""
        base = super().fingerprint(ctx)
        state = []
        for task in self.tasks(ctx):
            record = ctx.workflow.store.load(task.name)
            state.append(
                {"status": record.status, "build": _stable(record.last_build), "review": _stable(record.last_review)}
                if record is not None
                else None
            )
        # The doc lists each output with its hash, and the templates decide the text.
        files = _template_files(ctx, self.tasks(ctx)) + _context_outputs(ctx)
        files += [Path(p) for t in self.tasks(ctx) for p in output_paths(t.working_dir, t.outputs)]
        return Fingerprint({**base.agent, "records": state}, base.context, _hash(ctx, files))

    def work_on(self, ctx: AgentContext, names: list[str], result: AgentResult) -> None:
        """Document each planned task."""
        paths: list[str] = []
        for name in names:
            outcome = ctx.workflow.doc_generate(name)
            result.lines.append(f"task={name} status={outcome.status} doc={outcome.doc_path}")
            paths.append(str(outcome.doc_path))
            result.produced += [str(outcome.doc_path), str(outcome.readme_path)]
        result.updates[keys.DOC_PATHS] = paths
        result.message = f"documented {', '.join(names)}"


def _tail(path: Path, lines: int) -> str:
    """The last ``lines`` lines of a text file ("" if unreadable)."""
    from collections import deque

    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return "".join(deque(fh, maxlen=lines)).rstrip("\r\n")
    except OSError:
        return ""


def _stable(value: Any) -> Any:
    """A build/review entry without its times, which change on every run."""
    if not isinstance(value, dict):
        return value
    return {k: v for k, v in value.items() if k not in ("start_time", "end_time", "duration_ms", "time", "record")}


def _context_outputs(ctx: AgentContext) -> list[Path]:
    """The paths in ``build.outputs``."""
    outputs = ctx.context.get(keys.BUILD_OUTPUTS)
    return [Path(str(p)) for p in outputs] if isinstance(outputs, list) else []


def _template_files(ctx: AgentContext, tasks: list[TaskConfig]) -> list[Path]:
    """User template overrides: editing one makes the docs stale."""
    dirs = [ctx.config.templates.dir] if ctx.config.templates.dir else []
    dirs += [t.working_dir / ".orchastration" / "templates" for t in tasks]
    return sorted(p.absolute() for d in dirs if d is not None and d.is_dir() for p in d.glob("*.j2"))


BUILTINS: dict[str, type[BuiltinAgent]] = {
    cls.name: cls for cls in (PlannerAgent, BuilderAgent, ReviewerAgent, DocAgent)
}
