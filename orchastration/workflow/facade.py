"""``Workflow``: one object over config and state that the CLI and the agents call; each action is its own module.

``plan.py`` (plan create/status), ``build.py`` (build run), ``review.py`` (the Reviewer's verdict),
``doc.py`` (doc generate), ``gitops.py`` (git branch/issue create). This class holds what they
share (config, paths, the task store, the consoles) and looks tasks up; every method returns an
outcome value and never prints or exits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, TYPE_CHECKING

from orchastration.config import Config, TaskConfig
from orchastration.errors import ConfigError
from orchastration.paths import Paths
from orchastration.workflow.records import TaskRecord, TaskStore

if TYPE_CHECKING:
    from orchastration.outcomes import ReviewStatus
    from orchastration.workflow.build import BuildOutcome
    from orchastration.workflow.doc import DocOutcome
    from orchastration.workflow.gitops import BranchOutcome, IssueOutcome


class Workflow:
    """Plan, build, review and document configured tasks, keeping their state records."""

    def __init__(
        self,
        config: Config,
        paths: Paths,
        *,
        environ: Mapping[str, str],
        console: IO[str] | None = None,
        quiet: bool = False,
        err_console: IO[str] | None = None,
    ) -> None:
        self.config = config
        self.paths = paths
        self.console = console
        self.err_console = err_console  # the build command's stderr (default: ``console``)
        self.quiet = quiet
        self.environ = environ  # what the task's commands (build, review, gh) inherit
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

    # -- actions (one module each) --------------------------------------------------------
    def plan_create(self, name: str) -> TaskRecord:
        """``plan create``: see ``plan.create``."""
        from orchastration.workflow import plan

        return plan.create(self, name)

    def plan_status(self, name: str) -> TaskRecord:
        """``plan status``: see ``plan.status``."""
        from orchastration.workflow import plan

        return plan.status(self, name)

    def build_run(self, name: str, force: bool = False) -> BuildOutcome:
        """``build run``: see ``build.run``."""
        from orchastration.workflow import build

        return build.run(self, name, force=force)

    def record_review(self, name: str, status: ReviewStatus | str, report: str) -> None:
        """Keep the Reviewer's verdict: see ``review.record``."""
        from orchastration.workflow import review

        review.record(self, name, status, report)

    def doc_generate(self, name: str) -> DocOutcome:
        """``doc generate``: see ``doc.run``."""
        from orchastration.workflow import doc

        return doc.run(self, name)

    def branch_create(self, name: str, base: str | None = None) -> BranchOutcome:
        """``git branch create``: see ``gitops.branch_create``."""
        from orchastration.workflow import gitops

        return gitops.branch_create(self, name, base)

    def issue_create(self, name: str, dry_run: bool = False) -> IssueOutcome:
        """``git issue create``: see ``gitops.issue_create``."""
        from orchastration.workflow import gitops

        return gitops.issue_create(self, name, dry_run)
