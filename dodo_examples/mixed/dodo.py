"""doit-native dodo.py mixing hand-written doit tasks with jobs from ./orchastration.toml.

    version  (doit task)  writes build/version.txt
    compile  (job)        src/*.txt + build/version.txt -> build/app.txt
    package  (doit task)  build/app.txt -> build/app.zip

doit orders them by files: a task whose file_dep is another task's target runs after it.
"""

import zipfile
from pathlib import Path

from orchastration import __version__
from orchastration.dodo import doit_tasks

HERE = Path(__file__).parent
CONFIG = HERE / "orchastration.toml"
VERSION_FILE = HERE / "build" / "version.txt"
APP = HERE / "build" / "app.txt"
ARCHIVE = HERE / "build" / "app.zip"

DOIT_CONFIG = {"dep_file": ".doit.db", "default_tasks": ["package"], "verbosity": 2}


def write_version(targets):
    """A python-action: record the orchastration version the build used."""
    Path(targets[0]).parent.mkdir(parents=True, exist_ok=True)
    Path(targets[0]).write_text(f"built with orchastration {__version__}\n", encoding="utf-8")


def task_version():
    """Write build/version.txt (hand-written doit task)."""
    return {
        "actions": [write_version],
        "targets": [str(VERSION_FILE)],
        "uptodate": [lambda: VERSION_FILE.is_file() and __version__ in VERSION_FILE.read_text(encoding="utf-8")],
    }


def task_jobs():
    """The configured jobs. The loader only knows files other *jobs* produce, so compile's
    build/version.txt (made by the doit task above) is added to its file_dep here."""
    for task in doit_tasks(CONFIG):
        if task["basename"] == "compile" and str(VERSION_FILE) not in task["file_dep"]:
            task["file_dep"] = [*task["file_dep"], str(VERSION_FILE)]
        yield task


def zip_app(targets):
    """A python-action: archive the job's output."""
    with zipfile.ZipFile(targets[0], "w") as archive:
        archive.write(APP, "app.txt")


def task_package():
    """Zip build/app.txt, the output of the compile job (hand-written doit task)."""
    return {"actions": [zip_app], "file_dep": [str(APP)], "targets": [str(ARCHIVE)], "clean": True}
