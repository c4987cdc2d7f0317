"""Nothing outside the places a user named is written or deleted: names that would escape the state
dir are config errors, ``clean`` refuses outputs outside the job's working_dir (through ``..``, an
absolute path, ``~`` or a symlinked directory), and ``doc generate`` refuses a README or ``docs/``
that a symlink leads out of the working_dir."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Result, assert_error
from reliability.common import tree_snapshot

Cli = Callable[..., Result]
posix_only = pytest.mark.skipif(os.name != "posix", reason="symlinks need privileges on Windows")


def _outside(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "victim.txt").write_text("keep me\n")
    (outside / "dir" / "victim.txt").write_text("keep me too\n")
    (outside / "README.md").write_text("someone else's README\n")
    return outside


@pytest.mark.parametrize(
    ("section", "name"),
    [("jobs", ".."), ("jobs", "../x"), ("tasks", "a/b"), ("tasks", ".hidden"), ("agents", "a\\\\b"),
     ("orchestrations", "../../etc"), ("jobs", "CON"), ("tasks", "")],
)  # fmt: skip
def test_names_that_would_escape_the_state_dir_are_config_errors(
    run_main: Callable[..., Result], tmp_path: Path, state_dir: Path, section: str, name: str
) -> None:
    body = {"jobs": 'command = ["true"]', "tasks": 'command = ["true"]', "agents": 'command = ["true"]'}
    table = body.get(section, 'agents = ["PlannerAgent"]')
    (tmp_path / "orchastration.toml").write_text(f'[{section}."{name}"]\n{table}\n', encoding="utf-8")
    before = tree_snapshot(tmp_path, skip=[tmp_path / "home"])
    for argv in (["list"], ["run"], ["plan", "list"], ["orchestration", "list"]):
        res = run_main(argv)
        assert_error(res, 2, "orchastration.toml", section)
    assert tree_snapshot(tmp_path, skip=[tmp_path / "home"]) == before
    assert not state_dir.exists() or not list(state_dir.rglob("*.json"))


@posix_only
def test_clean_refuses_every_output_outside_the_working_dir(cli: Cli, tmp_path: Path, env: dict[str, str]) -> None:
    outside = _outside(tmp_path)
    proj = tmp_path / "proj"
    (proj / "sub").mkdir(parents=True)
    (proj / "linkdir").symlink_to(outside / "dir")  # a directory symlink leading out
    (proj / "linkfile").symlink_to(outside / "victim.txt")  # a file symlink: the link goes, not its target
    (proj / "mine.txt").write_text("mine\n")
    home_file = Path(env["HOME"]) / "victim.txt"
    home_file.write_text("home\n")
    outputs = [
        "../outside/victim.txt",
        str(outside / "victim.txt"),
        "sub/../../outside/victim.txt",
        "linkdir/victim.txt",
        "~/victim.txt",
        ".",
        "..",
        "linkfile",
        "mine.txt",
    ]
    (proj / "orchastration.toml").write_text(
        '[jobs.j]\ncommand = ["true"]\noutputs = [' + ", ".join(f'"{o}"' for o in outputs) + "]\n",
        encoding="utf-8",
    )
    before = tree_snapshot(outside)
    res = cli(["clean", "j"], cwd=proj)
    assert res.code == 1, (res.out, res.err)
    assert "Traceback" not in res.err
    assert tree_snapshot(outside) == before  # not one byte outside changed
    assert home_file.read_text() == "home\n"
    assert not (proj / "linkfile").exists() and not (proj / "linkfile").is_symlink()
    assert (outside / "victim.txt").read_text() == "keep me\n"
    assert not (proj / "mine.txt").exists()
    assert proj.is_dir() and (proj / "orchastration.toml").exists()


@posix_only
@pytest.mark.parametrize("link", ["README.md", "docs", "docs/tasks"])
def test_doc_generate_refuses_a_symlink_leading_out(cli: Cli, tmp_path: Path, link: str) -> None:
    outside = _outside(tmp_path)
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "orchastration.toml").write_text('[tasks.t]\ncommand = ["true"]\n', encoding="utf-8")
    target = outside / "README.md" if link == "README.md" else outside / "dir"
    (proj / link).parent.mkdir(parents=True, exist_ok=True)
    (proj / link).symlink_to(target)
    before_out, before_proj = tree_snapshot(outside), tree_snapshot(proj)
    res = cli(["doc", "generate", "t"], cwd=proj)
    assert_error(res, 2, "refusing to write outside the task's working_dir", str(proj))
    assert tree_snapshot(outside) == before_out
    assert tree_snapshot(proj) == before_proj


@posix_only
def test_doc_generate_still_follows_a_symlink_that_stays_inside(cli: Cli, tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    (proj / "docs").mkdir(parents=True)
    (proj / "docs" / "README.real.md").write_text("# real\n")
    (proj / "README.md").symlink_to(Path("docs") / "README.real.md")
    (proj / "orchastration.toml").write_text('[tasks.t]\ncommand = ["true"]\n', encoding="utf-8")
    res = cli(["doc", "generate", "t"], cwd=proj)
    assert res.code == 0, res.err
    assert (proj / "README.md").is_symlink()
    assert "orchastration:task:t:begin" in (proj / "docs" / "README.real.md").read_text()
