"""``orchestration run --dry-run``: the steps, and for each agent whether it would run, in which round, and
why. It walks the phases as a run would (``rounds.run_rounds``): a review loop that passed in a later
round is reported resumed there (``resume``), not as round 1 running again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchastration.agents import context as ctxmod
from orchastration.agents import resume
from orchastration.agents.pipeline import OrchestrationRun
from orchastration.agents.rounds import review_loop
from orchastration.dataclass_code import dataclass, field
from orchastration.engine.stage_tasks import saved_values


@dataclass(frozen=True)
class PlannedAgent:
    """One agent's verdict: up to date, or would run for ``reason``."""

    name: str
    step: int
    would_run: bool
    reason: str
    round: int = 1

    def line(self) -> str:
        """``agent=... step=... [round=R] would-run reason=...`` or ``... up-to-date`` (round when > 1)."""
        where = f"agent={self.name} step={self.step}" + (f" round={self.round}" if self.round > 1 else "")
        return f"{where} would-run reason={self.reason}" if self.would_run else f"{where} up-to-date"


@dataclass
class DryRun:
    """What a run would do: each agent's verdict, and where its review loop would start."""

    verdicts: list[PlannedAgent] = field(default_factory=list)
    loop: str = ""  # "resumes at round 2 (...)" / "starts at round 1 (...)"; "" without a review loop
    context: dict[str, Any] = field(default_factory=dict)  # as the walk has got so far
    earlier: str = ""  # the first agent that would run: what later steps read is unknown from then on

    def lines(self) -> list[str]:
        """``review loop: ...`` (if any), then one line per agent."""
        return ([f"review loop: {self.loop}"] if self.loop else []) + [v.line() for v in self.verdicts]


def dry_run(run: OrchestrationRun) -> DryRun:
    """Walk the phases as a run would, restoring the saved results of up-to-date agents; change nothing.

    Once an agent would run, what later steps will read is unknown, so they are
    reported as running because of it.
    """
    run.preflight()
    values_of = saved_values(run.db_file)
    plan = DryRun(context=ctxmod.initial_context(run.options.goal, run.task.name if run.task else None))
    steps = list(range(len(run.orch.steps)))
    loop = review_loop(run.orch)
    if loop is None:
        _walk(run, values_of, plan, steps, 1)
        return plan
    build, review = loop
    _walk(run, values_of, plan, steps[:build], 1)
    rnd = _loop_round(run, values_of, plan, loop)
    _walk(run, values_of, plan, steps[build:], rnd)
    return plan


def _loop_round(
    run: OrchestrationRun, values_of: Callable[[str], dict[str, Any]], plan: DryRun, loop: tuple[int, int]
) -> int:
    """The round the loop would start at (``OrchestrationRun.loop_start``), said in ``plan.loop``."""
    if run.options.force:
        plan.loop = "starts at round 1 (forced)"
        return 1
    if plan.earlier:
        plan.loop = f"decided when it starts (earlier step will run: {plan.earlier})"
        return 1
    run.stages.context = ctxmod.snapshot(plan.context)
    memo = resume.load(run.loop_file)
    rnd, plan.context, why = resume.resume_round(run.stages, values_of, run.stage_name, memo, loop)
    plan.loop = f"starts at round 1 ({why})" if why else f"resumes at round {rnd} (it passed there last run)"
    return rnd


def _walk(
    run: OrchestrationRun, values_of: Callable[[str], dict[str, Any]], plan: DryRun, steps: list[int], rnd: int
) -> None:
    """The verdicts of ``steps`` in round ``rnd``, from ``plan.context`` (which it advances)."""
    for k in steps:
        names = run.orch.steps[k]
        if run.options.force or plan.earlier:
            reason = "forced" if run.options.force else f"earlier step will run: {plan.earlier}"
            plan.verdicts += [PlannedAgent(name, k + 1, True, reason, rnd) for name in names]
            plan.earlier = plan.earlier or names[0]
            continue
        checked, plan.context, _ = resume.check_step(run.stages, values_of, run.stage_name, k, rnd, plan.context)
        plan.verdicts += [PlannedAgent(name, k + 1, bool(why), why, rnd) for name, why in checked]
        plan.earlier = next((name for name, why in checked if why), "")


def describe_steps(run: OrchestrationRun) -> list[str]:
    """``step 2: BuilderAgent, ReviewerAgent (parallel)`` lines, and the review loop if any."""
    lines = [f"orchestration={run.orch.name} task={run.task.name if run.task else '(none)'} jobs={run.parallel}"]
    for k, step in enumerate(run.orch.steps):
        lines.append(f"step {k + 1}: {', '.join(step)}{' (parallel)' if len(step) > 1 else ''}")
    loop = review_loop(run.orch)
    if loop is not None:
        lines.append(
            f"review loop: a failed review reruns steps {loop[0] + 1}-{loop[1] + 1}, "
            f"up to {run.orch.max_review_rounds} rounds in all"
        )
    return lines
