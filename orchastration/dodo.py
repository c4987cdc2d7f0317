"""Public loader for doit-native ``dodo.py`` files: the jobs of an orchastration config as doit task dicts.

    # dodo.py
    from orchastration.dodo import doit_tasks

    def task_jobs():
        yield from doit_tasks("orchastration.toml")   # `doit list` shows every job by name

Each dict has ``basename`` = job name, so the jobs are top-level doit tasks (``doit build``).
The action runs the job through the engine's unit runner and writes the same run records as
``orchastration run``; up-to-date checks are doit's own (its checker and database, from the
dodo's ``DOIT_CONFIG``), plus a ``config_changed`` on the command, env and working_dir.
This module sits above ``jobs`` (it loads a config's jobs); the engine never imports it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchastration.engine.units import Unit


def unit_task(unit: Unit, algorithm: str, environ: Mapping[str, str]) -> dict[str, Any]:
    """One unit as a doit task dict; its action runs in the foreground (output to this process's
    stdout/stderr) and records the run."""
    from orchastration.engine.doit_adapter import dodo_task
    from orchastration.engine.runner import UnitRunner, run_unit
    from orchastration.engine.units import expand_inputs

    inputs = expand_inputs(unit)

    def action() -> str | None:
        runner = UnitRunner(algorithm, environ, console=sys.stdout, err_console=sys.stderr)
        run = run_unit(runner, unit, inputs, reasons=("doit",))
        return None if run.values is not None else (run.result.message or run.result.status)

    return dodo_task(
        unit.name,
        action,
        file_dep=inputs,
        targets=unit.abs_outputs,
        task_dep=unit.depends_on,
        config=None if unit.always_run else unit.signature,
    )


def doit_tasks(
    config_path: str | os.PathLike[str],
    *,
    state_dir: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Iterator[dict[str, Any]]:
    """doit task dicts (``basename`` = job name) for every job in ``config_path``; records go to
    ``state_dir`` (default: ``$ORCHASTRATION_STATE_DIR`` or the config file's own state dir, as for
    ``orchastration run``). ``environ``: what the
    jobs inherit and where the state dir is looked up (default: this process's environment)."""
    from orchastration.config import load_config
    from orchastration.jobs import job_units
    from orchastration.paths import Paths

    env = os.environ if environ is None else environ  # an entry point, like the CLI's main()
    config = load_config(config_path, environ=env)
    paths = Paths.resolve(state_dir, env, config_file=config.path)  # the state dir `orchastration run` uses
    for unit in job_units(config, paths):
        task = unit_task(unit, config.hash.algorithm, env)
        if config.jobs[unit.name].description:
            task["doc"] = config.jobs[unit.name].description
        yield task
