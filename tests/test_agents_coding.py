"""Command agents as coding agents, through the installed CLI with stub agents (small Python scripts in
the test's tmp dir that behave like a coding-agent CLI): sound skipping with ``inputs`` / ``outputs``,
``review.output``, ``task``, and the review loop resumed when nothing changed (docs/orchestrations.md)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Result
from jobs_helpers import write

PY = sys.executable.replace("\\", "/")
Run = Callable[..., Result]

# A coding agent that edits src/login.py: wrong on its first call, right from the second on.
CODER = """
import pathlib, sys
calls = pathlib.Path(sys.argv[1])
n = len(calls.read_text().splitlines()) + 1 if calls.exists() else 1
calls.write_text("call\\n" * n)
pathlib.Path(sys.argv[1] + ".prompt").write_text(sys.stdin.read())
value = "wrong" if n == 1 else "ok"
pathlib.Path("src").mkdir(exist_ok=True)
pathlib.Path("src/login.py").write_text(f"def login():\\n    return {value!r}\\n")
print(f"edited src/login.py (call {n})")
"""

TEST_LOGIN = """
import sys, pathlib
sys.path.insert(0, str(pathlib.Path(__file__).parent.parent / "src"))
from login import login

def test_login():
    assert login() == "ok"
"""

CONFIG = """
[tasks.login]
working_dir = "proj"
command = ["{py}", "-c", "pass"]
inputs = ["src/**/*.py", "tests/**/*.py"]
review_command = ["{py}", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]

[agents.CodeBuilder]
command = ["{py}", "{root}/coder.py", "{root}/calls.txt"]
prompt = "Goal: {{ goal }}. Task: {{ task.name }}.{% if review is defined %} Fix: {{ review.output }}{% endif %}"
working_dir = "proj"
inputs = ["SPEC.md"]
outputs = ["src/login.py"]

[orchestrations.login]
agents = ["PlannerAgent", "CodeBuilder", "ReviewerAgent"]
max_review_rounds = 2
"""


@pytest.fixture
def project(tmp_path: Path, cli: Run) -> Callable[[str], Run]:
    """``project(toml)`` writes orchastration.toml and the stubs; returns a CLI runner in tmp_path."""

    def setup(toml: str) -> Run:
        write(tmp_path / "orchastration.toml", toml.replace("{py}", PY).replace("{root}", tmp_path.as_posix()))
        write(tmp_path / "coder.py", CODER)
        write(tmp_path / "proj" / "tests" / "test_login.py", TEST_LOGIN)
        write(tmp_path / "proj" / "SPEC.md", "login returns ok\n")
        return lambda *argv, **kw: cli(list(argv), cwd=tmp_path, **kw)

    return setup


def record(result: Result) -> dict[str, Any]:
    last = result.lines[-1]
    assert last.startswith("orchestration="), result.out
    data = json.loads(Path(last.split("record=", 1)[1]).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def calls(tmp_path: Path) -> int:
    path = tmp_path / "calls.txt"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_an_unchanged_pipeline_with_a_review_loop_reruns_green_and_pays_for_no_agent(
    project: Callable[[str], Run], tmp_path: Path
) -> None:
    run = project(CONFIG)
    first = run("orchestration", "run", "login", "--goal", "make login work")
    assert first.code == 0, (first.out, first.err)
    assert calls(tmp_path) == 2  # round 1 wrote it wrong, the review failed, round 2 fixed it
    assert record(first)["rounds"] == 2
    # Round 2's prompt showed the failing test (review.output); the full log is named in the context.
    prompt = (tmp_path / "calls.txt.prompt").read_text()
    assert "Fix: " in prompt and "AssertionError" in prompt and "1 failed" in prompt, prompt
    context = record(first)["context"]
    assert "1 passed" in context["review.output"]
    assert "1 passed" in Path(context["review.log"]).read_text()
    for _ in range(2):
        again = run("orchestration", "run", "login", "--goal", "make login work")
        assert again.code == 0, (again.out, again.err)
        assert calls(tmp_path) == 2, again.out
        assert "agent=CodeBuilder step=2 status=skipped" in again.out
        assert record(again)["context"]["review.status"] == "passed"
    # An input the agent declared changes: it runs again.
    write(tmp_path / "proj" / "SPEC.md", "login returns ok, and logs it\n")
    changed = run("orchestration", "run", "login", "--goal", "make login work")
    assert changed.code == 0, (changed.out, changed.err)
    assert calls(tmp_path) == 3


def test_a_skipped_agents_outputs_must_be_on_disk_as_it_left_them(
    project: Callable[[str], Run], tmp_path: Path
) -> None:
    run = project(CONFIG.replace("max_review_rounds = 2", "max_review_rounds = 1"))
    (tmp_path / "calls.txt").write_text("call\n")  # the stub writes the right code from now on
    assert run("orchestration", "run", "login").code == 0
    assert calls(tmp_path) == 2
    (tmp_path / "proj" / "src" / "login.py").write_text("broken by hand\n")
    again = run("orchestration", "run", "login")
    assert again.code == 0, (again.out, again.err)
    assert calls(tmp_path) == 3  # its output was not as it left it: it ran
    assert "agent=CodeBuilder step=2 status=success" in again.out


def test_a_command_agent_without_outputs_always_runs_unless_pure(project: Callable[[str], Run], tmp_path: Path) -> None:
    toml = """
[agents.Counter]
command = ["{py}", "-c", "open('n.txt', 'a').write('x')"]
{pure}
[orchestrations.count]
agents = ["Counter"]
"""
    run = project(toml.replace("{pure}", ""))
    for _ in range(2):
        assert run("orchestration", "run", "count").code == 0
    assert (tmp_path / "n.txt").read_text() == "xx"
    run = project(toml.replace("{pure}", "pure = true"))
    for _ in range(2):
        assert run("orchestration", "run", "count").code == 0
    assert (tmp_path / "n.txt").read_text() == "xxx"


def test_an_orchestration_names_its_task_and_a_template_needing_none_stops_before_anything_runs(
    project: Callable[[str], Run], tmp_path: Path
) -> None:
    toml = """
[tasks.login]
working_dir = "proj"
command = ["{py}", "-c", "pass"]

[agents.Echo]
command = ["{py}", "-c", "import sys; print('task', sys.argv[1])", "{{ task.name }}"]
pure = true

[orchestrations.pipeline]
agents = ["Echo"]
{task}
"""
    run = project(toml.replace("{task}", 'task = "login"'))
    ok = run("orchestration", "run", "pipeline")
    assert ok.code == 0, (ok.out, ok.err)
    assert record(ok)["task"] == "login"
    assert record(ok)["context"]["agents.Echo.output"] == "task login"

    run = project(toml.replace("{task}", ""))
    missing = run("orchestration", "run", "pipeline")
    assert missing.code == 2, (missing.out, missing.err)
    assert "agents.Echo" in missing.err and "no task" in missing.err and "Traceback" not in missing.err
    assert "agent=" not in missing.out  # nothing ran
    assert run("orchestration", "run", "pipeline", "--task", "login").code == 0

    run = project(toml.replace("{task}", 'task = "logn"'))
    unknown = run("orchestration", "run", "pipeline")
    assert unknown.code == 2 and "logn" in unknown.err, (unknown.out, unknown.err)


# A doc extractor beside the coding agent: it reads SPEC.md and the goal, writes docs/spec.txt, and counts
# its calls. It does not depend on the review, so the review loop's second round must not pay for it again.
DIGEST = """
import json, os, pathlib, sys
with open(sys.argv[1], "a") as fh:
    fh.write("run\\n")
context = json.loads(pathlib.Path(os.environ["ORCHASTRATION_CONTEXT"]).read_text())
pathlib.Path("docs").mkdir(exist_ok=True)
pathlib.Path("docs/spec.txt").write_text(context["goal"] + ": " + pathlib.Path("SPEC.md").read_text())
print(",".join(sorted(context)))
"""

SIBLING = (
    CONFIG.replace(
        'agents = ["PlannerAgent", "CodeBuilder", "ReviewerAgent"]',
        'steps = [["PlannerAgent"], ["CodeBuilder", "SpecDigest"], ["ReviewerAgent"]]',
    )
    + """
[agents.SpecDigest]
command = ["{py}", "{root}/digest.py", "{root}/digests.txt"]
working_dir = "proj"
inputs = ["SPEC.md"]
outputs = ["docs/spec.txt"]
context_keys = ["goal"]
"""
)


def digests(tmp_path: Path) -> int:
    path = tmp_path / "digests.txt"
    return len(path.read_text().splitlines()) if path.exists() else 0


def verdicts(dry: Result) -> dict[str, bool]:
    """``--dry-run``'s lines: agent -> would it run."""
    out = {}
    for line in dry.lines:
        if line.startswith("agent="):
            out[line.split()[0].removeprefix("agent=")] = " would-run " in line
    return out


def ran(result: Result) -> dict[str, bool]:
    """A run's agent lines: agent -> did it run (in any round)."""
    out: dict[str, bool] = {}
    for line in result.lines:
        if line.startswith("agent="):
            name = line.split()[0].removeprefix("agent=")
            out[name] = out.get(name, False) or "status=skipped" not in line
    return out


def test_a_sibling_of_the_builder_runs_once_not_every_review_round_and_dry_run_knows_the_loop(
    project: Callable[[str], Run], tmp_path: Path
) -> None:
    run = project(SIBLING)
    write(tmp_path / "digest.py", DIGEST)
    first = run("orchestration", "run", "login", "--goal", "make login work")
    assert first.code == 0, (first.out, first.err)
    assert record(first)["rounds"] == 2
    assert calls(tmp_path) == 2  # the builder reads the review: it ran again in round 2
    assert digests(tmp_path) == 1, first.out  # its sibling reads none of what round 1 changed
    assert [(a["name"], a["round"], a["status"]) for a in record(first)["agents"] if a["step"] == 2] == [
        ("CodeBuilder", 1, "success"), ("SpecDigest", 1, "success"),
        ("CodeBuilder", 2, "success"), ("SpecDigest", 2, "skipped"),
    ]  # fmt: skip
    context = record(first)["context"]
    assert context["agents.SpecDigest.output"] == "goal"  # its context file held only the keys it reads
    assert (tmp_path / "proj" / "docs" / "spec.txt").read_text() == "make login work: login returns ok\n"

    # Nothing changed: the loop resumes at round 2; --dry-run says so, and the run agrees.
    dry = run("orchestration", "run", "login", "--goal", "make login work", "--dry-run")
    assert dry.code == 0, (dry.out, dry.err)
    assert verdicts(dry) == {"PlannerAgent": False, "CodeBuilder": False, "SpecDigest": False, "ReviewerAgent": False}
    assert "agent=CodeBuilder step=2 round=2 up-to-date" in dry.lines, dry.out
    assert "review loop: resumes at round 2 (it passed there last run)" in dry.lines, dry.out
    again = run("orchestration", "run", "login", "--goal", "make login work")
    assert again.code == 0, (again.out, again.err)
    assert ran(again) == verdicts(dry)
    assert (calls(tmp_path), digests(tmp_path)) == (2, 1)

    # An input both agents read changes: --dry-run names them (round 1), and they run.
    write(tmp_path / "proj" / "SPEC.md", "login returns ok, and logs it\n")
    dry = run("orchestration", "run", "login", "--goal", "make login work", "--dry-run")
    assert dry.code == 0, (dry.out, dry.err)
    assert verdicts(dry) == {"PlannerAgent": False, "CodeBuilder": True, "SpecDigest": True, "ReviewerAgent": True}
    assert any(line.startswith("agent=SpecDigest step=2 would-run reason=input changed: ") for line in dry.lines)
    assert any(line.startswith("review loop: starts at round 1 (") for line in dry.lines), dry.out
    changed = run("orchestration", "run", "login", "--goal", "make login work")
    assert changed.code == 0, (changed.out, changed.err)
    assert ran(changed) == verdicts(dry)
    assert (calls(tmp_path), digests(tmp_path)) == (3, 2)
