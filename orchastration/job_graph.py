"""The job dependency graph for ``graph``: ``depends_on`` edges, ``after`` edges and file edges (a job
whose declared output is another's input), as text, Mermaid or Graphviz DOT (docs/jobs.md, "graph")."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from orchastration.dataclass_code import dataclass

if TYPE_CHECKING:
    from orchastration.config import Config, JobConfig

DEPENDS, AFTER, FILE = "depends_on", "after", "file"
FORMATS = ("text", "mermaid", "dot")


@dataclass(frozen=True)
class JobGraph:
    """Jobs in run order and the edges between them: (from, to, kind), ``from`` running first."""

    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str, str], ...]


def job_graph(config: Config, names: Sequence[str] = ()) -> JobGraph:
    """The graph of ``names`` (every job when empty) and the jobs they need (``depends_on`` and the
    producers of their inputs, as a run pulls them in); ``after`` edges between the jobs shown."""
    from orchastration.jobs import select

    jobs = config.jobs
    producers = _producers(jobs)
    targets = select(config, names)
    shown = set(_in_order(targets, lambda n: _needs(jobs[n], producers)))
    # Ordered again with the ``after`` edges between the jobs shown (they never pull a job in).
    order = _in_order(targets, lambda n: [*_needs(jobs[n], producers), *(a for a in jobs[n].after if a in shown)])
    seen = set(order)
    edges: list[tuple[str, str, str]] = []
    for name in order:
        job = jobs[name]
        edges += [(d, name, DEPENDS) for d in job.depends_on]
        edges += [(a, name, AFTER) for a in job.after if a in seen and a not in job.depends_on]
        edges += [(p, name, FILE) for p in producers.get(name, ()) if p not in job.depends_on]
    return JobGraph(tuple(order), tuple(edges))


def _in_order(targets: Sequence[str], needs: Callable[[str], list[str]]) -> list[str]:
    """``targets`` and what they need, dependencies first (iterative depth-first search)."""
    order: list[str] = []
    seen: set[str] = set()
    for target in targets:
        if target in seen:
            continue
        seen.add(target)
        stack = [(target, iter(needs(target)))]
        while stack:
            name, deps = stack[-1]
            dep = next(deps, None)
            if dep is None:
                stack.pop()
                order.append(name)
            elif dep not in seen:
                seen.add(dep)
                stack.append((dep, iter(needs(dep))))
    return order


def _needs(job: JobConfig, producers: dict[str, list[str]]) -> list[str]:
    return list(dict.fromkeys([*job.depends_on, *producers.get(job.name, ())]))


def _producers(jobs: Mapping[str, JobConfig]) -> dict[str, list[str]]:
    """For each job, the jobs whose declared outputs its inputs name (a literal input, a directory
    input holding them, or an input glob matching them), decided on the declared paths alone."""
    from orchastration.patterns import own_outputs, split_patterns

    outputs = {n: split_patterns(j.working_dir, j.outputs)[0] for n, j in jobs.items()}
    found: dict[str, list[str]] = {}
    for name, job in jobs.items():
        literals, globs = split_patterns(job.working_dir, job.inputs)
        covered = own_outputs(literals, globs)  # a path equal to, under, or matched by an input
        deps = [p for p, outs in outputs.items() if p != name and any(covered(o) for o in outs)]
        if deps:
            found[name] = deps
    return found


def render(graph: JobGraph, fmt: str) -> list[str]:
    """The graph as lines in ``fmt`` (text, mermaid or dot)."""
    if fmt == "mermaid":
        return _mermaid(graph)
    if fmt == "dot":
        return _dot(graph)
    return _text(graph)


def _text(graph: JobGraph) -> list[str]:
    """Each job in run order, then what it waits for: ``needs`` (depends_on), ``after``, ``file``."""
    into: dict[str, list[str]] = {}
    words = {DEPENDS: "needs", AFTER: "after", FILE: "uses output of"}
    for src, dst, kind in graph.edges:
        into.setdefault(dst, []).append(f"  {words[kind]} {src}")
    lines: list[str] = []
    for name in graph.nodes:
        lines.append(name)
        lines.extend(into.get(name, []))
    return lines


def _mermaid(graph: JobGraph) -> list[str]:
    ids = {name: f"j{i}" for i, name in enumerate(graph.nodes)}
    lines = ["flowchart LR"]
    lines += [f'    {ids[n]}["{_mermaid_text(n)}"]' for n in graph.nodes]
    arrows = {DEPENDS: "-->", AFTER: "-. after .->", FILE: "-. file .->"}
    lines += [f"    {ids[s]} {arrows[k]} {ids[d]}" for s, d, k in graph.edges]
    if any(k == FILE for _, _, k in graph.edges):  # dotted (finer dashes) for file edges, as in dot
        lines += [f"    linkStyle {i} stroke-dasharray: 2 4" for i, (_, _, k) in enumerate(graph.edges) if k == FILE]
    return lines


def _mermaid_text(name: str) -> str:
    return name.replace('"', "#quot;")


def _dot(graph: JobGraph) -> list[str]:
    styles = {DEPENDS: "", AFTER: " [style=dashed]", FILE: " [style=dotted]"}
    lines = ["digraph jobs {", "    rankdir=LR;", "    node [shape=box];"]
    lines += [f"    {_quote(n)};" for n in graph.nodes]
    lines += [f"    {_quote(s)} -> {_quote(d)}{styles[k]};" for s, d, k in graph.edges]
    lines.append("}")
    return lines


def _quote(name: str) -> str:
    return json.dumps(name)  # a DOT ID in double quotes with \" escapes: what JSON writes for these names
