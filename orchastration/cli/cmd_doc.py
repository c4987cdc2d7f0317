"""``doc generate TASK``: render docs/tasks/<task>.md and the task's README section."""

from __future__ import annotations

from orchastration.cli import render
from orchastration.cli.app import App
from orchastration.cli.parser import SubParsers, add_group, add_task_command


def register(sub: SubParsers) -> None:
    group = add_group(sub, "doc", "document workflow tasks")
    add_task_command(group, "generate", "render the task document and its README summary section", run_generate)


def run_generate(app: App) -> int:
    render.show(app, render.doc(app.workflow().doc_generate(app.args.task)))
    return 0
