"""``cache stats|prune|clear``: what the local output cache holds, and making it smaller (docs/cache.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchastration.cli.app import App
from orchastration.cli.parser import SubParsers, add_command, add_group, add_json_flag
from orchastration.errors import UsageError

if TYPE_CHECKING:
    from orchastration.cache.local import LocalCache
    from orchastration.cache.stats import CacheStats


def register(sub: SubParsers) -> None:
    group = add_group(sub, "cache", "inspect and trim the local output cache")
    stats = add_command(group, "stats", "entries, size, and the last run's hits and misses", run_stats)
    add_json_flag(stats, "JSON output")
    prune = add_command(group, "prune", "evict least recently used entries past the size limit", run_prune)
    prune.add_argument("--max-size", metavar="SIZE", help="the limit (e.g. 5GB; default: [cache] max_size)")
    add_command(group, "clear", "remove every entry of the local cache", run_clear)


def _local(app: App) -> LocalCache:
    from orchastration.cache.settings import local_cache

    return local_cache(app.config, app.environ)


def human(size: int) -> str:
    """``1.2 MB``-style sizes (powers of 1000, as ``max_size`` reads them)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def _show(app: App, stats: CacheStats, as_json: bool = False) -> None:
    from orchastration.cli.render import Output, show

    last = stats.last_run
    lines = [f"dir: {stats.dir}", f"entries: {stats.entries}", f"size: {human(stats.size)}"]
    if last:
        lines.append(
            f"last run: hits={last.get('hits', 0)} (remote {last.get('remote_hits', 0)}) "
            f"misses={last.get('misses', 0)} stored={last.get('stored', 0)}"
        )
    else:
        lines.append("last run: none recorded")
    show(app, Output(lines, stats.as_json()), as_json=as_json)


def run_stats(app: App) -> int:
    from orchastration.cache.stats import stats

    _show(app, stats(_local(app)), as_json=app.args.json)
    return 0


def run_prune(app: App) -> int:
    from orchastration.cache.stats import prune
    from orchastration.config_cache import parse_size

    limit = app.config.cache.max_size
    if app.args.max_size is not None:
        try:
            limit = parse_size(app.args.max_size)
        except ValueError as exc:
            raise UsageError(f"cache prune: --max-size: {exc}") from None
    _show(app, prune(_local(app), limit))
    return 0


def run_clear(app: App) -> int:
    from orchastration.cache.stats import clear

    _show(app, clear(_local(app)))
    return 0
