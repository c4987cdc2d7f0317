"""End to end: ``plan``, ``build run`` and ``doc generate`` through the installed CLI, in real git repositories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Result, assert_error

PY = sys.executable.replace("\\", "/")  # a TOML basic string on Windows too

CONFIG = """
[tasks.site]
description = "Build the site"
working_dir = "repo"
command = ["{py}", "-c", "import pathlib; p = pathlib.Path('dist'); p.mkdir(exist_ok=True); \
(p / 'site.txt').write_text('hello'); print('built site')"]
outputs = ["dist/site.txt"]
documents = ["README.md", "docs/guide.md"]

[tasks.broken]
description = "Always fails"
working_dir = "repo"
command = ["{py}", "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"]

[tasks.incremental]
description = "Copies an input"
working_dir = "repo"
command = ["{py}", "-c", "import pathlib; pathlib.Path('out.txt').write_text(pathlib.Path('in.txt').read_text())"]
inputs = ["in.txt"]
outputs = ["out.txt"]
"""


@pytest.fixture
def project(tmp_path: Path, env: dict[str, str]) -> Path:
    """A config in tmp_path and a real git repository (one commit) as the tasks' working_dir."""
    repo = tmp_path / "repo"
    repo.mkdir()
    env.update(GIT_AUTHOR_NAME="T", GIT_AUTHOR_EMAIL="t@example.com", GIT_COMMITTER_NAME="T",
               GIT_COMMITTER_EMAIL="t@example.com", GIT_CONFIG_NOSYSTEM="1")  # fmt: skip
    (repo / "README.md").write_bytes(b"# Project\r\n\r\nIntro line\r\nno newline at end")
    (repo / "in.txt").write_text("v1")
    for argv in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "init"]):
        subprocess.run(["git", *argv], cwd=repo, env=env, check=True)
    (tmp_path / "orchastration.toml").write_text(CONFIG.format(py=PY))
    return repo


def task_record(state_dir: Path, name: str) -> dict[str, object]:
    data = json.loads((state_dir / "tasks" / f"{name}.json").read_text())
    assert isinstance(data, dict)
    return data


def run_records(state_dir: Path, name: str) -> list[dict[str, object]]:
    files = sorted(p for p in (state_dir / "runs" / name).glob("2*.json"))
    return [json.loads(p.read_text()) for p in files]


Cli = Callable[..., Result]


def test_plan_list_create_status(cli: Cli, project: Path, state_dir: Path) -> None:
    listed = cli(["plan", "list"])
    assert listed.code == 0, listed.err
    assert listed.lines == [
        "broken - Always fails [planned]",
        "incremental - Copies an input [planned]",
        "site - Build the site [planned]",
    ]
    not_yet = cli(["plan", "status", "site"])
    assert_error(not_yet, 2, "site", "plan create")
    created = cli(["plan", "create", "site"])
    assert created.code == 0, created.err
    assert created.lines == ["task=site status=planned"]
    record = task_record(state_dir, "site")
    assert record["schema"] == 1
    assert record["name"] == "site" and record["status"] == "planned" and record["repo"] == "orchastration"
    assert record["outputs"] == ["dist/site.txt"] and record["documents"] == ["README.md", "docs/guide.md"]
    status = cli(["plan", "status", "site"])
    assert status.lines == [f"site status=planned last_run={record['last_run']}"]
    assert json.loads(cli(["plan", "status", "site", "--json"]).out) == record
    (run,) = run_records(state_dir, "site")
    assert {k: run[k] for k in ("task_name", "action", "status", "exit_code")} == {
        "task_name": "site", "action": "plan.create", "status": "planned", "exit_code": 0,
    }  # fmt: skip
    assert {"start_time", "end_time", "duration_ms", "message"} <= run.keys()


def test_unknown_task_and_missing_working_dir(cli: Cli, project: Path, tmp_path: Path) -> None:
    for argv in (["plan", "create", "nope"], ["plan", "status", "nope"], ["build", "run", "nope"],
                 ["doc", "generate", "nope"], ["git", "branch", "create", "nope"]):  # fmt: skip
        assert_error(cli(argv), 2, "unknown task 'nope'")
    (tmp_path / "orchastration.toml").write_text('[tasks.gone]\ncommand = ["true"]\nworking_dir = "missing"\n')
    assert_error(cli(["plan", "create", "gone"]), 2, "tasks.gone.working_dir", str(tmp_path / "missing"))
    assert_error(cli(["build", "run", "gone"]), 2, "tasks.gone.working_dir")


def test_build_done_and_failed(cli: Cli, project: Path, state_dir: Path) -> None:
    cli(["plan", "create", "site"])
    built = cli(["build", "run", "site"])
    assert built.code == 0, built.err
    assert "built site" in built.out
    assert built.lines[-1] == "task=site exit=0 status=done"
    assert (project / "dist" / "site.txt").read_text() == "hello"
    record = task_record(state_dir, "site")
    assert record["status"] == "done"
    build = record["last_build"]
    assert isinstance(build, dict) and build["exit_code"] == 0 and build["duration_ms"] >= 0
    runs = [r for r in run_records(state_dir, "site") if r["action"] == "build.run"]
    assert runs and runs[-1]["exit_code"] == 0 and runs[-1]["task_name"] == "site"

    failed = cli(["build", "run", "broken"])
    assert failed.code == 1
    assert failed.lines[-1] == "task=broken exit=3 status=failed"
    # The original tool left a failed build in_progress; we record failed.
    assert task_record(state_dir, "broken")["status"] == "failed"
    (run,) = [r for r in run_records(state_dir, "broken") if r["action"] == "build.run"]
    assert run["exit_code"] == 3


def test_build_is_incremental_with_inputs_and_outputs(cli: Cli, project: Path, state_dir: Path) -> None:
    first = cli(["build", "run", "incremental"])
    assert first.lines[-1] == "task=incremental exit=0 status=done", first.err
    again = cli(["build", "run", "incremental"])
    assert again.lines == ["task=incremental status=up-to-date"], again.err
    assert task_record(state_dir, "incremental")["status"] == "done"
    forced = cli(["build", "run", "incremental", "--force"])
    assert forced.lines[-1] == "task=incremental exit=0 status=done"
    (project / "in.txt").write_text("v2")
    changed = cli(["build", "run", "incremental"])
    assert changed.lines[-1] == "task=incremental exit=0 status=done"
    assert (project / "out.txt").read_text() == "v2"


def test_doc_generate_twice_keeps_one_section_and_the_rest(cli: Cli, project: Path, state_dir: Path) -> None:
    readme = project / "README.md"
    original = readme.read_bytes()
    cli(["build", "run", "site"])
    cli(["plan", "create", "broken"])
    first = cli(["doc", "generate", "site"])
    assert first.code == 0, first.err
    doc = project / "docs" / "tasks" / "site.md"
    assert first.lines == [f"task=site status=done doc={doc}"]
    after_first = readme.read_bytes()
    assert after_first.startswith(original)  # every original byte kept, CRLF and all
    cli(["doc", "generate", "broken"])
    after_both = readme.read_bytes()
    assert after_both.startswith(after_first)
    second = cli(["doc", "generate", "site"])
    assert second.code == 0, second.err
    assert readme.read_bytes() == after_both
    text = after_both.decode()
    assert text.count("<!-- orchastration:task:site:begin -->") == 1
    assert text.count("<!-- orchastration:task:site:end -->") == 1
    assert text.count("<!-- orchastration:task:broken:begin -->") == 1
    assert "\n" not in text.replace("\r\n", "")  # the section follows the README's CRLF
    assert "## Task Summary: site\r\n- Purpose: Build the site\r\n" in text
    assert "- Outputs: `dist/site.txt`\r\n- Status: done\r\n" in text
    assert "## Task Summary: broken" in text and "- Outputs: (none)" in text

    body = doc.read_text()
    for heading in ("# Task: site", "## Purpose", "## Commands Run", "## Outputs Produced", "## Documents",
                    "## Status"):  # fmt: skip
        assert f"\n{heading}\n" in f"\n{body}"
    import hashlib

    digest = hashlib.sha256(b"hello").hexdigest()
    assert f"| `dist/site.txt` | 5 | `{digest}` |" in body
    assert f"- Working directory: `{project}`" in body
    assert "- [README.md](../../README.md)" in body and "- [docs/guide.md](../guide.md) (missing)" in body
    assert "- Status: done" in body and "- Last build: done, exit 0," in body
    assert task_record(state_dir, "site")["status"] == "done"  # doc generate never changes the status
    actions = [r["action"] for r in run_records(state_dir, "site")]
    assert actions.count("doc.generate") == 2


def test_doc_replaces_an_edited_section_in_place(cli: Cli, project: Path) -> None:
    readme = project / "README.md"
    readme.write_bytes(
        b"top\n<!-- orchastration:task:site:begin -->\nstale text\n<!-- orchastration:task:site:end -->\nbottom"
    )
    assert cli(["doc", "generate", "site"]).code == 0
    text = readme.read_bytes().decode()
    assert text.startswith("top\n<!-- orchastration:task:site:begin -->\n## Task Summary: site\n")
    assert text.endswith("<!-- orchastration:task:site:end -->\nbottom")
    assert "stale text" not in text


def test_doc_refuses_a_readme_with_broken_markers(cli: Cli, project: Path) -> None:
    readme = project / "README.md"
    content = b"x\n<!-- orchastration:task:site:begin -->\nno end\n"
    readme.write_bytes(content)
    assert_error(cli(["doc", "generate", "site"]), 2, str(readme), "marker")
    assert readme.read_bytes() == content
    assert not (project / "docs" / "tasks" / "site.md").exists()


def test_review_and_state_appear_in_the_doc(project: Path, env: dict[str, str]) -> None:
    """The Reviewer's result, kept through the Workflow API, is shown by the doc template."""
    from orchastration.config import load_config
    from orchastration.paths import Paths
    from orchastration.workflow import Workflow

    config = load_config(cwd=project, environ=env)
    wf = Workflow(config, Paths.resolve(None, env), quiet=True, environ=env)
    outcome = wf.build_run("site")
    assert outcome.outputs == [project / "dist" / "site.txt"] and outcome.status == "done"
    wf.record_review("site", "passed", "all outputs present")
    doc = wf.doc_generate("site")
    assert doc.status == "done" and doc.readme_path == project / "README.md"
    text = doc.doc_path.read_text()
    assert "- Review: passed - all outputs present (" in text


def test_user_override_templates_win(cli: Cli, project: Path, tmp_path: Path) -> None:
    local = project / ".orchastration" / "templates"
    local.mkdir(parents=True)
    (local / "task_doc.md.j2").write_text("LOCAL {{ task.name }} {{ task.status }}\n")
    (local / "readme_summary.md.j2").write_text("LOCAL SUMMARY {{ task.name }}\n")
    assert cli(["doc", "generate", "site"]).code == 0
    assert (project / "docs" / "tasks" / "site.md").read_text() == "LOCAL site planned\n"
    assert "LOCAL SUMMARY site" in (project / "README.md").read_text()

    user = tmp_path / "mytemplates"
    user.mkdir()
    (user / "task_doc.md.j2").write_text("USER {{ task.description }}\n")
    config = tmp_path / "orchastration.toml"
    config.write_text(config.read_text() + '\n[templates]\ndir = "mytemplates"\n')
    assert cli(["doc", "generate", "site"]).code == 0
    assert (project / "docs" / "tasks" / "site.md").read_text() == "USER Build the site\n"
    # [templates].dir lacks the summary template: the working_dir override is next in line.
    assert "LOCAL SUMMARY site" in (project / "README.md").read_text()


def test_broken_templates_exit_2_naming_file_and_line(cli: Cli, project: Path) -> None:
    local = project / ".orchastration" / "templates"
    local.mkdir(parents=True)
    template = local / "task_doc.md.j2"
    template.write_text("# ok\n{{ task.nmae }}\n")
    readme_before = (project / "README.md").read_bytes()
    assert_error(cli(["doc", "generate", "site"]), 2, f"{template}:2", "nmae")
    template.write_text("line one\n\n{% if %}\n")
    assert_error(cli(["doc", "generate", "site"]), 2, f"{template}:3", "syntax")
    assert (project / "README.md").read_bytes() == readme_before  # nothing written on a template error
    assert not (project / "docs" / "tasks" / "site.md").exists()


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_doc_keeps_readme_permissions(cli: Cli, project: Path) -> None:
    readme = project / "README.md"
    readme.chmod(0o664)
    assert cli(["doc", "generate", "site"]).code == 0
    assert readme.stat().st_mode & 0o777 == 0o664
    assert (project / "docs" / "tasks" / "site.md").stat().st_mode & 0o044 == 0o044  # readable by others


def test_build_status_env_logs_timeout_and_missing_command(
    cli: Cli, project: Path, tmp_path: Path, state_dir: Path
) -> None:
    record = (state_dir / "tasks" / "watch.json").as_posix()
    (tmp_path / "orchastration.toml").write_text(f'''
[tasks.watch]
working_dir = "repo"
command = ["{PY}", "-c", "import json, os, sys; print(json.load(open('{record}'))['status'], os.environ['MODE']); \
print('to stderr', file=sys.stderr)"]
env = {{ MODE = "fast" }}

[tasks.slow]
working_dir = "repo"
command = ["{PY}", "-c", "import time; time.sleep(30)"]
timeout_seconds = 0.5

[tasks.missing]
working_dir = "repo"
command = ["no-such-program-xyz"]
''')
    watched = cli(["build", "run", "watch"])
    assert watched.code == 0, watched.err
    # While the command runs, the task record already says in_progress; env reaches the command.
    assert watched.lines == ["in_progress fast", "task=watch exit=0 status=done"]
    assert "to stderr" in watched.err
    (run,) = run_records(state_dir, "watch")
    assert run["task_name"] == "watch" and run["action"] == "build.run" and run["status"] == "ran"
    assert Path(str(run["stdout_path"])).read_text() == "in_progress fast\n"
    assert Path(str(run["stderr_path"])).read_text() == "to stderr\n"

    slow = cli(["build", "run", "slow"])
    assert slow.code == 1 and slow.lines[-1] == "task=slow exit=-1 status=failed"
    assert task_record(state_dir, "slow")["status"] == "failed"
    missing = cli(["build", "run", "missing"])
    assert missing.code == 1 and missing.lines[-1] == "task=missing exit=127 status=failed"
    assert "no-such-program-xyz" in missing.err
    build = task_record(state_dir, "missing")["last_build"]
    assert isinstance(build, dict) and build["exit_code"] == 127 and "not found" in build["message"]


def test_plan_list_json_and_empty(cli: Cli, project: Path, tmp_path: Path) -> None:
    cli(["build", "run", "broken"])
    listed = cli(["plan", "list", "--json"])
    rows = {row["name"]: row for row in json.loads(listed.out)}
    assert rows["broken"]["status"] == "failed" and rows["site"]["status"] == "planned"
    assert rows["site"]["working_dir"] == str(project) and rows["site"]["repo"] == "orchastration"
    (tmp_path / "orchastration.toml").write_text("")
    assert cli(["plan", "list"]).out == "no tasks configured\n"
    assert json.loads(cli(["plan", "list", "--json"]).out) == []


@pytest.mark.skipif(os.name != "posix", reason="symlinks need privileges on Windows")
def test_doc_updates_a_symlinked_readme_where_it_points(cli: Cli, project: Path) -> None:
    real = project / "docs" / "README.real.md"
    real.parent.mkdir()
    real.write_text("real\n")
    (project / "README.md").unlink()
    (project / "README.md").symlink_to(Path("docs") / "README.real.md")
    assert cli(["doc", "generate", "site"]).code == 0
    assert (project / "README.md").is_symlink()
    assert real.read_text().startswith("real\n\n<!-- orchastration:task:site:begin -->\n")


def test_doc_creates_a_missing_readme(cli: Cli, project: Path) -> None:
    (project / "README.md").unlink()
    assert cli(["doc", "generate", "site"]).code == 0
    readme = (project / "README.md").read_text()
    assert readme.startswith("<!-- orchastration:task:site:begin -->\n## Task Summary: site\n")
    assert readme.endswith("<!-- orchastration:task:site:end -->\n")
    doc = (project / "docs" / "tasks" / "site.md").read_text()
    assert "- [README.md](../../README.md)\n" in doc  # written by this run: not "(missing)"


@pytest.mark.skipif(os.name != "posix", reason="SIGINT delivery to a child process is POSIX")
def test_interrupted_build_is_recorded_failed_not_in_progress(
    project: Path, tmp_path: Path, env: dict[str, str], state_dir: Path
) -> None:
    import signal
    import time

    from conftest import cli_command

    (tmp_path / "orchastration.toml").write_text(
        f'[tasks.slow]\nworking_dir = "repo"\ncommand = ["{PY}", "-c", "import time; time.sleep(60)"]\n'
    )
    proc = subprocess.Popen([*cli_command(), "build", "run", "slow"], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    record = state_dir / "tasks" / "slow.json"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (record.exists() and "in_progress" in record.read_text()):
        time.sleep(0.05)
    time.sleep(0.5)  # let the engine start the command
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert task_record(state_dir, "slow")["status"] == "failed"


def test_concurrent_doc_generate_into_one_readme_keeps_every_section(
    project: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    from conftest import cli_command

    names = [f"t{i}" for i in range(6)]
    (tmp_path / "orchastration.toml").write_text(
        "".join(f'[tasks.{n}]\nworking_dir = "repo"\ncommand = ["true"]\n' for n in names)
    )
    procs = [
        subprocess.Popen(
            [*cli_command(), "doc", "generate", n],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        for n in names
    ]
    assert [p.wait(timeout=120) for p in procs] == [0] * len(names)
    readme = (project / "README.md").read_bytes()
    assert readme.startswith(b"# Project\r\n\r\nIntro line\r\nno newline at end")
    for n in names:
        assert readme.count(f"<!-- orchastration:task:{n}:begin -->".encode()) == 1


def test_concurrent_record_updates_lose_nothing(project: Path, env: dict[str, str], state_dir: Path) -> None:
    """The Builder and the Reviewer of one parallel step may update one task record at once."""
    from concurrent.futures import ThreadPoolExecutor

    from orchastration.config import load_config
    from orchastration.paths import Paths
    from orchastration.workflow import Workflow

    wf = Workflow(load_config(cwd=project, environ=env), Paths.resolve(None, env), quiet=True, environ=env)
    with ThreadPoolExecutor(4) as pool:
        build = pool.submit(wf.build_run, "site")
        reviews = [pool.submit(wf.record_review, "site", "passed", f"report {i}") for i in range(20)]
        assert build.result().status == "done"
        for review in reviews:
            review.result()
    record = task_record(state_dir, "site")
    assert record["status"] == "done" and isinstance(record["last_build"], dict)
    assert isinstance(record["last_review"], dict) and str(record["last_review"]["report"]).startswith("report ")
