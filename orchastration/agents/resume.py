"""The review loop as one unit: a loop that passed in round R starts there again, its round-R context
restored, when that round's every stage is still up to date (docs/orchestrations.md, "Review rounds").

Without this a rerun would start at round 1, whose stages saw the files before the later rounds
edited them: they would run (and be paid for) again, or be skipped leaving the wrong files.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from orchastration.agents import context as ctxmod
from orchastration.agents.incremental import context_digest, stale_reasons
from orchastration.agents.stages import Stages
from orchastration.state import atomic_write_text, read_json


def load(path: Path) -> dict[str, Any] | None:
    """The memo of the last loop that passed: ``start`` (digest of the context it began with),
    ``round`` and ``context`` (the context that round began with); None if there is none."""
    data = read_json(path)
    return data if isinstance(data, dict) else None


def save(path: Path, start: str, rnd: int, context: dict[str, Any]) -> None:
    """Remember that the loop begun on ``start`` passed in round ``rnd``, which began with ``context``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    memo = {"start": start, "round": rnd, "context": context}
    atomic_write_text(path, json.dumps(memo, ensure_ascii=False, default=str) + "\n")


def start_digest(context: dict[str, Any]) -> str:
    """What a loop memo is keyed on: the context the loop begins with."""
    return context_digest(context)


def resumable_context(memo: dict[str, Any] | None, start: str, max_rounds: int) -> tuple[int, dict[str, Any]]:
    """(round, its context) the memo offers for a loop begun on ``start``; (1, {}) when none fits."""
    if memo is None or memo.get("start") != start:
        return 1, {}
    rnd, context = memo.get("round"), memo.get("context")
    if not isinstance(rnd, int) or not 1 < rnd <= max_rounds or not isinstance(context, dict):
        return 1, {}
    return rnd, context


def check_step(
    stages: Stages,
    values_of: Callable[[str], dict[str, Any]],
    stage_name: Callable[[int, str, int], str],
    k: int,
    rnd: int,
    context: dict[str, Any],
) -> tuple[list[tuple[str, str]], dict[str, Any], str]:
    """Step ``k`` (0-based) of round ``rnd`` begun on ``context``, as a run would see it: each agent with
    why it would run (``""``: up to date); the context after the step, what the up-to-date agents saved
    restored; the step's merge error (``""``: none)."""
    algorithm = stages.setup.config.hash.algorithm
    stages.step_context[(k, rnd)] = ctxmod.snapshot(context)
    verdicts: list[tuple[str, str]] = []
    restored: list[tuple[str, dict[str, Any]]] = []
    for name in stages.setup.orch.steps[k]:
        values = values_of(stage_name(k, name, rnd))
        try:
            fp = stages.setup.registry.get(name).fingerprint(stages.agent_context((k, name, rnd)))
            reasons = stale_reasons(fp, values, algorithm)
        except Exception as exc:  # a broken check does not hide the agent: it runs (as in Stages)
            reasons = [f"up-to-date check failed: {exc}"]
        verdicts.append((name, ", ".join(reasons)))
        if not reasons:
            restored.append((name, dict(values.get("updates") or {})))
    merged, error = ctxmod.merge_step(context, restored, k + 1)
    return verdicts, merged, error


def first_stale(
    stages: Stages,
    values_of: Callable[[str], dict[str, Any]],
    stage_name: Callable[[int, str, int], str],
    steps: Iterable[int],
    rnd: int,
    context: dict[str, Any],
) -> str:
    """Walk ``steps`` of round ``rnd`` from ``context`` as a run would, restoring what up-to-date stages
    saved; the first stage that would run and why (``""``: every one is up to date)."""
    for k in steps:
        verdicts, context, error = check_step(stages, values_of, stage_name, k, rnd, context)
        stale = next((f"{name}: {why}" for name, why in verdicts if why), "")
        if stale or error:
            return stale or error
    return ""


def resume_round(
    stages: Stages,
    values_of: Callable[[str], dict[str, Any]],
    stage_name: Callable[[int, str, int], str],
    memo: dict[str, Any] | None,
    loop: tuple[int, int],
) -> tuple[int, dict[str, Any], str]:
    """Where the loop over steps ``loop`` (first builder, reviewer; 0-based) begun on ``stages.context``
    starts: (the round, the context it begins with, why not later: ``""`` when resumed). The run
    (``loop_start``) and ``--dry-run`` both ask this."""
    rnd, context = resumable_context(memo, start_digest(stages.context), stages.setup.orch.max_review_rounds)
    if rnd == 1:
        return 1, stages.context, "no later round passed on this context"
    stale = first_stale(stages, values_of, stage_name, range(loop[0], loop[1] + 1), rnd, context)
    if stale:
        return 1, stages.context, stale
    return rnd, ctxmod.snapshot(context), ""
