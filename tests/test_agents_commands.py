"""Command agents hardened for coding-agent CLIs, through the installed CLI with stub agents (a small Python
script in the test's tmp dir): stdin, idle timeout, retries, JSON results with cost, budgets,
``require_changes`` (docs/orchestrations.md, "Coding agents")."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Result
from jobs_helpers import write

PY = sys.executable.replace("\\", "/")
Run = Callable[..., Result]

STUB = r"""
import json, pathlib, sys, time
mode = sys.argv[1]
if mode == "silent":
    time.sleep(60)
elif mode == "chatty":
    for _ in range(8):
        print("working", flush=True)
        time.sleep(0.3)
elif mode == "stdin":
    print("stdin=" + repr(sys.stdin.read()))
elif mode == "flaky":
    calls = pathlib.Path("flaky.txt")
    n = len(calls.read_text()) + 1 if calls.exists() else 1
    calls.write_text("x" * n)
    print(f"attempt {n}")
    sys.exit(0 if n >= 2 else 5)
elif mode == "json":
    print("thinking...")
    print(json.dumps({"result": sys.argv[2], "total_cost_usd": 0.25, "session_id": "s-1", "num_turns": 3,
                      "usage": {"input_tokens": 100, "output_tokens": 20}, "is_error": sys.argv[2] == "oops"}))
elif mode == "nojson":
    print("just text")
elif mode == "noop":
    print("did nothing")
"""


@pytest.fixture
def project(tmp_path: Path, cli: Run) -> Callable[[str], Run]:
    """``project(toml)``: writes orchastration.toml (``{stub}`` = the stub's argv prefix) and the stub."""

    def setup(toml: str) -> Run:
        write(tmp_path / "stub.py", STUB)
        stub = f'"{PY}", "{tmp_path.as_posix()}/stub.py"'
        write(tmp_path / "orchastration.toml", toml.replace("{stub}", stub))
        return lambda *argv, **kw: cli(list(argv), cwd=tmp_path, **kw)

    return setup


def record(result: Result) -> dict[str, Any]:
    last = result.lines[-1]
    assert last.startswith("orchestration="), (result.out, result.err)
    data = json.loads(Path(last.split("record=", 1)[1]).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def agent(rec: dict[str, Any], name: str) -> dict[str, Any]:
    return next(a for a in rec["agents"] if a["name"] == name)


def test_a_silent_agent_is_killed_by_its_idle_timeout_a_chatty_one_is_not(project: Callable[[str], Run]) -> None:
    run = project("""
[agents.Silent]
command = [{stub}, "silent"]
idle_timeout_seconds = 1.5
[agents.Chatty]
command = [{stub}, "chatty"]
idle_timeout_seconds = 1.5
[orchestrations.silent]
agents = ["Silent"]
[orchestrations.chatty]
agents = ["Chatty"]
""")
    start = time.monotonic()
    res = run("orchestration", "run", "silent", timeout=60)
    assert res.code == 1, (res.out, res.err)
    assert time.monotonic() - start < 30
    assert "agent=Silent step=1 status=timeout" in res.out
    assert agent(record(res), "Silent")["message"] == "no output for 1.5 s"
    ok = run("orchestration", "run", "chatty", timeout=60)  # 2.4 s in all, never 1.5 s silent
    assert ok.code == 0, (ok.out, ok.err)


def test_stdin_is_the_prompt_or_empty_never_the_terminal(project: Callable[[str], Run]) -> None:
    run = project("""
[agents.Reads]
command = [{stub}, "stdin"]
timeout_seconds = 30
[agents.Prompted]
command = [{stub}, "stdin"]
prompt = "Goal: {{ goal }}"
[orchestrations.reads]
agents = ["Reads", "Prompted"]
""")
    read_end, write_end = os.pipe()  # our stdin: open and never written, as a terminal nobody types into
    try:
        res = run("orchestration", "run", "reads", "--goal", "g", stdin=read_end, timeout=60)
    finally:
        os.close(read_end)
        os.close(write_end)
    assert res.code == 0, (res.out, res.err)
    ctx = record(res)["context"]
    assert ctx["agents.Reads.output"] == "stdin=''"
    assert ctx["agents.Prompted.output"] == "stdin='Goal: g'"


def test_retries_run_again_and_every_attempt_is_in_the_record(project: Callable[[str], Run], tmp_path: Path) -> None:
    run = project("""
[agents.Flaky]
command = [{stub}, "flaky"]
retries = 2
[orchestrations.flaky]
agents = ["Flaky"]
""")
    res = run("orchestration", "run", "flaky")
    assert res.code == 0, (res.out, res.err)
    attempts = agent(record(res), "Flaky")["attempts"]
    assert [(a["attempt"], a["status"]) for a in attempts] == [(1, "failed"), (2, "success")]
    assert attempts[0]["message"] == "exited with code 5"
    assert Path(attempts[1]["stdout_path"]).read_text() == "attempt 2\n"


def test_json_results_carry_cost_and_a_budget_stops_the_run(project: Callable[[str], Run]) -> None:
    run = project("""
[agents.A]
command = [{stub}, "json", "done"]
result_format = "json"
output_key = "a.result"
[agents.B]
command = [{stub}, "json", "done"]
result_format = "json"
[agents.C]
command = [{stub}, "json", "done"]
result_format = "json"
[agents.Err]
command = [{stub}, "json", "oops"]
result_format = "json"
[agents.Text]
command = [{stub}, "nojson"]
result_format = "json"
[orchestrations.three]
agents = ["A", "B", "C"]
max_cost_usd = 0.3
[orchestrations.err]
agents = ["Err"]
[orchestrations.text]
agents = ["Text"]
""")
    res = run("orchestration", "run", "three")
    assert res.code == 1, (res.out, res.err)
    assert "budget exceeded: $0.50 of $0.30" in res.err
    rec = record(res)
    a = agent(rec, "A")
    assert (a["status"], a["cost_usd"], a["tokens"], a["session_id"], a["num_turns"]) == (
        "success", 0.25, {"input_tokens": 100, "output_tokens": 20}, "s-1", 3,
    )  # fmt: skip
    assert rec["context"]["a.result"] == "done"
    assert rec["cost_usd"] == 0.5 and rec["tokens"] == {"input_tokens": 200, "output_tokens": 40}
    assert rec["status"] == "failed" and "budget exceeded: $0.50 of $0.30" in rec["message"]
    assert agent(rec, "C")["status"] == "failed" and "not started" in agent(rec, "C")["message"]

    err = run("orchestration", "run", "err")
    assert err.code == 1 and "agent=Err step=1 status=failed" in err.out, (err.out, err.err)
    assert "the agent reported an error: oops" in agent(record(err), "Err")["message"]
    text = run("orchestration", "run", "text")
    assert text.code == 1 and agent(record(text), "Text")["message"] == "no JSON result"


def test_require_changes_fails_an_agent_that_changed_none_of_its_outputs(project: Callable[[str], Run]) -> None:
    run = project("""
[agents.Lazy]
command = [{stub}, "noop"]
outputs = ["src/*.py"]
require_changes = true
[orchestrations.lazy]
agents = ["Lazy"]
""")
    res = run("orchestration", "run", "lazy")
    assert res.code == 1, (res.out, res.err)
    assert agent(record(res), "Lazy")["message"] == "no declared output changed"


BAD_KEYS = [
    ('[agents.A]\ncommand = ["x"]\nretries = -1\n', "agents.A.retries", "must be 0 or more"),
    ('[agents.A]\ncommand = ["x"]\nresult_format = "xml"\n', "agents.A.result_format", "must be one of text, json"),
    ('[agents.A]\ncommand = ["x"]\noutputs = "src"\n', "agents.A.outputs", "expected a list of strings"),
    ('[agents.A]\ncommand = ["x"]\nidle_timeout_seconds = -5\n', "agents.A.idle_timeout_seconds", "positive"),
    ('[agents.A]\ncommand = ["x"]\nmessage = "ok?"\n', "agents.A.message", "only an approval gate"),
    ('[agents.G]\ngate = true\ncommand = ["x"]\n', "agents.G.command", "unknown key"),
    ('[orchestrations.o]\nagents = ["DocAgent"]\nmax_cost_usd = 0\n', "orchestrations.o.max_cost_usd", "positive"),
    ('[orchestrations.o]\nagents = ["DocAgent"]\ntask = ""\n', "orchestrations.o.task", "must not be empty"),
]


@pytest.mark.parametrize(("toml", "key", "why"), BAD_KEYS, ids=[c[1] for c in BAD_KEYS])
def test_bad_agent_and_orchestration_keys_name_the_key(
    toml: str, key: str, why: str, run_main: Callable[..., Result], tmp_path: Path
) -> None:
    (tmp_path / "orchastration.toml").write_text(toml, encoding="utf-8")
    res = run_main(["config", "validate"])
    assert res.code == 2 and key in res.err and why in res.err, (res.out, res.err)
