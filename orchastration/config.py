"""Configuration: lookup order, TOML parsing, and the typed, frozen model.

Validation of the raw TOML into these objects lives in ``config_schema``; this
module owns the model and where the file comes from.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchastration.errors import ConfigError

# Locating the file lives in paths.py (the no-op run needs it without this module's model).
from orchastration.paths import CONFIG_ENV, PROJECT_FILE, find_config

__all__ = ["CONFIG_ENV", "PROJECT_FILE", "Config", "find_config", "load_config"]

BUILTIN_AGENTS = ("PlannerAgent", "BuilderAgent", "ReviewerAgent", "DocAgent")
HASH_ALGORITHMS = ("sha256", "sha1", "sha512", "md5", "blake2b", "sha3_256")
LOG_LEVELS = ("debug", "info", "warn", "warning", "error")
LOG_FORMATS = ("text", "json")
TASK_STATUSES = ("planned", "in_progress", "done", "failed")
TASK_REPOS = ("orchastration", "external")


@dataclass(frozen=True)
class LoggingConfig:
    """``[logging]``: console/file log level and console format."""

    level: str = "info"
    format: str = "text"


@dataclass(frozen=True)
class HashConfig:
    """``[hash]``: the algorithm for ``hash``, up-to-date checks and records."""

    algorithm: str = "sha256"


@dataclass(frozen=True)
class JobConfig:
    """``[jobs.<name>]``: one argv (or shell) command with its inputs and outputs."""

    name: str
    working_dir: Path
    command: tuple[str, ...] | str
    description: str = ""
    shell: bool = False
    timeout_seconds: float = 0
    env: Mapping[str, str] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    always_run: bool = False


@dataclass(frozen=True)
class TaskConfig:
    """``[tasks.<name>]``: a workflow task (plan -> build -> doc)."""

    name: str
    working_dir: Path
    command: tuple[str, ...] | str
    description: str = ""
    repo: str = "orchastration"
    shell: bool = False
    timeout_seconds: float = 0
    env: Mapping[str, str] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    documents: tuple[str, ...] = ()
    status: str = "planned"
    review_command: tuple[str, ...] = ()


@dataclass(frozen=True)
class TemplatesConfig:
    """``[templates]``: an optional directory of user templates."""

    dir: Path | None = None


@dataclass(frozen=True)
class AgentConfig:
    """``[agents.<name>]``: a built-in agent (no settings) or a command agent."""

    name: str
    builtin: bool
    working_dir: Path
    description: str = ""
    capabilities: tuple[str, ...] = ()
    command: tuple[str, ...] = ()
    prompt: str | None = None
    timeout_seconds: float = 0
    env: Mapping[str, str] = field(default_factory=dict)
    output_key: str = ""


@dataclass(frozen=True)
class OrchestrationConfig:
    """``[orchestrations.<name>]``: steps of agents; agents of one step run in parallel."""

    name: str
    steps: tuple[tuple[str, ...], ...]
    description: str = ""
    max_review_rounds: int = 1
    sequential: bool = True  # defined with `agents` (True) or `steps` (False)


@dataclass(frozen=True)
class Config:
    """The whole effective configuration of one invocation."""

    path: Path | None = None
    reason: str = "no config file found: built-in defaults"
    base_dir: Path = field(default_factory=Path.cwd)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    hash: HashConfig = field(default_factory=HashConfig)
    jobs: Mapping[str, JobConfig] = field(default_factory=dict)
    tasks: Mapping[str, TaskConfig] = field(default_factory=dict)
    templates: TemplatesConfig = field(default_factory=TemplatesConfig)
    agents: Mapping[str, AgentConfig] = field(default_factory=dict)
    orchestrations: Mapping[str, OrchestrationConfig] = field(default_factory=dict)

    @property
    def display_path(self) -> str:
        """The config file for messages, or ``<defaults>``."""
        return str(self.path) if self.path else "<defaults>"

    def job(self, name: str) -> JobConfig:
        """The named job, or a usage error listing what exists."""
        job: JobConfig = _lookup(self.jobs, name, "job")
        return job

    def task(self, name: str) -> TaskConfig:
        """The named task, or a usage error listing what exists."""
        task: TaskConfig = _lookup(self.tasks, name, "task")
        return task

    def orchestration(self, name: str) -> OrchestrationConfig:
        """The named orchestration, or a usage error listing what exists."""
        orch: OrchestrationConfig = _lookup(self.orchestrations, name, "orchestration")
        return orch


def _lookup(table: Mapping[str, Any], name: str, kind: str) -> Any:
    from orchastration.errors import UsageError

    if name in table:
        return table[name]
    hint = suggest(name, table)
    names = sorted(table)
    known = ", ".join(names[:_KNOWN_SHOWN]) or "none configured"
    if len(names) > _KNOWN_SHOWN:  # one line, even for a config of 1,000 jobs
        known += f", ... {len(names)} in all: orchastration {_LIST_COMMAND[kind]}"
    raise UsageError(f"unknown {kind} '{name}'{hint} (known: {known})")


_KNOWN_SHOWN = 10
_LIST_COMMAND = {"job": "list", "task": "plan list", "orchestration": "orchestration list"}


def suggest(word: str, choices: Any) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    import difflib

    options = [str(c) for c in choices]
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not close:  # abbreviations and extensions: 'dir' for 'directory', 'algo' for 'algorithm'
        close = [c for c in options if len(c) >= 3 and (word.startswith(c) or c.startswith(word))][:1]
    return f" (did you mean '{close[0]}'?)" if close else ""


_TOML_POS = re.compile(r"\(at line (\d+), column (\d+)\)")


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; syntax errors name the file, line and column."""
    import tomllib  # here, not at the top: runs answered from the parsed-config cache never need it

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: config file is not valid UTF-8 ({exc.reason})") from None
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
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user_config: Path | None = None,
) -> Config:
    """Find, parse and validate the configuration for this invocation."""
    env = os.environ if environ is None else environ
    here = (cwd or Path.cwd()).absolute()
    path, reason = find_config(explicit, env, here, user_config or Path(os.devnull))
    if path is None:
        return Config(reason=reason, base_dir=here)
    from orchastration.config_schema import parse_config

    return parse_config(read_toml(path), path=path, reason=reason)


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
            if "env" in data and not show_env:
                data["env"] = {k: "***" for k in data["env"]}
            if data.get("review_command") == []:
                data.pop("review_command")
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
