"""Public loader for doit-native ``dodo.py`` files: the jobs of an orchastration config as doit task dicts.

    # dodo.py
    from orchastration.engine import doit_tasks

    def task_jobs():
        yield from doit_tasks("orchastration.toml")   # `doit list` shows every job by name

Each dict has ``basename`` = job name, so the jobs are top-level doit tasks (``doit build``).
The action runs the job with orchastration's process runner and writes the same run records as
``orchastration run``; up-to-date checks are doit's own (its checker and database, from the
dodo's ``DOIT_CONFIG``), plus a ``config_changed`` on the command, env and working_dir.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from orchastration.engine.records import build_record, finish_run, run_command, start_run
from orchastration.engine.units import RAN, STATUS_OF_PROCESS, Unit, expand_inputs, output_paths, signature


def run_unit_action(unit: Unit, algorithm: str, inputs: list[str]) -> Any:
    """Run one unit in the foreground (output to this process's stdout/stderr) and record it."""
    from doit.exceptions import TaskFailed

    from orchastration.engine.uptodate import HashCache

    run_id, started = start_run(unit)
    res = run_command(unit, run_id, console=sys.stdout, err_console=sys.stderr)
    status = STATUS_OF_PROCESS[res.status]
    cache = HashCache(algorithm)
    record = build_record(
        unit,
        run_id=run_id,
        started=started,
        result=res,
        program=None,
        inputs={p: cache.hash(p) for p in inputs},
        outputs={p: cache.hash(p) for p in unit.abs_outputs},
        reasons=("doit",),
        algorithm=algorithm,
    )
    finish_run(unit, run_id, record)
    if status != RAN:
        return TaskFailed(f"job {unit.name}: {res.message or status}")
    return True


def unit_task(unit: Unit, algorithm: str) -> dict[str, Any]:
    """One unit as a doit task dict."""
    from doit.tools import config_changed

    inputs = expand_inputs(unit)
    uptodate: list[Any] = [False] if unit.always_run else [config_changed(signature(unit))]
    return {
        "basename": unit.name,
        "actions": [(run_unit_action, [unit, algorithm, inputs])],
        "file_dep": inputs,
        "targets": output_paths(unit),
        "task_dep": list(unit.depends_on),
        "uptodate": uptodate,
        "clean": True,
        "verbosity": 2,
        "io": {"capture": False},  # the action streams and logs itself: never hold output in memory
    }


def doit_tasks(
    config_path: str | os.PathLike[str],
    *,
    state_dir: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Iterator[dict[str, Any]]:
    """doit task dicts (``basename`` = job name) for every job in ``config_path``; records go to
    ``state_dir`` (default: ``$ORCHASTRATION_STATE_DIR`` or the OS state dir)."""
    from orchastration.config import load_config
    from orchastration.jobs import job_units
    from orchastration.paths import Paths

    env = os.environ if environ is None else environ
    config = load_config(config_path, env)
    paths = Paths.resolve(state_dir, env)
    units = job_units(config, paths)
    for unit in units:
        task = unit_task(unit, config.hash.algorithm)
        if config.jobs[unit.name].description:
            task["doc"] = config.jobs[unit.name].description
        yield task
