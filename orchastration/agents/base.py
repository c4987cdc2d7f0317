"""The agent protocol: a name, capabilities, a fingerprint for up-to-date checks, and ``execute``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from orchastration.dataclass_code import dataclass, field
from orchastration.outcomes import AgentStatus

if TYPE_CHECKING:
    from orchastration.config import Config, TaskConfig


@dataclass
class AgentResult:
    """What one agent run produced: a status, context updates, and the task lines to print."""

    status: AgentStatus  # success | failed | timeout
    message: str = ""
    updates: dict[str, Any] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    # Files the agent produced: a later run is only skipped while they are unchanged.
    produced: list[str] = field(default_factory=list)
    stdout_path: str | None = None
    stderr_path: str | None = None
    # For the agent's record: cost_usd, tokens, session_id, num_turns, attempts (docs/orchestrations.md).
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Fingerprint:
    """Everything that decides whether an agent is up to date."""

    agent: Any  # the agent's own definition: rendered command and prompt, task settings
    context: Any  # the part of the shared context it reads
    files: Mapping[str, str] = field(default_factory=dict)  # input file -> content hash ("missing")
    always_run: str = ""  # non-empty: never up to date, and why


@dataclass(frozen=True)
class AgentContext:
    """What an agent gets: the context as its step began, the task, and the run's services."""

    orchestration: str
    step: int  # 1-based
    round: int  # 1-based review round
    context: Mapping[str, Any]
    config: Config
    task: TaskConfig | None
    workflow: Any  # orchastration.workflow.Workflow (typed loosely: it is built lazily)
    log_base: Path  # <state>/orchestrations/<name>/<stamp>.s<step>-<agent>-r<round>
    environ: Mapping[str, str]  # the environment every command the agent starts inherits (the CLI's)
    force: bool = False
    cancel: threading.Event = field(default_factory=threading.Event)
    err_console: IO[str] | None = None
    hash_files: Callable[[list[Path]], dict[str, str]] | None = None
    engine_dir: Path | None = None  # <state>/engine: where the key for hashing env values lives
    approval: Any = None  # agents.gates.Approval: how gates decide in this run (None: they wait)

    def env_digest(self, env: Mapping[str, str]) -> str | dict[str, str]:
        """``env`` for a fingerprint: a keyed hash, never the values (fingerprints are hashed into the
        stage database, and a plain hash of a short secret can be guessed back); ``{}`` when empty."""
        if not env:
            return {}
        from orchastration.engine.units import env_digest
        from orchastration.state import state_key

        assert self.engine_dir is not None, "an agent context with env values needs the state dir"
        return env_digest(env, state_key(self.engine_dir))


class Agent(Protocol):
    """An agent: built-in (Planner, Builder, Reviewer, Doc) or a command from ``[agents.<name>]``."""

    @property
    def name(self) -> str:
        """The name orchestrations use."""

    @property
    def capabilities(self) -> tuple[str, ...]:
        """What ``agent list`` shows."""

    @property
    def description(self) -> str:
        """One line about the agent."""

    @property
    def builtin(self) -> bool:
        """True for the four built-in agents."""

    def fingerprint(self, ctx: AgentContext) -> Fingerprint:
        """What this run would read; unchanged since the last success means up to date."""
        ...

    def execute(self, ctx: AgentContext) -> AgentResult:
        """Do the work; outcomes are statuses, never exceptions."""
        ...


def is_builder(name: str) -> bool:
    """Agents that redo the work when a review fails: BuilderAgent, or a name containing 'build'."""
    return "build" in name.lower()


def is_reviewer(name: str) -> bool:
    """Agents whose failure sends work back to the builder: ReviewerAgent, or a name containing 'review'."""
    return "review" in name.lower()
