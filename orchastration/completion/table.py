"""The command table: every command path of an argparse parser, with what completes where."""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping

from orchastration.completion import KINDS, ROOT
from orchastration.dataclass_code import dataclass

_NAME_WORDS = {"job": "jobs", "task": "tasks", "orchestration": "orchestrations", "agent": "agents"}
_FILE_WORDS = {"path", "file", "manifest", "config"}
_DIR_WORDS = {"dir", "directory", "state_dir"}
# Completion words must survive unquoted in every shell's table.
_PLAIN = re.compile(r"[A-Za-z0-9_.:+@%/-]+")


@dataclass(frozen=True)
class Command:
    """One command path (``orchastration config show``) as the completion scripts see it."""

    path: str
    help: str
    subcommands: tuple[tuple[str, str], ...]  # (name, help), in --help order
    options: tuple[tuple[str, str], ...]  # (flag, help), every spelling of every visible flag
    option_kinds: tuple[tuple[str, str], ...]  # (flag, kind) for the flags that take a value
    positionals: tuple[str, ...]  # kinds in order; the last ends with "..." when it repeats
    rest: str = ""  # what the words after `--` complete to (`run JOB -- ARG ...`: files); "" the positionals


def _word(value: object) -> str:
    return str(value).lower().strip("-").replace("-", "_") if isinstance(value, str) else ""


def value_kind(action: argparse.Action, path: str) -> str:
    """What the value(s) of ``action`` complete to: a name of ``KINDS`` or ``choice:a,b,...``."""
    explicit = getattr(action, "completer", None)
    if isinstance(explicit, str) and (explicit in KINDS or explicit.startswith("choice:")):
        return explicit
    if action.choices is not None and not isinstance(action.choices, Mapping):
        words = [str(c) for c in action.choices if _PLAIN.fullmatch(str(c))]
        return "choice:" + ",".join(words) if words else "none"
    metavar, dest = _word(action.metavar), _word(action.dest)
    if dest == "log_level":
        from orchastration.config import LOG_LEVELS

        return "choice:" + ",".join(LOG_LEVELS)
    if dest in ("algo", "algorithm"):
        from orchastration.config import HASH_ALGORITHMS

        return "choice:" + ",".join(HASH_ALGORITHMS)
    # The metavar says what the value is (`--jobs N` is a count, not job names); the dest only without one.
    word = metavar or dest
    singular = word[:-1] if word.endswith("s") else word
    if singular in _NAME_WORDS:
        return _NAME_WORDS[singular]
    parts = path.split()
    if word == "name" and len(parts) > 1 and parts[1] in _NAME_WORDS:
        return _NAME_WORDS[parts[1]]  # `orchestration run NAME`, `agent show NAME`
    if word in _DIR_WORDS or dest in _DIR_WORDS or dest.endswith("_dir"):
        return "dir"
    if word in _FILE_WORDS or dest in ("file", "files") or dest.endswith(("_file", "_path")):
        return "file"
    return "none"


def _visible(help_text: str | None) -> bool:
    return help_text != argparse.SUPPRESS


def _one_line(text: str | None) -> str:
    if not text or text == argparse.SUPPRESS:
        return ""
    text = " ".join(text.split())
    return text.replace("%%", "%")


def _walk(parser: argparse.ArgumentParser, path: str, help_text: str, table: list[Command]) -> None:
    subcommands: list[tuple[str, str]] = []
    children: list[tuple[str, argparse.ArgumentParser, str]] = []
    options: list[tuple[str, str]] = []
    option_kinds: list[tuple[str, str]] = []
    positionals: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, child in action.choices.items():
                # Names without a help entry are aliases (or hidden): recognised, not offered.
                if name in helps and _visible(helps[name]):
                    subcommands.append((name, _one_line(helps[name])))
                    children.append((name, child, _one_line(helps[name])))
        elif action.option_strings:
            if not _visible(action.help):
                continue
            options.extend((flag, _one_line(action.help)) for flag in action.option_strings)
            if action.nargs != 0:
                kind = value_kind(action, path)
                option_kinds.extend((flag, kind) for flag in action.option_strings)
        elif _visible(action.help) or action.help is None:
            kind = value_kind(action, path)
            if action.nargs in ("*", "+", argparse.REMAINDER):
                positionals.append(kind + "...")
            elif isinstance(action.nargs, int):
                positionals.extend([kind] * action.nargs)
            else:
                positionals.append(kind)
    rest = getattr(parser, "completer_rest", "")  # set by a command that passes `-- ARG ...` on
    table.append(
        Command(path, help_text, tuple(subcommands), tuple(options), tuple(option_kinds), tuple(positionals), rest)
    )
    for name, child, child_help in children:
        _walk(child, f"{path} {name}", child_help, table)


def command_table(parser: argparse.ArgumentParser) -> list[Command]:
    """Every command path of ``parser``, root first, with what completes where."""
    table: list[Command] = []
    _walk(parser, ROOT, _one_line(parser.description), table)
    return table
