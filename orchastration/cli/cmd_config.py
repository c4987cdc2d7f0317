"""``config path|show|validate``: which config is in use, its effective values, and a CI check."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from orchastration.cli.app import App, SubParsers, add_command, add_group


def register(sub: SubParsers) -> None:
    group = add_group(sub, "config", "inspect and validate the configuration")
    add_command(group, "path", "print the config file in use and why it was chosen", run_path)
    show = add_command(group, "show", "print the effective config, defaults filled in", run_show)
    show.add_argument("--json", action="store_true", help="JSON instead of TOML")
    show.add_argument("--show-env", action="store_true", help="print env values (masked by default: secrets)")
    add_command(group, "validate", "check the config strictly; exit 0 if valid, 2 if not", run_validate)


def run_path(app: App) -> int:
    config = app.config
    app.print(config.display_path)
    app.print(f"reason: {config.reason}")
    return 0


def run_show(app: App) -> int:
    from orchastration.config import config_to_dict

    data = config_to_dict(app.config, show_env=app.args.show_env)
    if app.args.json:
        app.print_json({"path": str(app.config.path) if app.config.path else None, "config": data})
    else:
        app.print(f"# {app.config.display_path} ({app.config.reason})")
        app.out.write(toml_text(data))
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
        return 2
    counts = ", ".join(
        _plural(len(table), word)
        for table, word in ((config.jobs, "job"), (config.tasks, "task"), (config.orchestrations, "orchestration"))
    )
    app.print(f"{config.display_path}: valid ({counts})")
    return 0


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(type(value))


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def toml_text(data: dict[str, Any]) -> str:
    """Render nested plain data as TOML (tables for sections and named entries)."""
    lines: list[str] = []

    def emit(prefix: str, table: dict[str, Any]) -> None:
        scalars = {k: v for k, v in table.items() if not isinstance(v, dict) or k == "env"}
        nested = {k: v for k, v in table.items() if isinstance(v, dict) and k != "env"}
        if scalars or not nested:
            lines.append(f"\n[{prefix}]")
            lines.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in scalars.items())
        for key, sub in nested.items():
            emit(f"{prefix}.{_toml_key(key)}", sub)

    for name, section in data.items():
        emit(name, section)
    return "\n".join(lines).lstrip("\n") + "\n"
