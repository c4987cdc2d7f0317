"""The cache a run uses, from ``[cache]``, the environment the CLI passed (``ORCHASTRATION_CACHE_URL``,
``ORCHASTRATION_CACHE_MODE``, ``ORCHASTRATION_CACHE_SECRET``) and the run's flags (docs/cache.md)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from orchastration.errors import UsageError

if TYPE_CHECKING:
    from orchastration.cache.local import LocalCache
    from orchastration.cache.store import CacheStore
    from orchastration.config import Config

URL_VAR, MODE_VAR, SECRET_VAR = "ORCHASTRATION_CACHE_URL", "ORCHASTRATION_CACHE_MODE", "ORCHASTRATION_CACHE_SECRET"
OFF_VAR = "ORCHASTRATION_NO_CACHE"  # set (non-empty): every run is a --no-cache run
MODES = ("read", "write", "readwrite", "off")


def cache_dir(config: Config, environ: Mapping[str, str]) -> Path:
    """``[cache] dir``, or ``<user cache dir>/orchastration/cache``."""
    from orchastration.cache.store import default_dir

    return config.cache.dir or default_dir(environ)


def local_cache(config: Config, environ: Mapping[str, str]) -> LocalCache:
    """The local cache directory of this config."""
    from orchastration.cache.local import LocalCache

    return LocalCache(cache_dir(config, environ))


def shared_mode(config: Config, environ: Mapping[str, str], flag: str | None) -> str:
    """``--cache-mode`` > ``$ORCHASTRATION_CACHE_MODE`` > ``[cache] mode``."""
    mode = flag or environ.get(MODE_VAR) or config.cache.mode
    if mode not in MODES:
        raise UsageError(f"{MODE_VAR}: expected one of {', '.join(MODES)}, got {mode!r}")
    return mode


def open_store(
    config: Config,
    environ: Mapping[str, str],
    *,
    no_cache: bool = False,
    mode: str | None = None,
    forced: Collection[str] = (),
) -> CacheStore | None:
    """The run's cache, or None when it is off (``--no-cache``, ``[cache] enabled = false``). ``forced``
    units (``--force``) run: they are stored, never restored."""
    if no_cache or environ.get(OFF_VAR) or not config.cache.enabled:
        return None
    from orchastration.cache.key import Keys
    from orchastration.cache.store import CacheStore

    secret = environ.get(SECRET_VAR, "").encode("utf-8", "surrogateescape")
    url = environ.get(URL_VAR) or config.cache.url
    chosen = shared_mode(config, environ, mode)
    remote = None
    if url and chosen != "off":
        from orchastration.cache.remote import RemoteCache

        remote = RemoteCache(url, config.cache.storage_options, chosen)
    specs = [*config.jobs.values(), *config.tasks.values()]
    policy = {spec.name: spec.cache for spec in specs if spec.cache is not None}
    keys = Keys(config.base_dir, config.hash.algorithm, secret)
    return CacheStore(local_cache(config, environ), keys, remote=remote, secret=secret, policy=policy,
                      max_size=config.cache.max_size, forced=forced)  # fmt: skip
