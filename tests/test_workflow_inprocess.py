"""``plan create``, ``build run``, ``doc generate`` through ``cli.main`` in-process: real config, files, engine."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

from conftest import Result

from orchastration.cli import main

PY = sys.executable.replace("\\", "/")

CONFIG = """
[tasks.site]
description = "Build the site"
working_dir = "repo"
command = ["{py}", "-c", "import pathlib; pathlib.Path('site.txt').write_text('hello'); print('built site')"]
inputs = ["in.txt"]
outputs = ["site.txt"]

[tasks.broken]
working_dir = "repo"
command = ["{py}", "-c", "import sys; sys.exit(3)"]
"""


def call(tmp_path: Path, env: dict[str, str], *argv: str) -> Result:
    """``orchastration --config C --state-dir S ARGV...`` in this process, streams captured."""
    out, err = io.StringIO(), io.StringIO()
    config, state = tmp_path / "orchastration.toml", tmp_path / "state"
    code = main(["--config", str(config), "--state-dir", str(state), *argv],
                stdout=out, stderr=err, environ=env, cwd=tmp_path)  # fmt: skip
    return Result(code, out.getvalue(), err.getvalue())


def setup(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "in.txt").write_text("v1")
    (tmp_path / "orchastration.toml").write_text(CONFIG.format(py=PY))
    return repo


def record_of(tmp_path: Path, name: str) -> dict[str, object]:
    data = json.loads((tmp_path / "state" / "tasks" / f"{name}.json").read_text())
    assert isinstance(data, dict)
    return data


def test_build_run_in_process(tmp_path: Path, env: dict[str, str]) -> None:
    repo = setup(tmp_path)
    built = call(tmp_path, env, "build", "run", "site")
    assert built.code == 0, built.err
    assert built.lines == ["built site", "task=site exit=0 status=done"]
    assert (repo / "site.txt").read_text() == "hello"
    record = record_of(tmp_path, "site")
    assert record["status"] == "done" and record["name"] == "site"
    build = record["last_build"]
    assert isinstance(build, dict)
    assert (build["exit_code"], build["status"], build["message"]) == (0, "done", "")
    assert Path(str(build["record"])).is_file()

    again = call(tmp_path, env, "build", "run", "site")
    assert (again.code, again.out) == (0, "task=site status=up-to-date\n")
    assert record_of(tmp_path, "site")["last_build"] == build  # an up-to-date build keeps the last real one
    runs = sorted((tmp_path / "state" / "runs" / "site").glob("2*.json"))
    skipped = json.loads(runs[-1].read_text())
    assert {k: skipped[k] for k in ("action", "status", "exit_code", "skipped")} == {
        "action": "build.run", "status": "up-to-date", "exit_code": 0, "skipped": True,
    }  # fmt: skip

    failed = call(tmp_path, env, "build", "run", "broken")
    assert (failed.code, failed.out) == (1, "task=broken exit=3 status=failed\n")
    broken = record_of(tmp_path, "broken")
    assert broken["status"] == "failed"
    assert isinstance(broken["last_build"], dict) and broken["last_build"]["status"] == "failed"


def test_plan_create_and_doc_generate_in_process(tmp_path: Path, env: dict[str, str]) -> None:
    repo = setup(tmp_path)
    created = call(tmp_path, env, "plan", "create", "site")
    assert (created.code, created.out) == (0, "task=site status=planned\n")
    assert record_of(tmp_path, "site")["status"] == "planned"
    documented = call(tmp_path, env, "doc", "generate", "site")
    doc = repo / "docs" / "tasks" / "site.md"
    assert (documented.code, documented.out) == (0, f"task=site status=planned doc={doc.absolute()}\n")
    assert "site" in doc.read_text()
    assert "<!-- orchastration:task:site:begin -->" in (repo / "README.md").read_text()
    last_doc = record_of(tmp_path, "site")["last_doc"]
    assert isinstance(last_doc, dict) and last_doc["doc_path"] == str(doc.absolute())


def test_build_status_and_exit_code_of_each_way_a_command_ends(tmp_path: Path) -> None:
    """An interrupted command is recorded failed but ``build run`` exits 130; up to date is done, exit 0."""
    from datetime import UTC, datetime

    from orchastration.engine.units import UnitResult
    from orchastration.outcomes import BuildStatus, exit_code_for
    from orchastration.workflow.build import last_build, task_status

    now = datetime.now(UTC)
    cases = [
        (UnitResult("t", "ran", 0, 5, None, (), ""), BuildStatus.DONE, "done", 0),
        (UnitResult("t", "failed", 3, 5, None, (), ""), BuildStatus.FAILED, "failed", 1),
        (UnitResult("t", "timeout", -1, 5, None, (), "timed out"), BuildStatus.FAILED, "failed", 1),
        (UnitResult("t", "interrupted", 130, 5, None, (), "interrupted"), BuildStatus.INTERRUPTED, "failed", 130),
        (UnitResult("t", "skipped", 0, 0, None, (), ""), BuildStatus.UP_TO_DATE, "done", 0),
    ]
    for unit, build, task, code in cases:
        status, entry = last_build(unit, now, now)
        assert (status, task_status(status), exit_code_for([status])) == (build, task, code), unit
        assert entry["status"] == ("up-to-date" if unit.status == "skipped" else task)
