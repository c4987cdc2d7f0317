"""What both executors' modules share: the choice of executor for a run, and the cluster's errors."""

from __future__ import annotations

from orchastration.dataclass_code import dataclass
from orchastration.errors import OrchastrationError


class ClusterError(OrchastrationError):
    """The cluster cannot run this project: unreachable, no workers, a working dir they do not see (exit 2)."""


@dataclass(frozen=True)
class ExecutorChoice:
    """The executor of one run: its kind, the scheduler's address, the output latency of its file system."""

    kind: str = "local"
    address: str = ""
    fs_latency_seconds: float = 5.0
