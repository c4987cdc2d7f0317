"""``doc generate TASK``: render docs/tasks/<task>.md and the task's README section."""

from __future__ import annotations

from orchastration.cli.app import App, SubParsers, add_command, add_group


def register(sub: SubParsers) -> None:
    group = add_group(sub, "doc", "document workflow tasks")
    gen = add_command(group, "generate", "render the task document and its README summary section", run_generate)
    gen.add_argument("task", metavar="TASK", help="task name from [tasks.<name>]")


def run_generate(app: App) -> int:
    from orchastration.cli.cmd_plan import workflow

    outcome = workflow(app).doc_generate(app.args.task)
    app.print(f"task={outcome.task.name} status={outcome.status} doc={outcome.doc_path}")
    return 0
