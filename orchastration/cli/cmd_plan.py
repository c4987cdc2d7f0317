"""``plan list|create|status``: the configured tasks and their recorded state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchastration.cli.app import App, SubParsers, add_command, add_group

if TYPE_CHECKING:
    from orchastration.workflow import Workflow


def register(sub: SubParsers) -> None:
    group = add_group(sub, "plan", "list, create (plan) and inspect workflow tasks")
    listing = add_command(group, "list", "configured tasks: name - description [status]", run_list)
    listing.add_argument("--json", action="store_true", help="a JSON list instead of text")
    create = add_command(group, "create", "write the task record (status as configured)", run_create)
    create.add_argument("task", metavar="TASK", help="task name from [tasks.<name>]")
    status = add_command(group, "status", "the task's recorded status and last run", run_status)
    status.add_argument("task", metavar="TASK", help="task name from [tasks.<name>]")
    status.add_argument("--json", action="store_true", help="print the whole task record as JSON")


def workflow(app: App) -> Workflow:
    """The workflow over this invocation's config and state dir (shared by plan/build/doc/git)."""
    from orchastration.workflow import Workflow

    return Workflow(app.config, app.paths, console=app.out, err_console=app.err, quiet=app.quiet, environ=app.environ)


def run_list(app: App) -> int:
    wf = workflow(app)
    rows = [(name, task, wf.status_of(name)) for name, task in sorted(app.config.tasks.items())]
    if app.args.json:
        app.print_json(
            [{"name": n, "description": t.description, "repo": t.repo, "status": s, "working_dir": str(t.working_dir)}
             for n, t, s in rows]
        )  # fmt: skip
        return 0
    if not rows:
        app.print("no tasks configured")
    for name, task, status in rows:
        app.print(f"{name} - {task.description} [{status}]" if task.description else f"{name} - [{status}]")
    return 0


def run_create(app: App) -> int:
    record = workflow(app).plan_create(app.args.task)
    app.print(f"task={record.name} status={record.status}")
    return 0


def run_status(app: App) -> int:
    record = workflow(app).plan_status(app.args.task)
    if app.args.json:
        app.print_json(record.to_dict())
        return 0
    app.print(f"{record.name} status={record.status} last_run={record.last_run or '-'}")
    return 0
