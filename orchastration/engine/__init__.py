"""The engine: units (jobs, task builds) compiled into doit tasks and run in-process by doit.

Importing this package is cheap: doit is imported only when a function that needs it is called.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import os

    from orchastration.engine.units import PlanItem, Unit, UnitResult
    from orchastration.paths import Paths

__all__ = ["PlanItem", "Unit", "UnitResult", "doit_tasks", "forget", "plan", "run_units", "why"]


def __getattr__(name: str) -> Any:
    """``Unit``, ``UnitResult`` and ``PlanItem`` load on first use: the no-op ``run`` imports
    ``engine.fastpath`` without the units' dataclasses."""
    if name in ("PlanItem", "Unit", "UnitResult"):
        from orchastration.engine import units

        return getattr(units, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run_units(units: Iterable[Unit], targets: Sequence[str], **kw: Any) -> list[UnitResult]:
    """Run ``targets`` and their dependencies through doit (see ``doit_backend.run_units``)."""
    _light_doit()
    from orchastration.engine import doit_backend

    with _gc_restored():
        return doit_backend.run_units(units, targets, **kw)


def plan(units: Iterable[Unit], targets: Sequence[str], **kw: Any) -> list[PlanItem]:
    """What would run, in order, with reasons (see ``doit_backend.plan``)."""
    _light_doit()
    from orchastration.engine import doit_backend

    with _gc_restored():
        gc.disable()  # only loads and checks: no cycles worth collecting (see doit_backend.run_units)
        return doit_backend.plan(units, targets, **kw)


def why(units: Iterable[Unit], name: str, *, paths: Paths, hash_algorithm: str) -> list[str]:
    """Every reason ``name`` would run now, or ``[]`` when it is up to date."""
    _light_doit()
    from orchastration.engine import doit_backend

    return doit_backend.why(units, name, paths=paths, hash_algorithm=hash_algorithm)


def forget(names: Iterable[str] | None, *, paths: Paths) -> None:
    """Drop the up-to-date state of ``names`` (all when None)."""
    _light_doit()
    from orchastration.engine import doit_backend

    doit_backend.forget(names, paths=paths)


@contextlib.contextmanager
def _gc_restored() -> Iterator[None]:
    """Leave the cycle collector as found: the backend pauses and freezes around loading a run."""
    enabled = gc.isenabled()
    try:
        yield
    finally:
        gc.unfreeze()
        if enabled:
            gc.enable()


def _light_doit() -> None:
    """Before doit_backend loads: import only doit's engine modules, not its command line (see lightdoit)."""
    from orchastration.engine import lightdoit

    lightdoit.install()


def doit_tasks(config_path: str | os.PathLike[str], **kw: Any) -> Iterator[dict[str, Any]]:
    """doit task dicts (``basename`` = job name) for the jobs of a config file, for a ``dodo.py``."""
    from orchastration.engine import dodo

    tasks: Iterator[dict[str, Any]] = dodo.doit_tasks(config_path, **kw)
    return tasks
