"""``init``: a starter config that validates and never overwrites."""

from __future__ import annotations

from pathlib import Path

from conftest import assert_error


def test_init_writes_a_valid_starter(cli, tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    result = cli(["init", "proj"], cwd=tmp_path)
    assert result.code == 0, result.err
    target = tmp_path / "proj" / "orchastration.toml"
    assert result.lines[0] == f"wrote {target}"
    check = cli(["config", "validate"], cwd=tmp_path / "proj")
    assert check.code == 0, check.err
    assert "valid (2 jobs, 1 task, 1 orchestration)" in check.out


def test_the_starter_runs_as_written(cli, tmp_path: Path) -> None:
    """The starter shows vars, foreach, after and a group, and every job of it runs."""
    assert cli(["init"], cwd=tmp_path).code == 0
    text = (tmp_path / "orchastration.toml").read_text()
    assert "[vars]" in text and "foreach = " in text and "after = " in text
    listed = cli(["list"], cwd=tmp_path).lines
    assert listed == ["hello - Write a greeting", "note.orchastration - Note orchastration.toml"]
    first = cli(["run", "all"], cwd=tmp_path)
    assert first.code == 0, first.err
    assert [line.split()[:2] for line in first.lines] == [
        ["job=hello", "status=ran"], ["job=note.orchastration", "status=ran"], ["job=all", "status=ran"]
    ]  # fmt: skip
    assert (tmp_path / "hello.txt").read_text().strip() == "hello from orchastration"
    assert (tmp_path / "orchastration.note.txt").read_text().strip() == "noted orchastration.toml"
    again = cli(["run", "all"], cwd=tmp_path)
    assert [line.split()[1] for line in again.lines] == ["status=skipped", "status=skipped", "status=ran"]
    graph = cli(["graph"], cwd=tmp_path)
    assert graph.lines == ["hello", "note.orchastration", "  after hello"]


def test_init_refuses_to_overwrite(cli, tmp_path: Path) -> None:
    target = tmp_path / "orchastration.toml"
    target.write_text("# mine\n")
    assert_error(cli(["init"]), 2, str(target), "already exists")
    assert target.read_text() == "# mine\n"


def test_init_missing_dir(cli, tmp_path: Path) -> None:
    assert_error(cli(["init", "nope"]), 2, "nope", "no such directory")
