"""The shared cache on fsspec (``[cache] url``: ``file://`` on a shared mount, ``s3://`` with s3fs,
``gs://`` with gcsfs, ...): the local layout under the URL. Every failure is a warning; after a network
error the shared cache is left alone for the rest of the run, so a dead server costs seconds, not minutes."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchastration.cache.local import LAYOUT
from orchastration.logs import get_logger, log

if TYPE_CHECKING:
    from orchastration.cache.local import LocalCache

_LOG = get_logger("cache")
# s3fs/botocore wait and retry for minutes by default; a cache must give up in seconds.
_S3_DEFAULTS: dict[str, Any] = {
    "config_kwargs": {"connect_timeout": 3, "read_timeout": 10, "retries": {"max_attempts": 2, "mode": "standard"}},
}
_S3FS_RETRIES = 2  # s3fs's own retry loop around botocore's (5 by default, with back-off)
_GCS_DEFAULTS: dict[str, Any] = {"timeout": 10}
_DEFAULTS: dict[str, dict[str, Any]] = {
    "s3": _S3_DEFAULTS, "s3a": _S3_DEFAULTS, "gs": _GCS_DEFAULTS, "gcs": _GCS_DEFAULTS, "file": {"auto_mkdir": True},
}  # fmt: skip


class RemoteCache:
    """One shared cache: ``reads``/``writes`` by mode; ``alive`` until its first failure."""

    def __init__(self, url: str, options: Mapping[str, Any], mode: str) -> None:
        self.url = url.rstrip("/")
        self.options = dict(options)
        self.reads = mode in ("read", "readwrite")
        self.writes = mode in ("write", "readwrite")
        self.alive = True
        self._fs: Any = None
        self._root = ""
        self._lock = threading.Lock()

    def _filesystem(self) -> tuple[Any, str]:
        with self._lock:
            if self._fs is None:
                import fsspec  # type: ignore[import-untyped]

                protocol = self.url.split("://", 1)[0] if "://" in self.url else "file"
                defaults = _DEFAULTS.get(protocol, {})
                options = {**defaults, **self.options}
                if "config_kwargs" in defaults and "config_kwargs" in self.options:
                    options["config_kwargs"] = {**defaults["config_kwargs"], **self.options["config_kwargs"]}
                fs, root = fsspec.core.url_to_fs(self.url, **options)
                if hasattr(fs, "retries") and "retries" not in self.options:
                    fs.retries = _S3FS_RETRIES
                self._fs, self._root = fs, f"{root.rstrip('/')}/{LAYOUT}"
            return self._fs, self._root

    def _fail(self, job: str, what: str, exc: BaseException) -> None:
        """The first failure turns the shared cache off for this run, with one warning."""
        with self._lock:
            first, self.alive = self.alive, False
        if first:
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log(_LOG, "warning", f"{job}: shared cache {self.url} unavailable ({what}: {detail}); "
                "going on without it", unit=job)  # fmt: skip

    def _manifest(self, root: str, key: str) -> str:
        return f"{root}/entries/{key[:2]}/{key}.json"

    def _blob(self, root: str, sha: str) -> str:
        return f"{root}/blobs/{sha[:2]}/{sha}"

    def get_manifest(self, key: str, job: str) -> bytes | None:
        """The shared manifest of ``key``, or None (absent, or the store unavailable)."""
        if not self.alive:
            return None
        try:
            fs, root = self._filesystem()
            data: bytes = fs.cat_file(self._manifest(root, key))
            return data
        except FileNotFoundError:
            return None
        except Exception as exc:  # any backend's network or permission error: a miss
            self._fail(job, "read", exc)
            return None

    def get_blob(self, sha: str, local: LocalCache, job: str) -> bool:
        """Copy a blob into the local cache, checked against its hash; False if that failed."""
        if not self.alive:
            return False
        try:
            fs, root = self._filesystem()
            with fs.open(self._blob(root, sha), "rb") as src:
                local.put_stream(src, sha)
            return True
        except FileNotFoundError:
            log(_LOG, "warning", f"{job}: shared cache entry partial (blob {sha[:12]} missing): running it", unit=job)
            return False
        except Exception as exc:
            from orchastration.cache.local import BlobMismatch

            if isinstance(exc, BlobMismatch):
                log(_LOG, "warning", f"{job}: shared cache blob {sha[:12]} is corrupt: running it", unit=job)
                return False
            self._fail(job, "read", exc)
            return False

    def put_blob(self, sha: str, path: Path, job: str) -> bool:
        """Upload a blob unless the store has it; False if that failed."""
        if not self.alive:
            return False
        try:
            fs, root = self._filesystem()
            target = self._blob(root, sha)
            if not fs.exists(target):
                fs.put_file(str(path), target)
            return True
        except Exception as exc:
            self._fail(job, "write", exc)
            return False

    def put_manifest(self, key: str, data: bytes, job: str) -> None:
        """Upload the manifest last: a reader that finds it finds its blobs."""
        if not self.alive:
            return
        try:
            fs, root = self._filesystem()
            fs.pipe_file(self._manifest(root, key), data)
        except Exception as exc:
            self._fail(job, "write", exc)
