"""``git branch create`` / ``git issue create``: a task's branch (GitPython) and issue (GitHub CLI)."""

from __future__ import annotations

from orchastration.cli.app import App, SubParsers, add_command, add_group


def register(sub: SubParsers) -> None:
    group = add_group(sub, "git", "create a task's git branch or GitHub issue (never pushes)")
    branch = add_group(group, "branch", "task branches")
    create = add_command(branch, "create", "create and check out the task's branch", run_branch_create)
    create.add_argument("task", metavar="TASK", help="task name from [tasks.<name>]")
    create.add_argument("--base", metavar="REF", help="branch, tag or commit to start from (default: HEAD)")
    issue = add_group(group, "issue", "task issues on GitHub")
    icreate = add_command(issue, "create", "create the task's issue with 'gh issue create'", run_issue_create)
    icreate.add_argument("task", metavar="TASK", help="task name from [tasks.<name>]")
    icreate.add_argument("--dry-run", action="store_true", help="print the rendered title and body; call nothing")


def run_branch_create(app: App) -> int:
    from orchastration.cli.cmd_plan import workflow

    outcome = workflow(app).branch_create(app.args.task, base=app.args.base)
    app.print(f"task={outcome.task.name} branch={outcome.branch}")
    return 0


def run_issue_create(app: App) -> int:
    from orchastration.cli.cmd_plan import workflow

    outcome = workflow(app).issue_create(app.args.task, dry_run=app.args.dry_run)
    if outcome.url is None:
        app.print(f"title: {outcome.title}")
        app.print("body:")
        app.out.write(outcome.body)
        return 0
    app.print(f"task={app.args.task} issue={outcome.url}")
    return 0
