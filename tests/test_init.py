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
    assert "valid (1 job, 1 task, 1 orchestration)" in check.out


def test_init_refuses_to_overwrite(cli, tmp_path: Path) -> None:
    target = tmp_path / "orchastration.toml"
    target.write_text("# mine\n")
    assert_error(cli(["init"]), 2, str(target), "already exists")
    assert target.read_text() == "# mine\n"


def test_init_missing_dir(cli, tmp_path: Path) -> None:
    assert_error(cli(["init", "nope"]), 2, "nope", "no such directory")
