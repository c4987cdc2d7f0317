"""``config path|show|validate``: which config is in use, its effective values, and a CI check."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchastration.cli import render
from orchastration.cli.app import App
from orchastration.cli.parser import SubParsers, add_command, add_group, add_json_flag
from orchastration.outcomes import EXIT_USAGE


def register(sub: SubParsers) -> None:
    group = add_group(sub, "config", "inspect and validate the configuration")
    add_command(group, "path", "print the config file in use and why it was chosen", run_path)
    show = add_command(group, "show", "print the effective config, defaults filled in", run_show)
    add_json_flag(show, "JSON instead of TOML")
    show.add_argument("--show-env", action="store_true", help="print env values (masked by default: secrets)")
    add_command(group, "validate", "check the config strictly; exit 0 if valid, 2 if not", run_validate)


def run_path(app: App) -> int:
    render.show(app, render.config_path(app.config, app.paths.state_dir))
    return 0


def run_show(app: App) -> int:
    from orchastration.config import config_to_dict

    data = config_to_dict(app.config, show_env=app.args.show_env)
    render.show(app, render.config_show(app.config, data), as_json=app.args.json)
    return 0


def run_validate(app: App) -> int:
    config = app.config
    problems = []
    tables: list[tuple[str, Mapping[str, Any]]] = [
        ("jobs", config.jobs),
        ("tasks", config.tasks),
        ("agents", config.agents),
    ]
    for kind, table in tables:
        for name, item in sorted(table.items()):
            if not item.working_dir.is_dir():
                problems.append(
                    f"{config.display_path}: {kind}.{name}.working_dir: no such directory: {item.working_dir}"
                )
    if config.templates.dir is not None and not config.templates.dir.is_dir():
        problems.append(f"{config.display_path}: templates.dir: no such directory: {config.templates.dir}")
    for problem in problems:
        app.err.write(f"orchastration: error: {problem}\n")
    if problems:
        return EXIT_USAGE
    render.show(app, render.config_valid(config))
    return 0
