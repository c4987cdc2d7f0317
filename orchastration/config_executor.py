"""Validation of ``[executor]`` and of the jobs' placement keys (``resources``, ``local``, ``retries``).

Called by ``config_schema.parse_config`` once the jobs are read; errors name the file and key path
like every other config error (docs/distributed.md lists the keys).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchastration.config_model import ExecutorConfig, Placement

EXECUTOR_KINDS = ("local", "dask")
EXECUTOR_KEYS = ("kind", "address", "fs_latency_seconds")
PLACEMENT_KEYS = ("resources", "local", "retries")


def executor_fields(reader: Any, data: Mapping[str, Any]) -> dict[str, Any]:
    """``executor`` and ``placement`` for ``Config``, from the raw TOML (``reader``: the schema's
    ``_Reader``, which names the file in its errors)."""
    r = reader
    tbl = r.table(data.get("executor", {}), "executor", EXECUTOR_KEYS)
    executor = ExecutorConfig(
        kind=r.get(tbl, "executor", "kind", r.choice(EXECUTOR_KINDS), "local"),
        address=r.get(tbl, "executor", "address", r.nonempty_string, "").strip(),
        fs_latency_seconds=r.get(tbl, "executor", "fs_latency_seconds", r.seconds, 5.0),
    )
    placement = {}
    for name, job in sorted(data.get("jobs", {}).items()):
        if any(k in job for k in PLACEMENT_KEYS):
            placement[name] = _placement(r, f"jobs.{name}", job)
    return {"executor": executor, "placement": placement}


def _placement(r: Any, key: str, job: Mapping[str, Any]) -> Placement:
    return Placement(
        resources=r.get(job, key, "resources", lambda v, k: _resources(r, v, k), {}),
        local=r.get(job, key, "local", r.boolean, False),
        retries=r.get(job, key, "retries", lambda v, k: _count(r, v, k), 0),
    )


def _resources(r: Any, value: Any, key: str) -> dict[str, float]:
    """``{ GPU = 1, MEMORY = 8e9 }``: names of dask worker resources and positive amounts."""
    tbl = r.table(value, key)
    out: dict[str, float] = {}
    for name, amount in tbl.items():
        if not name.strip():
            raise r.fail(f"{key}.{name}", "resource names must not be empty")
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not amount > 0:
            raise r.fail(f"{key}.{name}", f"expected a positive number, got {amount!r}")
        out[name] = float(amount)
    return out


def _count(r: Any, value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise r.fail(key, f"expected 0 or a positive integer, got {value!r}")
    return value
