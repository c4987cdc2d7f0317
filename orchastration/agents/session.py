"""An orchestration run as session entries (docs/observability.md): one entry per agent run, and
the order edges between them (each step after the step before it, round by round)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orchastration.agents.records import AgentRun


def entry_name(run: AgentRun) -> str:
    """``s<step>.<agent>`` (``.r<round>`` from the second review round on), as stage names read."""
    return f"s{run.step}.{run.name}" + (f".r{run.round}" if run.round > 1 else "")


def agent_entries(runs: Sequence[AgentRun], record: str) -> list[tuple[dict[str, Any], int]]:
    """Each agent run as a session entry, with its start in µs since the epoch."""
    found = []
    for run in runs:
        entry = {
            "name": entry_name(run), "agent": run.name, "step": run.step, "round": run.round,
            "status": str(run.status), "exit_code": None, "duration_ms": run.duration_ms, "record": record,
            "reasons": [], "message": run.message, "stdout_path": run.stdout_path, "stderr_path": run.stderr_path,
        }  # fmt: skip
        found.append((entry, int(run.start.timestamp() * 1_000_000)))
    return found


def agent_edges(runs: Sequence[AgentRun]) -> dict[str, list[str]]:
    """Each agent run after every agent run of the (round, step) that ran before its own."""
    groups: dict[tuple[int, int], list[AgentRun]] = {}
    for run in runs:
        groups.setdefault((run.round, run.step), []).append(run)
    ordered = sorted(groups.values(), key=lambda g: min(r.start for r in g))
    edges: dict[str, list[str]] = {}
    for before, group in zip(ordered, ordered[1:], strict=False):
        for run in group:
            edges[entry_name(run)] = [entry_name(r) for r in before]
    return edges
