"""``plan list|create|status``: the configured tasks and their recorded state."""

from __future__ import annotations

from orchastration.cli import render
from orchastration.cli.app import App
from orchastration.cli.parser import SubParsers, add_command, add_group, add_json_flag, add_task_command


def register(sub: SubParsers) -> None:
    group = add_group(sub, "plan", "list, create (plan) and inspect workflow tasks")
    add_json_flag(add_command(group, "list", "configured tasks: name - description [status]", run_list),
                  "a JSON list instead of text")  # fmt: skip
    add_task_command(group, "create", "write the task record (status as configured)", run_create)
    status = add_task_command(group, "status", "the task's recorded status and last run", run_status)
    add_json_flag(status, "print the whole task record as JSON")


def run_list(app: App) -> int:
    wf = app.workflow()
    rows = [(task, wf.status_of(name)) for name, task in sorted(app.config.tasks.items())]
    render.show(app, render.tasks(rows), as_json=app.args.json)
    return 0


def run_create(app: App) -> int:
    render.show(app, render.task_planned(app.workflow().plan_create(app.args.task)))
    return 0


def run_status(app: App) -> int:
    render.show(app, render.task_record(app.workflow().plan_status(app.args.task)), as_json=app.args.json)
    return 0
