"""Approval gates (``[agents.X] gate = true``): a step that passes once a person approved the context it
sees, fails once they rejected it, and otherwise stops the run as ``waiting`` (docs/orchestrations.md,
"Approval gates"). Decisions live in ``<state>/orchestrations/<name>/gates/<gate>.json``, keyed by the
digest of the context the gate saw: when earlier stages' results change, the gate asks again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchastration.agents.base import AgentContext, AgentResult, Fingerprint
from orchastration.agents.incremental import context_digest
from orchastration.config import AgentConfig
from orchastration.dataclass_code import dataclass
from orchastration.errors import TemplateError, UsageError
from orchastration.outcomes import AgentStatus
from orchastration.state import atomic_write_text, iso, read_json, unique_now

# (gate, message) -> (approved, comment), or None when nobody answered (end of input).
Ask = Callable[[str, str], "tuple[bool, str] | None"]


@dataclass(frozen=True)
class Approval:
    """How this run decides at gates: ``--yes``, a person at a terminal (``ask``), or not at all (wait)."""

    yes: bool = False
    user: str = ""
    ask: Ask | None = None


def decision_file(directory: Path, gate: str) -> Path:
    """Where the decision for ``gate`` of the orchestration whose state dir is ``directory`` is kept."""
    return directory / "gates" / f"{gate}.json"


def read_decision(directory: Path, gate: str, digest: str) -> dict[str, Any] | None:
    """The decision made on the context with ``digest`` (None: none, or made on another context)."""
    data = read_json(decision_file(directory, gate))
    return data if isinstance(data, dict) and data.get("context") == digest else None


def write_decision(
    directory: Path, gate: str, digest: str, *, approved: bool, user: str, comment: str, via: str
) -> dict[str, Any]:
    """Record a decision (atomically) and return it."""
    decision = {
        "gate": gate,
        "decision": "approved" if approved else "rejected",
        "time": iso(unique_now()),
        "user": user,
        "comment": comment,
        "via": via,
        "context": digest,
    }
    path = decision_file(directory, gate)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(decision, indent=2, ensure_ascii=False) + "\n")
    return decision


class GateAgent:
    """An approval gate: runs nothing; passes, fails or waits on a person's decision."""

    builtin = False

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.name = config.name
        self.description = config.description or "Waits for a person to approve the run so far"
        self.capabilities = config.capabilities or ("Ask a person to approve the run so far",)

    def check_templates(self) -> set[str]:
        """Syntax-check the message template; the names it uses."""
        import jinja2
        import jinja2.meta

        try:
            return set(jinja2.meta.find_undeclared_variables(jinja2.Environment().parse(self.config.message)))
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(
                f"agents.{self.name}.message: template syntax error: {exc.message} (line {exc.lineno})"
            ) from None

    def fingerprint(self, ctx: AgentContext) -> Fingerprint:
        """Never up to date: the decision is looked up on every run (it costs nothing)."""
        return Fingerprint({"gate": self.name}, dict(ctx.context), always_run="approval gate")

    def execute(self, ctx: AgentContext) -> AgentResult:
        """Pass on an approval, fail on a rejection, else ask (terminal, ``--yes``) or wait."""
        from orchastration.agents.command import template_namespace
        from orchastration.rendering import Renderer

        try:
            message = Renderer([]).render_string(
                self.config.message, template_namespace(ctx, self.name), f"agents.{self.name}.message"
            )
        except TemplateError as exc:
            return AgentResult(AgentStatus.FAILED, str(exc))
        directory, digest = ctx.log_base.parent, context_digest(ctx.context)
        decision = read_decision(directory, self.name, digest) or self._decide(ctx, directory, digest, message)
        if decision is None:
            details = {"gate_message": message, "context_digest": digest}
            return AgentResult(AgentStatus.WAITING, f"waiting for approval: {message}", details=details)
        comment = str(decision.get("comment") or "")
        result = AgentResult(AgentStatus.SUCCESS, f"approved by {decision.get('user') or 'unknown'}")
        result.updates = {f"gate.{self.name}.decision": decision["decision"], f"gate.{self.name}.comment": comment}
        result.details = {"decision": {k: v for k, v in decision.items() if k != "context"}, "context_digest": digest}
        if decision["decision"] != "approved":
            result.status = AgentStatus.REJECTED
            result.message = f"rejected by {decision.get('user') or 'unknown'}" + (f": {comment}" if comment else "")
        return result

    def _decide(self, ctx: AgentContext, directory: Path, digest: str, message: str) -> dict[str, Any] | None:
        approval = ctx.approval if isinstance(ctx.approval, Approval) else Approval()
        if approval.yes:
            return write_decision(
                directory, self.name, digest, approved=True, user=approval.user, comment="", via="--yes"
            )
        if approval.ask is None:
            return None
        answer = approval.ask(self.name, message)
        if answer is None:
            return None
        return write_decision(
            directory, self.name, digest, approved=answer[0], user=approval.user, comment=answer[1], via="terminal"
        )


@dataclass(frozen=True)
class Decided:
    """What ``orchestration approve|reject`` recorded."""

    orchestration: str
    gate: str
    decision: str
    comment: str

    def line(self) -> str:
        """``orchestration=<name> gate=<gate> decision=<approved|rejected>``."""
        return f"orchestration={self.orchestration} gate={self.gate} decision={self.decision}"


def decide(
    directory: Path, orchestration: str, gate: str | None, *, approved: bool, user: str, comment: str
) -> Decided:
    """Record a decision for the gate the last run of ``orchestration`` waits at (UsageError if none)."""
    from orchastration.agents.records import last_record

    record = last_record(directory) or {}
    if record.get("status") not in ("waiting", "rejected"):  # a rejection may be reconsidered
        state = record.get("status") or "never run"
        raise UsageError(f"orchestration {orchestration} is not waiting at a gate (last run: {state})")
    agents = [a for a in record.get("agents", []) if isinstance(a, dict)]
    waiting = {a["name"]: a for a in agents if a.get("status") in ("waiting", "rejected")}
    if gate is None:
        if len(waiting) != 1:
            raise UsageError(f"orchestration {orchestration} waits at several gates: name one of {', '.join(waiting)}")
        gate = next(iter(waiting))
    if gate not in waiting:
        raise UsageError(
            f"orchestration {orchestration} is not waiting at gate {gate} (it waits at {', '.join(waiting)})"
        )
    digest = str(waiting[gate].get("context_digest") or "")
    write_decision(directory, gate, digest, approved=approved, user=user, comment=comment, via="command")
    return Decided(orchestration, gate, "approved" if approved else "rejected", comment)
