"""Validation of ``[agents.*]`` and ``[orchestrations.*]`` (and a task's ``review_command``), moved out
of ``config_schema`` (which calls these with its reader) so agent keys can grow without it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from orchastration.config_model import BUILTIN_AGENTS, AgentConfig, OrchestrationConfig, kind, suggest

if TYPE_CHECKING:
    from orchastration.config_schema import _Reader as Reader

AGENT_KEYS = (
    "description", "capabilities", "command", "prompt", "working_dir",
    "timeout_seconds", "env", "output_key",
    "inputs", "outputs", "pure", "context_keys",
    "idle_timeout_seconds", "retries", "result_format", "require_changes",
    "gate", "message",
)  # fmt: skip
GATE_KEYS = ("description", "capabilities", "gate", "message")
RESULT_FORMATS = ("text", "json")
ORCH_KEYS = ("agents", "steps", "description", "max_review_rounds", "task", "max_cost_usd")


def review_command(r: Reader, tbl: dict[str, Any], key: str) -> tuple[str, ...]:
    """``review_command``: a non-empty argv when given."""
    argv: tuple[str, ...] = r.get(tbl, key, "review_command", r.strings, ())
    if "review_command" in tbl and not argv:
        raise r.fail(f"{key}.review_command", "must not be empty (omit it for no review command)")
    return argv


def agent_config(r: Reader, name: str, tbl: dict[str, Any]) -> AgentConfig:
    """``[agents.<name>]``: a reserved built-in table, or a command agent."""
    key = f"agents.{name}"
    if name in BUILTIN_AGENTS:
        if tbl:
            first = next(iter(tbl))
            raise r.fail(f"{key}.{first}", "built-in agents take no settings (the table is reserved)")
        return AgentConfig(name=name, builtin=True, working_dir=r.base_dir)
    r.table(tbl, key, AGENT_KEYS)
    if r.get(tbl, key, "gate", r.boolean, False):
        return _gate(r, name, tbl)
    if "message" in tbl:
        raise r.fail(f"{key}.message", "only an approval gate (gate = true) has a message")
    command = r.command(tbl, key, shell=False)
    assert isinstance(command, tuple)
    output_key = r.get(tbl, key, "output_key", r.nonempty_string, f"agents.{name}.output")
    return AgentConfig(
        name=name,
        builtin=False,
        description=r.get(tbl, key, "description", r.string, ""),
        capabilities=r.get(tbl, key, "capabilities", r.strings, ()),
        command=command,
        prompt=r.get(tbl, key, "prompt", r.string, None),
        working_dir=r.get(tbl, key, "working_dir", r.directory, r.base_dir),
        timeout_seconds=r.get(tbl, key, "timeout_seconds", r.seconds, 0.0),
        env=r.get(tbl, key, "env", r.env, {}),
        output_key=output_key,
        inputs=r.get(tbl, key, "inputs", r.strings, ()),
        outputs=r.get(tbl, key, "outputs", r.strings, ()),
        pure=r.get(tbl, key, "pure", r.boolean, False),
        context_keys=r.get(tbl, key, "context_keys", r.strings, None),
        idle_timeout_seconds=r.get(tbl, key, "idle_timeout_seconds", r.seconds, 0.0),
        retries=r.get(tbl, key, "retries", _count(r), 0),
        result_format=r.get(tbl, key, "result_format", r.choice(RESULT_FORMATS), "text"),
        require_changes=r.get(tbl, key, "require_changes", r.boolean, False),
    )


def _gate(r: Reader, name: str, tbl: dict[str, Any]) -> AgentConfig:
    """``gate = true``: an approval gate, which runs nothing (docs/orchestrations.md, "Approval gates")."""
    key = f"agents.{name}"
    r.table(tbl, key, GATE_KEYS)
    return AgentConfig(
        name=name,
        builtin=False,
        working_dir=r.base_dir,
        description=r.get(tbl, key, "description", r.string, ""),
        capabilities=r.get(tbl, key, "capabilities", r.strings, ()),
        gate=True,
        message=r.get(tbl, key, "message", r.nonempty_string, f"Approve {name}?"),
        output_key=f"gate.{name}",
    )


def orchestration_config(r: Reader, name: str, tbl: dict[str, Any], known: set[str]) -> OrchestrationConfig:
    """``[orchestrations.<name>]``: ``agents`` (sequential) or ``steps`` (parallel groups) of known agents."""
    key = f"orchestrations.{name}"
    r.table(tbl, key, ORCH_KEYS)
    if "agents" in tbl and "steps" in tbl:
        raise r.fail(key, "give either 'agents' (sequential) or 'steps' (parallel groups), not both")
    if "agents" in tbl:
        names = r.strings(tbl["agents"], f"{key}.agents")
        steps: tuple[tuple[str, ...], ...] = tuple((n,) for n in names)
        field_name = "agents"
    elif "steps" in tbl:
        raw = tbl["steps"]
        if not isinstance(raw, list):
            raise r.fail(f"{key}.steps", f"expected a list of lists of agent names, got {kind(raw)}")
        steps = tuple(r.strings(step, f"{key}.steps[{i}]") for i, step in enumerate(raw))
        field_name = "steps"
    else:
        raise r.fail(key, "needs 'agents' (a list of agent names) or 'steps' (a list of lists)")
    if not steps:
        raise r.fail(f"{key}.{field_name}", "must name at least one agent")
    for i, step in enumerate(steps):
        where = f"{key}.steps[{i}]" if field_name == "steps" else f"{key}.agents[{i}]"
        if not step:
            raise r.fail(where, "empty step: name at least one agent")
        for agent in step:
            if agent not in known:
                raise r.fail(where, f"unknown agent '{agent}'{suggest(agent, known)}")
        if len(set(step)) != len(step):
            raise r.fail(where, "an agent appears twice in one parallel step")
    rounds = r.get(tbl, key, "max_review_rounds", _positive_int(r), 1)
    return OrchestrationConfig(
        name=name,
        steps=steps,
        description=r.get(tbl, key, "description", r.string, ""),
        max_review_rounds=rounds,
        sequential=field_name == "agents",
        task=r.get(tbl, key, "task", r.nonempty_string, None),
        max_cost_usd=r.get(tbl, key, "max_cost_usd", _dollars(r), None),
    )


def _positive_int(r: Reader) -> Callable[[Any, str], int]:
    def check(value: Any, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise r.fail(key, f"expected an integer, got {kind(value)}")
        if value < 1:
            raise r.fail(key, f"must be at least 1, got {value}")
        return value

    return check


def _count(r: Reader) -> Callable[[Any, str], int]:
    def check(value: Any, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise r.fail(key, f"expected an integer, got {kind(value)}")
        if value < 0:
            raise r.fail(key, f"must be 0 or more, got {value}")
        return value

    return check


def _dollars(r: Reader) -> Callable[[Any, str], float | None]:
    def check(value: Any, key: str) -> float | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise r.fail(key, f"expected a number of US dollars, got {kind(value)}")
        if not value > 0 or value == float("inf"):
            raise r.fail(key, f"must be a positive number, got {value}")
        return float(value)

    return check
