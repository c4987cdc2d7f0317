"""Outcome vocabularies: one status enum per kind of work, and the one mapping of outcomes to exit codes.

Job, task, agent and orchastration outcomes are values, never exceptions (user mistakes are the
exceptions of ``errors.py``). Each enum is a ``StrEnum``: its members compare equal to, and print as,
the words records and result lines have always used.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from orchastration.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, EXIT_WAITING

__all__ = [
    "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "EXIT_WAITING", "AgentStatus", "BuildStatus",
    "CheckStatus", "CleanStatus", "OrchestrationStatus", "ProcessStatus", "ReviewStatus", "TaskStatus", "UnitStatus",
    "UNIT_STATUS_OF_PROCESS", "exit_code_for",
]  # fmt: skip


class ProcessStatus(StrEnum):
    """How a command's process ended (``process.ProcessResult.status``)."""

    OK = "ok"
    FAILED = "failed"
    NOT_FOUND = "not_found"
    TIMEOUT = "timeout"
    INTERRUPTED = "interrupted"


class UnitStatus(StrEnum):
    """A job's (or a task build's engine unit's) outcome in a run; ``not_run``: never started."""

    RAN = "ran"
    SKIPPED = "skipped"
    FAILED = "failed"
    TIMEOUT = "timeout"
    INTERRUPTED = "interrupted"
    NOT_RUN = "not_run"
    RESTORED = "restored"  # its outputs and logs came from the output cache (a success)


UNIT_STATUS_OF_PROCESS = {
    ProcessStatus.OK: UnitStatus.RAN,
    ProcessStatus.FAILED: UnitStatus.FAILED,
    ProcessStatus.NOT_FOUND: UnitStatus.FAILED,
    ProcessStatus.TIMEOUT: UnitStatus.TIMEOUT,
    ProcessStatus.INTERRUPTED: UnitStatus.INTERRUPTED,
}


class TaskStatus(StrEnum):
    """A workflow task's status in its record."""

    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    FAILED = "failed"


class BuildStatus(StrEnum):
    """How ``build run`` ended: the task's command ran (done, failed) or was up to date.

    ``interrupted``: the command was stopped by Ctrl-C (exit 130); its record says ``failed``,
    and ``exit_code_for`` makes ``build run`` exit 130.
    """

    DONE = "done"
    FAILED = "failed"
    UP_TO_DATE = "up-to-date"
    INTERRUPTED = "interrupted"


class AgentStatus(StrEnum):
    """One agent stage of an orchestration."""

    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"
    TIMEOUT = "timeout"  # a command agent killed by its timeout or idle timeout (a failure)
    WAITING = "waiting"  # an approval gate with no decision (the run stops, exit 3)
    REJECTED = "rejected"  # an approval gate a person rejected (a failure)


class ReviewStatus(StrEnum):
    """The Reviewer's verdict kept in the task record."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


class OrchestrationStatus(StrEnum):
    """A whole orchestration run."""

    SUCCESS = "success"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    WAITING = "waiting"  # stopped at an approval gate (exit 3)
    REJECTED = "rejected"  # an approval gate was rejected (exit 1)


class CheckStatus(StrEnum):
    """One line of ``hash --check``."""

    OK = "OK"
    FAILED = "FAILED"


class CleanStatus(StrEnum):
    """What ``clean`` did with one declared output (``refused``: outside the working dir, a failure)."""

    REMOVED = "removed"
    ABSENT = "absent"
    REFUSED = "refused"
    KEPT = "kept"


_INTERRUPTED = frozenset({"interrupted"})
_FAILED = frozenset({"failed", "timeout", "error", "FAILED", "refused", "rejected"})
_WAITING = frozenset({"waiting"})


def exit_code_for(statuses: Iterable[str]) -> int:
    """The exit code of a command whose work ended with ``statuses`` (any of the enums above):
    130 if anything was interrupted, else 1 if anything failed or timed out, else 3 if an orchestration
    waits at an approval gate, else 0."""
    seen = set(statuses)
    if seen & _INTERRUPTED:
        return EXIT_INTERRUPTED
    if seen & _FAILED:
        return EXIT_FAILED
    if seen & _WAITING:
        return EXIT_WAITING
    return EXIT_OK
