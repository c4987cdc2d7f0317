"""Git helpers: branch-name sanitising, and ``git branch|issue create`` end to end in real repositories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Result, assert_error
from hypothesis import given, settings
from hypothesis import strategies as st

from orchastration.vcs import ref_format_problem, sanitize_branch_name

Cli = Callable[..., Result]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("task/sample_task", "task/sample_task"),
        ("task/external-Sample", "task/external-sample"),
        ("task/My Task  Name", "task/my-task-name"),
        ("task/a..b", "task/a.b"),
        ("task/..hidden..", "task/hidden"),
        ("task/x.lock", "task/x"),
        ("task/x.lock.lock", "task/x"),
        ("task/Ünïcödé ☃ name", "task/n-c-d-name"),
        ("task/-lead-", "task/lead"),
        ("  task//double/  ", "task/double"),
        ("@{}", "task"),
        ("", "task"),
        ("???", "task"),
        ("feature/@{upstream}~1^2:x", "feature/upstream-1-2-x"),
    ],
)
def test_sanitize_branch_name(raw: str, expected: str) -> None:
    assert sanitize_branch_name(raw) == expected
    assert ref_format_problem(expected) is None


@given(st.text())
def test_sanitized_names_always_pass_ref_rules(raw: str) -> None:
    name = sanitize_branch_name(raw)
    assert ref_format_problem(name) is None
    assert name == name.lower() and set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789._-/")


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("aZ09._-/ @{}~^:?*[\\.lock\u00e9\u2603")), max_size=30))
def test_sanitized_names_satisfy_real_git(raw: str) -> None:
    """Names built from the characters git cares about, checked by git itself."""
    name = sanitize_branch_name(raw)
    proc = subprocess.run(["git", "check-ref-format", "--branch", name], capture_output=True)
    assert proc.returncode == 0, (raw, name, proc.stderr)


def test_sanitized_names_pass_git_check_ref_format() -> None:
    for raw in ("task/A..B.lock", "task/ünï code", "x/.y./-z-", "task/a.b-c_d"):
        name = sanitize_branch_name(raw)
        subprocess.run(["git", "check-ref-format", "--branch", name], check=True, capture_output=True)


# -- end to end ---------------------------------------------------------------------------


def git(repo: Path, env: dict[str, str], *argv: str) -> str:
    proc = subprocess.run(["git", *argv], cwd=repo, env=env, check=True, capture_output=True, text=True)
    return proc.stdout.strip()


@pytest.fixture
def genv(env: dict[str, str]) -> dict[str, str]:
    env.update(GIT_AUTHOR_NAME="T", GIT_AUTHOR_EMAIL="t@example.com", GIT_COMMITTER_NAME="T",
               GIT_COMMITTER_EMAIL="t@example.com", GIT_CONFIG_NOSYSTEM="1")  # fmt: skip
    return env


def make_repo(path: Path, env: dict[str, str], commit: bool = True) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, env, "init", "-q", "-b", "main")
    if commit:
        (path / "a.txt").write_text("one\n")
        git(path, env, "add", "a.txt")
        git(path, env, "commit", "-q", "-m", "first")
    return path


def write_config(tmp_path: Path, body: str = "") -> None:
    (tmp_path / "orchastration.toml").write_text(
        '[tasks.sample_task]\ndescription = "Add the login page"\nworking_dir = "repo"\ncommand = ["true"]\n\n'
        '[tasks.ext]\nrepo = "external"\ndescription = ""\nworking_dir = "repo/sub"\ncommand = ["true"]\n' + body
    )


def snapshot(repo: Path, env: dict[str, str]) -> tuple[str, ...]:
    """Everything an error must leave alone: HEAD, branches, index and work tree status, config."""
    return (
        git(repo, env, "symbolic-ref", "-q", "--short", "HEAD") if _on_branch(repo, env) else "detached",
        git(repo, env, "rev-parse", "--verify", "-q", "HEAD") if _has_commits(repo, env) else "unborn",
        git(repo, env, "for-each-ref", "--format=%(refname) %(objectname)"),
        git(repo, env, "status", "--porcelain=v1", "--untracked-files=all"),
        (repo / ".git" / "config").read_text(),
    )


def _on_branch(repo: Path, env: dict[str, str]) -> bool:
    return subprocess.run(["git", "symbolic-ref", "-q", "HEAD"], cwd=repo, env=env, capture_output=True).returncode == 0


def _has_commits(repo: Path, env: dict[str, str]) -> bool:
    proc = subprocess.run(["git", "rev-parse", "--verify", "-q", "HEAD"], cwd=repo, env=env, capture_output=True)
    return proc.returncode == 0


def runs(state_dir: Path, task: str, action: str) -> list[dict[str, object]]:
    found = [json.loads(p.read_text()) for p in sorted((state_dir / "runs" / task).glob("2*.json"))]
    return [r for r in found if r["action"] == action]


def test_branch_create_default_and_external(cli: Cli, tmp_path: Path, genv: dict[str, str], state_dir: Path) -> None:
    repo = make_repo(tmp_path / "repo", genv)
    (repo / "sub").mkdir()
    write_config(tmp_path)
    made = cli(["git", "branch", "create", "sample_task"])
    assert made.code == 0, made.err
    assert made.lines == ["task=sample_task branch=task/sample_task"]
    assert git(repo, genv, "branch", "--show-current") == "task/sample_task"
    (run,) = runs(state_dir, "sample_task", "git.branch.create")
    assert run["branch"] == "task/sample_task" and run["base"] == "HEAD (main)" and run["exit_code"] == 0
    record = json.loads((state_dir / "tasks" / "sample_task.json").read_text())
    assert record["branch"] == "task/sample_task" and record["last_run"] == run["start_time"]
    # A working_dir inside the repository: the nearest parent repository is used.
    ext = cli(["git", "branch", "create", "ext"])
    assert ext.lines == ["task=ext branch=task/external-ext"], ext.err
    assert git(repo, genv, "branch", "--show-current") == "task/external-ext"
    # No upstream is configured: nothing about remotes is touched.
    assert "[branch" not in (repo / ".git" / "config").read_text()


def test_branch_names_from_a_template_are_sanitised(cli: Cli, tmp_path: Path, genv: dict[str, str]) -> None:
    repo = make_repo(tmp_path / "repo", genv)
    write_config(tmp_path)
    tpl = repo / ".orchastration" / "templates"
    tpl.mkdir(parents=True)
    (tpl / "branch_name.txt.j2").write_text("Feature/{{ task.description }} ..Ünïcödé.. v1.lock\n")
    made = cli(["git", "branch", "create", "sample_task"])
    assert made.lines == ["task=sample_task branch=feature/add-the-login-page-.-n-c-d-.-v1"], made.err
    subprocess.run(["git", "check-ref-format", "--branch", "feature/add-the-login-page-.-n-c-d-.-v1"], check=True)
    assert git(repo, genv, "branch", "--show-current") == "feature/add-the-login-page-.-n-c-d-.-v1"


def test_branch_create_carries_a_dirty_tree(cli: Cli, tmp_path: Path, genv: dict[str, str]) -> None:
    repo = make_repo(tmp_path / "repo", genv)
    write_config(tmp_path)
    (repo / "a.txt").write_text("changed\n")
    (repo / "new.txt").write_text("untracked\n")
    git(repo, genv, "add", "new.txt")
    before = git(repo, genv, "status", "--porcelain")
    assert cli(["git", "branch", "create", "sample_task"]).code == 0
    assert git(repo, genv, "branch", "--show-current") == "task/sample_task"
    assert git(repo, genv, "status", "--porcelain") == before
    assert (repo / "a.txt").read_text() == "changed\n"


def test_branch_create_from_base(cli: Cli, tmp_path: Path, genv: dict[str, str], state_dir: Path) -> None:
    repo = make_repo(tmp_path / "repo", genv)
    write_config(tmp_path)
    first = git(repo, genv, "rev-parse", "HEAD")
    git(repo, genv, "tag", "v1")
    (repo / "a.txt").write_text("two\n")
    git(repo, genv, "commit", "-q", "-am", "second")
    made = cli(["git", "branch", "create", "sample_task", "--base", "v1"])
    assert made.code == 0, made.err
    assert git(repo, genv, "rev-parse", "HEAD") == first
    assert git(repo, genv, "branch", "--show-current") == "task/sample_task"
    (run,) = runs(state_dir, "sample_task", "git.branch.create")
    assert run["base"] == "v1" and run["commit"] == first


def test_branch_create_from_detached_head(cli: Cli, tmp_path: Path, genv: dict[str, str], state_dir: Path) -> None:
    repo = make_repo(tmp_path / "repo", genv)
    write_config(tmp_path)
    head = git(repo, genv, "rev-parse", "HEAD")
    git(repo, genv, "checkout", "-q", "--detach")
    made = cli(["git", "branch", "create", "sample_task"])
    assert made.code == 0, made.err
    assert git(repo, genv, "branch", "--show-current") == "task/sample_task"
    assert git(repo, genv, "rev-parse", "HEAD") == head
    (run,) = runs(state_dir, "sample_task", "git.branch.create")
    assert run["base"] == f"HEAD (detached at {head[:12]})"


def test_branch_errors_leave_the_repository_untouched(cli: Cli, tmp_path: Path, genv: dict[str, str]) -> None:
    write_config(tmp_path)
    (tmp_path / "repo").mkdir()
    assert_error(cli(["git", "branch", "create", "sample_task"]), 2, "not a git repository", str(tmp_path / "repo"))

    repo = make_repo(tmp_path / "repo", genv, commit=False)
    (repo / "sub").mkdir()  # the ext task's working_dir (empty: invisible to git status)
    before = snapshot(repo, genv)
    assert_error(cli(["git", "branch", "create", "sample_task"]), 2, "no commits yet")
    assert_error(cli(["git", "branch", "create", "sample_task", "--base", "main"]), 2, "unknown ref 'main'")
    assert snapshot(repo, genv) == before

    (repo / "a.txt").write_text("one\n")
    git(repo, genv, "add", "a.txt")
    git(repo, genv, "commit", "-q", "-m", "first")
    git(repo, genv, "branch", "task/sample_task")
    (repo / "a.txt").write_text("dirty\n")
    before = snapshot(repo, genv)
    assert_error(cli(["git", "branch", "create", "sample_task"]), 2, "'task/sample_task' already exists")
    assert_error(cli(["git", "branch", "create", "ext", "--base", "no/such-ref"]), 2, "unknown ref 'no/such-ref'")
    assert_error(cli(["git", "branch", "create", "ext", "--base", "--help"]), 2)
    assert snapshot(repo, genv) == before

    # git itself refuses (local changes would be overwritten): still nothing changed, git's reason shown.
    git(repo, genv, "checkout", "-q", "-f", "main")
    (repo / "a.txt").write_text("two\n")
    git(repo, genv, "commit", "-q", "-am", "second")
    (repo / "a.txt").write_text("local edit\n")
    before = snapshot(repo, genv)
    assert_error(cli(["git", "branch", "create", "ext", "--base", "HEAD~1"]), 2, "a.txt")
    assert snapshot(repo, genv) == before


# -- issues -------------------------------------------------------------------------------

STUB = """
import json, os, sys
record = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gh-calls.jsonl")
with open(record, "a") as fh:
    fh.write(json.dumps({"argv": sys.argv[1:], "stdin": sys.stdin.read(), "cwd": os.getcwd()}) + "\\n")
if os.environ.get("GH_STUB_FAIL"):
    print("To get started with GitHub CLI, please run:  gh auth login", file=sys.stderr)
    sys.exit(4)
print("Creating issue in owner/repo")
print("https://github.com/owner/repo/issues/42")
"""


def install_gh_stub(bin_dir: Path) -> Path:
    """A fake ``gh`` that records argv, stdin and cwd (the only fake: GitHub itself)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    (bin_dir / "gh_stub.py").write_text(STUB)
    if os.name == "nt":
        (bin_dir / "gh.cmd").write_text(f'@"{sys.executable}" "%~dp0gh_stub.py" %*\r\n')
    else:
        script = bin_dir / "gh"
        script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$(dirname "$0")/gh_stub.py" "$@"\n')
        script.chmod(0o755)
    return bin_dir / "gh-calls.jsonl"


def test_issue_create_with_gh(cli: Cli, tmp_path: Path, genv: dict[str, str], state_dir: Path) -> None:
    repo = make_repo(tmp_path / "repo", genv)
    write_config(tmp_path)
    calls = install_gh_stub(tmp_path / "bin")
    genv["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{genv['PATH']}"
    before = snapshot(repo, genv)
    made = cli(["git", "issue", "create", "sample_task"])
    assert made.code == 0, made.err
    assert made.lines == ["task=sample_task issue=https://github.com/owner/repo/issues/42"]
    (call,) = [json.loads(line) for line in calls.read_text().splitlines()]
    assert call["argv"] == ["issue", "create", "--title", "Task: sample_task", "--body-file", "-"]
    assert call["stdin"] == "Add the login page\n"
    assert Path(call["cwd"]) == repo
    (run,) = runs(state_dir, "sample_task", "git.issue.create")
    assert run["url"] == "https://github.com/owner/repo/issues/42" and run["title"] == "Task: sample_task"
    record = json.loads((state_dir / "tasks" / "sample_task.json").read_text())
    assert record["issue_url"] == run["url"] and record["last_run"] == run["start_time"]
    assert snapshot(repo, genv) == before  # an issue never changes the repository

    (repo / "sub").mkdir()
    empty = cli(["git", "issue", "create", "ext"])
    assert empty.code == 0, empty.err
    last = json.loads(calls.read_text().splitlines()[-1])
    assert last["argv"][3] == "Task: ext" and last["stdin"] == "(no description provided)\n"


def test_issue_dry_run_calls_nothing(cli: Cli, tmp_path: Path, genv: dict[str, str], state_dir: Path) -> None:
    make_repo(tmp_path / "repo", genv)
    write_config(tmp_path)
    calls = install_gh_stub(tmp_path / "bin")
    genv["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{genv['PATH']}"
    dry = cli(["git", "issue", "create", "sample_task", "--dry-run"])
    assert dry.code == 0, dry.err
    assert dry.out == "title: Task: sample_task\nbody:\nAdd the login page\n"
    assert not calls.exists()
    assert not (state_dir / "runs" / "sample_task").exists()  # a dry run records nothing


def test_issue_gh_failing_or_missing(cli: Cli, tmp_path: Path, genv: dict[str, str], state_dir: Path) -> None:
    make_repo(tmp_path / "repo", genv)
    write_config(tmp_path)
    install_gh_stub(tmp_path / "bin")
    path = genv["PATH"]
    genv["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{path}"
    genv["GH_STUB_FAIL"] = "1"
    assert_error(cli(["git", "issue", "create", "sample_task"]), 2, "gh auth login", "exit 4", "--dry-run")
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    genv["PATH"] = str(empty_bin)
    assert_error(cli(["git", "issue", "create", "sample_task"]), 2, "'gh'", "--dry-run")
    assert not (state_dir / "runs" / "sample_task").exists()


def test_branch_name_clashing_with_an_existing_ref_is_refused(cli: Cli, tmp_path: Path, genv: dict[str, str]) -> None:
    repo = make_repo(tmp_path / "repo", genv)
    write_config(tmp_path)
    git(repo, genv, "branch", "task")  # refs/heads/task blocks refs/heads/task/<name>
    before = snapshot(repo, genv)
    result = cli(["git", "branch", "create", "sample_task"])
    assert_error(result, 2, "git checkout -b task/sample_task failed", "'refs/heads/task' exists")
    assert result.err.rstrip().endswith("cannot create 'refs/heads/task/sample_task'")
    assert snapshot(repo, genv) == before
