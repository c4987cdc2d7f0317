"""``completion SHELL``: print a shell completion script; ``--names KIND`` (hidden) feeds it names."""

from __future__ import annotations

import argparse

from orchastration.cli.app import App
from orchastration.cli.parser import SubParsers, add_command
from orchastration.completion import NAME_KINDS, SHELLS
from orchastration.errors import UsageError

INSTALL_HELP = """\
load it in the current shell:
  bash        source <(orchastration completion bash)
  zsh         source <(orchastration completion zsh)        (after compinit)
  fish        orchastration completion fish | source
  powershell  orchastration completion powershell | Out-String | Invoke-Expression
install it: see docs/install.md ("Shell completion")"""


def register(sub: SubParsers) -> None:
    p = add_command(
        sub,
        "completion",
        "print a shell completion script (bash, zsh, fish, powershell)",
        run,
        epilog=INSTALL_HELP,
    )
    p.add_argument("shell", nargs="?", choices=SHELLS, help="the shell to print the script for")
    # The scripts' fast helper, run at every <Tab>: names from the current config, one a line.
    p.add_argument("--names", choices=NAME_KINDS, help=argparse.SUPPRESS)


def run(app: App) -> int:
    from orchastration.completion import config_names
    from orchastration.completion.scripts import render

    args = app.args
    if args.names:
        if args.shell:
            raise UsageError("completion: give a SHELL or --names, not both")
        config = app.config
        jobs = [*config.jobs, *config.groups]  # group and foreach names are run targets too
        for name in config_names(args.names, jobs, config.tasks, config.orchestrations, config.agents):
            app.print(name)
        return 0
    if not args.shell:
        raise UsageError(f"completion: give a shell: {', '.join(SHELLS)} (see 'orchastration completion --help')")
    from orchastration import __version__
    from orchastration.cli.parser import build_parser

    app.out.write(render(args.shell, build_parser(), __version__))
    return 0
