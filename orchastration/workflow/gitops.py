"""Task-level git actions: render the branch name / issue text, call ``vcs``, keep the records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from orchastration.config import Config, TaskConfig
from orchastration.errors import TemplateError
from orchastration.state import iso, unique_now
from orchastration.workflow.context import task_context
from orchastration.workflow.doc import renderer_for
from orchastration.workflow.records import TaskRecord, TaskStore


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


def branch_create(
    config: Config, store: TaskStore, task: TaskConfig, base: str | None
) -> tuple[TaskRecord, str, str, str, Path]:
    """Create and check out the task's branch; record ``git.branch.create`` (record, branch, base, commit, repo)."""
    from orchastration.vcs import create_branch

    start = unique_now()
    branch = render_branch(config, task, store.load(task.name))
    info = create_branch(task.working_dir, branch, base)
    end = unique_now()
    record = store.update(task, lambda rec: replace(rec, branch=info.branch, last_run=iso(start)))
    store.write_run(
        task.name, "git.branch.create", start, end, "success", 0, f"created and checked out {info.branch}",
        branch=info.branch, base=info.base, commit=info.commit, repo_dir=str(info.repo_dir),
    )  # fmt: skip
    return record, info.branch, info.base, info.commit, info.repo_dir


def issue_create(
    config: Config, store: TaskStore, task: TaskConfig, dry_run: bool, environ: Mapping[str, str] | None
) -> tuple[TaskRecord | None, RenderedIssue, str | None]:
    """Render the issue and (unless ``dry_run``) create it with ``gh``; record ``git.issue.create``."""
    from orchastration.vcs import create_issue

    start = unique_now()
    issue = render_issue(config, task, store.load(task.name))
    if dry_run:
        return None, issue, None
    url = create_issue(issue.title, issue.body, task.working_dir, environ)
    end = unique_now()
    record = store.update(task, lambda rec: replace(rec, issue_url=url, last_run=iso(start)))
    store.write_run(
        task.name, "git.issue.create", start, end, "success", 0, f"created issue {url}",
        title=issue.title, url=url,
    )  # fmt: skip
    return record, issue, url
