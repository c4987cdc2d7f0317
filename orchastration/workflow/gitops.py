"""``git branch create`` / ``git issue create``: render the branch name / issue text, call ``vcs``, keep the records."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from orchastration.config import Config, TaskConfig
from orchastration.dataclass_code import dataclass
from orchastration.errors import TemplateError
from orchastration.logs import get_logger, log
from orchastration.state import iso, unique_now
from orchastration.workflow.context import task_context
from orchastration.workflow.doc import renderer_for
from orchastration.workflow.records import ACTION_OK, TaskRecord

if TYPE_CHECKING:
    from orchastration.workflow.facade import Workflow

_log = get_logger("tasks")


@dataclass(frozen=True)
class BranchOutcome:
    """The result of ``git branch create``."""

    task: TaskRecord
    branch: str
    base: str  # what the branch was created from, e.g. "HEAD (main)" or the --base ref
    commit: str
    repo_dir: Path


@dataclass(frozen=True)
class IssueOutcome:
    """The result of ``git issue create`` (``task`` and ``url`` are None for a dry run)."""

    task: TaskRecord | None
    title: str
    body: str
    url: str | None


@dataclass(frozen=True)
class RenderedIssue:
    """An issue's title and body as the templates render them."""

    title: str
    body: str


def render_branch(config: Config, task: TaskConfig, record: TaskRecord | None) -> str:
    """``branch_name.txt.j2`` rendered and sanitised into a valid branch name."""
    from orchastration.vcs import sanitize_branch_name

    text = renderer_for(config, task).render("branch_name.txt.j2", task_context(task, record, config.hash.algorithm))
    return sanitize_branch_name(text)


def render_issue(config: Config, task: TaskConfig, record: TaskRecord | None) -> RenderedIssue:
    """``issue_title.txt.j2`` (one line) and ``issue_body.md.j2`` rendered."""
    renderer = renderer_for(config, task)
    context = task_context(task, record, config.hash.algorithm)
    raw_title = renderer.render("issue_title.txt.j2", context)
    # A title is one line: gh would reject or mangle newlines from a multi-line template.
    title = " ".join(raw_title.split())
    if not title:
        where = renderer.find("issue_title.txt.j2") or "issue_title.txt.j2"
        raise TemplateError(f"{where}: the issue title rendered empty")
    body = renderer.render("issue_body.md.j2", context).strip("\n") + "\n"
    return RenderedIssue(title, body)


def branch_create(wf: Workflow, name: str, base: str | None = None) -> BranchOutcome:
    """Create and check out the task's branch (``branch_name.txt.j2``) from ``base`` (default HEAD);
    record ``git.branch.create``."""
    from orchastration.vcs import create_branch

    task = wf.task_config(name)
    start = unique_now()
    branch = render_branch(wf.config, task, wf.store.load(name))
    info = create_branch(task.working_dir, branch, base)
    end = unique_now()
    record = wf.store.update(task, lambda rec: replace(rec, branch=info.branch, last_run=iso(start)))
    wf.store.write_run(
        name, "git.branch.create", start, end, ACTION_OK, 0, f"created and checked out {info.branch}",
        branch=info.branch, base=info.base, commit=info.commit, repo_dir=str(info.repo_dir),
    )  # fmt: skip
    log(_log, "info", "task branch created", task=name, branch=info.branch, base=info.base)
    return BranchOutcome(record, info.branch, info.base, info.commit, info.repo_dir)


def issue_create(wf: Workflow, name: str, dry_run: bool = False) -> IssueOutcome:
    """Render the issue title and body; unless ``dry_run``, create the issue with ``gh`` and record
    ``git.issue.create``."""
    from orchastration.vcs import create_issue

    task = wf.task_config(name)
    start = unique_now()
    issue = render_issue(wf.config, task, wf.store.load(name))
    if dry_run:
        return IssueOutcome(None, issue.title, issue.body, None)
    url = create_issue(issue.title, issue.body, task.working_dir, wf.environ)
    end = unique_now()
    record = wf.store.update(task, lambda rec: replace(rec, issue_url=url, last_run=iso(start)))
    wf.store.write_run(
        name, "git.issue.create", start, end, ACTION_OK, 0, f"created issue {url}", title=issue.title, url=url
    )
    log(_log, "info", "task issue created", task=name, url=url)
    return IssueOutcome(record, issue.title, issue.body, url)
