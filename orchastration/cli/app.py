"""The command table and the per-invocation ``App`` context (the parser itself: ``cli/parser.py``).

Each command module exposes ``register(sub)`` that adds its parser(s) with
``add_command``; the handler receives the ``App`` and returns an exit code.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from orchastration import __version__
from orchastration.dataclass_code import dataclass, field
from orchastration.errors import OrchastrationError, UsageError

if TYPE_CHECKING:
    import argparse
    import logging

    from orchastration.config import Config
    from orchastration.engine.fastpath import Summaries
    from orchastration.paths import Paths
    from orchastration.workflow import Workflow

# One table of command modules (orchastration.cli.cmd_<name>), in --help order.
COMMAND_MODULES = (
    "jobs",
    "logs",
    "verify",
    "prune",
    "watch",
    "hash",
    "config",
    "init",
    "graph",
    "plan",
    "build",
    "doc",
    "git",
    "agent",
    "orchestration",
    "completion",
    "history",
    "report",
    "cache",
)

# Top-level command -> its module, so a command line imports and builds only the parser it uses
# (building all of them costs ~40 ms). tests/test_cli.py checks it against what modules register.
COMMAND_OF = {
    **dict.fromkeys(("list", "run", "status", "why", "clean", "forget"), "jobs"),
    **{name: name for name in COMMAND_MODULES if name != "jobs"},
}
_VALUED_GLOBALS = ("--config", "--state-dir", "--log-level", "--log-format")


def examples_epilog(path: str, epilog: str | None = None) -> str | None:
    """``epilog`` followed by the examples of the command ``path`` (``cli/examples.py``)."""
    from orchastration.cli.examples import epilog as examples

    shown = examples(path)
    return "\n\n".join(part for part in (epilog, shown) if part) or None


def _command_index(argv: list[str]) -> int | None:
    """Where the command word of ``argv`` is (skipping global flags), or None."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in _VALUED_GLOBALS:
            i += 2
        elif arg.startswith("-"):
            if arg in ("-h", "--help", "--"):
                return None
            i += 1
        else:
            return i
    return None


def command_module(argv: list[str]) -> str | None:
    """The module of the command ``argv`` names (skipping global flags), or None if unknown."""
    i = _command_index(argv)
    return None if i is None else COMMAND_OF.get(argv[i])


def split_job_args(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """``run JOB -- ARG ...``: the command line before ``--``, and the arguments after it for the job's
    command (None: no ``--``). argparse would take them for more job names."""
    i = _command_index(argv)
    if i is None or argv[i] != "run" or "--" not in argv[i + 1 :]:
        return argv, None
    cut = argv.index("--", i + 1)
    return argv[:cut], argv[cut + 1 :]


@dataclass
class App:
    """Everything a command handler needs for one invocation (streams, env, paths, config)."""

    args: argparse.Namespace
    out: IO[str]
    err: IO[str]
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    cwd: Path = field(default_factory=Path.cwd)
    summaries: Summaries | None = None  # the up-to-date summaries the no-op test already read (cli/fast_run.py)
    argv: list[str] = field(default_factory=list)  # the command line (session records, docs/observability.md)
    _paths: Paths | None = None
    _config: Config | None = None
    _config_file: tuple[Path | None] | None = None

    @property
    def config_file(self) -> Path | None:
        """The config file this invocation uses (None: built-in defaults), found without reading it."""
        if self._config is not None:
            return self._config.path
        if self._config_file is None:
            from orchastration.paths import find_config, user_config_file

            found, _ = find_config(self.args.config, self.environ, self.cwd, user_config_file(self.environ))
            self._config_file = (found,)
        return self._config_file[0]

    @property
    def paths(self) -> Paths:
        """OS paths: ``--state-dir`` / ``$ORCHASTRATION_STATE_DIR``, else the config file's own state dir."""
        if self._paths is None:
            from orchastration.paths import Paths

            explicit = self.args.state_dir or self.environ.get("ORCHASTRATION_STATE_DIR")
            config_file = None if explicit else self.config_file
            self._paths = Paths.resolve(self.args.state_dir, self.environ, config_file=config_file)
        return self._paths

    @property
    def project(self) -> str:
        """The project as log events name it: its config file, or ``<defaults>``."""
        try:
            found = self.config_file
        except OrchastrationError:  # a --config that does not exist: the command reports it if it needs the config
            return str(self.args.config or "<defaults>")
        return str(found) if found is not None else "<defaults>"

    @property
    def config(self) -> Config:
        """The effective config, loaded on first use (logging re-tuned to it)."""
        if self._config is None:
            from orchastration.config import load_config

            self._config = load_config(
                self.args.config, environ=self.environ, cwd=self.cwd, user_config=self.paths.user_config
            )
            self.setup_logging()
        return self._config

    @property
    def quiet(self) -> bool:
        return bool(self.args.quiet)

    def workflow(self) -> Workflow:
        """The task workflow over this invocation's config and state dir (plan, build, doc, git)."""
        from orchastration.workflow import Workflow

        return Workflow(
            self.config, self.paths, console=self.out, err_console=self.err, quiet=self.quiet, environ=self.environ
        )

    @property
    def logger(self) -> logging.Logger:
        from orchastration.logs import get_logger

        return get_logger()

    def setup_logging(self) -> None:
        """Console and file logging from flags, then config, then defaults."""
        from orchastration.logs import parse_level, set_event_fields, setup_logging, use_color
        from orchastration.paths import log_file

        level = self.args.log_level or (self._config.logging.level if self._config else "info")
        try:
            parse_level(level)
        except ValueError:
            raise UsageError(
                f"--log-level: invalid level '{level}' (choose from debug, info, warn, warning, error)"
            ) from None
        fmt = self.args.log_format or (self._config.logging.format if self._config else "text")
        # The console repeats nothing stdout already says: warnings and errors unless asked
        # (--log-level, -v); the log file records at the configured level.
        if self.args.verbose:
            console = "debug"
        elif self.args.quiet:
            console = "error"
        else:
            console = self.args.log_level or "warn"
        color = use_color(self.err, self.args.no_color, self.environ)
        set_event_fields(project=self.project)
        setup_logging(level, fmt, log_file(self.environ), self.err, color, console_level=console)

    def print(self, text: str = "") -> None:
        """Write one line of command output to stdout.

        A non-UTF-8 file name (surrogate-escaped) goes out as its bytes where the stream allows
        it (a C/POSIX locale), else with its undecodable bytes shown as ``\\xff`` (docs/jobs.md)."""
        try:
            self.out.write(text + "\n")
        except UnicodeEncodeError:
            self.out.write(os.fsencode(text).decode("utf-8", "backslashreplace") + "\n")

    def print_json(self, value: Any, compact: bool = False) -> None:
        """Write a JSON document to stdout (a non-UTF-8 file name as ``\\udcXX`` escapes, as in records)."""
        from orchastration.state import json_safe

        if compact:
            self.print(json_safe(json.dumps(value, separators=(",", ":"), ensure_ascii=False)))
        else:
            self.print(json_safe(json.dumps(value, indent=2, ensure_ascii=False)))


def version_text() -> str:
    """``orchastration <version>``."""
    return f"orchastration {__version__}"
