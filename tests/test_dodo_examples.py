"""dodo_examples/: each dodo.py run by plain `doit` (list, run, rerun, info, clean) in a temporary copy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from orchastration import __version__

EXAMPLES = Path(__file__).resolve().parent.parent / "dodo_examples"
BIN = Path(sys.executable).parent
DOIT = BIN / ("doit.exe" if os.name == "nt" else "doit")

Doit = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def example(tmp_path: Path, env: dict[str, str]) -> Callable[[str], tuple[Path, Doit]]:
    """Copy an example to a temp dir; return it and a runner of the venv's `doit` command there."""
    if not DOIT.exists():
        pytest.skip(f"no doit console script next to {sys.executable}")
    # `python` in the job commands is the interpreter of the environment doit runs in.
    run_env = {**env, "PATH": str(BIN) + os.pathsep + env.get("PATH", "")}

    def make(name: str) -> tuple[Path, Doit]:
        root = tmp_path / name
        shutil.copytree(EXAMPLES / name, root, ignore=shutil.ignore_patterns("build", ".doit.db*", ".orchastration-*"))

        def doit(*argv: str, code: int = 0) -> subprocess.CompletedProcess[str]:
            proc = subprocess.run([str(DOIT), *argv], cwd=root, env=run_env, capture_output=True, text=True,
                                  timeout=120)  # fmt: skip
            assert proc.returncode == code, f"doit {' '.join(argv)}:\n{proc.stdout}\n{proc.stderr}"
            return proc

        return root, doit

    return make


def task_lines(out: str) -> list[str]:
    """doit's reporter lines: `.  name` ran, `-- name` up to date."""
    return [line.strip() for line in out.splitlines() if line.startswith((".  ", "-- "))]


def test_every_example_is_tested() -> None:
    examples = sorted(p.parent.name for p in EXAMPLES.glob("*/dodo.py"))
    assert examples == ["mixed", "two_configs", "wordcount"]


def test_wordcount_jobs_run_incrementally(example: Callable[[str], tuple[Path, Doit]], state_dir: Path) -> None:
    root, doit = example("wordcount")
    listing = doit("list").stdout.splitlines()
    assert [line.split()[0] for line in listing] == ["count", "report"]
    assert "Count the words of every text file" in listing[0]
    first = doit()
    assert task_lines(first.stdout) == [".  count", ".  report"]
    assert "counted 2 files" in first.stdout
    assert (root / "build" / "report.md").read_text() == (
        "# Word counts\n\n- fox.txt: 9\n- hello.txt: 2\n\nTotal: 11\n"
    )
    assert task_lines(doit().stdout) == ["-- count", "-- report"]
    # A changed input reruns what depends on it, and only that.
    (root / "text" / "hello.txt").write_text("hello there world\n")
    assert task_lines(doit().stdout) == [".  count", ".  report"]
    assert "Total: 12" in (root / "build" / "report.md").read_text()
    info = doit("info", "report").stdout
    assert "status     : up-to-date" in info
    assert str(root / "build" / "counts.tsv") in info and "count" in info.split("task_dep")[1]
    # The loader's action writes orchastration's run records.
    record = json.loads((state_dir / "runs" / "count" / "last.json").read_text())
    assert record["job_name"] == "count" and record["exit_code"] == 0 and record["status"] == "ran"
    doit("clean")
    assert not (root / "build" / "report.md").exists()


def test_mixed_doit_tasks_and_jobs_run_in_file_order(example: Callable[[str], tuple[Path, Doit]]) -> None:
    root, doit = example("mixed")
    assert [line.split()[0] for line in doit("list").stdout.splitlines()] == ["compile", "package", "version"]
    first = doit()
    assert task_lines(first.stdout) == [".  version", ".  compile", ".  package"]
    app = (root / "build" / "app.txt").read_text()
    assert app == f"module a\n---\nmodule b\n---\nbuilt with orchastration {__version__}\n"
    with zipfile.ZipFile(root / "build" / "app.zip") as archive:
        assert archive.read("app.txt").decode() == app
    assert task_lines(doit().stdout) == ["-- version", "-- compile", "-- package"]
    (root / "src" / "c.txt").write_text("module c\n")
    assert task_lines(doit().stdout) == ["-- version", ".  compile", ".  package"]
    assert "module c" in (root / "build" / "app.txt").read_text()
    # A job's env is part of its up-to-date signature: changing it reruns the job.
    config = root / "orchastration.toml"
    config.write_text(config.read_text().replace('"---"', '"==="'))
    assert task_lines(doit().stdout) == ["-- version", ".  compile", ".  package"]
    assert "===" in (root / "build" / "app.txt").read_text()


def test_two_configs_run_in_their_own_folders(example: Callable[[str], tuple[Path, Doit]], state_dir: Path) -> None:
    root, doit = example("two_configs")
    names = [line.split()[0] for line in doit("list").stdout.splitlines()]
    assert names == ["all", "docs_index", "site_bundle", "site_check"]
    first = doit()
    # `all` has no action of its own: doit reports only the jobs it pulls in.
    assert sorted(task_lines(first.stdout)) == [".  docs_index", ".  site_bundle", ".  site_check"]
    assert (root / "docs" / "build" / "index.md").read_text() == (
        "# Index\n\n- [Reference](../pages/reference.md)\n- [Getting started](../pages/start.md)\n"
    )
    assert (root / "site" / "build" / "site.txt").read_text() == (
        "== contact.txt ==\nContact us.\n== home.txt ==\nWelcome!\n"
    )
    second = task_lines(doit().stdout)
    assert "-- docs_index" in second and "-- site_bundle" in second
    assert ".  site_check" in second  # always_run
    # Records go to the dodo's state_dir, not the environment's.
    assert (root / ".orchastration-state" / "runs" / "site_check" / "last.json").is_file()
    assert not (state_dir / "runs").exists()
    # `doit info` exits 1 for a task that would run, as an always_run job always would.
    info = doit("info", "site_check", code=1).stdout
    assert "status     : run" in info
    assert "site_bundle" in info.split("task_dep")[1]
