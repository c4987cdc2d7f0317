"""``build run TASK [--force]``: run a task's command; incremental when inputs/outputs are declared."""

from __future__ import annotations

from orchastration.cli.app import App, SubParsers, add_command, add_group
from orchastration.errors import EXIT_FAILED, EXIT_INTERRUPTED


def register(sub: SubParsers) -> None:
    group = add_group(sub, "build", "build workflow tasks")
    run = add_command(group, "run", "run the task's command in its working_dir", run_build)
    run.add_argument("task", metavar="TASK", help="task name from [tasks.<name>]")
    run.add_argument("--force", action="store_true", help="run even if inputs and outputs are unchanged")


def run_build(app: App) -> int:
    from orchastration.cli.cmd_plan import workflow

    outcome = workflow(app).build_run(app.args.task, force=app.args.force)
    if outcome.skipped:
        app.print(f"task={outcome.task.name} status=up-to-date")
        return 0
    app.print(f"task={outcome.task.name} exit={outcome.exit_code} status={outcome.status}")
    if outcome.exit_code == EXIT_INTERRUPTED and outcome.status == "failed":
        return EXIT_INTERRUPTED
    return 0 if outcome.status == "done" else EXIT_FAILED
