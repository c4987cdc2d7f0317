"""``build run TASK [--force]``: run a task's command; incremental when inputs/outputs are declared."""

from __future__ import annotations

from orchastration.cli import render
from orchastration.cli.app import App
from orchastration.cli.parser import SubParsers, add_group, add_task_command
from orchastration.outcomes import exit_code_for


def register(sub: SubParsers) -> None:
    group = add_group(sub, "build", "build workflow tasks")
    run = add_task_command(group, "run", "run the task's command in its working_dir", run_build)
    run.add_argument("--force", action="store_true", help="run even if inputs and outputs are unchanged")


def run_build(app: App) -> int:
    outcome = app.workflow().build_run(app.args.task, force=app.args.force)
    render.show(app, render.build(outcome))
    return exit_code_for([outcome.build])
