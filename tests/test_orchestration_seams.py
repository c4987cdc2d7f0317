"""Agents read inputs as jobs do (orchastration.patterns), and start commands in the environment
the CLI was given, not the process's own."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conftest import Result
from jobs_helpers import write
from reliability.common import isolated_env

from orchastration.cli import main

PY = sys.executable.replace("\\", "/")  # a TOML basic string on Windows too


def run_in_process(tmp_path: Path, environ: dict[str, str], *argv: str) -> Result:
    out, err = io.StringIO(), io.StringIO()
    config, state = str(tmp_path / "orchastration.toml"), str(tmp_path / "state")
    argv = ("--config", config, "--state-dir", state, *argv)
    code = main(list(argv), stdout=out, stderr=err, environ=environ, cwd=tmp_path)
    return Result(code, out.getvalue(), err.getvalue())


def record(result: Result) -> dict[str, Any]:
    data = json.loads(Path(result.lines[-1].split("record=", 1)[1]).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


INPUTS = """
[tasks.t]
working_dir = "proj"
command = ["{py}", "-c", "pass"]
inputs = ["src", "notes/*.txt"]

[agents.Lint]
command = ["{py}", "-c", "print('linted')"]
pure = true  # it edits nothing: skippable without declared outputs

[orchestrations.lint]
agents = ["Lint"]
"""


def lint_project(tmp_path: Path) -> Callable[[], str]:
    """The project of ``INPUTS``; returns a call that runs the orchestration and gives Lint's status."""
    write(tmp_path / "orchastration.toml", INPUTS.replace("{py}", PY))
    proj = tmp_path / "proj"
    write(proj / "src" / "pkg" / "a.py", "v1")
    write(proj / "notes" / "a.txt", "v1")
    write(proj / "notes" / ".hidden.txt", "v1")
    env = isolated_env(tmp_path)

    def lint_status() -> str:
        res = run_in_process(tmp_path, env, "orchestration", "run", "lint", "--task", "t")
        assert res.code == 0, (res.out, res.err)
        line = next(line for line in res.lines if line.startswith("agent=Lint "))
        return dict(part.split("=", 1) for part in line.split())["status"]

    return lint_status


def test_a_directory_input_means_every_file_under_it(tmp_path: Path) -> None:
    lint_status = lint_project(tmp_path)
    assert lint_status() == "success"
    assert lint_status() == "skipped"
    write(tmp_path / "proj" / "src" / "pkg" / "a.py", "v2")  # an edit deep inside it: the stage runs again
    assert lint_status() == "success"
    assert lint_status() == "skipped"
    write(tmp_path / "proj" / "src" / "pkg" / "new.py", "new")
    assert lint_status() == "success"


def test_a_star_glob_input_skips_hidden_files(tmp_path: Path) -> None:
    lint_status = lint_project(tmp_path)
    assert lint_status() == "success"
    write(tmp_path / "proj" / "notes" / ".hidden.txt", "v2")  # `*.txt` does not match it, as with glob and jobs
    assert lint_status() == "skipped"
    write(tmp_path / "proj" / "notes" / "a.txt", "v2")
    assert lint_status() == "success"


ENVIRON = """
[tasks.marked]
working_dir = "proj"
command = ["{py}", "-c", "pass"]
review_command = ["{py}", "-c", "import os, sys; sys.exit(0 if os.environ.get('MARKER') == '{marker}' else 5)"]

[agents.Marker]
command = ["{py}", "-c", "import os; print(os.environ.get('MARKER', '(unset)'))"]
output_key = "marker"

[orchestrations.marked]
agents = ["PlannerAgent", "Marker", "ReviewerAgent"]
"""


def test_agents_start_commands_in_the_injected_environment(tmp_path: Path) -> None:
    marker = f"injected-{os.getpid()}-{tmp_path.name}"
    assert os.environ.get("MARKER") != marker  # only the environ given to main() has it
    write(tmp_path / "orchastration.toml", ENVIRON.replace("{py}", PY).replace("{marker}", marker))
    (tmp_path / "proj").mkdir()
    env = {**isolated_env(tmp_path), "PATH": os.environ["PATH"], "MARKER": marker}
    res = run_in_process(tmp_path, env, "orchestration", "run", "marked")
    assert res.code == 0, (res.out, res.err)
    state = tmp_path / "state"
    assert res.lines[-1].startswith(f"orchestration=marked status=success record={state}"), res.out
    data = record(res)
    assert data["status"] == "success"
    assert [(a["name"], a["status"]) for a in data["agents"]] == [
        ("PlannerAgent", "success"),
        ("Marker", "success"),
        ("ReviewerAgent", "success"),
    ]
    assert data["context"]["marker"] == marker  # the command agent saw it
    # The Reviewer's review_command saw it too (it exits 5 otherwise).
    assert data["context"]["review.report"] == "no outputs to review; review_command passed"
