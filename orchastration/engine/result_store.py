"""The result-store seam of the unit runner (``engine/runner.py``): whether a unit needs to run at all.
A ``ResultStore`` that already holds the result of this exact work restores it instead of running the
command (``NO_STORE``: none; the output cache, ``cache/store.py``, plugs in here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from orchastration.dataclass_code import dataclass

if TYPE_CHECKING:
    from orchastration.engine.runner import Launch
    from orchastration.engine.units import Unit
    from orchastration.engine.uptodate import HashCache
    from orchastration.process import ProcessResult


@dataclass(frozen=True)
class Restored:
    """A result a store restored: how that run ended, and where it came from (for the record)."""

    result: ProcessResult
    cache: Mapping[str, str]  # {"key": ..., "source": "local" | "remote"}


class ResultStore(Protocol):
    """Results of work done before, by content: a unit doit must run may be restored instead."""

    def restore(self, unit: Unit, inputs: Mapping[str, str | None], launch: Launch) -> Restored | None:
        """Restore the unit's outputs and logs for these inputs (and replay the logs); None: not held."""
        ...

    def find(self, unit: Unit, inputs: Mapping[str, str | None]) -> bool:
        """Whether ``restore`` with these inputs would find the unit's work (looked up now)."""
        ...

    def look_ahead(self, unit: Unit, inputs: Mapping[str, str | None]) -> bool:
        """Look the unit up ahead of its ``restore`` (another thread while a command runs, the
        first pass's look-ahead process, the first pass with ``-j``) where that is cheap (no round
        trip); True: its work was found. False may only mean "not found here": ``restore`` looks
        further."""
        ...

    def found(self, unit: Unit, stage_in: str | None = None) -> object:
        """What ``find`` found for the unit (picklable), for ``adopt`` in another process (None:
        nothing). ``stage_in``: a directory to write what a restore of it would write into, ahead
        of it (the look-ahead process: the restore after ``adopt`` renames them into place)."""
        ...

    def adopt(self, unit: Unit, found: object) -> None:
        """Take what another process's ``find`` found for the unit, as if this store had looked it up."""
        ...

    def save(self, unit: Unit, record: Mapping[str, Any]) -> None:
        """Keep a successful run's outputs and logs (its record names them)."""
        ...

    def slow_save(self, unit: Unit, output_bytes: int, logs: Sequence[Path]) -> bool:
        """Whether ``save`` of a run with ``output_bytes`` of outputs and these log files may take
        long (large files, a shared store to push to): its bookkeeping is then left to the flusher's
        thread, never done while a command's output waits to be read (``Flusher.command_started``)."""
        ...

    def open(self, table: Mapping[str, Unit], inputs: Mapping[str, Sequence[str]], cache: HashCache) -> None:
        """A run begins: its units by name and their input files (a unit's key covers its dependencies')."""
        ...

    def close(self) -> None:
        """The run ended (keep statistics, evict past the size limit)."""
        ...


class NoStore:
    """The default result store: holds nothing, so every unit doit must run runs."""

    def restore(self, unit: Unit, inputs: Mapping[str, str | None], launch: Launch) -> Restored | None:
        """Nothing to restore."""
        return None

    def find(self, unit: Unit, inputs: Mapping[str, str | None]) -> bool:
        """Nothing held."""
        return False

    def look_ahead(self, unit: Unit, inputs: Mapping[str, str | None]) -> bool:
        """Nothing to look up."""
        return False

    def found(self, unit: Unit, stage_in: str | None = None) -> object:
        """Nothing looked up."""
        return None

    def adopt(self, unit: Unit, found: object) -> None:
        """Nothing to take."""

    def save(self, unit: Unit, record: Mapping[str, Any]) -> None:
        """Nothing kept."""

    def slow_save(self, unit: Unit, output_bytes: int, logs: Sequence[Path]) -> bool:
        """Nothing to keep."""
        return False

    def open(self, table: Mapping[str, Unit], inputs: Mapping[str, Sequence[str]], cache: HashCache) -> None:
        """Nothing to prepare."""

    def close(self) -> None:
        """Nothing to finish."""


NO_STORE = NoStore()
