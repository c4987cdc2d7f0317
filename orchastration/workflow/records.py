"""Task state: the versioned ``state/tasks/<task>.json`` record and the per-action run records.

Read-modify-write of a task record happens under a file lock, because the Builder and
the Reviewer of one parallel orchestration step may update the same task at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from orchastration.config import TaskConfig
from orchastration.dataclass_code import dataclass, field
from orchastration.errors import ConfigError
from orchastration.paths import Paths
from orchastration.state import (
    SCHEMA_VERSION,
    atomic_write_json,
    host_info,
    iso,
    read_json,
    unique_now,
    write_new_record,
)

# The task record's own schema version (the ``schema`` key); bump with a migration in ``from_dict``.
TASK_SCHEMA = SCHEMA_VERSION
LOCK_TIMEOUT_SECONDS = 60
# The run-record status of a doc or git action that did its work (a failure raises: no record).
ACTION_OK = "success"


@dataclass(frozen=True)
class TaskRecord:
    """What the state dir knows about one task (``state/tasks/<task>.json``)."""

    name: str
    description: str
    repo: str
    status: str
    working_dir: str
    command: list[str] | str
    outputs: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    created_at: str | None = None
    last_run: str | None = None
    last_build: dict[str, Any] | None = None  # exit_code, status, start/end_time, duration_ms, record
    last_review: dict[str, Any] | None = None  # status, report, time
    last_doc: dict[str, Any] | None = None  # doc_path, readme_path, time
    branch: str | None = None
    issue_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, with the schema version first."""
        return {"schema": TASK_SCHEMA, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskRecord:
        """Load a record, ignoring keys a newer version may have added."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def from_config(cls, task: TaskConfig) -> TaskRecord:
        """A fresh record from the task's config (status as configured, default ``planned``)."""
        return cls(name=task.name, status=task.status, **config_fields(task))

    def with_config(self, task: TaskConfig) -> TaskRecord:
        """This record with the config's current description, command, outputs... (history kept)."""
        return replace(self, **config_fields(task))


def plain_command(command: tuple[str, ...] | list[str] | str) -> list[str] | str:
    """A task's command as JSON keeps it: one shell line, or an argv list."""
    return command if isinstance(command, str) else list(command)


def config_fields(task: TaskConfig) -> dict[str, Any]:
    """The record fields that always follow the task's config (everything else is history)."""
    return {
        "description": task.description,
        "repo": task.repo,
        "working_dir": str(task.working_dir),
        "command": plain_command(task.command),
        "outputs": list(task.outputs),
        "documents": list(task.documents),
    }


class TaskStore:
    """Reads and writes task records and task run records under one state dir."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths

    @property
    def lock_dir(self) -> Path:
        """Where the task-record and README locks live (private engine data)."""
        return self.paths.engine_dir / "locks"

    def record_path(self, name: str) -> Path:
        return self.paths.tasks_dir / f"{name}.json"

    def runs_dir(self, name: str) -> Path:
        return self.paths.runs_dir / name

    def load(self, name: str) -> TaskRecord | None:
        """The stored record, or None if the task was never created."""
        path = self.record_path(name)
        if not path.exists():
            return None
        data = read_json(path)
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            raise ConfigError(f"{path}: not a valid task record (delete it and run 'plan create {name}' again)")
        try:
            return TaskRecord.from_dict(data)
        except TypeError as exc:
            raise ConfigError(f"{path}: not a valid task record: {exc}") from None

    def save(self, record: TaskRecord) -> None:
        atomic_write_json(self.record_path(record.name), record.to_dict())

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        from orchastration.locking import hold

        with contextlib.ExitStack() as stack:
            try:  # only the wait for the lock: a TimeoutError of the body is not "locked"
                stack.enter_context(hold(self.lock_dir / f"task-{name}.lock", timeout=LOCK_TIMEOUT_SECONDS))
            except TimeoutError:
                raise ConfigError(f"{self.record_path(name)}: task record is locked by another process") from None
            yield

    def update(self, task: TaskConfig, change: Callable[[TaskRecord], TaskRecord], create: bool = True) -> TaskRecord:
        """Apply ``change`` to the stored record (created from config if absent) and save it."""
        with self._locked(task.name):
            current = self.load(task.name)
            if current is None:
                current = replace(TaskRecord.from_config(task), created_at=iso(unique_now()))
            else:
                current = current.with_config(task)
            updated = change(current)
            self.save(updated)
            return updated

    def write_run(
        self,
        name: str,
        action: str,
        start: datetime,
        end: datetime,
        status: str,
        exit_code: int,
        message: str,
        **extra: Any,
    ) -> Path:
        """One ``state/runs/<task>/<timestamp>.json`` record with the original tool's fields."""
        record = {
            "task_name": name,
            "action": action,
            "start_time": iso(start),
            "end_time": iso(end),
            "duration_ms": max(0, int((end - start).total_seconds() * 1000)),
            "status": status,
            "exit_code": exit_code,
            "message": message,
            **host_info(),
            **extra,
        }
        return write_new_record(self.runs_dir(name), record, when=start)
