"""Pins of what the commands print, text and ``--json``, byte for byte (``cli/render.py`` builds them all)."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Result

PY = sys.executable.replace("\\", "/")

CONFIG = """
[tasks.site]
description = "Build the site"
working_dir = "."
command = ["{py}", "-c", "import pathlib; pathlib.Path('site.txt').write_text('hello')"]
outputs = ["site.txt"]

[tasks.bare]
working_dir = "."
command = ["true"]
repo = "external"

[agents.Writer]
command = ["true"]
capabilities = ["Write notes", "Count"]
description = "writes notes"

[orchestrations.site]
agents = ["PlannerAgent", "BuilderAgent"]
description = "Plan and build"

[orchestrations.pair]
steps = [["PlannerAgent"], ["BuilderAgent", "ReviewerAgent"]]
max_review_rounds = 3
"""

Main = Callable[..., Result]


def dumped(value: Any) -> str:
    """What ``App.print_json`` writes for ``value``."""
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "orchastration.toml").write_text(CONFIG.format(py=PY))
    return tmp_path


def test_agent_list_text_and_json(run_main: Main, project: Path) -> None:
    text = run_main(["agent", "list"])
    assert text.code == 0, text.err
    assert text.out == (
        "available agents:\n"
        "- PlannerAgent: Create a structured task plan from a goal\n"
        "- BuilderAgent: Execute planned tasks to produce outputs\n"
        "- ReviewerAgent: Review outputs for quality and correctness\n"
        "- DocAgent: Document results and outcomes\n"
        "- Writer: Write notes; Count\n"
    )
    as_json = run_main(["agent", "list", "--json"])
    rows = json.loads(as_json.out)
    assert rows[-1] == {"name": "Writer", "kind": "command", "capabilities": ["Write notes", "Count"],
                        "description": "writes notes"}  # fmt: skip
    assert [list(r) for r in rows] == [["name", "kind", "capabilities", "description"]] * 5
    assert as_json.out == dumped(rows)


def test_orchestration_list_text_and_json(run_main: Main, project: Path) -> None:
    text = run_main(["orchestration", "list"])
    assert text.out == "available orchestrations:\n- pair: (no description)\n- site: Plan and build\n"
    as_json = run_main(["orchestration", "list", "--json"])
    expected = [
        {"name": "pair", "description": "", "steps": [["PlannerAgent"], ["BuilderAgent", "ReviewerAgent"]],
         "max_review_rounds": 3},
        {"name": "site", "description": "Plan and build", "steps": [["PlannerAgent"], ["BuilderAgent"]],
         "max_review_rounds": 1},
    ]  # fmt: skip
    assert as_json.out == dumped(expected)


def test_empty_lists(run_main: Main, project: Path) -> None:
    (project / "orchastration.toml").write_text("")
    assert run_main(["orchestration", "list"]).out == "no orchestrations configured\n"
    assert run_main(["orchestration", "list", "--json"]).out == "[]\n"
    assert run_main(["plan", "list"]).out == "no tasks configured\n"
    assert run_main(["plan", "list", "--json"]).out == "[]\n"


def test_plan_list_and_status_text_and_json(run_main: Main, project: Path, state_dir: Path) -> None:
    assert run_main(["plan", "list"]).out == "bare - [planned]\nsite - Build the site [planned]\n"
    expected = [
        {"name": "bare", "description": "", "repo": "external", "status": "planned", "working_dir": str(project)},
        {"name": "site", "description": "Build the site", "repo": "orchastration", "status": "planned",
         "working_dir": str(project)},
    ]  # fmt: skip
    assert run_main(["plan", "list", "--json"]).out == dumped(expected)
    assert run_main(["plan", "create", "site"]).out == "task=site status=planned\n"
    record = json.loads((state_dir / "tasks" / "site.json").read_text())
    keys = ["schema", "name", "description", "repo", "status", "working_dir", "command", "outputs", "documents",
            "created_at", "last_run", "last_build", "last_review", "last_doc", "branch", "issue_url"]  # fmt: skip
    assert run_main(["plan", "status", "site", "--json"]).out == dumped({k: record[k] for k in keys})
    assert run_main(["plan", "status", "site"]).out == f"site status=planned last_run={record['last_run']}\n"


def test_config_show_text_and_json(run_main: Main, project: Path) -> None:
    from orchastration.config import config_to_dict, load_config

    config = load_config(cwd=project, environ={})
    as_json = run_main(["config", "show", "--json"])
    assert as_json.out == dumped({"path": str(project / "orchastration.toml"), "config": config_to_dict(config)})
    text = run_main(["config", "show"]).out
    assert text.startswith(f"# {project / 'orchastration.toml'} (")
    assert "\n[tasks.bare]\nworking_dir = " in text and '\nrepo = "external"\nshell = false\n' in text
    assert "\n[orchestrations.pair]\n" in text and text.endswith("\n") and not text.endswith("\n\n")


def test_hash_lines(run_main: Main, project: Path) -> None:
    (project / "a.txt").write_bytes(b"a\n")
    (project / "b.txt").write_bytes(b"b\n")
    hashed = run_main(["hash", "--file", "a.txt", "--file", "b.txt"])
    digest = hashlib.sha256(b"a\n").hexdigest()
    assert hashed.lines[0] == f'{{"file":"{project / "a.txt"}","algorithm":"sha256","hash":"{digest}"}}'
    assert len(hashed.lines) == 2
    (project / "SUMS").write_text(f"{digest}  a.txt\n{digest}  b.txt\n{digest}  gone.txt\n")
    checked = run_main(["hash", "--check", "SUMS"])
    assert checked.code == 1
    assert checked.out == "a.txt: OK\nb.txt: FAILED\ngone.txt: FAILED open or read\n"
    (project / "OK").write_text(f"{digest}  a.txt\n")
    assert run_main(["hash", "--check", "OK"]).code == 0
