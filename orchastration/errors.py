"""Error hierarchy and the one mapping of outcomes to exit codes.

User mistakes (bad config, unknown names, missing files) are exceptions under
``OrchastrationError``; job/task/agent outcomes are status values that the CLI
reduces to an exit code with ``exit_code_for``.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class OrchastrationError(Exception):
    """Base for user-facing errors; ``exit_code`` says how the CLI ends."""

    exit_code = EXIT_USAGE


class UsageError(OrchastrationError):
    """Bad command-line usage: unknown command, bad flag, unknown job/task name."""


class ConfigError(OrchastrationError):
    """Invalid configuration: syntax, unknown key, wrong type or bad value."""


class InputError(OrchastrationError):
    """A file or directory the user named is missing or unreadable."""


class TemplateError(OrchastrationError):
    """A template failed to load or render (names the template file and line)."""


class GitError(OrchastrationError):
    """A git helper could not do what was asked; the repository is untouched."""


def exit_code_for(statuses: list[str]) -> int:
    """Reduce outcome statuses (ran, skipped, failed, timeout, interrupted...) to an exit code."""
    if any(s == "interrupted" for s in statuses):
        return EXIT_INTERRUPTED
    if any(s in ("failed", "timeout", "error") for s in statuses):
        return EXIT_FAILED
    return EXIT_OK
