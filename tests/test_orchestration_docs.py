"""The README/docs example of a coding agent plugged in as a builder runs as documented (with a fake agent CLI)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

from conftest import Result

DOC = Path(__file__).resolve().parent.parent / "docs" / "orchestrations.md"
PY = sys.executable.replace("\\", "/")

# Stands in for a coding-agent CLI: the first attempt forgets the file, the retry (whose prompt carries the
# failed review) writes it.
FAKE_AGENT = """
import pathlib, sys
prompt = sys.stdin.read()
app = pathlib.Path("app")
app.mkdir(exist_ok=True)
(app / "__init__.py").write_text("")
if "failed review" in prompt:
    (app / "login.py").write_text("def token():\\n    return 'session-token'\\n")
print("edited app/ for: " + prompt.strip().splitlines()[0])
"""


def blocks(after: str, lang: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index(after) :]
    match = re.search(rf"```{lang}\n(.*?)```", section, re.S)
    assert match, (after, lang)
    return match.group(1)


def test_documented_coding_agent_setup_runs_end_to_end(cli: Callable[..., Result], tmp_path: Path) -> None:
    toml = blocks("`orchastration.toml` at the root of your repository", "toml")
    script = blocks("`tools/code_agent.py` hands the prompt", "python")
    (tmp_path / "orchastration.toml").write_text(toml.replace('"python"', f'"{PY}"'), encoding="utf-8")
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "fake_agent.py").write_text(FAKE_AGENT, encoding="utf-8")
    fake = json.dumps([PY, str(tmp_path / "tools" / "fake_agent.py")])
    script = script.replace('["my-coding-agent", "--non-interactive"]', fake)
    (tmp_path / "tools" / "code_agent.py").write_text(script, encoding="utf-8")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_login.py").write_text(
        "from app.login import token\n\ndef test_token():\n    assert token() == 'session-token'\n"
    )

    res = cli(["orchestration", "run", "login", "--goal", "POST /login returns a session token"], cwd=tmp_path)
    assert res.code == 0, (res.out, res.err)
    rec = json.loads(Path(res.lines[-1].split("record=", 1)[1]).read_text())
    assert [(a["name"], a["round"], a["status"]) for a in rec["agents"]] == [
        ("PlannerAgent", 1, "success"), ("CodeBuilder", 1, "success"), ("BuilderAgent", 1, "success"),
        ("ReviewerAgent", 1, "failed"), ("CodeBuilder", 2, "success"), ("BuilderAgent", 2, "success"),
        ("ReviewerAgent", 2, "success"), ("DocAgent", 2, "success"),
    ]  # fmt: skip
    ctx = rec["context"]
    assert ctx["review.report"] == "all outputs present; review_command passed"
    assert (
        ctx["code.round"] == 2 and ctx["code.summary"] == "edited app/ for: Goal: POST /login returns a session token"
    )
    assert (tmp_path / "docs" / "tasks" / "login.md").is_file()

    def statuses() -> list[str]:
        res = cli(["orchestration", "run", "login", "--goal", "POST /login returns a session token"], cwd=tmp_path)
        assert res.code == 0, (res.out, res.err)
        return [line.split()[2].split("=")[1] for line in res.lines if line.startswith("agent=")]

    # Nothing changed: the review loop resumes at round 2, where it passed, and every agent is skipped.
    assert statuses() == ["skipped"] * 5
    assert statuses() == ["skipped"] * 5
