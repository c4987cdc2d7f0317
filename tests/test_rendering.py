"""The Jinja environment: built-in templates, lookup order, strict undefined names, errors with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchastration.errors import TemplateError
from orchastration.rendering import TEMPLATE_NAMES, Renderer, builtin_dir, search_path

CONTEXT = {
    "task": {
        "name": "demo", "description": "", "repo": "external", "working_dir": "/w", "command": ["echo", "hi"],
        "command_line": "echo hi", "shell": False, "timeout_seconds": 0, "env_keys": [], "inputs": [],
        "outputs": [], "documents": [], "review_command": "", "status": "planned", "last_run": None,
        "branch": None, "issue_url": None,
    },
    "build": None, "review": None, "doc": {"path": "docs/tasks/demo.md"}, "hash_algorithm": "sha256",
    "version": "0",
}  # fmt: skip


def test_every_builtin_template_ships_and_renders() -> None:
    assert sorted(p.name for p in builtin_dir().glob("*.j2")) == sorted(TEMPLATE_NAMES)
    renderer = Renderer.for_task(None, None)
    assert renderer.render("issue_title.txt.j2", CONTEXT) == "Task: demo"
    assert renderer.render("issue_body.md.j2", CONTEXT) == "(no description provided)"
    assert renderer.render("branch_name.txt.j2", CONTEXT) == "task/external-demo"
    summary = renderer.render("readme_summary.md.j2", CONTEXT)
    assert summary.splitlines() == [
        "## Task Summary: demo",
        "- Purpose: (no description provided)",
        "- Command: `echo hi`",
        "- Outputs: (none)",
        "- Status: planned",
        "- Details: [docs/tasks/demo.md](docs/tasks/demo.md)",
    ]
    doc = renderer.render("task_doc.md.j2", CONTEXT)
    assert doc.startswith("# Task: demo\n\n## Purpose\n(no description provided)\n")
    assert "## Outputs Produced\n(none)\n" in doc and "## Documents\n(none)\n" in doc
    assert "- Last build: not built yet\n- Review: not reviewed yet" in doc


def test_lookup_order_user_dir_then_working_dir_then_builtin(tmp_path: Path) -> None:
    user, work = tmp_path / "user", tmp_path / "work"
    (work / ".orchastration" / "templates").mkdir(parents=True)
    user.mkdir()
    (user / "issue_title.txt.j2").write_text("user {{ task.name }}")
    (work / ".orchastration" / "templates" / "issue_title.txt.j2").write_text("work {{ task.name }}")
    (work / ".orchastration" / "templates" / "issue_body.md.j2").write_text("work body")
    renderer = Renderer.for_task(user, work)
    assert renderer.dirs == search_path(user, work)
    assert renderer.render("issue_title.txt.j2", CONTEXT) == "user demo"
    assert renderer.render("issue_body.md.j2", CONTEXT) == "work body"
    assert renderer.render("branch_name.txt.j2", CONTEXT) == "task/external-demo"
    assert renderer.find("branch_name.txt.j2") == builtin_dir() / "branch_name.txt.j2"


@pytest.mark.parametrize(
    ("source", "line", "needle"),
    [
        ("ok\n{{ task.nmae }}\n", 2, "nmae"),
        ("a\nb\n{{ missing }}", 3, "'missing' is undefined"),
        ("{% for x in task.outputs %}\n{% endif %}", 2, "syntax"),
        ("x\n{{ task.name | nosuchfilter }}", 2, "nosuchfilter"),
        ("{{ task.name.encode('no-such-codec') }}\n", 1, "rendering failed: LookupError"),
    ],
)
def test_template_errors_name_file_and_line(tmp_path: Path, source: str, line: int, needle: str) -> None:
    (tmp_path / "issue_title.txt.j2").write_text(source)
    with pytest.raises(TemplateError) as caught:
        Renderer([tmp_path]).render("issue_title.txt.j2", CONTEXT)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'issue_title.txt.j2'}:{line}: "), message
    assert needle in message
    assert caught.value.exit_code == 2


def test_strict_undefined_never_renders_blank(tmp_path: Path) -> None:
    (tmp_path / "t.j2").write_text("{{ build.exit_code }}")  # build is None before the first build
    with pytest.raises(TemplateError, match="t.j2:1"):
        Renderer([tmp_path]).render("t.j2", CONTEXT)


def test_missing_template_and_inline_strings(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="template 'nope.j2' not found"):
        Renderer([tmp_path]).render("nope.j2", CONTEXT)
    renderer = Renderer([tmp_path])
    assert renderer.render_string("{{ task.name }}-x", CONTEXT) == "demo-x"
    with pytest.raises(TemplateError, match=r"agents\.Lint\.command\[1\]:1: undefined name"):
        renderer.render_string("{{ nope }}", CONTEXT, label="agents.Lint.command[1]")
    with pytest.raises(TemplateError, match=r"agents\.Lint\.prompt: template syntax error"):
        renderer.render_string("{% if %}", CONTEXT, label="agents.Lint.prompt")
