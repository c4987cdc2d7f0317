"""The argument parser: global flags accepted before and after the command, each command module's
``register(sub)``, ``Parser.error`` raising ``UsageError``, help as wide as the terminal.

Kept apart from ``cli/app.py`` so a plain ``run`` line, which gets the parser's result without the
parser (``cmd_jobs.plain_run_args``), does not import ``argparse`` (~2.5 ms) either.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

from orchastration.cli.app import COMMAND_MODULES, examples_epilog
from orchastration.errors import UsageError

if TYPE_CHECKING:
    from orchastration.cli.app import App

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
