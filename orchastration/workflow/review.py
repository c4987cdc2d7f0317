"""The Reviewer's verdict, kept in the task record (``last_review``) for the task document."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from orchastration.logs import get_logger, log
from orchastration.outcomes import ReviewStatus
from orchastration.state import iso, unique_now

if TYPE_CHECKING:
    from orchastration.workflow.facade import Workflow

_log = get_logger("tasks")


def record(wf: Workflow, name: str, status: ReviewStatus | str, report: str) -> None:
    """Keep the verdict (passed | failed | skipped) and its report; any other status is a ``ValueError``."""
    verdict = ReviewStatus(status)
    task = wf.config.task(name)
    review = {"status": verdict, "report": report, "time": iso(unique_now())}
    wf.store.update(task, lambda rec: replace(rec, last_review=review))
    log(_log, "info", "task review recorded", task=name, status=verdict)
