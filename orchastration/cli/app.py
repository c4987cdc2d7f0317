"""The argument parser, the command table, and the per-invocation ``App`` context.

Each command module exposes ``register(sub)`` that adds its parser(s) with
``add_command``; the handler receives the ``App`` and returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

from orchastration import __version__
from orchastration.dataclass_code import dataclass, field
from orchastration.errors import OrchastrationError, UsageError

if TYPE_CHECKING:
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

Handler = Callable[["App"], int]
if TYPE_CHECKING:  # generic only in typeshed
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    SubParsers = argparse._SubParsersAction


def terminal_columns() -> int:
    """The width help is wrapped to: what ``shutil.get_terminal_size`` reports (``$COLUMNS``, else
    the terminal's, else 80), without importing ``shutil`` (and the compression modules it loads:
    ~2 ms of every command that builds a parser, the first run of a command among them)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class Formatter(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter (descriptions and epilogs kept as written), as wide as the terminal."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None):
        # argparse leaves 2 columns free when it measures the terminal itself
        super().__init__(prog, indent_increment, max_help_position, terminal_columns() - 2 if width is None else width)


class Parser(argparse.ArgumentParser):
    """argparse that raises ``UsageError`` (one line, exit 2) instead of exiting."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        kw.setdefault("formatter_class", Formatter)
        super().__init__(*args, **kw)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _add_global_flags(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """The global flags; on subcommands their defaults are suppressed so they don't clobber."""

    def d(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    g = parser.add_argument_group("global options")
    g.add_argument("--config", metavar="PATH", default=d(None), help="config file (see 'config path')")
    g.add_argument("--state-dir", metavar="PATH", default=d(None), help="state directory")
    g.add_argument("--log-level", metavar="LEVEL", default=d(None), help="debug, info, warn, error")
    g.add_argument("--log-format", choices=("text", "json"), default=d(None), help="console log format")
    g.add_argument("--no-color", action="store_true", default=d(False), help="never colour console logs")
    g.add_argument("-q", "--quiet", action="store_true", default=d(False), help="only errors on stderr")
    g.add_argument("-v", "--verbose", action="store_true", default=d(False), help="debug logs, tracebacks")


_GLOBAL_PARENT: list[Parser] = []  # built with the first (sub)command parser: a plain `run` builds none


def _global_parent() -> Parser:
    """The global flags as a parent parser for every subcommand (their defaults suppressed)."""
    if not _GLOBAL_PARENT:
        parent = Parser(add_help=False)
        _add_global_flags(parent, suppress=True)
        _GLOBAL_PARENT.append(parent)
    return _GLOBAL_PARENT[0]


def positive_int(text: str) -> int:
    """argparse ``type`` for counts such as ``-j N``: a whole number, at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_command(
    sub: SubParsers, name: str, help: str, handler: Handler | None = None, **kw: Any
) -> argparse.ArgumentParser:
    """Add a (sub)command that also accepts the global flags after its name; its ``--help`` ends with
    its examples from ``cli/examples.py``."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=help, description=kw.pop("description", help), parents=[_global_parent()],
        formatter_class=kw.pop("formatter_class", Formatter), **kw,
    )  # fmt: skip
    parser.epilog = examples_epilog(parser.prog.partition(" ")[2], parser.epilog)
    if handler is not None:
        parser.set_defaults(handler=handler)
    return parser


def add_task_command(sub: SubParsers, name: str, help: str, handler: Handler) -> argparse.ArgumentParser:
    """Add a subcommand of one configured task: ``plan create TASK``, ``build run TASK``..."""
    parser = add_command(sub, name, help, handler)
    parser.add_argument("task", metavar="TASK", help="task name from [tasks.<name>]")
    return parser


def add_json_flag(parser: argparse.ArgumentParser, help: str = "print a JSON array") -> None:
    """The ``--json`` flag of a command whose output ``render.show`` writes as text or JSON."""
    parser.add_argument("--json", action="store_true", help=help)


def add_group(sub: SubParsers, name: str, help: str) -> SubParsers:
    """Add a command with subcommands (``plan list``); alone it prints its help."""
    parser = add_command(sub, name, help)
    parser.set_defaults(handler=_help_of(parser))
    return parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=Parser)


def _help_of(parser: argparse.ArgumentParser) -> Handler:
    def show(app: App) -> int:
        parser.print_help(app.out)
        return 0

    return show


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


def build_parser(only: str | None = None) -> Parser:
    """The parser: global flags and every command in ``COMMAND_MODULES`` (or just module ``only``)."""
    parser = Parser(
        prog="orchastration",
        # Wrapped by hand: the raw formatter keeps the examples' layout (and so these lines') as written.
        description="Run jobs, workflow tasks and agent pipelines deterministically, with\nincremental reruns.",
        epilog=examples_epilog(
            "", "Exit codes: 0 success, 1 a job/task/agent/check failed, 2 usage or config\nerror, 130 interrupted."
        ),
        formatter_class=Formatter,
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    _add_global_flags(parser, suppress=False)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=Parser)
    for name in (only,) if only else COMMAND_MODULES:
        importlib.import_module(f"orchastration.cli.cmd_{name}").register(sub)
    parser.set_defaults(handler=_help_of(parser))
    return parser


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
