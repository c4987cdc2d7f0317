"""A run's graph of units: the closure of the targets in order, each unit's expanded inputs, its
dependency edges (``depends_on`` and the producers of its inputs), file cycles, and which units doit
must decide when a summary vouches for the rest."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence, Set
from typing import NamedTuple

from orchastration.engine import fastpath
from orchastration.engine.units import Unit, closure, expand_inputs, index, literal_producers
from orchastration.errors import ConfigError, InputError
from orchastration.patterns import DirListing, NotRegularFile, display_path, own_outputs

_FEW_TO_LIST = 50


class Graph(NamedTuple):
    """The units of one run: by name, in run order, with their input files and dependencies."""

    table: dict[str, Unit]
    order: list[str]
    inputs: dict[str, list[str]]
    edges: dict[str, list[str]]


def build(units: Iterable[Unit], targets: Sequence[str], summary: fastpath.Summary | None = None) -> Graph:
    """The run's units in order with their expanded inputs. With a ``summary`` of the same config
    and targets, its order stands and the inputs of the units it vouches for are its own lists
    (their files and globs are unchanged): only the other units are expanded again."""
    table = index(units)
    order = summary.order if summary is not None else closure(table, targets, literal_producers(table))
    known = summary.entries if summary is not None else {}
    # One scandir per input directory pays off for many units; for the few a summary leaves, a stat
    # per literal input is cheaper than listing a 10,000-file directory.
    listing = DirListing() if len(order) - len(known) > _FEW_TO_LIST else None
    inputs: dict[str, list[str]] = {}
    for n in order:
        # A unit's own outputs are never its inputs (``inputs = ["app/*.py"]`` with
        # ``outputs = ["app/b.py"]``): doit would see a task depending on itself.
        entry = known.get(n)
        try:
            files = fastpath.entry_files(entry) if entry is not None else expand_inputs(table[n], listing)
        except NotRegularFile as exc:  # a FIFO or /dev/zero would block or spin the run (docs/jobs.md)
            shown = display_path(table[n].working_dir, exc.path)
            raise InputError(f"{n}: input {exc.args[0].replace(exc.path, shown, 1)}") from None
        inputs[n] = _without_own_outputs(table[n], files)
    edges = _edges(table, order, inputs)
    # ``after`` orders units of the same run without making them dependencies: only the cycle check sees it.
    in_run = set(order)
    _check_file_cycles(order, {n: [*e, *(a for a in table[n].after if a in in_run)] for n, e in edges.items()})
    return Graph(table, order, inputs, edges)


def _without_own_outputs(unit: Unit, files: list[str]) -> list[str]:
    """``files`` without the unit's own outputs: its literal outputs, files under one (a directory
    output) and files its output globs match, decided on the paths alone."""
    if unit.output_globs:
        own = own_outputs(unit.abs_outputs, unit.output_globs)
        return [p for p in files if not own(p)]
    outputs = unit.abs_outputs
    if not outputs:
        return files
    if len(outputs) == 1:  # most units: plain string tests (a set and a tuple a unit cost more)
        output = outputs[0]
        under_it = output + os.sep
        return [p for p in files if p != output and not p.startswith(under_it)]
    exact, under = set(outputs), tuple(p + os.sep for p in outputs)
    return [p for p in files if p not in exact and not p.startswith(under)]


def _edges(table: dict[str, Unit], order: list[str], inputs: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each unit's dependencies: its ``depends_on`` and the units that output one of its inputs
    (doit makes a unit depend on the producer of its file_dep)."""
    producer = {p: n for n in order for p in table[n].abs_outputs}
    return {
        n: list(dict.fromkeys([*table[n].depends_on, *(producer[p] for p in inputs[n] if producer.get(p, n) != n)]))
        for n in order
    }


def _check_file_cycles(order: list[str], edges: dict[str, list[str]]) -> None:
    """A loop through inputs and outputs (or ``depends_on``) is a config error naming the units,
    found before anything runs."""
    done: set[str] = set()
    for start in order:
        if start in done:
            continue
        trail, on_trail = [start], {start}
        stack = [iter(edges[start])]
        while stack:  # iterative depth-first search: a chain of 10,000 units needs no recursion
            dep = next(stack[-1], None)
            if dep is None:
                stack.pop()
                node = trail.pop()
                on_trail.discard(node)
                done.add(node)
            elif dep in on_trail:
                loop = trail[trail.index(dep) :]
                first = loop.index(min(loop))  # start at the smallest name: one message per loop
                cycle = [*loop[first:], *loop[:first], loop[first]]
                raise ConfigError(f"dependency cycle through inputs and outputs: {' -> '.join(cycle)}")
            elif dep not in done and dep in edges:
                stack.append(iter(edges[dep]))
                trail.append(dep)
                on_trail.add(dep)


def for_doit(graph: Graph, trusted: Set[str], forced: Set[str]) -> list[str]:
    """The units doit has to decide, in run order: every unit the summary does not vouch for (or
    forced, or always_run), everything downstream of one, and what those depend on (doit needs
    their tasks to order them, and decides them too)."""
    edges = graph.edges
    changed = {n for n in graph.order if n not in trusted or n in forced or graph.table[n].always_run}
    if not changed:
        return []
    affected: set[str] = set()
    for name in graph.order:  # dependencies come first in run order: one pass finds every dependent
        if name in changed or any(dep in affected for dep in edges[name]):
            affected.add(name)
    needed = upstream(affected, edges.__getitem__)
    return [n for n in graph.order if n in needed]


def upstream(starts: Iterable[str], deps: Callable[[str], Iterable[str]]) -> set[str]:
    """``starts`` and everything they depend on (``deps``: a unit's dependencies), transitively."""
    found: set[str] = set()
    stack = list(starts)
    while stack:
        name = stack.pop()
        if name not in found:
            found.add(name)
            stack.extend(deps(name))
    return found
