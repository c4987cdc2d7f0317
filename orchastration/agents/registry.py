"""The agent registry: the four built-ins (always available) plus the command agents of the config."""

from __future__ import annotations

from collections.abc import Iterator

from orchastration.agents.base import Agent
from orchastration.config import BUILTIN_AGENTS, Config
from orchastration.dataclass_code import dataclass
from orchastration.errors import UsageError


@dataclass(frozen=True)
class AgentInfo:
    """What ``agent list`` shows about one agent."""

    name: str
    kind: str  # builtin | command
    capabilities: tuple[str, ...]
    description: str


class Registry:
    """Agents by name, built-ins first, then command agents sorted by name."""

    def __init__(self, agents: dict[str, Agent]) -> None:
        self._agents = agents

    def __contains__(self, name: object) -> bool:
        return name in self._agents

    def __iter__(self) -> Iterator[str]:
        return iter(self._agents)

    def __len__(self) -> int:
        return len(self._agents)

    def get(self, name: str) -> Agent:
        """The named agent (config validation already rejected unknown names in orchestrations)."""
        try:
            return self._agents[name]
        except KeyError:
            from orchastration.config import suggest

            raise UsageError(f"unknown agent '{name}'{suggest(name, self._agents)}") from None

    def infos(self) -> list[AgentInfo]:
        """One entry per agent, in listing order."""
        return [
            AgentInfo(a.name, "builtin" if a.builtin else "command", tuple(a.capabilities), a.description)
            for a in self._agents.values()
        ]


def build_registry(config: Config) -> Registry:
    """Built-in agents plus ``[agents.<name>]`` command agents."""
    from orchastration.agents.builtin import BUILTINS
    from orchastration.agents.command import CommandAgent
    from orchastration.agents.gates import GateAgent

    agents: dict[str, Agent] = {name: BUILTINS[name]() for name in BUILTIN_AGENTS}
    for name in sorted(config.agents):
        agent_cfg = config.agents[name]
        if agent_cfg.gate:
            agents[name] = GateAgent(agent_cfg)
        elif not agent_cfg.builtin:
            agents[name] = CommandAgent(agent_cfg)
    return Registry(agents)
