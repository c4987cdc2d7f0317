"""``run`` and ``build run`` through ``cli.main`` in-process: the injected environment reaches every child."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

from conftest import Result

from orchastration.cli import main

PY = sys.executable.replace("\\", "/")
MARKER = "injected-7f3a"  # a value os.environ does not hold: only main(environ=...) can deliver it

CONFIG = """
[jobs.stamp]
command = ["{py}", "-c", "import os; open('stamp.txt', 'w').write(os.environ['MARKER'] + open('in.txt').read())"]
inputs = ["in.txt"]
outputs = ["stamp.txt"]

[jobs.shout]
command = "printf '%s' \\"$MARKER\\" > shout.txt"
shell = true
outputs = ["shout.txt"]
depends_on = ["stamp"]

[tasks.site]
command = ["{py}", "-c", "import os, pathlib; pathlib.Path('site.txt').write_text(os.environ['MARKER'])"]
outputs = ["site.txt"]
"""


def call(tmp_path: Path, env: dict[str, str], *argv: str) -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--state-dir", str(tmp_path / "state"), *argv], stdout=out, stderr=err, environ=env, cwd=tmp_path)
    return Result(code, out.getvalue(), err.getvalue())


def project(tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    assert "MARKER" not in os.environ
    (tmp_path / "orchastration.toml").write_text(CONFIG.format(py=PY))
    (tmp_path / "in.txt").write_text("-v1")
    return {**env, "MARKER": MARKER}


def test_run_in_process_uses_the_injected_environment(tmp_path: Path, env: dict[str, str]) -> None:
    environ = project(tmp_path, env)
    first = call(tmp_path, environ, "run")
    assert first.code == 0, first.err
    assert [line.split(" exit=")[0] for line in first.lines] == ["job=stamp status=ran", "job=shout status=ran"]
    assert (tmp_path / "stamp.txt").read_text() == MARKER + "-v1"
    assert (tmp_path / "shout.txt").read_text() == MARKER
    record = json.loads((tmp_path / "state" / "runs" / "stamp" / "last.json").read_text())
    assert record["status"] == "ran" and record["program"] == sys.executable
    # Unchanged: answered in-process by the up-to-date summary, before the parser.
    again = call(tmp_path, environ, "run")
    assert (again.code, again.lines) == (0, ["job=stamp status=skipped exit=0 duration_ms=0",
                                             "job=shout status=skipped exit=0 duration_ms=0"])  # fmt: skip
    # An edited input reruns its job and what depends on it, in the same environment.
    (tmp_path / "in.txt").write_text("-v2")
    third = call(tmp_path, environ, "run", "-j", "2")
    assert third.code == 0, third.err
    assert (tmp_path / "stamp.txt").read_text() == MARKER + "-v2"
    assert sorted(line.split(" exit=")[0] for line in third.lines) == ["job=shout status=ran", "job=stamp status=ran"]


def test_a_job_fails_without_the_injected_variable(tmp_path: Path, env: dict[str, str]) -> None:
    project(tmp_path, env)
    res = call(tmp_path, env, "run", "stamp")  # env without MARKER: the child must not see one
    assert res.code == 1
    assert res.lines[0].startswith("job=stamp status=failed exit=1")
    assert (
        "KeyError: 'MARKER'"
        in (tmp_path / "state" / "runs" / "stamp")
        .joinpath(
            json.loads((tmp_path / "state" / "runs" / "stamp" / "last.json").read_text())["run_id"] + ".stderr.log"
        )
        .read_text()
    )


def test_build_run_in_process_uses_the_injected_environment(tmp_path: Path, env: dict[str, str]) -> None:
    environ = project(tmp_path, env)
    res = call(tmp_path, environ, "build", "run", "site")
    assert (res.code, res.lines) == (0, ["task=site exit=0 status=done"]), res.err
    assert (tmp_path / "site.txt").read_text() == MARKER
