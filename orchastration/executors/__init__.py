"""Where jobs' commands run: the choice of executor (``[executor]``, ``--executor``, ``--address``,
``$ORCHASTRATION_DASK_ADDRESS``), opening it for one run, and the jobs' ``retries``.

``local`` is the engine's ``LocalExecutor``; ``dask`` submits each command to a dask cluster
(``executors/dask_executor.py``; docs/distributed.md). Nothing here imports dask until a run asks
for it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from orchastration.executors.choice import ClusterError, ExecutorChoice

if TYPE_CHECKING:
    from orchastration.config import Config, Placement
    from orchastration.engine.runner import Executor, Launch
    from orchastration.engine.units import Unit
    from orchastration.process import ProcessResult

ADDRESS_ENV = "ORCHASTRATION_DASK_ADDRESS"
__all__ = ["ADDRESS_ENV", "ClusterError", "ExecutorChoice", "Retrying", "choose", "opened", "run_closure"]


def choose(
    config: Config, environ: Mapping[str, str], kind: str | None = None, address: str | None = None
) -> ExecutorChoice:
    """``--executor`` / ``--address`` over ``$ORCHASTRATION_DASK_ADDRESS`` over ``[executor]``; an
    address alone (flag or variable) does not switch a local project to dask."""
    cfg = config.executor
    chosen = kind or cfg.kind
    addr = address or environ.get(ADDRESS_ENV, "").strip() or cfg.address
    if chosen == "dask" and not addr:
        raise ClusterError(
            f"the dask executor needs a scheduler address: --address, ${ADDRESS_ENV} or executor.address"
            f" in {config.display_path}"
        )
    return ExecutorChoice(chosen, addr, cfg.fs_latency_seconds)


@contextlib.contextmanager
def opened(
    choice: ExecutorChoice,
    units: Iterable[Unit],
    placement: Mapping[str, Placement],
    parallel: int | None,
) -> Iterator[tuple[Executor, int]]:
    """The executor for a run of ``units`` and how many to run at once (``parallel``, or by default
    1 locally and the cluster's worker threads on dask). The dask cluster is connected and checked
    (workers, the working dirs they see, the resources jobs ask for) before anything runs."""
    from orchastration.engine.runner import LOCAL

    retries = {name: p.retries for name, p in placement.items() if p.retries}
    if choice.kind != "dask":
        yield _retrying(LOCAL, retries), parallel or 1
        return
    from orchastration.executors.dask_executor import connect

    with connect(choice, list(units), placement) as executor:
        yield _retrying(executor, retries), parallel or executor.threads


def run_closure(units: Iterable[Unit], targets: Sequence[str]) -> list[Unit]:
    """The units a run of ``targets`` may run: them and what they depend on (declared or by file)."""
    from orchastration.engine.units import closure, index, literal_producers

    table = index(units)
    return [table[name] for name in closure(table, targets, literal_producers(table))]


def _retrying(executor: Executor, retries: Mapping[str, int]) -> Executor:
    return Retrying(executor, retries) if retries else executor


class Retrying:
    """Runs a job again after a failed or timed-out attempt (a lost worker included), up to its
    ``retries``; never after an interrupt. The log files hold the last attempt; the record says how
    many attempts it took."""

    def __init__(self, inner: Executor, retries: Mapping[str, int]) -> None:
        self.inner, self.retries = inner, retries

    def run(self, unit: Unit, launch: Launch) -> ProcessResult:
        """``inner.run`` until an attempt ends other than failed or timed out, or none are left."""
        left = self.retries.get(unit.name, 0)
        failures: list[str] = []
        while True:
            result = self.inner.run(unit, launch)
            if result.status not in ("failed", "timeout") or left <= 0:
                break
            if launch.cancel is not None and launch.cancel.is_set():
                break
            failures.append(result.message or result.status)
            left -= 1
        if not failures:
            return result
        said = "; ".join(f"attempt {i}: {m}" for i, m in enumerate(failures, 1))
        warning = f"{said}{'; ' + result.warning if result.warning else ''}"
        return replace(result, warning=warning, record_fields={**result.record_fields, "attempts": len(failures) + 1})
