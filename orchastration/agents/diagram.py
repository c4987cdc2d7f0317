"""``orchestration show``: the steps as a small text diagram, or Mermaid / Graphviz dot source."""

from __future__ import annotations

from orchastration.agents.base import is_reviewer
from orchastration.agents.rounds import review_loop
from orchastration.config import OrchestrationConfig

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


def _mermaid(orch: OrchestrationConfig) -> str:
    lines = ["flowchart LR"]
    for k, step in enumerate(orch.steps):
        lines.append(f'  subgraph step{k + 1}["step {k + 1}"]')
        lines += [f'    {_node(k, name)}["{name}"]' for name in step]
        lines.append("  end")
    lines += [f"  {a} --> {b}" for a, b in _edges(orch)]
    back = _loop_edge(orch)
    if back is not None:
        lines.append(f'  {back[0]} -. "review failed (max {orch.max_review_rounds} rounds)" .-> {back[1]}')
    return "\n".join(lines) + "\n"


def _dot(orch: OrchestrationConfig) -> str:
    name = orch.name.replace('"', "")
    lines = [f'digraph "{name}" {{', "  rankdir=LR;", "  node [shape=box];"]
    for k, step in enumerate(orch.steps):
        lines.append(f'  subgraph "cluster_step{k + 1}" {{')
        lines.append(f'    label="step {k + 1}";')
        lines += [f'    {_node(k, agent)} [label="{agent}"];' for agent in step]
        lines.append("  }")
    lines += [f"  {a} -> {b};" for a, b in _edges(orch)]
    back = _loop_edge(orch)
    if back is not None:
        lines.append(f'  {back[0]} -> {back[1]} [style=dashed, label="review failed"];')
    lines.append("}")
    return "\n".join(lines) + "\n"
