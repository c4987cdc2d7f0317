"""A unit's cache key (docs/cache.md): everything that decides its result and nothing machine-specific,
so two clones of one repository in different directories compute the same keys."""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from orchastration.engine.units import Unit
    from orchastration.engine.uptodate import HashCache

FORMAT_VERSION = 1  # bump when the key or the entry layout changes: old entries are then never found


def relative(path: str | Path, base: str | Path) -> str:
    """``path`` relative to ``base`` with ``/`` separators (absolute when on another drive)."""
    text, root = str(path), str(base)
    if text.startswith(root) and text[len(root) : len(root) + 1] == os.sep:  # the common case, cheaply
        return text[len(root) + 1 :].replace(os.sep, "/")
    try:
        rel = os.path.relpath(path, base)
    except ValueError:  # Windows: another drive
        return str(path).replace(os.sep, "/")
    return rel.replace(os.sep, "/")


def env_hash(env: Mapping[str, str], secret: bytes) -> str:
    """Names and values as one hash (values may be secrets: never kept in clear). With a cache secret
    a non-empty env is keyed by it, so a key cannot be tested against guessed values without it (an
    empty env holds no secret: its keys stay the same for readers with a wrong secret, who are then
    warned about the signature instead of missing silently)."""
    items = repr(tuple(sorted(env.items()))).encode("utf-8", "surrogatepass")
    if secret and env:
        return hmac.new(secret, items, "sha256").hexdigest()
    return hashlib.sha256(items).hexdigest()


def unit_key(
    unit: Unit,
    base_dir: Path,
    inputs: Mapping[str, str | None],
    dep_keys: Sequence[str],
    algorithm: str,
    secret: bytes = b"",
) -> str | None:
    """The key of ``unit`` run on these input hashes (absolute path -> hash) after dependencies with
    ``dep_keys``; None when an input could not be read (such a run is never cached)."""
    if any(h is None for h in inputs.values()):
        return None
    wd = unit.working_dir
    material: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "algorithm": algorithm,
        "command": unit.command if isinstance(unit.command, str) else list(unit.command),
        "shell": unit.shell,
        "env": env_hash(unit.env, secret),
        "working_dir": relative(wd, base_dir),
        "inputs": sorted((relative(p, wd), h) for p, h in inputs.items()),
        "outputs": list(unit.outputs),
        "deps": list(dep_keys),
    }
    import json

    text = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class Keys:
    """The keys of one run's units, each computed once, dependencies first (a unit's key covers the
    keys of its ``depends_on``; one that did not run this time is keyed on its inputs as they are)."""

    def __init__(self, base_dir: Path, algorithm: str, secret: bytes = b"") -> None:
        self.base_dir, self.algorithm, self.secret = base_dir, algorithm, secret
        self.table: Mapping[str, Unit] = {}
        self.inputs: Mapping[str, Sequence[str]] = {}
        self.cache: HashCache | None = None
        self._keys: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def open(self, table: Mapping[str, Unit], inputs: Mapping[str, Sequence[str]], cache: HashCache) -> None:
        """The run's units and their input files."""
        self.table, self.inputs, self.cache = table, inputs, cache
        self._keys = {}

    def key(self, unit: Unit, hashes: Mapping[str, str | None] | None = None) -> str | None:
        """``unit``'s key (``hashes``: its inputs as its command will find them; else the key computed
        before in this run, or hashed now)."""
        if hashes is None:
            with self._lock:
                if unit.name in self._keys:
                    return self._keys[unit.name]
        for dep in self._missing(unit.depends_on):  # dependencies first, without recursion (long chains)
            self._store(dep, self._compute(self.table[dep], None))
        found = self._compute(unit, hashes)
        self._store(unit.name, found)
        return found

    def remember(self, name: str, key: str) -> None:
        """``name``'s key, computed elsewhere from the inputs its run uses (another process's lookup)."""
        self._store(name, key)

    def _missing(self, names: Sequence[str]) -> list[str]:
        """The unkeyed units among ``names`` and their dependencies, dependencies first."""
        if not names:  # most units: nothing to copy (the known keys grow with the run)
            return []
        with self._lock:
            known = set(self._keys)
        order: list[str] = []
        seen = set(known)
        stack = [(n, False) for n in reversed(names) if n in self.table]
        while stack:
            name, expanded = stack.pop()
            if expanded:
                order.append(name)
            elif name not in seen:
                seen.add(name)
                stack.append((name, True))
                stack.extend((d, False) for d in reversed(self.table[name].depends_on) if d in self.table)
        return order

    def _compute(self, unit: Unit, hashes: Mapping[str, str | None] | None) -> str | None:
        with self._lock:
            deps = [self._keys.get(d) for d in unit.depends_on]
        if any(d is None for d in deps):
            return None
        if hashes is None:
            cache = self.cache
            files = self.inputs.get(unit.name, ())
            hashes = {p: cache.hash(p) if cache is not None else None for p in files}
        return unit_key(unit, self.base_dir, hashes, [str(d) for d in deps], self.algorithm, self.secret)

    def _store(self, name: str, key: str | None) -> None:
        with self._lock:
            self._keys[name] = key
