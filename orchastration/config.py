"""Configuration loading: lookup order and TOML parsing, over the model in ``config_model``.

Validation of the raw TOML lives in ``config_schema``. Every name of the model is importable
from here as well, so ``from orchastration.config import Config, JobConfig`` keeps working;
imports go one way: this module -> ``config_schema`` -> ``config_model``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Every name of the model is importable from here too (its __all__).
from orchastration.config_model import *  # noqa: F403
from orchastration.config_model import AgentConfig, Config, OrchestrationConfig, TaskConfig
from orchastration.config_model import __all__ as _MODEL_NAMES
from orchastration.errors import ConfigError

# Locating the file lives in paths.py (the no-op run needs it without the model).
from orchastration.paths import CONFIG_ENV, PROJECT_FILE, find_config

__all__ = [*_MODEL_NAMES, "CONFIG_ENV", "PROJECT_FILE", "config_to_dict", "find_config", "load_config", "read_toml"]

_TOML_POS = re.compile(r"\(at line (\d+), column (\d+)\)")


def _toml() -> Any:
    """The TOML parser: ``tomli`` 2.3 (a dependency: the standard library's ``tomllib``, same code and
    language, TOML 1.0, compiled with mypyc: ~45 against ~80 ms for 1,000 jobs here), or ``tomllib``
    where it cannot be imported. Imported here, not at the top: runs answered from the parsed-config
    cache never need it."""
    try:
        import tomli

        return tomli
    except ImportError:
        import tomllib

        return tomllib


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; syntax errors name the file, line and column."""
    tomllib = _toml()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from None
    try:
        parsed: dict[str, Any] = tomllib.loads(raw.decode("utf-8"))
        return parsed
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: config file is not valid UTF-8 ({exc.reason})") from None
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        raise ConfigError(f"{path}: invalid TOML: arrays or tables nested too deeply") from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        pos = _TOML_POS.search(message)
        if "(at end of document)" in message:
            lines = raw.decode("utf-8").split("\n")
            where = f"{path}:{len(lines)}:{len(lines[-1]) + 1}"
            message = message.replace("(at end of document)", "").strip() + " (at end of file)"
        elif pos:
            where = f"{path}:{pos.group(1)}:{pos.group(2)}"
            message = _TOML_POS.sub("", message).strip()
        else:
            where = str(path)
        raise ConfigError(f"{where}: invalid TOML: {message}") from None


def load_config(
    explicit: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str],
    cwd: Path | None = None,
    user_config: Path | None = None,
) -> Config:
    """Find, parse and validate the configuration for this invocation."""
    env = environ
    here = (cwd or Path.cwd()).absolute()
    path, reason = find_config(explicit, env, here, user_config or Path(os.devnull))
    if path is None:
        return Config(reason=reason, base_dir=here)
    from orchastration.config_cache import with_cache
    from orchastration.config_schema import parse_config

    data = read_toml(path)
    return with_cache(parse_config(data, path=path, reason=reason, environ=env), data, env)


def config_to_dict(config: Config, show_env: bool = False) -> dict[str, Any]:
    """The effective config as plain data; env values masked unless ``show_env``."""
    from dataclasses import asdict

    def clean(value: Any) -> Any:
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if v is not None}
        return value

    def section(table: Mapping[str, Any]) -> dict[str, Any]:
        out = {}
        for name, item in sorted(table.items()):
            data = clean(asdict(item))
            data.pop("name", None)
            if isinstance(item, TaskConfig):  # printed after the description, where it always stood
                data = _after(data, "repo", "description")
            if "env" in data and not show_env:
                data["env"] = {k: "***" for k in data["env"]}
            for key in ("review_command", "after"):  # shown only when set
                if data.get(key) == []:
                    data.pop(key)
            if isinstance(item, AgentConfig) and item.builtin:
                data = {}  # the table is reserved: no settings
            elif isinstance(item, AgentConfig):
                data.pop("builtin")
            if isinstance(item, OrchestrationConfig):
                sequential = data.pop("sequential")
                steps = data.pop("steps")
                data = {("agents" if sequential else "steps"): [s[0] for s in steps] if sequential else steps, **data}
            out[name] = data
        return out

    data: dict[str, Any] = {
        "logging": clean(asdict(config.logging)),
        "hash": clean(asdict(config.hash)),
        "templates": clean(asdict(config.templates)),
        "jobs": section(config.jobs),
        "tasks": section(config.tasks),
        "agents": section(config.agents),
        "orchestrations": section(config.orchestrations),
    }
    return data


def _after(data: dict[str, Any], key: str, anchor: str) -> dict[str, Any]:
    """``data`` with ``key`` moved to just after ``anchor``."""
    value = data.pop(key)
    out: dict[str, Any] = {}
    for name, item in data.items():
        out[name] = item
        if name == anchor:
            out[key] = value
    return out
