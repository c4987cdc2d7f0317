"""Orchestration stages as doit tasks: each agent of step k depends on every agent of step k-1 and
on that step's merge; its up-to-date check compares the agent's fingerprint with the values doit
saved at its last success. doit is reached through ``engine/doit_adapter.py``, inside functions: the
CLI starts without it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from orchastration.dataclass_code import dataclass

# What the pipeline gives the engine: callables doit calls back.
Action = Callable[[], Any]  # returns False (failed) or a dict of values to save
Uptodate = Callable[[dict[str, Any]], bool]  # gets the saved values


@dataclass(frozen=True)
class StageTask:
    """One doit task: an agent stage or a step's merge."""

    name: str
    action: Action
    deps: Sequence[str]
    uptodate: Uptodate | None = None  # None: always runs (merge tasks)


class Events:
    """What the pipeline hears from doit's reporter."""

    def skipped(self, name: str) -> None:
        """An agent task was up to date."""

    def failed_early(self, name: str, message: str) -> None:
        """A task failed without its action running (dependency error, not a blocked dependency)."""


def saved_values(db_file: Path) -> Callable[[str], dict[str, Any]]:
    """Read-only access to the values doit saved per stage (for ``--dry-run``)."""
    from orchastration.engine.doit_adapter import stage_values

    return stage_values(db_file)


def run_tasks(stages: Sequence[StageTask], db_file: Path, events: Events, parallel: int, force: bool) -> int:
    """Run the stage tasks with doit's thread runner (``parallel`` at once); doit's result code (0: all succeeded)."""
    from orchastration.engine.doit_adapter import run_stages

    def check(uptodate: Uptodate) -> Callable[[Any], bool]:
        return lambda values: uptodate(dict(values or {}))

    wired = [(s.name, s.action, s.deps, check(s.uptodate) if s.uptodate is not None else None) for s in stages]
    return run_stages(wired, db_file, events, parallel, force)
