"""``orchestration show``: the steps as a small text diagram, or Mermaid / Graphviz dot source."""

from __future__ import annotations

from orchastration.agents.base import is_reviewer
from orchastration.agents.rounds import review_loop
from orchastration.config import OrchestrationConfig
from orchastration.dataclass_code import dataclass

FORMATS = ("text", "mermaid", "dot")


def render(orch: OrchestrationConfig, fmt: str = "text") -> str:
    """The diagram of ``orch`` in ``fmt`` (text | mermaid | dot)."""
    return {"text": _text, "mermaid": _mermaid, "dot": _dot}[fmt](orch)


def _node(k: int, name: str) -> str:
    return f"s{k + 1}_{''.join(c if c.isalnum() else '_' for c in name)}"


def _loop_note(orch: OrchestrationConfig) -> str:
    loop = review_loop(orch)
    if loop is None:
        return ""
    return f"a failed review reruns steps {loop[0] + 1}-{loop[1] + 1} (up to {orch.max_review_rounds} rounds in all)"


def _text(orch: OrchestrationConfig) -> str:
    kind = "sequential" if orch.sequential else "steps"
    lines = [f"{orch.name}: {orch.description or '(no description)'}", f"({kind}, {len(orch.steps)} steps)", ""]
    for k, step in enumerate(orch.steps):
        label = " | ".join(step)
        lines.append(f"  step {k + 1}: [ {label} ]" + ("   (parallel)" if len(step) > 1 else ""))
        if k + 1 < len(orch.steps):
            lines.append("            |")
            lines.append("            v")
    note = _loop_note(orch)
    if note:
        lines += ["", f"  loop: {note}"]
    return "\n".join(lines) + "\n"


def _edges(orch: OrchestrationConfig) -> list[tuple[str, str]]:
    """Every agent of step k-1 to every agent of step k: the doit task dependencies."""
    edges = []
    for k in range(1, len(orch.steps)):
        for a in orch.steps[k - 1]:
            for b in orch.steps[k]:
                edges.append((_node(k - 1, a), _node(k, b)))
    return edges


def _loop_edge(orch: OrchestrationConfig) -> tuple[str, str] | None:
    """The review loop as an edge from the Reviewer back to the first agent of the Builder's step."""
    loop = review_loop(orch)
    if loop is None:
        return None
    review = next(a for a in orch.steps[loop[1]] if is_reviewer(a))
    return _node(loop[1], review), _node(loop[0], orch.steps[loop[0]][0])


@dataclass(frozen=True)
class _Syntax:
    """How a graph language writes the steps (as subgraphs), their agents, the edges and the review loop."""

    head: tuple[str, ...]  # {orch}: the orchestration's name
    step_open: tuple[str, ...]  # {k}: the 1-based step
    node: str  # {id}, {name}
    step_close: str
    edge: str  # {a} -> {b}
    loop: str  # {a} -> {b}, {rounds}
    tail: tuple[str, ...] = ()


_MERMAID = _Syntax(
    head=("flowchart LR",),
    step_open=('  subgraph step{k}["step {k}"]',),
    node='    {id}["{name}"]',
    step_close="  end",
    edge="  {a} --> {b}",
    loop='  {a} -. "review failed (max {rounds} rounds)" .-> {b}',
)
_DOT = _Syntax(
    head=('digraph "{orch}" {{', "  rankdir=LR;", "  node [shape=box];"),
    step_open=('  subgraph "cluster_step{k}" {{', '    label="step {k}";'),
    node='    {id} [label="{name}"];',
    step_close="  }}",
    edge="  {a} -> {b};",
    loop='  {a} -> {b} [style=dashed, label="review failed"];',
    tail=("}}",),
)


def _graph(orch: OrchestrationConfig, syntax: _Syntax) -> str:
    lines = [line.format(orch=orch.name.replace('"', "")) for line in syntax.head]
    for k, step in enumerate(orch.steps):
        lines += [line.format(k=k + 1) for line in syntax.step_open]
        lines += [syntax.node.format(id=_node(k, name), name=name) for name in step]
        lines.append(syntax.step_close.format())
    lines += [syntax.edge.format(a=a, b=b) for a, b in _edges(orch)]
    back = _loop_edge(orch)
    if back is not None:
        lines.append(syntax.loop.format(a=back[0], b=back[1], rounds=orch.max_review_rounds))
    lines += [line.format() for line in syntax.tail]
    return "\n".join(lines) + "\n"


def _mermaid(orch: OrchestrationConfig) -> str:
    return _graph(orch, _MERMAID)


def _dot(orch: OrchestrationConfig) -> str:
    return _graph(orch, _DOT)
