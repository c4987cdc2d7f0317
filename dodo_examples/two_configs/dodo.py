"""doit-native dodo.py loading jobs from two orchastration configs (docs/ and site/), with a group task.

Each config's relative paths resolve against its own folder, so docs/ jobs run in docs/ and site/ jobs
in site/. Run records go to ./.orchastration-state (the loader's state_dir), not the user's state dir.

    doit list          every job of both configs, and `all`
    doit               runs `all` (the default task): every job, dependencies first
    doit info site_check
"""

from pathlib import Path

from orchastration.dodo import doit_tasks

HERE = Path(__file__).parent
CONFIGS = [HERE / "docs" / "orchastration.toml", HERE / "site" / "orchastration.toml"]
STATE_DIR = HERE / ".orchastration-state"

DOIT_CONFIG = {"dep_file": ".doit.db", "default_tasks": ["all"], "verbosity": 2}


def _jobs():
    for config in CONFIGS:
        yield from doit_tasks(config, state_dir=STATE_DIR)


def task_jobs():
    """The jobs of both configs (job names must not collide across them)."""
    yield from _jobs()


def task_all():
    """Every job of both configs."""
    return {"actions": None, "task_dep": sorted(task["basename"] for task in _jobs())}
