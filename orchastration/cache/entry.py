"""One cache entry's manifest: what a key restores (outputs by blob hash and mode, the logs, how the run
ended), canonical bytes, and its HMAC signature (docs/cache.md, "Trust")."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

from orchastration.cache.key import FORMAT_VERSION
from orchastration.dataclass_code import dataclass

_HEX64 = re.compile(r"[0-9a-f]{64}")


class BadEntry(Exception):
    """A manifest that is corrupt, partial, for another key, or not validly signed: a miss."""


INLINE_MAX = 16 * 1024  # files up to this size live in the manifest itself: one file per entry to write


@dataclass(frozen=True)
class Blob:
    """One stored file: its sha256 and mode bits; a small one's bytes inline (else in the blob store)."""

    sha256: str
    mode: int
    size: int
    data: bytes | None = None


@dataclass(frozen=True)
class Manifest:
    """What a key restores: outputs (path relative to the working dir -> blob), the two logs, the run."""

    key: str
    outputs: Mapping[str, Blob]
    stdout: Blob
    stderr: Blob
    duration_ms: int
    exit_code: int = 0

    def blobs(self) -> list[Blob]:
        """Every blob the entry needs from the blob store (not the inline ones)."""
        return [b for b in (*self.outputs.values(), self.stdout, self.stderr) if b.data is None]

    def to_json(self) -> dict[str, Any]:
        """The manifest as data (without its signature)."""
        return {
            "format": FORMAT_VERSION,
            "key": self.key,
            "outputs": {p: _blob_json(b) for p, b in sorted(self.outputs.items())},
            "stdout": _blob_json(self.stdout),
            "stderr": _blob_json(self.stderr),
            "duration_ms": self.duration_ms,
            "exit_code": self.exit_code,
        }


def _blob_json(blob: Blob) -> dict[str, Any]:
    found = {"sha256": blob.sha256, "mode": blob.mode, "size": blob.size}
    if blob.data is not None:
        import base64

        found["inline"] = base64.b64encode(blob.data).decode("ascii")
    return found


def _canonical(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def signature(data: Mapping[str, Any], secret: bytes) -> str:
    """HMAC-SHA256 of the manifest's canonical bytes (which hold every content hash)."""
    return hmac.new(secret, _canonical(data), hashlib.sha256).hexdigest()


def dump(manifest: Manifest, secret: bytes) -> bytes:
    """The manifest file's bytes: signed when there is a secret. One line of JSON: with ``indent`` the
    json module encodes in pure Python (~32 µs a small entry against ~18; a cold build stores one a
    job, on its bookkeeping path). ``load`` reads any JSON layout (entries written indented too)."""
    data = manifest.to_json()
    if secret:
        data["signature"] = signature(data, secret)
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode("ascii") + b"\n"


def load(raw: bytes, key: str, secret: bytes) -> Manifest:
    """Parse and check a manifest read for ``key``; ``BadEntry`` says why it cannot be used."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadEntry("corrupt or partial entry") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION or data.get("key") != key:
        raise BadEntry("corrupt entry (not this key or format)")
    if secret:
        given = data.pop("signature", None)
        if not isinstance(given, str) or not hmac.compare_digest(given, signature(data, secret)):
            raise BadEntry("entry has no valid signature: not restored")
    try:
        outputs = {_path(p): _blob(b) for p, b in dict(data["outputs"]).items()}
        return Manifest(key, outputs, _blob(data["stdout"]), _blob(data["stderr"]), int(data["duration_ms"]))
    except (KeyError, TypeError, ValueError):
        raise BadEntry("corrupt entry") from None


def _path(path: Any) -> str:
    """A relative path inside the working dir (an entry naming ``../x`` or ``/etc/x`` is corrupt)."""
    if not isinstance(path, str) or not path or path.startswith(("/", "\\")) or ":" in path[:2]:
        raise ValueError(path)
    if any(part in ("..", "") for part in path.replace("\\", "/").split("/")):
        raise ValueError(path)
    return path


def _blob(data: Any) -> Blob:
    if not isinstance(data, dict) or not _HEX64.fullmatch(str(data.get("sha256", ""))):
        raise ValueError("blob")
    inline = None
    if "inline" in data:
        import base64
        import binascii

        try:
            inline = base64.b64decode(str(data["inline"]), validate=True)
        except binascii.Error:
            raise ValueError("inline") from None
        if hashlib.sha256(inline).hexdigest() != data["sha256"]:
            raise ValueError("inline content does not match its hash")
    return Blob(str(data["sha256"]), int(data["mode"]) & 0o777, int(data["size"]), inline)


def load_unchecked(raw: bytes) -> list[str]:
    """The blob hashes a manifest names, without checking key or signature (for eviction)."""
    try:
        data = json.loads(raw)
        blobs = [*dict(data["outputs"]).values(), data["stdout"], data["stderr"]]
        stored = [str(b["sha256"]) for b in blobs if "inline" not in b]
    except (ValueError, KeyError, TypeError, RecursionError, AttributeError):
        raise BadEntry("corrupt entry") from None
    if not all(_HEX64.fullmatch(sha) for sha in stored):
        raise BadEntry("corrupt entry")
    return stored
