"""The task workflow: plan, build, review record and doc, as one ``Workflow`` over config and state.

The CLI (``plan``, ``build``, ``doc``, ``git``) and the built-in agents call these
methods; they return outcome values and never print or exit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

from orchastration.config import Config, TaskConfig
from orchastration.errors import ConfigError, UsageError
from orchastration.logs import get_logger, log
from orchastration.paths import Paths
from orchastration.state import iso, unique_now
from orchastration.workflow.records import TaskRecord, TaskStore

__all__ = ["Workflow", "TaskRecord", "BuildOutcome", "DocOutcome", "BranchOutcome", "IssueOutcome"]

_log = get_logger("tasks")


@dataclass(frozen=True)
class BuildOutcome:
    """The result of ``build run``: the task record after it, and what the command did."""

    task: TaskRecord
    exit_code: int
    status: str  # the task's status afterwards: done | failed (up-to-date: unchanged, done)
    skipped: bool  # True: inputs/outputs unchanged, nothing ran
    outputs: list[Path]  # absolute paths of the declared outputs
    record_path: Path | None  # the build.run record in state/runs/<task>/


@dataclass(frozen=True)
class DocOutcome:
    """The result of ``doc generate``: where the document and the README section went."""

    task: TaskRecord
    status: str
    doc_path: Path
    readme_path: Path


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
    """The result of ``git issue create`` (``url`` is None for a dry run)."""

    task: TaskRecord | None
    title: str
    body: str
    url: str | None


class Workflow:
    """Plan, build, review and document configured tasks, keeping their state records."""

    def __init__(
        self,
        config: Config,
        paths: Paths,
        *,
        console: IO[str] | None = None,
        quiet: bool = False,
        environ: Mapping[str, str] | None = None,
        err_console: IO[str] | None = None,
    ) -> None:
        self.config = config
        self.paths = paths
        self.console = console
        self.err_console = err_console  # the build command's stderr (default: ``console``)
        self.quiet = quiet
        self.environ = environ
        self.store = TaskStore(paths)

    # -- lookup ---------------------------------------------------------------------------
    def task_config(self, name: str) -> TaskConfig:
        """The configured task, its working_dir checked: unknown task or missing dir -> exit 2."""
        task = self.config.task(name)
        if not task.working_dir.is_dir():
            problem = "not a directory" if task.working_dir.exists() else "directory not found"
            raise ConfigError(
                f"tasks.{name}.working_dir: {problem}: {task.working_dir} (in {self.config.display_path})"
            )
        return task

    def record(self, name: str) -> TaskRecord | None:
        """The stored record of a configured task, or None if it was never created."""
        self.config.task(name)
        return self.store.load(name)

    def status_of(self, name: str) -> str:
        """The task's status: from state if recorded, else from config."""
        record = self.record(name)
        return record.status if record else self.config.task(name).status

    # -- plan -----------------------------------------------------------------------------
    def plan_create(self, name: str) -> TaskRecord:
        """Write ``state/tasks/<name>.json`` (status as configured) and a ``plan.create`` run record."""
        task = self.task_config(name)
        start = unique_now()

        def plan(rec: TaskRecord) -> TaskRecord:
            return replace(rec, status=task.status, last_run=iso(start))

        record = self.store.update(task, plan)
        self.store.write_run(name, "plan.create", start, unique_now(), record.status, 0, "task planned")
        log(_log, "info", "task planned", task=name, status=record.status)
        return record

    def plan_status(self, name: str) -> TaskRecord:
        """The stored record; a task not created yet is a usage error (exit 2)."""
        record = self.record(name)
        if record is None:
            raise UsageError(f"task '{name}' has not been planned yet (run 'orchastration plan create {name}')")
        return record

    # -- build ----------------------------------------------------------------------------
    def build_run(self, name: str, force: bool = False) -> BuildOutcome:
        """Run the task's command: in_progress while it runs, then done or failed (or skipped if up to date)."""
        from orchastration.workflow.build import run_build

        task = self.task_config(name)
        started = unique_now()
        self.store.update(task, lambda rec: replace(rec, status="in_progress", last_run=iso(started)))
        log(_log, "info", "task build started", task=name)
        console = None if self.quiet else self.console
        err_console = None if self.quiet else (self.err_console or self.console)
        try:
            result = run_build(
                self.config,
                self.paths,
                task,
                force=force,
                console=console,
                err_console=err_console,
                environ=self.environ,
            )
        except BaseException:
            # Interrupted or crashed: never leave the task in_progress (the original tool did).
            self.store.update(task, lambda rec: replace(rec, status="failed"))
            raise
        # Skipped: the last build succeeded and nothing it depends on changed, so the task is done.
        status = "done" if result.skipped else result.status
        build = {
            "exit_code": result.exit_code,
            "status": result.status,
            "start_time": result.start_time,
            "end_time": result.end_time,
            "duration_ms": result.duration_ms,
            "message": result.message,
            "record": str(result.record_path) if result.record_path else None,
        }
        record_path = result.record_path
        if result.skipped:
            record_path = self.store.write_run(
                name, "build.run", started, unique_now(), "up-to-date", 0, result.message, skipped=True
            )

        def finish(rec: TaskRecord) -> TaskRecord:
            if result.skipped and rec.last_build:
                return replace(rec, status=status)
            return replace(rec, status=status, last_build=build)

        record = self.store.update(task, finish)
        if status == "failed":
            log(_log, "error", f"task build failed: {result.message}", task=name, exit=result.exit_code)
        else:
            log(_log, "info", "task build finished", task=name, status=status, exit=result.exit_code)
        outputs = [(task.working_dir / rel).absolute() for rel in task.outputs]
        return BuildOutcome(record, result.exit_code, status, result.skipped, outputs, record_path)

    # -- review ---------------------------------------------------------------------------
    def record_review(self, name: str, status: str, report: str) -> None:
        """Keep the Reviewer's verdict (passed | failed | skipped) in the task record for the doc."""
        task = self.config.task(name)
        review = {"status": status, "report": report, "time": iso(unique_now())}
        self.store.update(task, lambda rec: replace(rec, last_review=review))
        log(_log, "info", "task review recorded", task=name, status=status)

    # -- doc ------------------------------------------------------------------------------
    def doc_generate(self, name: str) -> DocOutcome:
        """Render ``docs/tasks/<name>.md`` and the task's README section; the status is unchanged."""
        from orchastration.workflow.doc import generate

        task = self.task_config(name)
        start = unique_now()
        doc_path, readme_path = generate(self.config, task, self.store.load(name), self.store.lock_dir)
        end = unique_now()
        last_doc = {"doc_path": str(doc_path), "readme_path": str(readme_path), "time": iso(end)}
        record = self.store.update(task, lambda rec: replace(rec, last_run=iso(start), last_doc=last_doc))
        self.store.write_run(
            name, "doc.generate", start, end, "success", 0, "document generated",
            doc_path=str(doc_path), readme_path=str(readme_path),
        )  # fmt: skip
        log(_log, "info", "task documented", task=name, doc=str(doc_path))
        return DocOutcome(record, record.status, doc_path, readme_path)

    # -- git ------------------------------------------------------------------------------
    def branch_create(self, name: str, base: str | None = None) -> BranchOutcome:
        """Create and check out the task's branch (``branch_name.txt.j2``) from ``base`` (default HEAD)."""
        from orchastration.workflow import gitops

        task = self.task_config(name)
        record, branch, label, commit, repo_dir = gitops.branch_create(self.config, self.store, task, base)
        log(_log, "info", "task branch created", task=name, branch=branch, base=label)
        return BranchOutcome(record, branch, label, commit, repo_dir)

    def issue_create(self, name: str, dry_run: bool = False) -> IssueOutcome:
        """Render the issue title and body; unless ``dry_run``, create the issue with ``gh``."""
        from orchastration.workflow import gitops

        task = self.task_config(name)
        record, issue, url = gitops.issue_create(self.config, self.store, task, dry_run, self.environ)
        if url:
            log(_log, "info", "task issue created", task=name, url=url)
        return IssueOutcome(record, issue.title, issue.body, url)
