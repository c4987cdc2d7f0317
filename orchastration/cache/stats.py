"""The cache's small stats file (the last run's hits and misses, an estimate of its size) and what
``cache stats|prune|clear`` return."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from orchastration.cache.local import STATS, LocalCache
from orchastration.dataclass_code import dataclass, field


@dataclass
class RunStats:
    """Hits and misses of one run (``cache stats`` shows the last run's)."""

    hits: int = 0
    remote_hits: int = 0
    misses: int = 0
    stored: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)

    def as_json(self) -> dict[str, int]:
        return {"hits": self.hits, "remote_hits": self.remote_hits, "misses": self.misses, "stored": self.stored}


@dataclass(frozen=True)
class CacheStats:
    """``cache stats``: what the directory holds and how the last run used it."""

    dir: str
    entries: int
    size: int
    last_run: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"dir": self.dir, "entries": self.entries, "size": self.size, "last_run": self.last_run}


def _read(local: LocalCache) -> dict[str, Any]:
    from orchastration.state import read_json

    data = read_json(local.root / STATS)
    return data if isinstance(data, dict) else {}


def _write(local: LocalCache, data: dict[str, Any]) -> None:
    from orchastration.state import atomic_write_json

    with contextlib.suppress(OSError):  # figures only: a read-only cache dir costs nothing else
        atomic_write_json(local.root / STATS, data)


def record_run(local: LocalCache, stats: RunStats, max_size: int) -> None:
    """After a run that used the cache: keep its figures; past ``max_size`` (by the running estimate,
    so a run does not walk the cache), evict the least recently used entries."""
    if not (stats.hits or stats.misses or stats.stored):
        return
    from orchastration.state import iso, utc_now

    data = _read(local)
    size = int(data.get("size_estimate") or 0) + local.written
    if max_size and size > max_size:
        size = local.prune(max_size).size
    _write(local, {"size_estimate": size, "last_run": {**stats.as_json(), "time": iso(utc_now())}})


def stats(local: LocalCache) -> CacheStats:
    """Entries and bytes held now, and the last run's hits and misses."""
    usage = local.usage()
    last = _read(local).get("last_run")
    return CacheStats(str(local.root), usage.entries, usage.size, last if isinstance(last, dict) else {})


def prune(local: LocalCache, max_size: int) -> CacheStats:
    """Evict least recently used entries until the cache holds at most ``max_size`` bytes."""
    usage = local.prune(max_size)
    data = _read(local)
    _write(local, {**data, "size_estimate": usage.size})
    return stats(local)


def clear(local: LocalCache) -> CacheStats:
    """Remove every entry."""
    local.clear()
    return stats(local)
