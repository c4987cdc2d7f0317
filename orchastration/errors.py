"""Error hierarchy: user mistakes are exceptions with an exit code (outcomes are values: ``outcomes.py``).

User mistakes (bad config, unknown names, missing files) are exceptions under
``OrchastrationError``; job/task/agent outcomes are status values that the CLI
reduces to an exit code with ``outcomes.exit_code_for``.
"""

from __future__ import annotations

# The exit codes (``outcomes.exit_code_for`` maps outcomes to them). Defined here, where the no-op
# ``run`` finds them without building the outcome enums.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_WAITING = 3  # an orchestration stopped at an approval gate, waiting for a decision (not a failure)
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
