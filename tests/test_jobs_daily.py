"""End to end through the installed CLI: the daily-use job commands (docs/jobs.md).

``logs``, ``status JOB``, the summary line after a run, ``-q`` keeping a failure's stderr,
``run JOB -- ARGS``, the no-config error, and the examples at the end of every ``--help``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Result, assert_error
from jobs_helpers import PY, age, concat_job, project, statuses, write_config

from orchastration.cli.examples import EXAMPLES
from orchastration.cli.parser import build_parser

Cli = Callable[..., Result]
SUMMARY = re.compile(r"^ran (\d+), skipped (\d+), failed (\d+), restored (\d+) in \d+\.\d\d s$")
# Prints its input file's text to stdout, "err: <text>" to stderr, and its arguments.
ECHO = (
    "import sys; t = open('src/a.txt').read().strip(); "
    "print('out:', t, sys.argv[1:]); print('err:', t, file=sys.stderr)"
)


def _summary(err: str) -> tuple[int, ...] | None:
    """The counts of the summary line (the last line on stderr), or None when there is none."""
    lines = err.splitlines()
    found = SUMMARY.match(lines[-1]) if lines else None
    return tuple(int(n) for n in found.groups()) if found else None


def test_logs_of_the_last_and_of_a_given_run(cli: Cli, tmp_path: Path) -> None:
    root = project(tmp_path)
    write_config(root, {"echo": {"command": [PY, "-c", ECHO], "inputs": ["src/a.txt"]}, "idle": {"command": [PY]}})
    assert_error(cli(["logs", "echo"], cwd=root), 2, "echo: no runs recorded")
    (root / "src" / "a.txt").write_text("first\n")
    assert cli(["run", "echo"], cwd=root).code == 0
    first = cli(["logs", "echo", "--path"], cwd=root).out.splitlines()
    (root / "src" / "a.txt").write_text("second\n")
    assert cli(["run", "echo"], cwd=root).code == 0
    res = cli(["logs", "echo"], cwd=root)
    assert (res.code, res.out, res.err) == (0, "out: second []\n", "err: second\n")
    paths = cli(["logs", "echo", "--path"], cwd=root).out.splitlines()
    assert len(paths) == 2 and paths != first
    assert paths[0].endswith(".stdout.log") and paths[1].endswith(".stderr.log")
    assert Path(paths[0]).read_text() == "out: second []\n"
    stamp = Path(first[0]).name.removesuffix(".stdout.log")
    res = cli(["logs", "echo", "--run", stamp, "--stdout"], cwd=root)
    assert (res.code, res.out, res.err) == (0, "out: first []\n", "")
    res = cli(["logs", "echo", "--run", stamp, "--stderr"], cwd=root)
    assert (res.code, res.out, res.err) == (0, "", "err: first\n")
    assert cli(["logs", "echo", "--stderr", "--path"], cwd=root).out.splitlines() == paths[1:]
    assert_error(cli(["logs", "echo", "--run", "20200101T000000.000000Z"], cwd=root), 2, "no run 20200101T000000")
    assert_error(cli(["logs", "echo", "--run", "../../x"], cwd=root), 2, "not a run timestamp")
    assert_error(cli(["logs", "ech"], cwd=root), 2, "unknown job 'ech'")
    assert_error(cli(["logs", "idle"], cwd=root), 2, "idle: no runs recorded")


def test_logs_of_a_task_build(cli: Cli, tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "orchastration.toml").write_text(
        f'[tasks.pack]\ncommand = ["{PY}", "-c", "print(\'packed\')"]\n'.replace("\\", "\\\\")
    )
    assert cli(["build", "run", "pack"], cwd=root).code == 0
    assert cli(["plan", "create", "pack"], cwd=root).code == 0  # a newer record without logs
    res = cli(["logs", "pack"], cwd=root)
    assert (res.code, res.out) == (0, "packed\n"), res.err
    assert_error(cli(["logs", "nope"], cwd=root), 2, "unknown job or task 'nope'")


def test_status_takes_job_names(cli: Cli, tmp_path: Path) -> None:
    root = project(tmp_path)
    write_config(root, {"a": {"command": [PY, "-c", "pass"]}, "b": {"command": [PY, "-c", "pass"]}})
    assert cli(["run", "a"], cwd=root).code == 0
    lines = cli(["status", "b", "a"], cwd=root).out.splitlines()
    assert lines[0] == "b - no runs recorded" and lines[1].startswith("a - exit=0 ") and len(lines) == 2
    assert_error(cli(["status", "a", "zz"], cwd=root), 2, "unknown job 'zz'")


def test_summary_line_after_a_run_of_two_or_more_jobs(cli: Cli, tmp_path: Path) -> None:
    root = project(tmp_path)
    ok = {"command": [PY, "-c", "pass"], "inputs": ["src/a.txt"]}
    write_config(root, {"a": ok, "b": ok, "bad": {"command": [PY, "-c", "raise SystemExit(3)"]}})
    res = cli(["run", "a", "b"], cwd=root)
    assert res.code == 0 and _summary(res.err) == (2, 0, 0, 0), res.err
    res = cli(["run", "a", "b"], cwd=root)  # a no-op: the same line, all skipped
    assert res.code == 0 and _summary(res.err) == (0, 2, 0, 0), res.err
    res = cli(["run", "--keep-going"], cwd=root)
    assert res.code == 1 and _summary(res.err) == (0, 2, 1, 0), res.err
    assert _summary(cli(["run", "a"], cwd=root).err) is None  # one job: its line is the summary
    res = cli(["-q", "run", "a", "b"], cwd=root)
    assert res.code == 0 and res.err == "", res.err


def test_summary_line_on_the_no_op_fast_path(cli: Cli, tmp_path: Path, env: dict[str, str]) -> None:
    root = project(tmp_path)
    write_config(root, {"a": concat_job("a.out", "src/a.txt"), "b": concat_job("b.out", "src/b.txt")})
    assert cli(["run"], cwd=root).code == 0
    recent = time.time() - 10  # settle the files: the up-to-date summary trusts only files older than 2 s
    age(*(p for p in root.rglob("*") if p.is_file() and p.stat().st_mtime > recent), seconds=30)
    assert cli(["run"], cwd=root).code == 0  # writes the summary that vouches for both
    code = (
        "import sys\nfrom orchastration.cli import main\ncode = main(sys.argv[1:])\n"
        "print('doit loaded' if 'doit' in sys.modules else 'no doit', code)"
    )
    for argv, err in ((["run"], "ran 0, skipped 2, failed 0, restored 0 in "), (["-q", "run"], "")):
        proc = subprocess.run([sys.executable, "-c", code, *argv], cwd=root, env=env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        assert proc.stdout.splitlines()[-1] == "no doit 0", (proc.stdout, proc.stderr)
        assert proc.stderr.startswith(err) and (proc.stderr.endswith(" s\n") if err else proc.stderr == "")


def test_quiet_run_still_shows_a_failed_jobs_stderr_tail(cli: Cli, tmp_path: Path) -> None:
    root = project(tmp_path)
    noisy = "import sys\nfor i in range(30): print('line', i, file=sys.stderr)\nprint('to stdout')\nsys.exit(3)"
    write_config(root, {"bad": {"command": [PY, "-c", noisy]}, "good": {"command": [PY, "-c", "print('hi')"]}})
    res = cli(["-q", "run", "--keep-going"], cwd=root)
    assert res.code == 1
    assert statuses(res.out) == {"bad": "failed", "good": "ran"} and "to stdout" not in res.out
    lines = res.err.splitlines()
    assert lines[:20] == [f"line {i}" for i in range(10, 30)], res.err
    assert lines[20] == "orchastration: job bad failed: exited with code 3" and len(lines) == 21


def test_run_job_arguments_take_part_in_the_up_to_date_decision(cli: Cli, tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "src" / "a.txt").write_text("text\n")
    write_config(root, {"echo": {"command": [PY, "-c", ECHO], "inputs": ["src/a.txt"]}, "b": {"command": [PY]}})
    res = cli(["run", "echo", "--", "-k", "top x"], cwd=root)
    assert statuses(res.out) == {"echo": "ran"} and "out: text ['-k', 'top x']" in res.out
    assert statuses(cli(["run", "echo", "--", "-k", "top x"], cwd=root).out) == {"echo": "skipped"}
    assert cli(["why", "echo"], cwd=root).out == "command changed\n"  # without the arguments
    res = cli(["run", "echo", "--", "-k", "other"], cwd=root)
    assert statuses(res.out) == {"echo": "ran"} and "['-k', 'other']" in res.out
    assert statuses(cli(["run", "echo"], cwd=root).out) == {"echo": "ran"}
    assert statuses(cli(["run", "echo"], cwd=root).out) == {"echo": "skipped"}
    assert_error(cli(["run", "echo", "b", "--", "x"], cwd=root), 2, "exactly one job name (got 2)")
    assert_error(cli(["run", "--", "x"], cwd=root), 2, "exactly one job name (got 0)")
    res = cli(["run", "--dry-run", "echo", "--", "-k", "other"], cwd=root)
    assert res.out == "job=echo would-run reason=command changed\n"


@pytest.mark.skipif(os.name != "posix", reason="a POSIX shell command")
def test_run_job_arguments_are_quoted_for_a_shell_command(cli: Cli, tmp_path: Path) -> None:
    root = project(tmp_path)
    write_config(root, {"say": {"command": "printf '[%s]\\n'", "shell": True}})
    res = cli(["run", "say", "--", "it's", "a b", "$HOME;"], cwd=root)
    assert res.code == 0 and res.out.splitlines()[:3] == ["[it's]", "[a b]", "[$HOME;]"], (res.out, res.err)


def test_run_with_no_config_or_no_jobs_is_an_error(cli: Cli, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    res = cli(["run"], cwd=empty)
    assert_error(res, 2, "no jobs configured (no config file found: ", "create one with 'orchastration init'")
    assert res.out == ""
    assert_error(cli(["run", "--dry-run"], cwd=empty), 2, "no jobs configured")
    assert cli(["list"], cwd=empty).out == "no jobs configured\n"
    (empty / "orchastration.toml").write_text('[tasks.t]\ncommand = ["x"]\n')
    assert_error(cli(["run"], cwd=empty), 2, f"no jobs configured in {empty / 'orchastration.toml'}")


def _parsers(parser: argparse.ArgumentParser, path: str = "") -> list[tuple[str, argparse.ArgumentParser]]:
    """Every command path of the parser with its parser, root first."""
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += _parsers(child, f"{path} {name}".strip())
    return found


def test_every_command_help_ends_with_examples(cli: Cli) -> None:
    for path, parser in _parsers(build_parser()):
        assert 2 <= len(EXAMPLES.get(path, ())) <= 3, f"no examples for '{path}' in cli/examples.py"
        block = parser.format_help().rstrip("\n").split("\n\nexamples:\n")
        assert len(block) == 2, path
        lines = block[1].splitlines()
        assert len(lines) == len(EXAMPLES[path]) and all("orchastration " in line for line in lines), path
    help_text = cli(["run", "--help"]).out
    assert help_text.rstrip().endswith("# append arguments to one job's command"), help_text
    assert "orchastration logs test --stderr" in cli(["logs", "--help"]).out
