"""What ``run --dry-run`` and ``why`` can say about the cache: ``would restore from cache`` for a job that
would run, whose key is known now (no dependency of it runs first) and whose entry the local cache holds."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchastration.config import Config
    from orchastration.engine.units import PlanItem, Unit

WOULD_RESTORE = "would restore from cache"


def annotate(
    items: Sequence[PlanItem],
    units: Sequence[Unit],
    config: Config,
    environ: Mapping[str, str],
    forced: Collection[str] = (),
) -> list[PlanItem]:
    """``items`` with ``would restore from cache`` added where a local entry for the job's key exists.
    A job after a dependency that runs is left alone: its inputs (and key) are known only then."""
    from orchastration.cache.settings import open_store

    store = open_store(config, environ, forced=forced)
    candidates = [i for i in items if i.would_run and not any("dependenc" in r for r in i.reasons)]
    if store is None or not candidates:
        return list(items)
    from dataclasses import replace

    from orchastration.engine.graph import build
    from orchastration.engine.uptodate import HashCache

    table = {u.name: u for u in units}
    graph = build(units, [i.name for i in candidates])
    store.open(graph.table, graph.inputs, HashCache(config.hash.algorithm))
    found = {i.name for i in candidates if store.holds(table[i.name])}
    return [replace(i, reasons=(*i.reasons, WOULD_RESTORE)) if i.name in found else i for i in items]
