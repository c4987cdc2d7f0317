"""The shared context: flat JSON keys (``plan.tasks``), ordered merges of a step, template views."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any

# The keys the built-in agents read and write (docs/orchestrations.md, "The shared context").
GOAL = "goal"
TASK_NAME = "task.name"
PLAN_GOAL = "plan.goal"
PLAN_TASKS = "plan.tasks"
BUILD_OUTPUTS = "build.outputs"
REVIEW_STATUS = "review.status"
REVIEW_REPORT = "review.report"
REVIEW_OUTPUT = "review.output"  # the last lines of the review command's stdout and stderr
REVIEW_LOG = "review.log"  # the path of its full log
DOC_PATHS = "doc.paths"
CONFLICT = "both wrote context key"  # in the error of a step whose agents wrote the same key


def initial_context(goal: str, task_name: str | None) -> dict[str, Any]:
    """The context a run starts with."""
    ctx: dict[str, Any] = {GOAL: goal}
    if task_name is not None:
        ctx[TASK_NAME] = task_name
    return ctx


def snapshot(context: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy, so agents of a parallel step cannot see each other's writes."""
    return copy.deepcopy(dict(context))


def check_json(value: Any, where: str) -> Any:
    """``value`` if it is plain JSON (strings, numbers, booleans, null, lists, objects); else ValueError."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"{where}: not a JSON value: {exc}") from None


def merge_step(
    base: Mapping[str, Any], results: Sequence[tuple[str, Mapping[str, Any]]], step: int
) -> tuple[dict[str, Any], str]:
    """Apply each agent's updates in the listed order; a key written by two agents is an error.

    Returns the merged context and an error message ("" when none). The merge
    still applies every update, so the record shows what each agent wrote.
    """
    merged = dict(base)
    writers: dict[str, str] = {}
    errors: list[str] = []
    for agent, updates in results:
        for key, value in updates.items():
            first = writers.get(key)
            if first is not None and first != agent:
                errors.append(f"step {step}: agents {first} and {agent} {CONFLICT} '{key}'")
            writers.setdefault(key, agent)
            merged[key] = value
    return merged, "; ".join(errors)


def read_keys(context: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """The part of the context an agent reads (absent keys read as null)."""
    return {key: context.get(key) for key in keys}


def select_keys(context: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """The keys of ``context`` a command agent's ``context_keys`` name: each name and every key under it
    (``plan`` selects ``plan``, ``plan.tasks`` and ``plan.goal``)."""
    return {k: v for k, v in context.items() if any(k == n or k.startswith(n + ".") for n in names)}


def nested(context: Mapping[str, Any]) -> dict[str, Any]:
    """``{"plan.tasks": x}`` -> ``{"plan": {"tasks": x}}`` for templates (``{{ plan.tasks }}``).

    A key that is both a value and a prefix (``a`` and ``a.b``) keeps the value;
    every key stays reachable as ``context["a.b"]``.
    """
    context = snapshot(context)  # the tree may share dicts with the values: never touch the caller's
    tree: dict[str, Any] = {}
    for key in sorted(context, key=lambda k: k.count(".")):
        parts = key.split(".")
        node = tree
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                if child is not None:
                    break
                child = node[part] = {}
            node = child
        else:
            if parts[-1] not in node or not isinstance(node[parts[-1]], dict):
                node[parts[-1]] = context[key]
    return tree
