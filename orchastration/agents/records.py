"""Orchestration run records: ``state/orchestrations/<name>/<timestamp>.json`` (+ ``last.json``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from orchastration.dataclass_code import dataclass, field
from orchastration.outcomes import AgentStatus, OrchestrationStatus
from orchastration.state import host_info, iso, read_json, write_record


@dataclass
class AgentRun:
    """One agent of one step and round: when it ran, how it ended, and what it printed."""

    name: str
    step: int  # 1-based
    round: int
    start: datetime
    end: datetime
    status: AgentStatus
    message: str
    lines: list[str] = field(default_factory=list)
    stdout_path: str | None = None
    stderr_path: str | None = None
    details: dict[str, Any] = field(default_factory=dict)  # cost_usd, tokens, session_id, attempts...

    @property
    def duration_ms(self) -> int:
        """Milliseconds between start and end."""
        return max(0, int((self.end - self.start).total_seconds() * 1000))

    def line(self) -> str:
        """``agent=<name> step=<k> status=<status> duration_ms=<ms>``."""
        return f"agent={self.name} step={self.step} status={self.status} duration_ms={self.duration_ms}"

    def to_record(self) -> dict[str, Any]:
        """The original tool's agent fields plus step and round (and log paths for command agents)."""
        entry: dict[str, Any] = {
            "name": self.name,
            "step": self.step,
            "round": self.round,
            "start_time": iso(self.start),
            "end_time": iso(self.end),
            "duration_ms": self.duration_ms,
            "status": self.status,
            "message": self.message,
        }
        if self.stdout_path:
            entry["stdout_path"] = self.stdout_path
            entry["stderr_path"] = self.stderr_path
        entry.update(self.details)
        return entry

    @property
    def failed(self) -> bool:
        """Failed or timed out."""
        return self.status in (AgentStatus.FAILED, AgentStatus.TIMEOUT)


def write_run_record(
    directory: Path,
    slot: str,
    *,
    orchestration: str,
    steps: Sequence[Sequence[str]],
    goal: str,
    task: str | None,
    start: datetime,
    end: datetime,
    status: OrchestrationStatus,
    message: str,
    agents: Sequence[AgentRun],
    context: Mapping[str, Any],
    rounds: int,
    max_review_rounds: int,
    force: bool,
    parallel: int,
    totals: Mapping[str, Any] | None = None,
) -> Path:
    """Write the run record atomically as ``<slot>.json`` and ``last.json``."""
    record = {
        "orchestration": orchestration,
        "agents": [run.to_record() for run in agents],
        "start_time": iso(start),
        "end_time": iso(end),
        "duration_ms": max(0, int((end - start).total_seconds() * 1000)),
        "status": status,
        "message": message,
        "context": dict(context),
        "goal": goal,
        "task": task,
        "steps": [list(s) for s in steps],
        "rounds": rounds,
        "max_review_rounds": max_review_rounds,
        "force": force,
        "jobs": parallel,  # the record key keeps the flag's long name
        "output_log": str(directory / f"{slot}.stdout.log"),
        "cost_usd": (totals or {}).get("cost_usd", 0.0),
        "tokens": (totals or {}).get("tokens", {}),
        **host_info(),
    }
    return write_record(directory, slot, record)


def last_record(directory: Path) -> dict[str, Any] | None:
    """The newest run record of an orchestration, if any."""
    data = read_json(directory / "last.json")
    return data if isinstance(data, dict) else None


def run_summaries(directory: Path) -> list[dict[str, Any]]:
    """One summary per run record of an orchestration, oldest first: stamp, status, goal, cost, duration,
    record path (an unreadable record is left out)."""
    rows: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        if path.name == "last.json":
            continue
        data = read_json(path)
        if not isinstance(data, dict) or "orchestration" not in data:
            continue
        rows.append({
            "stamp": path.stem, "status": data.get("status"), "goal": data.get("goal", ""),
            "cost_usd": data.get("cost_usd", 0.0), "duration_ms": data.get("duration_ms", 0), "record": str(path),
        })  # fmt: skip
    return rows
