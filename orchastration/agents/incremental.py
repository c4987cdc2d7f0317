"""Up-to-date checks for agent stages: fingerprints compared with what doit saved at the last success."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchastration.agents.base import AgentResult, Fingerprint
from orchastration.patterns import expand_inputs, output_paths

if TYPE_CHECKING:
    from orchastration.config import TaskConfig

MISSING = "missing"
# Context keys that differ on every run without saying anything new (a log file's path): left out of
# the context an up-to-date check compares.
VOLATILE_KEYS = ("review.log",)


def digest(value: Any) -> str:
    """A stable hash of a JSON-like value."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def context_digest(context: Any) -> str:
    """``digest`` of a context, without its ``VOLATILE_KEYS``."""
    if isinstance(context, Mapping):
        context = {k: v for k, v in context.items() if k not in VOLATILE_KEYS}
    return digest(context)


def hash_files(paths: Iterable[Path], algorithm: str = "sha256") -> dict[str, str]:
    """``{absolute path: content hash}``; a missing or unreadable file hashes as ``missing``."""
    from orchastration.errors import InputError
    from orchastration.hashing import hash_file

    out: dict[str, str] = {}
    for path in paths:
        try:
            out[str(path)] = hash_file(path, algorithm)
        except InputError:
            out[str(path)] = MISSING
    return out


def task_inputs(task: TaskConfig) -> list[Path]:
    """The files a task's ``inputs`` name, as for its build (``orchastration.patterns``): its own
    outputs are never its inputs."""
    own = set(output_paths(task.working_dir, task.outputs))
    return [Path(p) for p in expand_inputs(task.working_dir, task.inputs, exclude=own)]


def saved_values(fp: Fingerprint, result: AgentResult, algorithm: str) -> dict[str, Any]:
    """What doit stores for a successful agent: the fingerprint digests, its updates and produced files."""
    return {
        "agent": digest(fp.agent),
        "context": context_digest(fp.context),
        "files": dict(fp.files),
        "updates": result.updates,
        "produced": hash_files((Path(p) for p in result.produced), algorithm),
    }


def stale_reasons(fp: Fingerprint, values: Mapping[str, Any] | None, algorithm: str) -> list[str]:
    """Why the agent must run (empty: up to date)."""
    if fp.always_run:
        return [fp.always_run]
    if not values or "agent" not in values:
        return ["never run"]
    reasons: list[str] = []
    if values.get("agent") != digest(fp.agent):
        reasons.append("agent changed")
    if values.get("context") != context_digest(fp.context):
        reasons.append("context changed")
    old_files = values.get("files") or {}
    for path, value in fp.files.items():
        if old_files.get(path) != value:
            reasons.append(f"input changed: {path}" if value != MISSING else f"input missing: {path}")
    reasons.extend(f"input removed: {path}" for path in old_files if path not in fp.files)
    produced = values.get("produced") or {}
    current = hash_files((Path(p) for p in produced), algorithm)
    for path, value in produced.items():
        if current[path] == MISSING:
            reasons.append(f"output missing: {path}")
        elif current[path] != value:
            reasons.append(f"output changed: {path}")
    return reasons
