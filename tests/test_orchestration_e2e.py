"""End to end: orchestrations through the installed CLI, on real tasks in tmp dirs, with real subprocesses."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import Result
from jobs_helpers import write

PY = sys.executable.replace("\\", "/")  # a TOML basic string on Windows too
REFERENCE = Path("/work/shared/reference/original-config.example.toml")
Run = Callable[..., Result]


@pytest.fixture
def project(tmp_path: Path, cli: Run) -> Callable[[str], Run]:
    """``project(toml)`` writes orchastration.toml (``{py}``, ``{root}`` filled in) and returns a CLI runner."""

    def setup(toml: str) -> Run:
        write(tmp_path / "orchastration.toml", toml.replace("{py}", PY).replace("{root}", tmp_path.as_posix()))
        (tmp_path / "proj").mkdir(exist_ok=True)
        return lambda *argv, **kw: cli(list(argv), cwd=tmp_path, **kw)

    return setup


def record(result: Result) -> dict[str, Any]:
    last = result.lines[-1]
    assert last.startswith("orchestration="), result.out
    data = json.loads(Path(last.split("record=", 1)[1]).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def agent_lines(result: Result) -> list[tuple[str, str, str]]:
    """(agent, step, status) of every ``agent=`` line, in order."""
    out = []
    for line in result.lines:
        if line.startswith("agent="):
            fields = dict(part.split("=", 1) for part in line.split())
            assert int(fields["duration_ms"]) >= 0
            out.append((fields["agent"], fields["step"], fields["status"]))
    return out


def when(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")


# The original example config runs `echo` and `ls`, which Windows has only as shell built-ins.
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="the original config uses echo/ls")


@pytest.fixture
def original(tmp_path: Path, cli: Run) -> Run:
    """The original tool's example config, its /absolute/path placeholders pointing at a real directory."""
    proj = tmp_path / "proj"
    write(proj / "README.md", "# Proj\n")
    text = REFERENCE.read_text(encoding="utf-8").replace("/absolute/path", proj.as_posix())
    write(tmp_path / "orchastration.toml", text)
    return lambda *argv, **kw: cli(list(argv), cwd=tmp_path, **kw)


@posix_only
def test_original_hello_multi_agent_fails_review_and_writes_no_doc(original: Run, tmp_path: Path) -> None:
    res = original("orchestration", "run", "hello_multi_agent", "--goal", "Implement login endpoint")
    assert res.code == 1, (res.out, res.err)
    assert "task=hello_multi_agent status=planned" in res.lines
    assert "task=hello_multi_agent exit=0 status=done" in res.lines
    assert agent_lines(res) == [
        ("PlannerAgent", "1", "success"), ("BuilderAgent", "2", "success"), ("ReviewerAgent", "3", "failed"),
    ]  # fmt: skip
    assert res.lines[-1].startswith("orchestration=hello_multi_agent status=failed record=")
    missing = (tmp_path / "proj" / "dist" / "orchestration.txt").as_posix()
    assert f"missing outputs: {Path(missing)}" in res.err
    assert "Traceback" not in res.err
    assert not (tmp_path / "proj" / "docs" / "tasks" / "hello_multi_agent.md").exists()
    rec = record(res)
    for key in ("orchestration", "agents", "start_time", "end_time", "duration_ms", "status", "context"):
        assert key in rec
    assert rec["orchestration"] == "hello_multi_agent" and rec["status"] == "failed"
    assert rec["goal"] == "Implement login endpoint" and rec["task"] == "hello_multi_agent"
    assert rec["context"]["plan.goal"] == "Implement login endpoint"
    assert rec["context"]["review.status"] == "failed"
    assert rec["context"]["review.report"] == f"missing outputs: {Path(missing)}"
    for entry in rec["agents"]:
        assert set(entry) >= {"name", "start_time", "end_time", "duration_ms", "status", "message", "step", "round"}


@posix_only
def test_original_parallel_example_without_a_task_succeeds(original: Run) -> None:
    res = original("orchestration", "run", "parallel_example")
    assert res.code == 0, (res.out, res.err)
    assert sorted(agent_lines(res)) == sorted(
        [("PlannerAgent", "1", "success"), ("BuilderAgent", "2", "success"), ("ReviewerAgent", "2", "success"),
         ("DocAgent", "3", "success")]
    )  # fmt: skip
    assert not [line for line in res.lines if line.startswith("task=")]
    ctx = record(res)["context"]
    assert ctx["plan.tasks"] == [] and ctx["review.status"] == "skipped"
    assert ctx["review.report"] == "no outputs to review"


@posix_only
def test_original_parallel_example_on_a_real_task(original: Run, tmp_path: Path) -> None:
    res = original("orchestration", "run", "parallel_example", "--task", "sample_task")
    assert res.code == 0, (res.out, res.err)
    assert "task=sample_task exit=0 status=done" in res.lines
    doc = tmp_path / "proj" / "docs" / "tasks" / "sample_task.md"
    assert f"task=sample_task status=done doc={doc}" in res.lines
    assert doc.read_text(encoding="utf-8").startswith("# Task: sample_task")
    ctx = record(res)["context"]
    # The Reviewer ran beside the Builder, so it saw the context as step 2 began: no outputs yet.
    assert ctx["review.status"] == "skipped"
    assert ctx["build.outputs"] == [str(tmp_path / "proj" / "dist" / "example.txt")]
    assert ctx["doc.paths"] == [str(doc)]


PASSING = """
[tasks.hello_multi_agent]
description = "Writes its output"
working_dir = "proj"
command = ["{py}", "-c", "import pathlib; p = pathlib.Path('dist'); p.mkdir(exist_ok=True); \
(p / 'orchestration.txt').write_text(pathlib.Path('src.txt').read_text())"]
inputs = ["src.txt"]
outputs = ["dist/orchestration.txt"]
documents = ["README.md"]

[orchestrations.hello_multi_agent]
agents = ["PlannerAgent", "BuilderAgent", "ReviewerAgent", "DocAgent"]
description = "plan, build, review, document"

[orchestrations.parallel_example]
steps = [["PlannerAgent"], ["BuilderAgent", "ReviewerAgent"], ["DocAgent"]]
description = "Parallel build/review step example"
"""


def test_passing_variant_documents_and_second_run_skips_everything(
    project: Callable[[str], Run], tmp_path: Path, state_dir: Path
) -> None:
    run = project(PASSING)
    write(tmp_path / "proj" / "src.txt", "v1")
    first = run("orchestration", "run", "hello_multi_agent", "--goal", "ship it")
    assert first.code == 0, (first.out, first.err)
    assert [a[2] for a in agent_lines(first)] == ["success"] * 4
    out = tmp_path / "proj" / "dist" / "orchestration.txt"
    ctx = record(first)["context"]
    assert ctx["build.outputs"] == [str(out)] and ctx["review.report"] == "all outputs present"
    readme = (tmp_path / "proj" / "README.md").read_text(encoding="utf-8")
    assert "## Task Summary: hello_multi_agent" in readme

    second = run("orchestration", "run", "hello_multi_agent", "--goal", "ship it")
    assert second.code == 0, (second.out, second.err)
    assert [a[2] for a in agent_lines(second)] == ["skipped"] * 4
    assert not [line for line in second.lines if line.startswith("task=")]  # nothing built or documented
    assert record(second)["context"] == ctx  # previous results restored into the context

    # A new goal re-plans (status back to planned), so the task is built again; its output and
    # result are the same, so review and doc are skipped.
    third = run("orchestration", "run", "hello_multi_agent", "--goal", "another goal")
    assert [a[2] for a in agent_lines(third)] == ["success", "success", "skipped", "skipped"]

    # An input changes: the build (and what follows) runs again.
    write(tmp_path / "proj" / "src.txt", "v2")
    records = sorted((tmp_path / "home").rglob("*.json")) + sorted(Path(state_dir).rglob("*"))
    dry = run("orchestration", "run", "hello_multi_agent", "--goal", "another goal", "--dry-run")
    assert dry.code == 0
    assert sorted((tmp_path / "home").rglob("*.json")) + sorted(Path(state_dir).rglob("*")) == records
    assert "agent=PlannerAgent step=1 up-to-date" in dry.lines
    assert any(line.startswith("agent=BuilderAgent step=2 would-run reason=input changed: ") for line in dry.lines)
    assert "agent=DocAgent step=4 would-run reason=earlier step will run: BuilderAgent" in dry.lines
    fourth = run("orchestration", "run", "hello_multi_agent", "--goal", "another goal")
    assert agent_lines(fourth)[1] == ("BuilderAgent", "2", "success")
    assert "task=hello_multi_agent exit=0 status=done" in fourth.lines
    assert out.read_text() == "v2"

    forced = run("orchestration", "run", "hello_multi_agent", "--goal", "another goal", "--force")
    assert [a[2] for a in agent_lines(forced)] == ["success"] * 4


def test_failed_at_reviewer_reruns_only_from_there(project: Callable[[str], Run], tmp_path: Path) -> None:
    toml = PASSING.replace(
        'documents = ["README.md"]',
        'documents = ["README.md"]\nreview_command = ["{py}", "-c", '
        "\"import pathlib, sys; sys.exit(0 if pathlib.Path('approved').exists() else 4)\"]",
    )
    run = project(toml)
    write(tmp_path / "proj" / "src.txt", "v1")
    first = run("orchestration", "run", "hello_multi_agent")
    assert first.code == 1
    assert agent_lines(first)[-1] == ("ReviewerAgent", "3", "failed")
    assert "review_command failed (exited with code 4)" in record(first)["context"]["review.report"]
    write(tmp_path / "proj" / "approved", "yes")
    second = run("orchestration", "run", "hello_multi_agent")
    assert second.code == 0, (second.out, second.err)
    assert agent_lines(second) == [
        ("PlannerAgent", "1", "skipped"), ("BuilderAgent", "2", "skipped"),
        ("ReviewerAgent", "3", "success"), ("DocAgent", "4", "success"),
    ]  # fmt: skip
    assert "task=hello_multi_agent exit=0 status=done" not in second.lines
    assert record(second)["context"]["review.report"] == "all outputs present; review_command passed"


def test_missing_output_fails_review_and_no_doc(project: Callable[[str], Run], tmp_path: Path) -> None:
    run = project(PASSING.replace("(p / 'orchestration.txt')", "(p / 'other.txt')"))
    write(tmp_path / "proj" / "src.txt", "v1")
    readme = write(tmp_path / "proj" / "README.md", "# Proj\n")
    res = run("orchestration", "run", "hello_multi_agent")
    assert res.code == 1
    assert [a[0] for a in agent_lines(res)] == ["PlannerAgent", "BuilderAgent", "ReviewerAgent"]
    assert (tmp_path / "proj" / "dist" / "other.txt").exists()  # the build ran, just not what it declared
    assert not (tmp_path / "proj" / "docs").exists()
    assert readme.read_text() == "# Proj\n"  # no README section either
    ctx = record(res)["context"]
    assert ctx["review.status"] == "failed" and "doc.paths" not in ctx


COMMANDS = """
[agents.Writer]
description = "writes context keys"
capabilities = ["Write notes"]
command = ["{py}", "{root}/agent.py", "write", "{{ goal }}"]
output_key = "writer.stdout"

[agents.Peer]
command = ["{py}", "{root}/agent.py", "peek"]

[agents.Reader]
command = ["{py}", "{root}/agent.py", "read", "{{ notes.count }}", "{{ plan.tasks | length }}"]
prompt = "Goal: {{ goal }}; notes: {{ notes.list | join(',') }}"
output_key = "reader.out"

[orchestrations.protocol]
steps = [["PlannerAgent"], ["Writer", "Peer"], ["Reader"]]
"""

AGENT = r"""
import json, os, sys
ctx = json.load(open(os.environ["ORCHASTRATION_CONTEXT"], encoding="utf-8"))
mode = sys.argv[1]
if mode == "write":
    out = {"notes.count": 3, "notes.list": ["a", "b"], "echo.goal": sys.argv[2]}
    json.dump(out, open(os.environ["ORCHASTRATION_CONTEXT_OUT"], "w"))
    print("wrote notes")
elif mode == "peek":
    print("peer saw notes" if "notes.count" in ctx else "peer saw no notes")
elif mode == "read":
    print(f"count={sys.argv[2]} tasks={sys.argv[3]} ctx_count={ctx['notes.count']} stdin={sys.stdin.read()}")
elif mode == "bad":
    open(os.environ["ORCHASTRATION_CONTEXT_OUT"], "w").write("{not json")
elif mode == "fail":
    sys.exit(3)
elif mode == "sleep":
    import time
    time.sleep(float(sys.argv[2]))
    print("slept")
"""


def test_command_agent_context_protocol(project: Callable[[str], Run], tmp_path: Path) -> None:
    run = project(COMMANDS)
    write(tmp_path / "agent.py", AGENT)
    res = run("orchestration", "run", "protocol", "--goal", "G1")
    assert res.code == 0, (res.out, res.err)
    ctx = record(res)["context"]
    assert ctx["writer.stdout"] == "wrote notes"  # stdout under output_key
    assert ctx["notes.count"] == 3 and ctx["echo.goal"] == "G1"  # $ORCHASTRATION_CONTEXT_OUT merged
    # A parallel step's agents see the context as the step began: Peer did not see Writer's keys.
    assert ctx["agents.Peer.output"] == "peer saw no notes"
    # The next step sees the merge: argv templates, the context file, and the prompt on stdin.
    assert ctx["reader.out"] == "count=3 tasks=0 ctx_count=3 stdin=Goal: G1; notes: a,b"
    listing = run("agent", "list")
    assert "- Writer: Write notes" in listing.lines and "- Peer: (no capabilities listed)" in listing.lines
    as_json = json.loads(run("agent", "list", "--json").out)
    assert {
        "name": "Writer",
        "kind": "command",
        "capabilities": ["Write notes"],
        "description": "writes context keys",
    } in as_json


def test_invalid_context_out_fails_that_agent(project: Callable[[str], Run], tmp_path: Path) -> None:
    run = project(
        '[agents.Bad]\ncommand = ["{py}", "{root}/agent.py", "bad"]\n[orchestrations.o]\nagents = ["Bad", "DocAgent"]\n'
    )
    write(tmp_path / "agent.py", AGENT)
    res = run("orchestration", "run", "o")
    assert res.code == 1
    assert agent_lines(res) == [("Bad", "1", "failed")]
    assert "agent Bad (step 1, round 1) failed: $ORCHASTRATION_CONTEXT_OUT: invalid JSON" in res.err


def test_same_key_from_two_agents_of_a_step_is_a_run_error(project: Callable[[str], Run], tmp_path: Path) -> None:
    run = project(
        '[agents.A]\ncommand = ["{py}", "-c", "print(1)"]\noutput_key = "shared"\n'
        '[agents.B]\ncommand = ["{py}", "-c", "print(2)"]\noutput_key = "shared"\n'
        '[orchestrations.o]\nsteps = [["A", "B"], ["DocAgent"]]\n'
    )
    res = run("orchestration", "run", "o")
    assert res.code == 1
    assert "step 1: agents A and B both wrote context key 'shared'" in res.err
    assert "DocAgent" not in res.out
    assert record(res)["status"] == "failed"


def test_parallel_agents_overlap_and_failure_stops_after_the_step(
    project: Callable[[str], Run], tmp_path: Path
) -> None:
    run = project(
        '[agents.SlowA]\ncommand = ["{py}", "{root}/agent.py", "sleep", "0.6"]\n'
        '[agents.SlowB]\ncommand = ["{py}", "{root}/agent.py", "sleep", "0.6"]\n'
        '[agents.Fails]\ncommand = ["{py}", "{root}/agent.py", "fail"]\n'
        '[agents.Never]\ncommand = ["{py}", "-c", "print(1)"]\n'
        '[orchestrations.par]\nsteps = [["SlowA", "SlowB"]]\n'
        '[orchestrations.stops]\nsteps = [["Fails", "SlowA"], ["Never"]]\n'
    )
    write(tmp_path / "agent.py", AGENT)
    res = run("orchestration", "run", "par")
    assert res.code == 0, (res.out, res.err)
    a, b = record(res)["agents"]
    assert when(a["start_time"]) < when(b["end_time"]) and when(b["start_time"]) < when(a["end_time"])
    serial = run("orchestration", "run", "par", "-j", "1", "--force")
    assert serial.code == 0
    first, second = sorted(record(serial)["agents"], key=lambda e: e["start_time"])
    assert when(first["end_time"]) <= when(second["start_time"])  # -j 1: one at a time

    stop = run("orchestration", "run", "stops")
    assert stop.code == 1
    assert sorted(agent_lines(stop)) == [("Fails", "1", "failed"), ("SlowA", "1", "success")]  # the step finished
    assert "agent Fails (step 1, round 1) failed: exited with code 3" in stop.err
    rec = record(stop)
    assert rec["status"] == "failed" and "Never" not in [e["name"] for e in rec["agents"]]


LOOP = """
[tasks.t]
working_dir = "proj"
command = ["{py}", "-c", "print('noop')"]

[agents.ScriptBuilder]
description = "builds only once it has seen a failed review"
command = ["{py}", "{root}/builder.py"]

[orchestrations.loop]
agents = ["PlannerAgent", "ScriptBuilder", "ReviewerAgent", "DocAgent"]
max_review_rounds = 2
"""

BUILDER = r"""
import json, os, pathlib
ctx = json.load(open(os.environ["ORCHASTRATION_CONTEXT"]))
out = pathlib.Path(os.environ["OUT_DIR"]) / "result.txt"
if ctx.get("review.status") == "failed":
    out.write_text("fixed after: " + ctx["review.report"])
json.dump({"build.outputs": [str(out)]}, open(os.environ["ORCHASTRATION_CONTEXT_OUT"], "w"))
"""


def test_review_loop_passes_on_the_second_round(project: Callable[[str], Run], tmp_path: Path) -> None:
    toml = LOOP.replace(
        'command = ["{py}", "{root}/builder.py"]',
        'command = ["{py}", "{root}/builder.py"]\nenv = { OUT_DIR = "{root}/proj" }\noutputs = ["proj/result.txt"]',
    )
    run = project(toml)
    write(tmp_path / "builder.py", BUILDER)
    res = run("orchestration", "run", "loop", "--task", "t")
    assert res.code == 0, (res.out, res.err)
    rec = record(res)
    rounds = [(e["name"], e["round"], e["status"]) for e in rec["agents"]]
    assert rounds == [
        ("PlannerAgent", 1, "success"), ("ScriptBuilder", 1, "success"), ("ReviewerAgent", 1, "failed"),
        ("ScriptBuilder", 2, "success"), ("ReviewerAgent", 2, "success"), ("DocAgent", 2, "success"),
    ]  # fmt: skip
    assert rec["rounds"] == 2 and rec["context"]["review.status"] == "passed"
    assert (tmp_path / "proj" / "result.txt").read_text().startswith("fixed after: missing outputs: ")

    # Next runs: nothing changed, so the loop resumes at the round it passed in, every stage up to date.
    for _ in range(2):
        again = run("orchestration", "run", "loop", "--task", "t")
        assert [a[2] for a in agent_lines(again)] == ["skipped"] * 4, again.out
        assert record(again)["rounds"] == 2 and record(again)["context"] == rec["context"]

    (tmp_path / "proj" / "result.txt").unlink()
    one = project(toml.replace("max_review_rounds = 2", "max_review_rounds = 1"))
    res1 = one("orchestration", "run", "loop", "--task", "t", "--force")
    assert res1.code == 1
    assert agent_lines(res1)[-1] == ("ReviewerAgent", "3", "failed")


def test_show_and_list(project: Callable[[str], Run]) -> None:
    run = project(LOOP + PASSING)
    text = run("orchestration", "show", "parallel_example")
    assert text.code == 0 and "step 2: [ BuilderAgent | ReviewerAgent ]   (parallel)" in text.out
    mermaid = run("orchestration", "show", "loop", "--format", "mermaid").out
    assert mermaid.startswith("flowchart LR") and "s2_ScriptBuilder --> s3_ReviewerAgent" in mermaid
    assert "review failed" in mermaid
    dot = run("orchestration", "show", "parallel_example", "--format", "dot").out
    assert dot.startswith('digraph "parallel_example"') and "s1_PlannerAgent -> s2_ReviewerAgent;" in dot
    as_json = json.loads(run("orchestration", "list", "--json").out)
    assert as_json[1] == {
        "name": "loop",
        "description": "",
        "steps": [["PlannerAgent"], ["ScriptBuilder"], ["ReviewerAgent"], ["DocAgent"]],
        "max_review_rounds": 2,
    }
    listing = run("orchestration", "list")
    assert listing.lines == [
        "available orchestrations:",
        "- hello_multi_agent: plan, build, review, document",
        "- loop: (no description)",
        "- parallel_example: Parallel build/review step example",
    ]


def test_empty_listings(project: Callable[[str], Run]) -> None:
    run = project("")
    assert run("orchestration", "list").lines == ["no orchestrations configured"]
    agents = run("agent", "list")
    assert agents.lines == [
        "available agents:",
        "- PlannerAgent: Create a structured task plan from a goal",
        "- BuilderAgent: Execute planned tasks to produce outputs",
        "- ReviewerAgent: Review outputs for quality and correctness",
        "- DocAgent: Document results and outcomes",
    ]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM to a console process is POSIX")
def test_interrupt_kills_agents_and_records_it(
    project: Callable[[str], Run], tmp_path: Path, env: dict[str, str]
) -> None:
    import signal
    import subprocess
    import time

    from conftest import cli_command

    project(
        '[agents.Sleeper]\ncommand = ["{py}", "-c", "import os, time, pathlib; '
        "pathlib.Path('started').write_text(str(os.getpid())); time.sleep(60)\"]\n"
        '[orchestrations.o]\nsteps = [["Sleeper"], ["DocAgent"]]\n'
    )
    proc = subprocess.Popen(
        [*cli_command(), "orchestration", "run", "o"], cwd=tmp_path, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    started = tmp_path / "started"
    deadline = time.monotonic() + 30
    while not started.exists() or not started.read_text():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (out, err)
    assert "agent=Sleeper step=1 status=failed" in out and "DocAgent" not in out
    rec = record(Result(proc.returncode, out, err))
    assert rec["status"] == "interrupted" and rec["agents"][0]["message"] == "interrupted"
    child = int(started.read_text())
    with pytest.raises(ProcessLookupError):
        for _ in range(100):  # the killed child may take a moment to be reaped
            os.kill(child, 0)
            time.sleep(0.05)


def test_listing_commands_do_not_import_doit_or_jinja(project: Callable[[str], Run], tmp_path: Path) -> None:
    import subprocess

    project(PASSING)
    code = (
        "import sys; from orchastration.cli import main\n"
        "for argv in (['agent', 'list'], ['orchestration', 'list'], ['orchestration', 'show', 'parallel_example']):\n"
        "    assert main(argv) == 0\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('doit', 'jinja2', 'git')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1] == "[]"


def test_review_failing_every_round_stops_after_max_rounds(project: Callable[[str], Run], tmp_path: Path) -> None:
    run = project(
        '[agents.NeverBuilder]\ncommand = ["{py}", "-c", "import json, os; '
        "json.dump({'build.outputs': ['{root}/never.txt']}, open(os.environ['ORCHASTRATION_CONTEXT_OUT'], 'w'))\"]\n"
        '[orchestrations.o]\nagents = ["NeverBuilder", "ReviewerAgent", "DocAgent"]\nmax_review_rounds = 3\n'
    )
    res = run("orchestration", "run", "o")
    assert res.code == 1
    rec = record(res)
    assert [(e["name"], e["round"], e["status"]) for e in rec["agents"]] == [
        (name, rnd, status)
        for rnd in (1, 2, 3)
        for name, status in (("NeverBuilder", "success"), ("ReviewerAgent", "failed"))
    ]
    assert rec["rounds"] == 3 and rec["status"] == "failed"
    assert f"missing outputs: {tmp_path.as_posix()}/never.txt" in res.err


@pytest.mark.skipif(sys.platform == "win32", reason="the shipped sample uses sh")
def test_shipped_example_config_orchestrations_pass(cli: Run, tmp_path: Path) -> None:
    import shutil

    shipped = Path(__file__).resolve().parent.parent / "configs"
    copy = tmp_path / "configs"
    shutil.copytree(shipped, copy)  # the runs write docs and dist/ next to the sample: never into the repo
    config = str(copy / "config.example.toml")
    for name in ("hello_multi_agent", "parallel_example"):
        res = cli(["--config", config, "orchestration", "run", name, "--goal", "Build the sample"], cwd=tmp_path)
        assert res.code == 0, (name, res.out, res.err)
        assert record(res)["context"]["review.status"] == "passed"
