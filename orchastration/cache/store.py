"""The output cache as the unit runner's ``ResultStore`` (docs/cache.md): look a unit's key up locally,
then in the shared store (a hit there fills the local one), restore its outputs atomically and replay its
logs; store what a successful run made. Every cache problem is a warning and a miss, never a failure."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from orchastration.cache.entry import INLINE_MAX, BadEntry, Blob, Manifest, dump, load
from orchastration.cache.key import Keys
from orchastration.cache.local import EMPTY_SHA256, BlobMismatch, LocalCache
from orchastration.cache.staging import Staged, Stager, output_path, write_beside
from orchastration.cache.stats import RunStats
from orchastration.empty_logs import link_empty, open_for_write
from orchastration.fdio import write_all
from orchastration.logs import get_logger, log

if TYPE_CHECKING:
    from orchastration.cache.remote import RemoteCache
    from orchastration.engine.result_store import Restored
    from orchastration.engine.runner import Launch
    from orchastration.engine.units import Unit
    from orchastration.engine.uptodate import HashCache

_LOG = get_logger("cache")
SLOW_SAVE_BYTES = 1 << 20  # a run's outputs and logs above this: its save is not done on the jobs' thread


class CacheStore:
    """Local cache (+ optional shared one) behind the runner's result-store seam."""

    def __init__(
        self,
        local: LocalCache,
        keys: Keys,
        *,
        read: bool = True,
        write: bool = True,
        remote: RemoteCache | None = None,
        secret: bytes = b"",
        policy: Mapping[str, bool] | None = None,
        max_size: int = 0,
        forced: Collection[str] = (),
    ) -> None:
        self.local, self.keys, self.read, self.write = local, keys, read, write
        self.remote, self.secret = remote, secret
        self.policy = dict(policy or {})
        self.max_size = max_size
        self.forced = frozenset(forced)
        self.stats = RunStats()
        self._remote_lock = threading.Lock()
        # ``find``'s lookups (inputs, key, source, entry; None: nothing usable), for the ``restore`` after it
        self._found: dict[str, tuple[dict[str, str | None], str, str, Manifest | None]] = {}
        self._staged: dict[str, Staged] = {}  # outputs the look-ahead wrote ahead of their restore
        self._stager: Stager | None = None  # (in the look-ahead process)

    # -- ResultStore ---------------------------------------------------------------------------
    def open(self, table: Mapping[str, Unit], inputs: Mapping[str, Sequence[str]], cache: HashCache) -> None:
        self.keys.open(table, inputs, cache)  # (keys of this run's units are computed from these)

    def cacheable(self, unit: Unit) -> bool:
        """``cache = true|false`` on the job or task; by default: it has outputs and is not always_run."""
        return self.policy.get(unit.name, bool(unit.outputs) and not unit.always_run)

    def find(self, unit: Unit, inputs: Mapping[str, str | None], local_only: bool = False) -> bool:
        """Whether an entry for ``unit`` run on these inputs is held (locally, or in the shared store:
        then copied into the local one); ``restore`` with the same inputs uses what was found.
        ``local_only``: not the shared store (a miss then is not kept: see ``look_ahead``)."""
        if not self.cacheable(unit) or not self.read or unit.name in self.forced:
            return False
        known = self._found.get(unit.name)  # (a dict's get is atomic)
        if known is not None and known[0] == inputs:  # looked up for these inputs already (``adopt``)
            return known[3] is not None
        key = self.keys.key(unit, inputs)
        if key is None:
            return False
        shared = self.remote is not None and self.remote.reads
        source, manifest = ("local", self._find_local(unit, key)) if local_only else self._find(unit, key)
        if manifest is not None and not all(self.local.has_blob(b.sha256) for b in manifest.blobs()):
            manifest = None
        if manifest is None and local_only and shared:
            return False  # not kept: the unit's own lookup asks the shared store
        with self._remote_lock:
            self._found[unit.name] = (dict(inputs), key, source, manifest)
        return manifest is not None

    def found(self, unit: Unit, stage_in: str | None = None) -> object:
        """``find``'s lookup for the unit (inputs, key, source, entry, ``LocalCache.recent``, and the
        outputs of the entry written into ``stage_in``: ``cache/staging.py``)."""
        with self._remote_lock:
            kept = self._found.get(unit.name)
        if kept is None:
            return None
        staged: Staged = {}
        if stage_in is not None and kept[3] is not None:
            from orchastration.patterns import own_outputs

            if self._stager is None or self._stager.directory != stage_in:
                self._stager = Stager(stage_in)
            staged = self._stager.stage(unit, kept[3], self.local, own_outputs(unit.abs_outputs, unit.output_globs))
        return (*kept, self.local.recent(kept[1]), staged)

    def adopt(self, unit: Unit, found: object) -> None:
        """A lookup ``find`` made in another process (``engine/lookahead.py``): its key, and its entry
        for a ``restore`` with the same inputs (checked there as here)."""
        if not isinstance(found, tuple) or len(found) != 6:
            return
        inputs, key, source, manifest, recent, staged = found
        if not isinstance(inputs, dict) or not isinstance(key, str) or not isinstance(manifest, (Manifest, type(None))):
            return
        self.keys.remember(unit.name, key)
        if recent is True:  # (its manifest touched within the hour: no touch on its restore)
            self.local.used_recently(key)
        with self._remote_lock:
            self._found[unit.name] = (inputs, key, str(source), manifest)
            if isinstance(staged, dict) and staged:
                self._staged[unit.name] = staged

    def slow_save(self, unit: Unit, output_bytes: int, logs: Sequence[Path]) -> bool:
        """A shared store to push to, or over ``SLOW_SAVE_BYTES`` to copy (logs stat'ed only then)."""
        if not self.write or not self.cacheable(unit):
            return False
        if self.remote is not None and self.remote.writes:
            return True
        total = output_bytes
        for path in logs:
            with contextlib.suppress(OSError):
                total += os.stat(path).st_size
        return total > SLOW_SAVE_BYTES

    def look_ahead(self, unit: Unit, inputs: Mapping[str, str | None]) -> bool:
        """``find`` ahead of the unit's ``restore`` (with the bookkeeping while a command runs, in the
        look-ahead process, in the ``-j`` first pass), in the local store only: a shared store's round
        trips would hold up the records or a command's output. With a shared store, a local miss is
        not kept: the unit's own lookup asks the shared store then."""
        return self.find(unit, inputs, local_only=True)

    def restore(self, unit: Unit, inputs: Mapping[str, str | None], launch: Launch) -> Restored | None:
        """Restore ``unit`` from the cache if an entry for its key exists and is sound."""
        if not self.cacheable(unit):
            return None
        started = time.monotonic()
        with self._remote_lock:
            found = self._found.pop(unit.name, None)
        key: str | None
        manifest: Manifest | None
        if found is not None and found[0] == inputs:  # what ``find`` found (or not) for these inputs
            key, source, manifest = found[1], found[2], found[3]
        else:
            key = self.keys.key(unit, inputs)
            if key is None or not self.read or unit.name in self.forced:
                return None
            source, manifest = self._find(unit, key)
        if manifest is None or not self._restore_files(unit, manifest):
            self.stats.add(misses=1)
            return None
        self.local.touch(key)
        self._replay(manifest, launch)
        from orchastration.engine.result_store import Restored
        from orchastration.process import ProcessResult

        self.stats.add(hits=1, remote_hits=int(source == "remote"))
        ms = int((time.monotonic() - started) * 1000)
        return Restored(ProcessResult(0, "ok", ms, ""), {"key": key, "source": source})

    def save(self, unit: Unit, record: Mapping[str, Any]) -> None:
        """Store a successful run's outputs and logs under its key (a problem is a warning)."""
        if not self.write or not self.cacheable(unit):
            return
        key = self.keys.key(unit) if unit.name in self.keys.table else None
        if key is None:
            return
        try:
            manifest = self._store_local(unit, key, record)
        except (OSError, BlobMismatch) as exc:
            log(_LOG, "warning", f"{unit.name}: not cached: {exc}", unit=unit.name)
            return
        if manifest is None:
            return
        self.stats.add(stored=1)
        if self.remote is not None and self.remote.writes:
            self._push(unit, manifest)

    def close(self) -> None:
        """Keep the run's figures and evict past ``max_size``."""
        from orchastration.cache.stats import record_run

        record_run(self.local, self.stats, self.max_size)

    def holds(self, unit: Unit) -> bool:
        """Whether the local cache has a sound-looking entry for ``unit`` now (``run --dry-run``, ``why``)."""
        if not self.cacheable(unit) or unit.name in self.forced:
            return False
        key = self.keys.key(unit)
        raw = None if key is None else self.local.read_manifest(key)
        if key is None or raw is None:
            return False
        try:
            manifest = load(raw, key, self.secret)
        except BadEntry:
            return False
        return all(self.local.has_blob(b.sha256) for b in manifest.blobs())

    # -- lookup ----------------------------------------------------------------------------------
    def _find(self, unit: Unit, key: str) -> tuple[str, Manifest | None]:
        found = self._find_local(unit, key)
        if found is not None:
            return "local", found
        if self.remote is None or not self.remote.reads:
            return "local", None
        return "remote", self._fetch(unit, key)

    def _find_local(self, unit: Unit, key: str) -> Manifest | None:
        raw = self.local.read_manifest(key)
        return None if raw is None else self._check(unit, key, raw, "local")

    def _check(self, unit: Unit, key: str, raw: bytes, where: str) -> Manifest | None:
        try:
            return load(raw, key, self.secret)
        except BadEntry as exc:
            log(_LOG, "warning", f"{unit.name}: {where} cache {exc} (key {key[:12]}): running it", unit=unit.name)
            return None

    def _fetch(self, unit: Unit, key: str) -> Manifest | None:
        """A shared entry copied into the local store (blobs checked against their hashes)."""
        remote = self.remote
        assert remote is not None
        raw = remote.get_manifest(key, unit.name)
        found = None if raw is None else self._check(unit, key, raw, "shared")
        if found is None:
            return None
        for blob in found.blobs():
            if not self.local.has_blob(blob.sha256) and not remote.get_blob(blob.sha256, self.local, unit.name):
                return None
        with contextlib.suppress(OSError):
            self.local.write_manifest(key, raw or b"")
        return found

    # -- restoring -------------------------------------------------------------------------------
    def _restore_files(self, unit: Unit, manifest: Manifest) -> bool:
        """Every output written beside its place and checked, then renamed into place: a reader never
        sees a partial file. A missing or corrupt blob (or an output outside the declared ones) is a miss."""
        from orchastration.patterns import own_outputs

        own = own_outputs(unit.abs_outputs, unit.output_globs)
        staged = self._staged.pop(unit.name, None) or {}
        taken = {path for path, _ in staged.values()}
        temps: list[tuple[str, str, Blob]] = []
        try:
            missing = [b.sha256[:12] for b in manifest.blobs() if not self.local.has_blob(b.sha256)]
            if missing:
                raise BadEntry(f"partial entry (blob {missing[0]} missing)")
            for rel, blob in sorted(manifest.outputs.items()):
                target = output_path(unit, rel)
                if not own(target):
                    raise BadEntry(f"names {rel}, not a declared output")
                path, sha = staged.get(rel, ("", ""))  # written ahead by the look-ahead (cache/staging.py)
                temps.append((path if sha == blob.sha256 else write_beside(target, blob, self.local), target, blob))
            for i, (tmp, target, blob) in enumerate(temps):
                try:
                    os.replace(tmp, target)
                except OSError:
                    if tmp not in taken:
                        raise
                    temps[i] = (write_beside(target, blob, self.local), target, blob)  # another file system
                    os.replace(temps[i][0], target)
            if self.keys.cache is not None:  # checked while written: the run need not read them back
                for _, target, blob in temps:
                    self.keys.cache.seed(target, blob.sha256, "sha256")
            temps = []
            return True
        except (OSError, BadEntry, BlobMismatch) as exc:
            log(_LOG, "warning", f"{unit.name}: cache entry not restored: {exc}: running it", unit=unit.name)
            return False
        finally:
            for tmp, _, _ in temps:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    def _replay(self, manifest: Manifest, launch: Launch) -> None:
        """The run's stdout and stderr: to the log files and, as the job wrote them, to the consoles."""
        for blob, path, console, slot in (
            (manifest.stdout, launch.stdout_path, launch.console, True),
            (manifest.stderr, launch.stderr_path, launch.err_console, False),
        ):
            try:
                if blob.data is not None:
                    data = blob.data
                else:
                    with self.local.open_blob(blob.sha256) as src:
                        data = src.read()
                if not data and launch.empty_log is not None:  # no inode: a link (empty_logs.py)
                    if not slot:  # the slot's stdout.log is one already (Launch.empty_log)
                        link_empty(path, launch.empty_log, exist_ok=True)
                    continue
                # 0600: a run's output is the user's alone (docs/reliability.md); never written
                # through the link its slot was reserved with.
                fd = open_for_write(path)
                try:
                    write_all(fd, data)
                finally:
                    os.close(fd)
            except OSError:
                continue
            if console is not None and data:
                _echo(console, data.decode("utf-8", "replace"), launch.prefix)

    # -- storing ---------------------------------------------------------------------------------
    def _store_local(self, unit: Unit, key: str, record: Mapping[str, Any]) -> Manifest | None:
        """Blobs first (the hashes the run computed: each file read once, and only if new), then the
        manifest. Not cached: an output outside the working dir, or a declared output not made."""
        outputs: dict[str, Blob] = {}
        reuse = record.get("hash_algorithm") == "sha256"
        for shown, digest in dict(record.get("outputs") or {}).items():
            if digest is None or os.path.isabs(shown):
                return None
            path = os.path.join(unit.working_dir, shown)
            st = os.stat(path)
            small = _inline(path, st.st_size, str(digest) if reuse else None)
            if small is not None:
                outputs[shown.replace(os.sep, "/")] = Blob(small.sha256, st.st_mode & 0o777, small.size, small.data)
                continue
            sha, size = self.local.put_file(path, str(digest) if reuse else None)
            outputs[shown.replace(os.sep, "/")] = Blob(sha, st.st_mode & 0o777, size)
        logs = []
        for name in ("stdout_path", "stderr_path"):
            log_size = os.stat(record[name]).st_size if os.path.exists(record[name]) else 0
            small = _inline(record[name], log_size, None) if log_size else Blob(EMPTY_SHA256, 0o600, 0, b"")
            if small is not None:
                logs.append(Blob(small.sha256, 0o600, small.size, small.data))
                continue
            sha, size = self.local.put_log(record[name])
            logs.append(Blob(sha, 0o600, size))
        manifest = Manifest(key, outputs, logs[0], logs[1], int(record.get("duration_ms") or 0))
        self.local.write_manifest(key, dump(manifest, self.secret))
        return manifest

    def _push(self, unit: Unit, manifest: Manifest) -> None:
        remote = self.remote
        assert remote is not None
        with self._remote_lock:
            if not remote.alive:
                return
        for blob in manifest.blobs():
            if not remote.put_blob(blob.sha256, self.local.blob_path(blob.sha256), unit.name):
                return
        remote.put_manifest(manifest.key, dump(manifest, self.secret), unit.name)


def _inline(path: str, size: int, expected: str | None) -> Blob | None:
    """A small file's bytes and hash for the manifest itself (None: too big, it goes to the blob store)."""
    if size > INLINE_MAX:
        return None
    import hashlib

    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))  # no file object: one open, read, close
    try:
        data = b""
        while len(data) <= INLINE_MAX and (chunk := os.read(fd, INLINE_MAX + 1 - len(data))):
            data += chunk
    finally:
        os.close(fd)
    sha = hashlib.sha256(data).hexdigest()
    if len(data) > INLINE_MAX:
        return None
    if expected is not None and sha != expected:
        raise BlobMismatch(f"changed while being stored (expected {expected[:12]}, got {sha[:12]})")
    return Blob(sha, 0, len(data), data)


def _echo(console: IO[str], text: str, prefix: str) -> None:
    """Write captured output to a console, each line prefixed as a live run would."""
    if prefix:
        lines = text.splitlines(keepends=True)
        text = "".join(prefix + line for line in lines)
    console.write(text)
    console.flush()


def default_dir(environ: Mapping[str, str]) -> Path:
    """``<user cache dir>/orchastration/cache`` (the directory the state root is in)."""
    from orchastration.paths import user_cache_dir

    return user_cache_dir(environ) / "cache"
