"""Approval gates and ``orchestration runs``, through the installed CLI with stub agents that count their
calls (docs/orchestrations.md, "Approval gates")."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Result

PY = sys.executable.replace("\\", "/")
Run = Callable[..., Result]

STUB = r"""
import pathlib, sys
name = sys.argv[1]
calls = pathlib.Path(name + ".calls")
calls.write_text(calls.read_text() + "x" if calls.exists() else "x")
print(name + ": " + pathlib.Path("idea.txt").read_text().strip())
"""

CONFIG = """
[agents.Plan]
command = ["{py}", "stub.py", "plan"]
inputs = ["idea.txt"]
pure = true

[agents.ApprovePlan]
gate = true
message = "Approve the plan for {{ goal }}? {{ agents.Plan.output }}"

[agents.Code]
command = ["{py}", "stub.py", "code"]
pure = true

[orchestrations.ship]
agents = ["Plan", "ApprovePlan", "Code"]
"""


def record(result: Result) -> dict[str, Any]:
    last = result.lines[-1]
    assert last.startswith("orchestration="), (result.out, result.err)
    data = json.loads(Path(last.split("record=", 1)[1]).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def calls(tmp_path: Path, name: str) -> int:
    path = tmp_path / f"{name}.calls"
    return len(path.read_text()) if path.exists() else 0


def setup(tmp_path: Path, cli: Run) -> Run:
    (tmp_path / "orchastration.toml").write_text(CONFIG.replace("{py}", PY), encoding="utf-8")
    (tmp_path / "stub.py").write_text(STUB, encoding="utf-8")
    (tmp_path / "idea.txt").write_text("sessions in cookies\n", encoding="utf-8")
    # stdin is no terminal: a gate with no decision stops the run
    return lambda *argv: cli(list(argv), cwd=tmp_path, stdin=subprocess.DEVNULL)


def test_a_gate_waits_then_passes_once_approved_without_rerunning_earlier_agents(tmp_path: Path, cli: Run) -> None:
    run = setup(tmp_path, cli)
    waiting = run("orchestration", "run", "ship", "--goal", "login")
    assert waiting.code == 3, (waiting.out, waiting.err)
    assert "agent=ApprovePlan step=2 status=waiting" in waiting.out
    assert waiting.lines[-1].startswith("orchestration=ship status=waiting record=")
    rec = record(waiting)
    gate = next(a for a in rec["agents"] if a["name"] == "ApprovePlan")
    assert gate["gate_message"] == "Approve the plan for login? plan: sessions in cookies"
    assert (calls(tmp_path, "plan"), calls(tmp_path, "code")) == (1, 0)
    assert run("orchestration", "run", "ship", "--goal", "login").code == 3  # still no decision

    approved = run("orchestration", "approve", "ship", "--comment", "fine")
    assert approved.code == 0 and approved.out.strip() == "orchestration=ship gate=ApprovePlan decision=approved"
    done = run("orchestration", "run", "ship", "--goal", "login")
    assert done.code == 0, (done.out, done.err)
    assert "agent=Plan step=1 status=skipped" in done.out
    assert (calls(tmp_path, "plan"), calls(tmp_path, "code")) == (1, 1)
    ctx = record(done)["context"]
    assert ctx["gate.ApprovePlan.comment"] == "fine" and ctx["gate.ApprovePlan.decision"] == "approved"
    decision = next(a for a in record(done)["agents"] if a["name"] == "ApprovePlan")["decision"]
    assert decision["user"] and decision["time"] and decision["comment"] == "fine"

    # A changed plan asks again.
    (tmp_path / "idea.txt").write_text("sessions in a database\n", encoding="utf-8")
    again = run("orchestration", "run", "ship", "--goal", "login")
    assert again.code == 3, (again.out, again.err)
    assert calls(tmp_path, "plan") == 2

    # A rejection fails the run with the comment in the context.
    rejected = run("orchestration", "reject", "ship", "ApprovePlan", "--comment", "use bcrypt")
    assert rejected.code == 0, (rejected.out, rejected.err)
    failed = run("orchestration", "run", "ship", "--goal", "login")
    assert failed.code == 1, (failed.out, failed.err)
    assert failed.lines[-1].startswith("orchestration=ship status=rejected ")
    assert record(failed)["context"]["gate.ApprovePlan.comment"] == "use bcrypt"
    assert "use bcrypt" in failed.err
    assert calls(tmp_path, "code") == 1

    runs = run("orchestration", "runs", "ship", "--json")
    rows = json.loads(runs.out)
    assert [r["status"] for r in rows] == ["waiting", "waiting", "success", "waiting", "rejected"]
    assert all(Path(r["record"]).is_file() and r["goal"] == "login" for r in rows)
    text = run("orchestration", "runs", "ship")
    assert len(text.lines) == 5 and "status=rejected" in text.lines[-1] and "cost=$0.00" in text.lines[-1]


def test_yes_approves_every_gate_and_approve_needs_a_waiting_run(tmp_path: Path, cli: Run) -> None:
    run = setup(tmp_path, cli)
    nothing = run("orchestration", "approve", "ship")
    assert nothing.code == 2 and "not waiting at a gate" in nothing.err, (nothing.out, nothing.err)
    assert run("orchestration", "reject", "ship").code == 2  # --comment is required
    yes = run("orchestration", "run", "ship", "--goal", "login", "--yes")
    assert yes.code == 0, (yes.out, yes.err)
    assert calls(tmp_path, "code") == 1
    assert run("orchestration", "run", "ship", "--goal", "login").code == 0  # the decision holds


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal is POSIX")
def test_on_a_terminal_the_gate_asks(tmp_path: Path, cli: Run) -> None:
    import os
    import pty

    setup(tmp_path, cli)
    master, slave = pty.openpty()
    try:
        os.write(master, b"y\nlooks good\n")  # the answers, typed ahead
        res = cli(["orchestration", "run", "ship", "--goal", "login"], cwd=tmp_path, stdin=slave, timeout=120)
    finally:
        os.close(slave)
        os.close(master)
    assert res.code == 0, (res.out, res.err)
    assert "ApprovePlan: Approve the plan for login? plan: sessions in cookies [y/N]" in res.err
    assert record(res)["context"]["gate.ApprovePlan.comment"] == "looks good"


def test_the_shipped_coding_agent_example_runs_with_its_stub_agent(tmp_path: Path, cli: Run) -> None:
    import shutil

    configs = Path(__file__).resolve().parent.parent / "configs"
    shutil.copytree(configs, tmp_path / "configs", ignore=shutil.ignore_patterns("login.py", "CHANGES.md"))
    config = str(tmp_path / "configs" / "config.example.toml")
    goal = ("--goal", "the demo user logs in")
    res = cli(["--config", config, "orchestration", "run", "coding_agent", *goal, "--yes"], stdin=subprocess.DEVNULL)
    assert res.code == 0, (res.out, res.err)
    rec = record(res)
    assert [(a["name"], a["round"], a["status"]) for a in rec["agents"]] == [
        ("LoginPlanner", 1, "success"), ("LoginBuilder", 1, "success"), ("ReviewerAgent", 1, "failed"),
        ("LoginBuilder", 2, "success"), ("ReviewerAgent", 2, "success"), ("ApproveChange", 2, "success"),
        ("LoginDoc", 2, "success"),
    ]  # fmt: skip
    assert rec["cost_usd"] == pytest.approx(0.04) and rec["tokens"]["input_tokens"] > 0
    assert rec["context"]["review.status"] == "passed"
    login = tmp_path / "configs" / "sample" / "login"
    assert 'password == "secret"' in (login / "login.py").read_text()
    assert (login / "CHANGES.md").is_file()
    again = cli(["--config", config, "orchestration", "run", "coding_agent", *goal], stdin=subprocess.DEVNULL)
    assert again.code == 0, (again.out, again.err)
    assert record(again)["cost_usd"] == 0.0  # nothing changed: no agent paid for twice
