"""The typed, frozen configuration model: what a loaded config is, not how it is loaded.

Loading (lookup order, TOML parsing) lives in ``config`` and validation in ``config_schema``;
both import this module, never the other way round.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchastration.dataclass_code import dataclass, field

__all__ = [
    "BUILTIN_AGENTS",
    "HASH_ALGORITHMS",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "TASK_REPOS",
    "TASK_STATUSES",
    "AgentConfig",
    "CacheConfig",
    "CommandSpec",
    "Config",
    "ExecutorConfig",
    "GroupConfig",
    "HashConfig",
    "JobConfig",
    "LoggingConfig",
    "OrchestrationConfig",
    "Placement",
    "TaskConfig",
    "TemplatesConfig",
    "kind",
    "suggest",
]
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
class CommandSpec:
    """What a job and a task declare alike: one argv (or shell) command with its inputs and outputs.

    The field order is the one ``config show`` prints (``description`` sits here for that).
    """

    name: str
    working_dir: Path
    command: tuple[str, ...] | str
    description: str = ""
    shell: bool = False
    timeout_seconds: float = 0
    env: Mapping[str, str] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    cache: bool | None = None  # None: cached when it has outputs and is not always_run (docs/cache.md)


@dataclass(frozen=True)
class JobConfig(CommandSpec):
    """``[jobs.<name>]``: a command spec, the jobs it waits for, and whether it always runs."""

    depends_on: tuple[str, ...] = ()
    always_run: bool = False
    after: tuple[str, ...] = ()  # order only: started after these when they are in the same run


@dataclass(frozen=True)
class TaskConfig(CommandSpec):
    """``[tasks.<name>]``: a workflow task (plan -> build -> doc) around a command spec."""

    repo: str = "orchastration"
    documents: tuple[str, ...] = ()
    status: str = "planned"
    review_command: tuple[str, ...] = ()


@dataclass(frozen=True)
class GroupConfig:
    """A name that stands for several jobs: a job with no command but ``depends_on`` (``report``:
    it gets a ``ran`` result of its own), or a ``foreach`` job (its generated jobs)."""

    name: str
    members: tuple[str, ...]  # the jobs it runs (groups resolved), in config order
    description: str = ""
    report: bool = True


@dataclass(frozen=True)
class TemplatesConfig:
    """``[templates]``: an optional directory of user templates."""

    dir: Path | None = None


CACHE_MODES = ("read", "write", "readwrite", "off")


@dataclass(frozen=True)
class CacheConfig:
    """``[cache]``: the local output cache and an optional shared one (docs/cache.md)."""

    enabled: bool = True
    dir: Path | None = None  # None: <user cache dir>/orchastration/cache
    url: str = ""  # a shared cache: any fsspec URL
    mode: str = "readwrite"  # for url: read | write | readwrite | off
    max_size: int = 10 * 1000**3  # bytes; "10GB"
    storage_options: Mapping[str, Any] = field(default_factory=dict)  # passed to fsspec


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
    inputs: tuple[str, ...] = ()  # globs relative to working_dir: their contents decide up to date
    outputs: tuple[str, ...] = ()  # the files it edits: a skipped agent's outputs are as it left them
    pure: bool = False  # no outputs and still skippable: its result is its context updates only
    # The context keys it reads (each also names the keys under it); None: the whole context.
    context_keys: tuple[str, ...] | None = None
    idle_timeout_seconds: float = 0  # no output for this long kills it (0: never)
    retries: int = 0  # a failed or timed-out attempt is retried up to this many times
    result_format: str = "text"  # text | json (the last JSON object line on stdout is the result)
    require_changes: bool = False  # exit 0 with none of its outputs changed is a failure
    gate: bool = False  # an approval gate: runs nothing, waits for a decision
    message: str = ""  # the gate's question (a Jinja template over the context)


@dataclass(frozen=True)
class OrchestrationConfig:
    """``[orchestrations.<name>]``: steps of agents; agents of one step run in parallel."""

    name: str
    steps: tuple[tuple[str, ...], ...]
    description: str = ""
    max_review_rounds: int = 1
    sequential: bool = True  # defined with `agents` (True) or `steps` (False)
    task: str | None = None  # the task it works on (default: --task, else the task named like it)
    max_cost_usd: float | None = None  # no further step starts once the summed cost passes it


@dataclass(frozen=True)
class ExecutorConfig:
    """``[executor]``: where jobs' commands run (docs/distributed.md)."""

    kind: str = "local"  # local | dask
    address: str = ""  # the dask scheduler ("" : $ORCHASTRATION_DASK_ADDRESS or --address)
    fs_latency_seconds: float = 5.0  # how long declared outputs of a remote job may take to appear


@dataclass(frozen=True)
class Placement:
    """A job's ``resources``, ``local`` and ``retries`` keys (only jobs that set one are listed)."""

    resources: Mapping[str, float] = field(default_factory=dict)  # dask worker resources it needs
    local: bool = False  # always runs on this machine
    retries: int = 0  # a failed or timed-out attempt is run again up to this many times


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
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    placement: Mapping[str, Placement] = field(default_factory=dict)  # by job name
    groups: Mapping[str, GroupConfig] = field(default_factory=dict)
    # The jobs depend on more than the file's bytes (the environment, dotenv files, foreach matches):
    # neither the parsed-config cache nor the up-to-date summary may answer for them.
    volatile: bool = False
    cache: CacheConfig = field(default_factory=CacheConfig)

    @property
    def display_path(self) -> str:
        """The config file for messages, or ``<defaults>``."""
        return str(self.path) if self.path else "<defaults>"

    def job(self, name: str) -> JobConfig:
        """The named job, or a usage error listing what exists (or naming a group's jobs)."""
        if name in self.groups and name not in self.jobs:
            from orchastration.errors import UsageError

            shown = ", ".join(self.groups[name].members[:_KNOWN_SHOWN]) or "none"
            raise UsageError(f"'{name}' is a group of jobs ({shown}): name one of them here")
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


def kind(value: Any) -> str:
    """How a TOML value reads in an error: ``a string``, ``a list``..."""
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a table"}
    return names.get(type(value), type(value).__name__)


def suggest(word: str, choices: Any) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    import difflib

    options = [str(c) for c in choices]
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not close:  # abbreviations and extensions: 'dir' for 'directory', 'algo' for 'algorithm'
        close = [c for c in options if len(c) >= 3 and (word.startswith(c) or c.startswith(word))][:1]
    return f" (did you mean '{close[0]}'?)" if close else ""
