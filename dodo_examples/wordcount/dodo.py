"""doit-native dodo.py: the jobs of ./orchastration.toml as doit tasks (`doit list`, `doit`, `doit info count`).

The jobs keep their orchastration behaviour (run records under the state dir, logs, timeouts) while doit
schedules them: `depends_on` becomes task_dep, inputs/outputs become file_dep/targets, so a second `doit`
skips what is up to date.
"""

from pathlib import Path

from orchastration.dodo import doit_tasks

CONFIG = Path(__file__).with_name("orchastration.toml")

# doit keeps its own up-to-date database beside this file.
DOIT_CONFIG = {"dep_file": ".doit.db", "verbosity": 2}


def task_jobs():
    """The configured jobs (each is a top-level doit task named after the job)."""
    yield from doit_tasks(CONFIG)
