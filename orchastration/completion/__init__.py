"""Shell completion: the command table introspected from the argparse parser, and config names.

The scripts printed by ``orchastration completion SHELL`` embed the command table of the parser that
printed them (commands, subcommands, flags, what each flag and positional takes) and ask
``orchastration completion --names KIND`` for job / task / orchestration / agent names at each <Tab>.
Nothing here imports doit, Jinja2 or GitPython: the names helper runs on every <Tab>.

A command module can say what an argument completes to with ``action.completer = "<kind>"``
(see ``KINDS``); otherwise the kind is guessed from the metavar / dest (``JOB`` -> jobs, ``TASK`` ->
tasks, ``NAME`` under ``orchestration`` -> orchestrations, ``PATH``/``--file`` -> files, ``--*-dir`` ->
directories) and choices complete to themselves.

Every script has tables per command path (subcommands, flags, what each flag's value and each positional
completes to) and a walk over the words before the cursor: flags are skipped (with their value when they
take one), words naming a subcommand extend the path, other words count as positionals. The current word
then completes to flags, subcommands, or the kind of value expected; names come from
``orchastration [--config FILE] completion --names KIND``.

In this package: ``table`` builds the command table; ``sh`` (bash and zsh), ``fish`` and ``powershell``
render the scripts; ``scripts.render`` picks one. This module stays light (every command module is
imported to build the parser, and ``cmd_completion`` imports this one): the table and the renderers
load only when a script is printed.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up (see cli/__init__.py)
if TYPE_CHECKING:
    from collections.abc import Iterable

ROOT = "orchastration"
SHELLS = ("bash", "zsh", "fish", "powershell")
NAME_KINDS = ("jobs", "tasks", "orchestrations", "agents")
# What a value can complete to: config names, paths, a fixed list ("choice:a,b"), or nothing.
KINDS = (*NAME_KINDS, "file", "dir", "none")


def config_names(kind: str, jobs: Iterable[str], tasks: Iterable[str], orchestrations: Iterable[str],
                 agents: Iterable[str]) -> list[str]:  # fmt: skip
    """The sorted names of ``kind`` (one of ``NAME_KINDS``); agents include the built-in ones."""
    from orchastration.config import BUILTIN_AGENTS

    chosen = {"jobs": jobs, "tasks": tasks, "orchestrations": orchestrations}.get(kind)
    if chosen is None:
        chosen = [*BUILTIN_AGENTS, *agents]
    return sorted(set(chosen))


_HEADER = """\
{comment} {shell} completion for orchastration {version}, printed by `orchastration completion {shell}`.
{comment} Commands and flags are those of the orchastration that printed it: print it again after an upgrade.
{comment} Job, task, orchestration and agent names are read from the current config at each <Tab>.
"""


def header(comment: str, shell: str, version: str, install: str) -> str:
    """The comment block that opens every script: what printed it, and how to install it."""
    text = _HEADER.format(comment=comment, shell=shell, version=version)
    return text + "".join(f"{comment} {line}\n" for line in install.strip().splitlines())
