"""Strict validation of raw TOML data into the frozen ``Config`` model.

Every error names the config file and the full key path, e.g.
``jobs.build.comand: unknown key (did you mean 'command'?)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypedDict, TypeVar

from orchastration.config_agents import agent_config, orchestration_config, review_command
from orchastration.config_executor import executor_fields
from orchastration.config_model import (
    BUILTIN_AGENTS,
    HASH_ALGORITHMS,
    LOG_FORMATS,
    LOG_LEVELS,
    TASK_REPOS,
    TASK_STATUSES,
    Config,
    HashConfig,
    JobConfig,
    LoggingConfig,
    TaskConfig,
    TemplatesConfig,
    suggest,
)
from orchastration.config_model import kind as _kind
from orchastration.errors import ConfigError

T = TypeVar("T")

# fullmatch: ``$`` would also match before a final newline, letting "build\n" through.
NAME_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")
# Names become file names: refuse the ones Windows reserves as devices.
_WINDOWS_DEVICES = {"con", "prn", "aux", "nul"} | {f"{p}{i}" for p in ("com", "lpt") for i in range(1, 10)}

TOP_KEYS = (
    "logging",
    "hash",
    "vars",
    "dotenv",
    "jobs",
    "tasks",
    "templates",
    "agents",
    "orchestrations",
    "executor",
    "cache",
)
JOB_KEYS = (
    "description", "command", "shell", "working_dir", "timeout_seconds", "env", "inputs", "outputs",
    "depends_on", "always_run", "after", "dotenv", "foreach", "resources", "local", "retries", "cache",
)  # fmt: skip
TASK_KEYS = (
    "description", "repo", "working_dir", "command", "shell", "inputs", "outputs",
    "documents", "status", "env", "timeout_seconds", "review_command", "cache",
)  # fmt: skip


class _Reader:
    """Typed accessors over one TOML table that raise errors with file and key path."""

    def __init__(self, file: Path, base_dir: Path, environ: Mapping[str, str] | None = None) -> None:
        self.file = file
        self.base_dir = base_dir
        self.environ = environ  # where ``~`` comes from (None: this process's environment)

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.file}: {key}: {message}")

    def table(self, value: Any, key: str, allowed: tuple[str, ...] | None = None) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a table, got {_kind(value)}")
        if allowed is not None:
            for name in value:
                if name not in allowed:
                    raise self.fail(f"{key}.{name}" if key else name, f"unknown key{suggest(name, allowed)}")
        return value

    def get(self, tbl: Mapping[str, Any], key: str, name: str, check: Callable[[Any, str], T], default: T) -> T:
        if name not in tbl:
            return default
        return check(tbl[name], f"{key}.{name}")

    def string(self, value: Any, key: str) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"expected a string, got {_kind(value)}")
        if "\0" in value:  # no path, argument or env value can hold one (the OS refuses it)
            raise self.fail(key, "must not contain a NUL character")
        return value

    def nonempty_string(self, value: Any, key: str) -> str:
        text = self.string(value, key)
        if not text.strip():
            raise self.fail(key, "must not be empty")
        return text

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {_kind(value)}")
        return value

    def seconds(self, value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, f"expected a number of seconds, got {_kind(value)}")
        if value < 0 or value != value or value == float("inf"):
            raise self.fail(key, f"must be 0 (no timeout) or a positive number, got {value}")
        return float(value)

    def strings(self, value: Any, key: str) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list of strings, got {_kind(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise self.fail(f"{key}[{i}]", f"expected a string, got {_kind(item)}")
            if not item:
                raise self.fail(f"{key}[{i}]", "must not be empty")
            if "\0" in item:
                raise self.fail(f"{key}[{i}]", "must not contain a NUL character")
        return tuple(value)

    def choice(self, choices: tuple[str, ...]) -> Callable[[Any, str], str]:
        def check(value: Any, key: str) -> str:
            text = self.string(value, key)
            if text.lower() not in choices:
                raise self.fail(key, f"must be one of {', '.join(choices)}, got '{text}'{suggest(text, choices)}")
            return text.lower()

        return check

    def env(self, value: Any, key: str) -> dict[str, str]:
        tbl = self.table(value, key)
        out: dict[str, str] = {}
        for name, item in tbl.items():
            if not name or "=" in name or "\0" in name:
                raise self.fail(f"{key}.{name}", "invalid environment variable name")
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                raise self.fail(f"{key}.{name}", f"expected a string, got {_kind(item)}")
            if isinstance(item, str) and "\0" in item:
                raise self.fail(f"{key}.{name}", "must not contain a NUL character")
            out[name] = str(item)
        return out

    def directory(self, value: Any, key: str) -> Path:
        text = self.nonempty_string(value, key)
        if self.environ is None:
            path = Path(text).expanduser()
        else:
            from orchastration.paths import expand_home

            path = Path(expand_home(text, self.environ))
        return path if path.is_absolute() else (self.base_dir / path)

    def command(self, tbl: Mapping[str, Any], key: str, shell: bool, required: bool = True) -> tuple[str, ...] | str:
        if "command" not in tbl:
            if required:
                raise self.fail(f"{key}.command", "required key is missing")
            return ()
        value, ckey = tbl["command"], f"{key}.command"
        if shell:
            if not isinstance(value, str) or not value.strip():
                raise self.fail(ckey, "with shell = true, command must be a non-empty string")
            return value
        if isinstance(value, str):
            raise self.fail(ckey, "must be a list of arguments (argv); a string needs shell = true")
        argv = self.strings(value, ckey)
        if not argv:
            raise self.fail(ckey, "must not be empty")
        return argv


def check_name(reader: _Reader, key: str, name: str) -> None:
    """Names become file names: letters, digits, ``_ - .``, not starting with ``.``."""
    if not NAME_RE.fullmatch(name) or name.lower().split(".")[0] in _WINDOWS_DEVICES:
        raise reader.fail(key, f"invalid name '{name}': use letters, digits, '_', '-', '.', not starting with '.'")


def parse_config(
    data: Mapping[str, Any], path: Path, reason: str = "--config", environ: Mapping[str, str] | None = None
) -> Config:
    """Validate parsed TOML into a ``Config``; raise ``ConfigError`` naming file and key (``environ``:
    where ``~`` in a working_dir comes from, as the jobs will see it)."""
    r = _Reader(path, path.parent.absolute(), environ)
    r.table(dict(data), "", TOP_KEYS)

    log_tbl = r.table(data.get("logging", {}), "logging", ("level", "format"))
    logging_cfg = LoggingConfig(
        level=r.get(log_tbl, "logging", "level", r.choice(LOG_LEVELS), "info"),
        format=r.get(log_tbl, "logging", "format", r.choice(LOG_FORMATS), "text"),
    )
    hash_tbl = r.table(data.get("hash", {}), "hash", ("algorithm",))
    hash_cfg = HashConfig(algorithm=r.get(hash_tbl, "hash", "algorithm", r.choice(HASH_ALGORITHMS), "sha256"))
    tpl_tbl = r.table(data.get("templates", {}), "templates", ("dir",))
    templates = TemplatesConfig(dir=r.get(tpl_tbl, "templates", "dir", r.directory, None))

    from orchastration.config_jobs import check_job_graph, prepare_jobs  # vars, dotenv, foreach, groups, after

    raw_jobs = {name: r.table(tbl, f"jobs.{name}", JOB_KEYS) for name, tbl in _named(r, data, "jobs").items()}
    prepared = prepare_jobs(r.fail, data, raw_jobs, r.base_dir, environ or {})
    jobs = check_job_graph(r.fail, {name: _job(r, name, tbl) for name, tbl in prepared.tables.items()}, prepared)
    tasks = {name: _task(r, name, tbl) for name, tbl in _named(r, data, "tasks").items()}
    for name in sorted(set(tasks) & set(jobs)):
        # Both keep their runs in state/runs/<name>/ and their up-to-date state under that name.
        raise r.fail(f"tasks.{name}", f"a job is also named '{name}': job and task names must differ")
    agents = {name: agent_config(r, name, tbl) for name, tbl in _named(r, data, "agents").items()}
    known_agents = set(BUILTIN_AGENTS) | set(agents)
    orchestrations = {
        name: orchestration_config(r, name, tbl, known_agents)
        for name, tbl in _named(r, data, "orchestrations").items()
    }
    return Config(
        path=path, reason=reason, base_dir=r.base_dir, logging=logging_cfg, hash=hash_cfg, jobs=jobs, tasks=tasks,
        templates=templates, agents=agents, orchestrations=orchestrations, groups=prepared.groups,
        volatile=prepared.volatile, **executor_fields(r, data),
    )  # fmt: skip


def _named(r: _Reader, data: Mapping[str, Any], section: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, value in r.table(data.get(section, {}), section).items():
        key = f"{section}.{name}"
        check_name(r, key, name)
        out[name] = r.table(value, key)
    return out


def _job(r: _Reader, name: str, tbl: dict[str, Any]) -> JobConfig:
    key = f"jobs.{name}"
    r.table(tbl, key, JOB_KEYS)
    shell = r.get(tbl, key, "shell", r.boolean, False)
    description = r.get(tbl, key, "description", r.string, "")
    return JobConfig(
        **_command_fields(r, name, tbl, key, shell),
        description=description,
        depends_on=r.get(tbl, key, "depends_on", r.strings, ()),
        always_run=r.get(tbl, key, "always_run", r.boolean, False),
    )


class _CommandFields(TypedDict):
    """The ``CommandSpec`` fields but ``description`` (read before them), as keyword arguments."""

    name: str
    command: tuple[str, ...] | str
    shell: bool
    working_dir: Path
    timeout_seconds: float
    env: dict[str, str]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def _command_fields(r: _Reader, name: str, tbl: dict[str, Any], key: str, shell: bool) -> _CommandFields:
    """The command fields of a job or task table, checked in this order."""
    return {
        "name": name,
        "command": r.command(tbl, key, shell),
        "shell": shell,
        "working_dir": r.get(tbl, key, "working_dir", r.directory, r.base_dir),
        "timeout_seconds": r.get(tbl, key, "timeout_seconds", r.seconds, 0.0),
        "env": r.get(tbl, key, "env", r.env, {}),
        "inputs": r.get(tbl, key, "inputs", r.strings, ()),
        "outputs": r.get(tbl, key, "outputs", r.strings, ()),
    }


def _task(r: _Reader, name: str, tbl: dict[str, Any]) -> TaskConfig:
    key = f"tasks.{name}"
    r.table(tbl, key, TASK_KEYS)
    shell = r.get(tbl, key, "shell", r.boolean, False)
    description = r.get(tbl, key, "description", r.string, "")
    repo = r.get(tbl, key, "repo", r.choice(TASK_REPOS), "orchastration")
    # A task's working_dir is checked before its command (a job's after): the first error stays the same.
    r.get(tbl, key, "working_dir", r.directory, r.base_dir)
    return TaskConfig(
        **_command_fields(r, name, tbl, key, shell),
        description=description,
        repo=repo,
        documents=r.get(tbl, key, "documents", r.strings, ()),
        status=r.get(tbl, key, "status", r.choice(TASK_STATUSES), "planned"),
        review_command=review_command(r, tbl, key),
    )
