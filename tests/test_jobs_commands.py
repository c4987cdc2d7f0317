"""End to end through the installed CLI: list, status, why, clean, forget, and the doit-native loader."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Result, assert_error
from jobs_helpers import PY, concat_job, project, statuses, write_config

Cli = Callable[..., Result]


def test_list_empty_text_and_json(cli: Cli, tmp_path: Path) -> None:
    root = project(tmp_path)
    assert cli(["list"], cwd=root).out == "no jobs configured\n"
    assert json.loads(cli(["list", "--json"], cwd=root).out) == []
    write_config(
        root,
        {
            "zeta": {"command": [PY, "-c", "pass"], "description": "last one", "env": {"TOKEN": "secret"}},
            "alpha": concat_job("out.txt", "src/a.txt", description="first one"),
        },
    )
    assert cli(["list"], cwd=root).out.splitlines() == ["alpha - first one", "zeta - last one"]
    listed = json.loads(cli(["list", "--json"], cwd=root).out)
    assert [j["name"] for j in listed] == ["alpha", "zeta"]
    assert listed[1]["env_names"] == ["TOKEN"] and "secret" not in json.dumps(listed)
    assert listed[0]["outputs"] == ["out.txt"]


def test_status_text_and_json(cli: Cli, tmp_path: Path) -> None:
    root = project(tmp_path)
    assert cli(["status"], cwd=root).out == "no jobs configured\n"
    write_config(root, {"cat": concat_job("out.txt", "src/a.txt"), "idle": {"command": [PY, "-c", "pass"]}})
    assert cli(["status"], cwd=root).out.splitlines() == ["cat - no runs recorded", "idle - no runs recorded"]
    assert cli(["run", "cat"], cwd=root).code == 0
    line = cli(["status"], cwd=root).out.splitlines()[0]
    assert line.startswith("cat - exit=0 duration_ms=") and " start=20" in line and line.endswith(" up-to-date")
    (root / "src" / "a.txt").write_text("edited\n")
    line = cli(["status"], cwd=root).out.splitlines()[0]
    assert line.endswith(" stale: input changed: src/a.txt")
    data = json.loads(cli(["status", "--json"], cwd=root).out)
    assert data[0]["job"] == "cat" and data[0]["up_to_date"] is False
    assert data[0]["reasons"] == ["input changed: src/a.txt"]
    assert data[0]["last_run"]["exit_code"] == 0 and Path(data[0]["last_run"]["record"]).is_file()
    assert data[1] == {"job": "idle", "last_run": None, "up_to_date": False, "reasons": ["never run"]}


def test_clean_deletes_declared_outputs_only_inside_working_dir(cli: Cli, tmp_path: Path) -> None:
    root = project(tmp_path)
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    write_config(
        root,
        {
            "cat": concat_job("out.txt", "src/a.txt"),
            "escape": {"command": [PY, "-c", "pass"], "outputs": ["../precious.txt", "made.txt"]},
        },
    )
    assert cli(["run", "cat"], cwd=root).code == 0
    (root / "made.txt").write_text("x")
    res = cli(["clean", "cat"], cwd=root)
    assert res.code == 0 and res.out.splitlines() == ["job=cat removed out.txt"]
    assert not (root / "out.txt").exists() and (root / "src" / "a.txt").exists()
    res = cli(["clean", "--all"], cwd=root)
    assert res.code == 1
    assert "not removing ../precious.txt: outside the job's working_dir" in res.err
    assert outside.read_text() == "keep me"
    assert not (root / "made.txt").exists()
    assert_error(cli(["clean"], cwd=root), 2, "--all")
    assert_error(cli(["clean", "nope"], cwd=root), 2, "unknown job 'nope'")
    # the cleaned job reruns
    assert statuses(cli(["run", "cat"], cwd=root).out) == {"cat": "ran"}


def test_forget_makes_jobs_run_again(cli: Cli, tmp_path: Path) -> None:
    root = project(tmp_path)
    write_config(root, {"a": concat_job("a.out", "src/a.txt"), "b": concat_job("b.out", "src/b.txt")})
    assert statuses(cli(["run"], cwd=root).out) == {"a": "ran", "b": "ran"}
    assert cli(["forget", "a"], cwd=root).out == "job=a forgotten\n"
    assert cli(["why", "a"], cwd=root).out.strip() == "state forgotten"
    assert statuses(cli(["run"], cwd=root).out) == {"a": "ran", "b": "skipped"}
    assert cli(["forget", "--all"], cwd=root).out.splitlines() == ["job=a forgotten", "job=b forgotten"]
    assert statuses(cli(["run"], cwd=root).out) == {"a": "ran", "b": "ran"}


def test_run_with_no_jobs_configured(cli: Cli, tmp_path: Path) -> None:
    # A CI script run in the wrong directory must not pass (docs/jobs.md; tests/test_jobs_daily.py has more).
    root = project(tmp_path)
    res = cli(["run"], cwd=root)
    assert_error(res, 2, "no jobs configured")
    assert res.out == ""


def test_list_does_not_import_doit(tmp_path: Path, env: dict[str, str]) -> None:
    root = project(tmp_path)
    write_config(root, {"cat": concat_job("out.txt", "src/a.txt")})
    code = (
        "import sys\nfrom orchastration.cli import main\nmain(['list'])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('doit', 'git', 'jinja2')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True)
    assert out.stdout.splitlines() == ["cat", "[]"], out.stderr


def test_doit_tasks_loader_in_a_real_dodo(tmp_path: Path, env: dict[str, str], state_dir: Path) -> None:
    root = project(tmp_path)
    write_config(
        root,
        {
            "gen": concat_job("gen.txt", "src/a.txt", description="generate"),
            "pack": concat_job("pack.txt", "gen.txt", depends_on=["gen"]),
        },
    )
    (root / "dodo.py").write_text(
        "from orchastration.dodo import doit_tasks\n\n"
        "def task_jobs():\n    yield from doit_tasks('orchastration.toml')\n"
    )
    doit = [sys.executable, "-m", "doit"]
    listed = subprocess.run([*doit, "list"], cwd=root, env=env, capture_output=True, text=True)
    assert [line.split()[0] for line in listed.stdout.splitlines()] == ["gen", "pack"], listed.stderr
    first = subprocess.run([*doit, "pack"], cwd=root, env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert ".  gen" in first.stdout and ".  pack" in first.stdout
    assert (root / "pack.txt").read_text() == "alpha\n"
    assert (state_dir / "runs" / "pack" / "last.json").is_file()
    again = subprocess.run([*doit, "pack"], cwd=root, env=env, capture_output=True, text=True)
    assert "-- gen" in again.stdout and "-- pack" in again.stdout


@pytest.mark.skipif(os.name != "posix", reason="needs a pseudo-terminal")
def test_progress_line_on_a_tty_plain_lines_otherwise(tmp_path: Path, env: dict[str, str]) -> None:
    import pty

    from conftest import cli_command

    root = project(tmp_path)
    write_config(root, {f"j{i}": {"command": [PY, "-c", "print('out')"]} for i in range(5)})
    # stderr on a pseudo-terminal (where the progress line goes), stdout captured as a pipe
    master, slave = pty.openpty()
    proc = subprocess.Popen([*cli_command(), "run"], cwd=root, env=env, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    out, _ = proc.communicate(timeout=60)
    os.close(master)
    tty_text = b"".join(chunks).decode()
    assert proc.returncode == 0
    assert "[5/5] running: -" in tty_text and "\x1b[2K" in tty_text
    assert statuses(out.decode()) == {f"j{i}": "ran" for i in range(5)}
    plain = subprocess.run([*cli_command(), "run", "--force"], cwd=root, env=env, capture_output=True, text=True)
    assert "\x1b[" not in plain.stderr + plain.stdout


def test_unknown_job_among_many_is_one_short_line(cli: Cli, tmp_path: Path) -> None:
    root = project(tmp_path)
    write_config(root, {f"job{i:02d}": {"command": [PY, "-c", "pass"]} for i in range(15)})
    res = cli(["why", "nosuch"], cwd=root)
    assert res.code == 2 and len(res.err.splitlines()) == 1, res.err
    assert "known: job00, job01," in res.err and "job09, ... 15 in all: orchastration list)" in res.err
    assert "job14" not in res.err
