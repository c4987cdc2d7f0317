"""Validation of ``[cache]`` and of the ``cache`` key of jobs and tasks (docs/cache.md), applied to the
model ``config_schema`` built (that module holds every other key)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from orchastration.config_model import CACHE_MODES, CacheConfig, Config, suggest
from orchastration.errors import ConfigError

CACHE_KEYS = ("enabled", "dir", "url", "mode", "max_size", "storage_options")
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4}


def parse_size(text: str | int) -> int:
    """``10GB`` (powers of 1000), ``512MiB`` (powers of 1024), or a number of bytes; ValueError if not."""
    if isinstance(text, int) and not isinstance(text, bool) and text >= 0:
        return text
    found = _SIZE.fullmatch(str(text)) if isinstance(text, str) else None
    if found is None:
        raise ValueError(f"not a size: {text!r} (e.g. '10GB', '512MiB')")
    unit = (found.group(2) or "").lower()
    factor = 1024 ** "kmgt".index(unit[0]) * 1024 if "i" in unit else _UNITS[unit.rstrip("b")]
    return int(float(found.group(1)) * factor)


def with_cache(config: Config, data: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Config:
    """``config`` with its ``[cache]`` table and the jobs' and tasks' ``cache`` keys read from ``data``."""
    file = config.display_path
    changes: dict[str, Any] = {}
    if "cache" in data:
        changes["cache"] = _cache_table(file, data["cache"], config.base_dir, environ)
    for section in ("jobs", "tasks"):
        table = getattr(config, section)
        raw = dict(data.get(section) or {})
        flagged = {n: t["cache"] for n, t in raw.items() if isinstance(t, dict) and "cache" in t}
        if flagged:
            items = dict(table)
            for name, value in flagged.items():
                if not isinstance(value, bool):
                    raise ConfigError(f"{file}: {section}.{name}.cache: expected true or false, got {value!r}")
                items[name] = replace(items[name], cache=value)
            changes[section] = items
    return replace(config, **changes) if changes else config


def _cache_table(file: str, tbl: Any, base_dir: Path, environ: Mapping[str, str] | None) -> CacheConfig:
    def fail(key: str, message: str) -> ConfigError:
        return ConfigError(f"{file}: cache.{key}: {message}" if key else f"{file}: cache: {message}")

    if not isinstance(tbl, dict):
        raise fail("", "expected a table")
    for name in tbl:
        if name not in CACHE_KEYS:
            raise fail(name, f"unknown key{suggest(name, CACHE_KEYS)}")
    out = CacheConfig()
    if "enabled" in tbl:
        if not isinstance(tbl["enabled"], bool):
            raise fail("enabled", "expected true or false")
        out = replace(out, enabled=tbl["enabled"])
    for name in ("dir", "url"):
        if name in tbl and (not isinstance(tbl[name], str) or not tbl[name].strip()):
            raise fail(name, "expected a non-empty string")
    if "dir" in tbl:
        out = replace(out, dir=_directory(tbl["dir"], base_dir, environ))
    if "url" in tbl:
        out = replace(out, url=tbl["url"].strip())
    if "mode" in tbl:
        if tbl["mode"] not in CACHE_MODES:
            raise fail("mode", f"expected one of {', '.join(CACHE_MODES)}, got {tbl['mode']!r}")
        out = replace(out, mode=tbl["mode"])
    if "max_size" in tbl:
        try:
            out = replace(out, max_size=parse_size(tbl["max_size"]))
        except ValueError as exc:
            raise fail("max_size", str(exc)) from None
    if "storage_options" in tbl:
        if not isinstance(tbl["storage_options"], dict):
            raise fail("storage_options", "expected a table (options passed to the fsspec filesystem)")
        out = replace(out, storage_options=dict(tbl["storage_options"]))
    return out


def _directory(text: str, base_dir: Path, environ: Mapping[str, str] | None) -> Path:
    """A directory relative to the config file's, ``~`` expanded from the environment the CLI passed."""
    if environ is None:
        path = Path(text).expanduser()
    else:
        from orchastration.paths import expand_home

        path = Path(expand_home(text, environ))
    return path if path.is_absolute() else base_dir / path
