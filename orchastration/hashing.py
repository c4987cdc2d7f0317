"""File hashing (streaming, constant memory) and ``sha256sum``-style manifest checks."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from orchastration.config import HASH_ALGORITHMS
from orchastration.dataclass_code import dataclass
from orchastration.errors import InputError, UsageError
from orchastration.outcomes import CheckStatus

BLOCK_SIZE = 1 << 20  # 1 MiB reads: large enough for full disk throughput, constant memory

# Hex length -> algorithms that produce it, preferred first (what *sum tools write).
_BY_LENGTH = {32: ("md5",), 40: ("sha1",), 64: ("sha256", "sha3_256"), 128: ("sha512", "blake2b")}


def normalize_algorithm(name: str, source: str = "--algo") -> str:
    """Lower-case and check an algorithm name; the error names where it came from."""
    algo = name.strip().lower().replace("-", "_")
    if algo == "sha3-256":
        algo = "sha3_256"
    if algo not in HASH_ALGORITHMS:
        raise UsageError(f"{source}: unsupported algorithm '{name}' (choose from {', '.join(HASH_ALGORITHMS)})")
    return algo


def hash_file(path: Path | str, algorithm: str = "sha256", size: int | None = None) -> str:
    """Hex digest of a file: read whole when it is under 1 MiB, else in 1 MiB blocks into one reused
    buffer. ``size``: its size from a stat the caller just made (saves one ``fstat``; a file that grew
    since is read on to its end). A run hashes thousands of small inputs, so the small case is one
    ``open``, one ``read`` and one ``close`` (no file object, no 1 MiB buffer to fill or to map)."""
    digest = hashlib.new(algorithm)
    try:
        fd = os.open(path, _READ_FLAGS)
        try:
            if size is None:
                size = os.fstat(fd).st_size
            if size < BLOCK_SIZE:
                data = os.read(fd, size + 1)  # one byte more: end of file seen in this one read
                digest.update(data)
                if len(data) <= size:  # else the file grew meanwhile: read on in blocks
                    return digest.hexdigest()
            with open(fd, "rb", buffering=0, closefd=False) as fh:
                buf = bytearray(BLOCK_SIZE)
                view = memoryview(buf)
                while n := fh.readinto(buf):
                    digest.update(view[:n])
        finally:
            os.close(fd)
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a file") from None
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return digest.hexdigest()


_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True)
class ManifestEntry:
    """One ``<hex>  <path>`` line of a manifest."""

    line: int
    expected: str
    path: str


@dataclass(frozen=True)
class CheckResult:
    """The verdict on one manifest entry."""

    path: str
    ok: bool
    detail: str = ""  # why it failed: "" (mismatch) or "open or read"

    @property
    def status(self) -> CheckStatus:
        """``OK`` or ``FAILED``, as the ``hash --check`` line says."""
        return CheckStatus.OK if self.ok else CheckStatus.FAILED


_LINE = re.compile(r"^(\\?)([0-9a-fA-F]+) ([ *])(.+)$")
_BSD_LINE = re.compile(r"^(\\?)([A-Za-z0-9-]+) \((.+)\) = ([0-9a-fA-F]+)$")


def _unescape(name: str) -> str:
    """Undo GNU coreutils' escaping of ``\\`` and newlines in names (lines starting with ``\\``)."""
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "\\": "\\", "r": "\r"}.get(m.group(1), m.group(0)), name)


def parse_manifest(manifest: Path) -> Iterator[ManifestEntry]:
    """Parse GNU (``<hex>  <path>``, ``<hex> *<path>``) and BSD tag (``SHA256 (path) = hex``) lines."""
    try:
        # A name that is not UTF-8 (sha256sum writes a file's name as its bytes) is kept as the
        # surrogate-escaped string os.fsdecode gives: opening it opens that very file.
        text = manifest.read_bytes().decode("utf-8", "surrogateescape")
    except FileNotFoundError:
        raise InputError(f"{manifest}: no such manifest file") from None
    except OSError as exc:
        raise InputError(f"{manifest}: cannot read manifest: {exc.strerror or exc}") from None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _LINE.match(line)
        if m:
            escaped, hexdigest, _mode, name = m.groups()
            yield ManifestEntry(number, hexdigest.lower(), _unescape(name) if escaped else name)
            continue
        b = _BSD_LINE.match(line)
        if b:
            escaped, _tag, name, hexdigest = b.groups()
            yield ManifestEntry(number, hexdigest.lower(), _unescape(name) if escaped else name)
            continue
        raise UsageError(f"{manifest}:{number}: improperly formatted checksum line")


def algorithm_for(hexdigest: str, preferred: str | None, where: str) -> str:
    """The algorithm for a digest: the one asked for, else inferred from its length."""
    candidates = _BY_LENGTH.get(len(hexdigest), ())
    if preferred:
        if hashlib.new(preferred).digest_size * 2 != len(hexdigest):
            raise UsageError(f"{where}: a {len(hexdigest)}-digit digest cannot be {preferred}")
        return preferred
    if not candidates:
        raise UsageError(f"{where}: a {len(hexdigest)}-digit digest matches no supported algorithm")
    return candidates[0]


def check_manifest(manifest: Path, algorithm: str | None = None) -> list[CheckResult]:
    """Verify every entry; relative paths resolve against the manifest's directory."""
    base = manifest.absolute().parent
    entries = list(parse_manifest(manifest))
    if not entries:
        raise UsageError(f"{manifest}: no checksum lines found")
    results = []
    for entry in entries:
        algo = algorithm_for(entry.expected, algorithm, f"{manifest}:{entry.line}")
        target = Path(entry.path)
        target = target if target.is_absolute() else base / target
        try:
            actual = hash_file(target, algo)
        except InputError:
            results.append(CheckResult(entry.path, False, "open or read"))
            continue
        results.append(CheckResult(entry.path, actual == entry.expected))
    return results
