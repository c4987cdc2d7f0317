"""``plan create`` / ``plan status``: write a task's record with its configured status, and read it back."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from orchastration.errors import UsageError
from orchastration.logs import get_logger, log
from orchastration.state import iso, unique_now
from orchastration.workflow.records import TaskRecord

if TYPE_CHECKING:
    from orchastration.workflow.facade import Workflow

ACTION = "plan.create"
_log = get_logger("tasks")


def create(wf: Workflow, name: str) -> TaskRecord:
    """Write ``state/tasks/<name>.json`` (status as configured) and a ``plan.create`` run record."""
    task = wf.task_config(name)
    start = unique_now()

    def plan(rec: TaskRecord) -> TaskRecord:
        return replace(rec, status=task.status, last_run=iso(start))

    record = wf.store.update(task, plan)
    wf.store.write_run(name, ACTION, start, unique_now(), record.status, 0, "task planned")
    log(_log, "info", "task planned", task=name, status=record.status)
    return record


def status(wf: Workflow, name: str) -> TaskRecord:
    """The stored record; a task not created yet is a usage error (exit 2)."""
    record = wf.record(name)
    if record is None:
        raise UsageError(f"task '{name}' has not been planned yet (run 'orchastration plan create {name}')")
    return record
