"""End to end through the installed CLI: when a job runs and when it is skipped."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from conftest import Result
from jobs_helpers import PY, age, concat_job, last_record, project, records, statuses, write_config

Cli = Callable[..., Result]


def _run(cli: Cli, root: Path, *args: str) -> dict[str, str]:
    res = cli(["run", *args], cwd=root)
    assert res.code == 0, (res.out, res.err)
    return statuses(res.out)


def test_skip_after_success_rerun_on_edit_skip_after_touch(cli: Cli, tmp_path: Path, state_dir: Path) -> None:
    root = project(tmp_path)
    write_config(root, {"cat": concat_job("out.txt", "src/a.txt", "src/b.txt")})
    assert _run(cli, root) == {"cat": "ran"}
    assert (root / "out.txt").read_text() == "alpha\nbeta\n"
    assert _run(cli, root) == {"cat": "skipped"}
    assert len(records(state_dir, "cat")) == 1  # a skip writes no record

    # touch: new mtime, same content -> still up to date (content decides)
    os.utime(root / "src" / "a.txt", ns=(time.time_ns(), time.time_ns() + 5_000_000_000))
    assert _run(cli, root) == {"cat": "skipped"}

    # same size, different content -> reruns
    (root / "src" / "a.txt").write_text("ALPHA\n")
    why = cli(["why", "cat"], cwd=root)
    assert why.out.splitlines() == ["input changed: src/a.txt"]
    assert _run(cli, root) == {"cat": "ran"}
    assert (root / "out.txt").read_text() == "ALPHA\nbeta\n"
    assert cli(["why", "cat"], cwd=root).out.strip() == "up-to-date"


def test_glob_new_file_and_outputs_deleted_or_edited(cli: Cli, tmp_path: Path) -> None:
    root = project(tmp_path)
    job = concat_job("out.txt")
    job["command"] = [PY, "-c", "import glob; open('out.txt','w').write(''.join(sorted(glob.glob('src/*.txt'))))"]
    job["inputs"] = ["src/*.txt"]
    write_config(root, {"g": job})
    assert _run(cli, root) == {"g": "ran"}
    assert _run(cli, root) == {"g": "skipped"}
    (root / "src" / "c.txt").write_text("new\n")
    assert cli(["why", "g"], cwd=root).out.splitlines() == ["input added: src/c.txt"]
    assert _run(cli, root) == {"g": "ran"}
    assert "src/c.txt" in (root / "out.txt").read_text().replace(os.sep, "/")

    (root / "out.txt").unlink()
    assert cli(["why", "g"], cwd=root).out.splitlines() == ["output missing: out.txt"]
    assert _run(cli, root) == {"g": "ran"}
    (root / "out.txt").write_text("tampered")
    assert cli(["why", "g"], cwd=root).out.splitlines() == ["output changed: out.txt"]
    assert _run(cli, root) == {"g": "ran"}
    assert _run(cli, root) == {"g": "skipped"}


def test_changed_command_env_working_dir_rerun(cli: Cli, tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "sub").mkdir()
    base = {"command": [PY, "-c", "print('v1')"], "env": {"MODE": "a"}, "working_dir": "."}
    write_config(root, {"j": base})
    assert _run(cli, root) == {"j": "ran"}
    assert _run(cli, root) == {"j": "skipped"}
    for change, reason in (
        ({"command": [PY, "-c", "print('v2')"]}, "command changed"),
        ({"env": {"MODE": "b"}}, "env changed"),
        ({"working_dir": "sub"}, "working_dir changed"),
    ):
        base = {**base, **change}
        write_config(root, {"j": base})
        assert cli(["why", "j"], cwd=root).out.splitlines() == [reason]
        assert _run(cli, root) == {"j": "ran"}
        assert _run(cli, root) == {"j": "skipped"}


def test_always_run_and_force(cli: Cli, tmp_path: Path) -> None:
    root = project(tmp_path)
    write_config(
        root,
        {"a": {"command": [PY, "-c", "pass"], "always_run": True}, "b": {"command": [PY, "-c", "pass"]}},
    )
    assert _run(cli, root) == {"a": "ran", "b": "ran"}
    assert _run(cli, root) == {"a": "ran", "b": "skipped"}
    assert cli(["why", "a"], cwd=root).out.strip() == "always_run"
    assert _run(cli, root, "b", "--force") == {"b": "ran"}


def test_dependency_order_and_dependency_reasons(cli: Cli, tmp_path: Path, state_dir: Path) -> None:
    root = project(tmp_path)
    write_config(
        root,
        {
            "package": concat_job("pkg.txt", "gen.txt", depends_on=["codegen"], description="package it"),
            "codegen": concat_job("gen.txt", "src/a.txt"),
            "lint": {"command": [PY, "-c", "pass"], "depends_on": ["codegen"]},
        },
    )
    res = cli(["run", "package"], cwd=root)
    assert res.code == 0, res.err
    assert [line.split()[0] for line in res.out.splitlines() if line.startswith("job=")] == [
        "job=codegen",
        "job=package",
    ]
    assert (root / "pkg.txt").read_text() == "alpha\n"
    # both records exist and package started after codegen ended
    assert last_record(state_dir, "package")["start_time"] >= last_record(state_dir, "codegen")["end_time"]

    (root / "src" / "a.txt").write_text("changed\n")
    dry = cli(["run", "package", "--dry-run"], cwd=root)
    assert dry.out.splitlines() == [
        "job=codegen would-run reason=input changed: src/a.txt",
        "job=package would-run reason=dependency will run: codegen",
    ]
    plan = json.loads(cli(["run", "--dry-run", "--json"], cwd=root).out)
    assert [(p["job"], p["would_run"]) for p in plan] == [("codegen", True), ("lint", True), ("package", True)]
    assert plan[0]["reasons"] == ["input changed: src/a.txt"]
    assert _run(cli, root, "codegen") == {"codegen": "ran"}
    # a dependency that ran since the last run of a job makes it rerun (make semantics)
    assert cli(["why", "lint"], cwd=root).out.splitlines() == ["never run"]
    assert "dependency ran: codegen" in cli(["why", "package"], cwd=root).out
    assert _run(cli, root, "package") == {"codegen": "skipped", "package": "ran"}
    assert (root / "pkg.txt").read_text() == "changed\n"


def test_fast_noop_summary_is_used_and_invalidated(cli: Cli, tmp_path: Path, state_dir: Path) -> None:
    root = project(tmp_path)
    job = {**concat_job("out.txt", "src/a.txt", "src/b.txt"), "inputs": ["src/a.txt", "src/*.txt"]}
    write_config(root, {"cat": job})
    assert _run(cli, root) == {"cat": "ran"}
    age(root / "src" / "a.txt", root / "src" / "b.txt", root / "out.txt")
    assert _run(cli, root) == {"cat": "skipped"}  # through doit; files are old enough: summary written
    summaries = list((state_dir / "engine" / "fast").glob("*.txt"))
    assert len(summaries) == 1
    assert _run(cli, root) == {"cat": "skipped"}  # answered by the summary
    # same size, mtime kept old but different: the summary no longer holds, doit decides
    (root / "src" / "b.txt").write_text("BETA\n")
    age(root / "src" / "b.txt", seconds=20)
    assert _run(cli, root) == {"cat": "ran"}
    assert (root / "out.txt").read_text() == "alpha\nBETA\n"
    # a failed forced run never leaves a summary that would call the job up to date
    age(root / "src" / "b.txt", root / "out.txt", seconds=30)
    assert _run(cli, root) == {"cat": "skipped"}
    assert list((state_dir / "engine" / "fast").glob("*.txt"))
    write_config(root, {"cat": {**job, "command": [PY, "-c", "1/0"]}})
    res = cli(["run"], cwd=root)
    assert res.code == 1 and statuses(res.out) == {"cat": "failed"}
    assert not list((state_dir / "engine" / "fast").glob("*.txt"))
    assert cli(["why", "cat"], cwd=root).out.splitlines() == ["last run failed"]
    res = cli(["run"], cwd=root)
    assert statuses(res.out) == {"cat": "failed"}  # a failure is never up to date


def test_hash_algorithm_change_reruns(cli: Cli, tmp_path: Path) -> None:
    root = project(tmp_path)
    write_config(root, {"cat": concat_job("out.txt", "src/a.txt")})
    assert _run(cli, root) == {"cat": "ran"}
    write_config(root, {"cat": concat_job("out.txt", "src/a.txt")}, extra='[hash]\nalgorithm = "blake2b"\n')
    assert cli(["why", "cat"], cwd=root).out.splitlines() == ["hash algorithm changed"]
    assert _run(cli, root) == {"cat": "ran"}
    assert _run(cli, root) == {"cat": "skipped"}


def test_directory_input_and_missing_literal_input(cli: Cli, tmp_path: Path, state_dir: Path) -> None:
    root = project(tmp_path)
    write_config(root, {"tree": {"command": [PY, "-c", "pass"], "inputs": ["src"]}})
    assert _run(cli, root) == {"tree": "ran"}
    age(root / "src" / "a.txt", root / "src" / "b.txt", root / "src")
    assert _run(cli, root) == {"tree": "skipped"}  # writes the no-op summary
    assert list((state_dir / "engine" / "fast").glob("*.txt"))
    (root / "src" / "deep").mkdir()
    (root / "src" / "deep" / "new.txt").write_text("n")
    assert cli(["why", "tree"], cwd=root).out.splitlines() == ["input added: src/deep/new.txt"]
    assert _run(cli, root) == {"tree": "ran"}

    write_config(root, {"needs": {"command": [PY, "-c", "pass"], "inputs": ["missing.txt"]}})
    res = cli(["run"], cwd=root)
    assert res.code == 1 and statuses(res.out) == {"needs": "failed"}
    assert "input missing: missing.txt" in res.out
