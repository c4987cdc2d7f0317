"""One attempt of a command agent: its process watched for silence (``idle_timeout_seconds``), and its
result read as text or as a coding agent's JSON result (``result_format = "json"``).

docs/orchestrations.md, "Coding agents": stdin is the prompt or closed, never the terminal; no output for
``idle_timeout_seconds`` kills the tree; the last stdout line that parses as a JSON object is the result.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import IO, Any

JSON_TAIL_BYTES = 4 << 20  # where the JSON result line is looked for: the end of stdout


class Activity:
    """A console stand-in that notes when output last came (and forwards it, prefixed line by line)."""

    def __init__(self, console: IO[str] | None, prefix: str) -> None:
        self.console, self.prefix = console, prefix
        self.last = time.monotonic()
        self.partial = ""
        self.lock = threading.Lock()

    def write(self, text: str) -> int:
        """Note the output; forward whole lines to the console."""
        self.last = time.monotonic()
        if self.console is None or not text:
            return len(text)
        with self.lock:
            text = self.partial + text
            cut = text.rfind("\n") + 1
            self.partial = text[cut:]
            if cut:
                self.console.write("".join(self.prefix + line + "\n" for line in text[:cut].splitlines()))
                self.console.flush()
        return len(text)

    def flush(self) -> None:
        """Nothing buffered beyond a partial line."""


class IdleWatch(threading.Event):
    """The ``cancel`` a run polls: set by the run's own cancel, or by ``idle`` seconds of silence on
    every stream (``fired`` then says it was the silence)."""

    def __init__(self, outer: threading.Event, idle: float, streams: list[Activity]) -> None:
        super().__init__()
        self.outer, self.idle, self.streams = outer, idle, streams
        self.fired = False

    def is_set(self) -> bool:
        """True once the run is cancelled or has been silent for ``idle`` seconds."""
        if self.outer.is_set():
            return True
        if self.idle > 0 and time.monotonic() - max(s.last for s in self.streams) >= self.idle:
            self.fired = True
            return True
        return False


def last_json_object(path: Path) -> dict[str, Any] | None:
    """The last line of the file (its final ``JSON_TAIL_BYTES``) that parses as a JSON object."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - JSON_TAIL_BYTES))
            data = fh.read()
    except OSError:
        return None
    for raw in reversed(data.decode("utf-8", errors="replace").splitlines()):
        line = raw.strip()
        if not line.startswith("{"):
            continue
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict):
            return value
    return None


def json_details(obj: dict[str, Any]) -> dict[str, Any]:
    """What a coding agent's JSON result says about the call, for the agent's record: ``cost_usd``,
    ``tokens`` (``input_tokens``, ``output_tokens``), ``session_id``, ``num_turns``."""
    details: dict[str, Any] = {}
    cost = obj.get("total_cost_usd", obj.get("cost_usd"))
    if isinstance(cost, (int, float)) and not isinstance(cost, bool) and cost >= 0:
        details["cost_usd"] = float(cost)
    usage = obj.get("usage")
    if isinstance(usage, dict):
        tokens = {k: usage[k] for k in ("input_tokens", "output_tokens") if isinstance(usage.get(k), int)}
        if tokens:
            details["tokens"] = tokens
    for key in ("session_id", "num_turns"):
        if isinstance(obj.get(key), (str, int)) and not isinstance(obj.get(key), bool):
            details[key] = obj[key]
    return details


def json_result(obj: dict[str, Any]) -> Any:
    """What goes under ``output_key``: the object's ``result``, else the whole object."""
    return obj.get("result", obj)


def add_costs(total: dict[str, Any], details: dict[str, Any]) -> None:
    """Add one call's ``cost_usd`` and ``tokens`` to ``total``."""
    if "cost_usd" in details:
        total["cost_usd"] = round(total.get("cost_usd", 0.0) + details["cost_usd"], 10)
    for key, value in (details.get("tokens") or {}).items():
        tokens = total.setdefault("tokens", {})
        tokens[key] = tokens.get(key, 0) + value
