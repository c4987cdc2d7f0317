"""The completion script of a shell: the parser's command table rendered by that shell's module."""

from __future__ import annotations

import argparse

from orchastration.completion import fish, powershell, sh
from orchastration.completion.table import command_table


def render(shell: str, parser: argparse.ArgumentParser, version: str) -> str:
    """The completion script for ``shell`` (one of ``completion.SHELLS``) from ``parser``."""
    renderers = {"bash": sh.bash, "zsh": sh.zsh, "fish": fish.fish, "powershell": powershell.powershell}
    return renderers[shell](command_table(parser), version)
