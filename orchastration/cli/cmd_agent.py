"""``agent list [--json]``: the built-in agents and the command agents of the config."""

from __future__ import annotations

from orchastration.cli import render
from orchastration.cli.app import App
from orchastration.cli.parser import SubParsers, add_command, add_group, add_json_flag


def register(sub: SubParsers) -> None:
    """Add ``agent list``."""
    group = add_group(sub, "agent", "list the agents orchestrations can use")
    add_json_flag(
        add_command(group, "list", "built-in agents and [agents.<name>] command agents, with capabilities", run_list)
    )


def run_list(app: App) -> int:
    """``agent list``: built-ins, then command agents."""
    from orchastration.agents.registry import build_registry

    render.show(app, render.agents(build_registry(app.config).infos()), as_json=app.args.json)
    return 0
