"""``orchestration run --dry-run``: the steps, and for each agent whether it would run and why."""

from __future__ import annotations

from dataclasses import dataclass

from orchastration.agents import context as ctxmod
from orchastration.agents.incremental import stale_reasons
from orchastration.agents.pipeline import OrchestrationRun
from orchastration.agents.rounds import review_loop
from orchastration.engine.stage_tasks import saved_values


@dataclass(frozen=True)
class PlannedAgent:
    """One agent's verdict: up to date, or would run for ``reason``."""

    name: str
    step: int
    would_run: bool
    reason: str

    def line(self) -> str:
        """``agent=... step=... would-run reason=...`` or ``... up-to-date``."""
        if self.would_run:
            return f"agent={self.name} step={self.step} would-run reason={self.reason}"
        return f"agent={self.name} step={self.step} up-to-date"


def dry_run(run: OrchestrationRun) -> list[PlannedAgent]:
    """Walk the steps as a run would, restoring the saved results of up-to-date agents; change nothing.

    Once an agent would run, what later steps will read is unknown, so they are
    reported as running because of it.
    """
    run.preflight()
    values_of = saved_values(run.db_file)
    context = ctxmod.initial_context(run.options.goal, run.task.name if run.task else None)
    algorithm = run.config.hash.algorithm
    verdicts: list[PlannedAgent] = []
    earlier = ""
    for k, step in enumerate(run.orch.steps):
        run.stages.step_context[(k, 1)] = ctxmod.snapshot(context)
        restored: list[tuple[str, dict[str, object]]] = []
        running = ""
        for name in step:
            if run.options.force:
                verdicts.append(PlannedAgent(name, k + 1, True, "forced"))
                running = running or name
                continue
            if earlier:
                verdicts.append(PlannedAgent(name, k + 1, True, f"earlier step will run: {earlier}"))
                continue
            values = values_of(run.stage_name(k, name, 1))
            fp = run.setup.registry.get(name).fingerprint(run.stages.agent_context((k, name, 1)))
            reasons = stale_reasons(fp, values, algorithm)
            if reasons:
                verdicts.append(PlannedAgent(name, k + 1, True, ", ".join(reasons)))
                running = running or name
            else:
                verdicts.append(PlannedAgent(name, k + 1, False, ""))
                restored.append((name, dict(values.get("updates") or {})))
        context, _ = ctxmod.merge_step(context, restored, k + 1)
        earlier = earlier or running
    return verdicts


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
