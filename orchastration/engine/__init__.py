"""The engine: units (jobs, task builds) and orchestration stages run in-process by doit.

Importing this package is cheap: doit is imported only when a function that needs it is called
(``engine/doit_adapter.py`` is the one module that imports it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: the no-op ``run`` never imports typing
if TYPE_CHECKING:
    from typing import Any

    from orchastration.engine.units import PlanItem, Unit, UnitResult
    from orchastration.paths import Paths

__all__ = ["PlanItem", "Unit", "UnitResult", "forget", "plan", "run_units", "why"]


def __getattr__(name: str) -> Any:
    """``Unit``, ``UnitResult`` and ``PlanItem`` load on first use: the no-op ``run`` imports
    ``engine.fastpath`` without the units' dataclasses. ``doit_tasks`` is the old name of
    ``orchastration.dodo.doit_tasks`` (the engine itself never loads a config's jobs)."""
    if name in ("PlanItem", "Unit", "UnitResult"):
        from orchastration.engine import units

        return getattr(units, name)
    if name == "doit_tasks":  # where the dodo.py loader lived before 3.1: ``orchastration.dodo.doit_tasks``
        import importlib

        return importlib.import_module("orchastration.dodo").doit_tasks
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run_units(units: Iterable[Unit], targets: Sequence[str], **kw: Any) -> list[UnitResult]:
    """Run ``targets`` and their dependencies through doit (see ``engine.runs.run_units``)."""
    from orchastration.engine import runs

    return runs.run_units(units, targets, **kw)


def plan(units: Iterable[Unit], targets: Sequence[str], **kw: Any) -> list[PlanItem]:
    """What would run, in order, with reasons (see ``engine.runs.plan``)."""
    from orchastration.engine import runs

    return runs.plan(units, targets, **kw)


def why(units: Iterable[Unit], name: str, *, paths: Paths, hash_algorithm: str) -> list[str]:
    """Every reason ``name`` would run now, or ``[]`` when it is up to date."""
    from orchastration.engine import runs

    return runs.why(units, name, paths=paths, hash_algorithm=hash_algorithm)


def forget(names: Iterable[str] | None, *, paths: Paths) -> None:
    """Drop the up-to-date state of ``names`` (all when None)."""
    from orchastration.engine import runs

    runs.forget(names, paths=paths)
