"""The daily workflow of docs/examples/daily (lint, test, two C files through one ``foreach`` compile
job, link, a wheel ``after`` the tests, docs), run end to end through the installed CLI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Result

Cli = Callable[..., Result]
EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "daily"


def _statuses(result: Result) -> dict[str, str]:
    out = {}
    for line in result.lines:
        if line.startswith("job="):
            fields = dict(f.split("=", 1) for f in line.split()[:2])
            out[fields["job"]] = fields["status"]
    return out


def _ran(result: Result) -> set[str]:
    return {name for name, status in _statuses(result).items() if status == "ran"}


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
def test_the_daily_workflow_reruns_only_what_an_edit_touches(cli: Cli, tmp_path: Path, env: dict[str, str]) -> None:
    proj = tmp_path / "daily"
    shutil.copytree(EXAMPLE, proj, ignore=shutil.ignore_patterns("*.o", "greeter", "dist", "*.html", "__pycache__"))
    assert len((proj / "orchastration.toml").read_text().splitlines()) <= 30
    env.update(PYTHON=sys.executable, CC="gcc")

    first = cli(["run", "all"], cwd=proj)
    assert first.code == 0, first.err
    jobs = {"lint", "test", "compile.greet", "compile.main", "link", "wheel", "docs", "all"}
    assert _ran(first) == jobs
    order = [line.split()[0][4:] for line in first.lines if line.startswith("job=")]
    assert order.index("wheel") > order.index("test") and order.index("wheel") > order.index("lint")
    assert (
        subprocess.run([str(proj / "greeter")], capture_output=True, text=True, timeout=10).stdout == "hello from C\n"
    )
    assert (proj / "dist" / "mypkg-0.1-py3-none-any.whl").is_file() and (proj / "mypkg.html").is_file()

    again = cli(["run", "all"], cwd=proj)
    assert again.code == 0 and _ran(again) == {"all"}, again.out  # a group reports ran when all succeeded

    with (proj / "csrc" / "greet.c").open("a") as fh:
        fh.write("/* edited */\n")
    c_edit = cli(["run", "all"], cwd=proj)
    assert c_edit.code == 0, c_edit.err
    assert _ran(c_edit) == {"compile.greet", "link", "all"}, c_edit.out
    assert _statuses(c_edit)["compile.main"] == "skipped"

    with (proj / "tests" / "test_mypkg.py").open("a") as fh:
        fh.write("# edited\n")
    test_edit = cli(["run", "all"], cwd=proj)
    assert test_edit.code == 0, test_edit.err
    assert _ran(test_edit) == {"lint", "test", "all"}, test_edit.out
    assert _statuses(test_edit)["wheel"] == "skipped"

    alone = cli(["run", "wheel", "--force"], cwd=proj)  # `after` never pulls the tests in
    assert _statuses(alone) == {"wheel": "ran"}, alone.out
