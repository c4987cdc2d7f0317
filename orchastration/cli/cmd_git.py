"""``git branch create`` / ``git issue create``: a task's branch (GitPython) and issue (GitHub CLI)."""

from __future__ import annotations

from orchastration.cli import render
from orchastration.cli.app import App
from orchastration.cli.parser import SubParsers, add_group, add_task_command


def register(sub: SubParsers) -> None:
    group = add_group(sub, "git", "create a task's git branch or GitHub issue (never pushes)")
    branch = add_group(group, "branch", "task branches")
    create = add_task_command(branch, "create", "create and check out the task's branch", run_branch_create)
    create.add_argument("--base", metavar="REF", help="branch, tag or commit to start from (default: HEAD)")
    issue = add_group(group, "issue", "task issues on GitHub")
    icreate = add_task_command(issue, "create", "create the task's issue with 'gh issue create'", run_issue_create)
    icreate.add_argument("--dry-run", action="store_true", help="print the rendered title and body; call nothing")


def run_branch_create(app: App) -> int:
    render.show(app, render.branch(app.workflow().branch_create(app.args.task, base=app.args.base)))
    return 0


def run_issue_create(app: App) -> int:
    outcome = app.workflow().issue_create(app.args.task, dry_run=app.args.dry_run)
    render.show(app, render.issue(app.args.task, outcome))
    return 0
