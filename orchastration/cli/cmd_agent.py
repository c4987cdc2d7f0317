"""``agent list [--json]``: the built-in agents and the command agents of the config."""

from __future__ import annotations

from orchastration.cli.app import App, SubParsers, add_command, add_group


def register(sub: SubParsers) -> None:
    """Add ``agent list``."""
    group = add_group(sub, "agent", "list the agents orchestrations can use")
    ls = add_command(group, "list", "built-in agents and [agents.<name>] command agents, with capabilities", run_list)
    ls.add_argument("--json", action="store_true", help="print a JSON array")


def run_list(app: App) -> int:
    """``agent list``: built-ins, then command agents."""
    from orchastration.agents.registry import build_registry

    infos = build_registry(app.config).infos()
    if app.args.json:
        app.print_json(
            [
                {"name": i.name, "kind": i.kind, "capabilities": list(i.capabilities), "description": i.description}
                for i in infos
            ]
        )
        return 0
    if not infos:
        app.print("no agents registered")
        return 0
    app.print("available agents:")
    for info in infos:
        app.print(f"- {info.name}: {'; '.join(info.capabilities) or '(no capabilities listed)'}")
    return 0
