"""``prune``: old run records and their logs deleted, the newest (and newest successful) of each kept,
nothing outside the state dir touched, the up-to-date state intact, through the installed CLI
(docs/observability.md).

One real history (jobs, task builds and plans, an orchestration, a job whose newest run failed) is
made once per module; each test prunes its own copy of that state dir (the project stays where it was,
so the copied up-to-date state still describes it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Result, assert_error
from reliability.common import cli_command, isolated_env
from test_verify import write_project

PY = sys.executable
Cli = Callable[..., Result]
OLD = "20200101T000000.000000Z"  # a stamp from long ago

posix_only = pytest.mark.skipif(os.name != "posix", reason="symlinks need privileges on Windows")


def tree(root: Path) -> set[str]:
    """Every file and directory under ``root`` (relative, symlinks as themselves)."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def run_files(directory: Path, stamp: str) -> set[str]:
    """The files of one run, relative to the state dir."""
    return {p.relative_to(directory.parent.parent).as_posix() for p in directory.glob(f"{stamp}.*")}


def stamps(directory: Path) -> list[str]:
    """The run records' stamps in a directory, oldest first."""
    return sorted(p.name[: -len(".json")] for p in directory.glob("*.json") if p.name != "last.json")


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A project and a state dir holding: 3 runs of gen and use, 3 builds and a plan of the task pack,
    2 runs of the orchestration pack (each plans and builds pack), flaky: 2 good runs, then 2 failed,
    and a last plan of pack."""
    base = tmp_path_factory.mktemp("history")
    root = write_project(base / "proj")
    with (root / "orchastration.toml").open("a") as fh:
        fh.write('\n[orchestrations.pack]\nagents = ["PlannerAgent", "BuilderAgent"]\n')
    env = isolated_env(base)

    def ok(*argv: str, code: int = 0) -> None:
        done = subprocess.run([*cli_command(), *argv], cwd=root, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == code, (argv, done.stdout, done.stderr)

    for _ in range(3):
        ok("run", "gen", "use", "--force")
        ok("build", "run", "pack", "--force")
    ok("plan", "create", "pack")
    for _ in range(2):
        ok("orchestration", "run", "pack", "--force")
        ok("run", "flaky", "--force")
    (root / "fail").write_text("")
    for _ in range(2):
        ok("run", "flaky", "--force", code=1)
    (root / "fail").unlink()
    ok("plan", "create", "pack")  # pack's newest record is a plan record; last.json names its newest build
    return root, Path(env["ORCHASTRATION_STATE_DIR"])


@pytest.fixture
def copied(history: tuple[Path, Path], state_dir: Path) -> Path:
    """The project of ``history``, with this test's state dir a copy of its state dir."""
    shutil.copytree(history[1], state_dir, symlinks=True)
    return history[0]


def test_keep_1_leaves_exactly_the_newest_record_of_each_and_its_logs(
    cli: Cli, copied: Path, state_dir: Path, env: dict[str, str]
) -> None:
    root = copied
    runs = {name: state_dir / "runs" / name for name in ("flaky", "gen", "pack", "use")}
    orchestration = state_dir / "orchestrations" / "pack"
    newest = {name: stamps(d)[-1] for name, d in [*runs.items(), ("orchestration", orchestration)]}
    build = json.loads((runs["pack"] / "last.json").read_text())["run_id"]
    keep = {
        runs["gen"]: {newest["gen"]},
        runs["use"]: {newest["use"]},
        runs["flaky"]: {newest["flaky"], stamps(runs["flaky"])[-3]},  # the newest two failed: the last good one stays
        runs["pack"]: {newest["pack"], build},  # the newest is a plan record; last.json names the newest build
        orchestration: {newest["orchestration"]},
    }
    gone = {f for d, kept in keep.items() for s in stamps(d) if s not in kept for f in run_files(d, s)}
    records_gone = sum(len(stamps(d)) - len(kept) for d, kept in keep.items())
    assert records_gone == 2 + 2 + 2 + 7 + 1  # pack: 3 + 2 builds and 4 plans
    before = tree(state_dir)

    result = cli(["prune", "--keep", "1"], cwd=root)
    assert result.code == 0, result.err
    assert before - tree(state_dir) == gone
    assert tree(state_dir) - before == set()
    assert [line.split(" (")[0] for line in result.lines] == [
        "job=flaky removed 2 records", "job=gen removed 2 records",
        "task=pack removed 7 records", "job=use removed 2 records",
        "orchestration=pack removed 1 record", f"pruned {records_gone} records",
    ]  # fmt: skip
    assert result.lines[1].startswith("job=gen removed 2 records (6 files, ")
    assert result.lines[-2].startswith("orchestration=pack removed 1 record (2 files, ")
    assert result.lines[-1].startswith(f"pruned {records_gone} records ({len(gone)} files), freed ")
    assert result.lines[-1].endswith("; kept 7 records")

    # The up-to-date state is intact: status, why, run and verify all still see the last runs.
    status = [line for line in cli(["status"], cwd=root).lines if line.startswith(("gen ", "use "))]
    assert len(status) == 2 and all(line.endswith(" up-to-date") for line in status)
    assert cli(["why", "use"], cwd=root).lines == ["up-to-date"]
    assert cli(["run", "gen", "use"], cwd=root).lines == [
        "job=gen status=skipped exit=0 duration_ms=0", "job=use status=skipped exit=0 duration_ms=0",
    ]  # fmt: skip
    env["ORCHASTRATION_NO_FASTPATH"] = "1"  # doit itself, not only the up-to-date summary, agrees
    rerun = cli(["run", "gen", "use"], cwd=root)
    del env["ORCHASTRATION_NO_FASTPATH"]
    assert [line.split(" ")[1] for line in rerun.lines] == ["status=skipped", "status=skipped"]
    verified = cli(["verify"], cwd=root)
    assert verified.code == 0, verified.out
    assert "job=flaky output=flaky.txt OK" in verified.lines and "task=pack output=pack.txt OK" in verified.lines
    # Nothing left to prune: a second prune changes nothing.
    again = tree(state_dir)
    assert cli(["prune", "--keep", "1"], cwd=root).lines == ["nothing to prune (kept 7 records)"]
    assert tree(state_dir) == again
    assert cli(["build", "run", "pack"], cwd=root).lines == ["task=pack status=up-to-date"]


def test_default_keeps_20_and_json_shape(cli: Cli, copied: Path, state_dir: Path) -> None:
    total = sum(len(stamps(d)) for d in [*state_dir.glob("runs/*"), *state_dir.glob("orchestrations/*")])
    before = tree(state_dir)
    result = cli(["prune", "--json"], cwd=copied)
    assert result.code == 0, result.err
    assert json.loads(result.out) == {
        "removed": [], "records": 0, "files": 0, "bytes": 0, "kept": total, "skipped": [],
    }  # fmt: skip
    assert tree(state_dir) == before
    gen = state_dir / "runs" / "gen"
    old = stamps(gen)[:2]
    size = sum(p.stat().st_size for s in old for p in gen.glob(f"{s}.*"))
    data = json.loads(cli(["prune", "--keep", "1", "--json"], cwd=copied).out)
    assert data["removed"][1] == {"kind": "job", "name": "gen", "records": old, "files": 6, "bytes": size, "errors": []}
    assert [(d["kind"], d["name"]) for d in data["removed"]] == [
        ("job", "flaky"), ("job", "gen"), ("task", "pack"), ("job", "use"), ("orchestration", "pack"),
    ]  # fmt: skip
    assert data["kept"] == 7 and data["records"] == total - 7
    assert data["bytes"] == sum(d["bytes"] for d in data["removed"])


def test_older_than(cli: Cli, copied: Path, state_dir: Path) -> None:
    gen = state_dir / "runs" / "gen"
    first = stamps(gen)[0]
    for path in gen.glob(f"{first}.*"):  # the first run of gen started in 2020
        path.rename(gen / path.name.replace(first, OLD))
    before = tree(state_dir)
    result = cli(["prune", "--older-than", "30"], cwd=copied)
    assert result.code == 0, result.err
    assert before - tree(state_dir) == {
        f"runs/gen/{OLD}.json",
        f"runs/gen/{OLD}.stdout.log",
        f"runs/gen/{OLD}.stderr.log",
    }
    assert result.lines[0].startswith("job=gen removed 1 record (3 files, ")
    # --older-than 0: every record is old, but never the newest of each; with --keep, either rule keeps.
    assert cli(["prune", "--older-than", "0", "--keep", "2"], cwd=copied).code == 0
    assert len(stamps(gen)) == 2 and len(stamps(state_dir / "runs" / "use")) == 2
    assert cli(["prune", "--older-than", "0.5"], cwd=copied).lines[-1].startswith("nothing to prune")
    assert cli(["prune", "--older-than", "0"], cwd=copied).code == 0
    assert len(stamps(gen)) == 1 and len(stamps(state_dir / "runs" / "use")) == 1


@posix_only
def test_never_touches_anything_outside_the_state_dir(cli: Cli, copied: Path, tmp_path: Path, state_dir: Path) -> None:
    outside = tmp_path / "outside"
    elsewhere = outside / "runs-elsewhere"
    elsewhere.mkdir(parents=True)
    victim = outside / "victim.log"
    victim.write_text("keep me\n")
    gen = state_dir / "runs" / "gen"
    # An old run whose log is a symlink to a file outside, and a directory of runs that is a symlink.
    shutil.copy(gen / "last.json", gen / f"{OLD}.json")
    (gen / f"{OLD}.stdout.log").symlink_to(victim)
    for stamp in (OLD, "20210101T000000.000000Z"):
        (elsewhere / f"{stamp}.json").write_text("{}")
        (elsewhere / f"{stamp}.stdout.log").write_text("x")
    (state_dir / "runs" / "linked").symlink_to(elsewhere, target_is_directory=True)
    outside_before = {p: p.read_bytes() for p in outside.rglob("*") if p.is_file()}

    result = cli(["prune", "--keep", "1"], cwd=copied)
    assert result.code == 0, result.err
    assert "orchastration: warning: prune: skipped runs/linked: a symlink (never followed)" in result.err
    assert not os.path.lexists(gen / f"{OLD}.stdout.log") and not (gen / f"{OLD}.json").exists()
    assert {p: p.read_bytes() for p in outside.rglob("*") if p.is_file()} == outside_before
    assert (state_dir / "runs" / "linked").is_symlink()

    # The runs dir itself a symlink to somewhere else: skipped whole.
    moved = tmp_path / "moved-runs"
    (state_dir / "runs").rename(moved)
    (state_dir / "runs").symlink_to(moved, target_is_directory=True)
    moved_before = tree(moved)
    result = cli(["prune", "--keep", "1", "--older-than", "0"], cwd=copied)
    assert result.code == 0 and "skipped runs: a symlink" in result.err
    assert tree(moved) == moved_before


def test_a_record_left_without_logs_is_removed_next_time(cli: Cli, copied: Path, state_dir: Path) -> None:
    # prune removes a run's logs first and its record last: a crash in between leaves an old record
    # without logs, which the next prune finds (by its record) and removes.
    gen = state_dir / "runs" / "gen"
    old = stamps(gen)[0]
    for log in gen.glob(f"{old}.*.log"):
        log.unlink()
    result = cli(["prune", "--keep", "2"], cwd=copied)
    assert result.code == 0, result.err
    assert any(line.startswith("job=gen removed 1 record (1 file, ") for line in result.lines), result.lines
    assert len(stamps(gen)) == 2 and not list(gen.glob(f"{old}*"))


def test_waits_for_a_run_holding_the_state_lock(tmp_path: Path, state_dir: Path, env: dict[str, str]) -> None:
    # The job holds the run (and the state lock) until the test releases it, so a loaded machine's slow
    # start-up cannot make prune come too late to wait; every wait is bounded.
    root = tmp_path / "slow"
    root.mkdir()
    hold = "import os, time; t = time.monotonic() + 60\n" \
        "while not os.path.exists('release') and time.monotonic() < t: time.sleep(0.02)"  # fmt: skip
    (root / "orchastration.toml").write_text(f"[jobs.slow]\ncommand = {json.dumps([PY, '-c', hold])}\n")
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    slow = subprocess.Popen([*cli_command(), "run", "slow"], cwd=root, env=env, **pipes)  # type: ignore[call-overload]
    prune = None
    try:
        deadline = time.monotonic() + 60
        while not list((state_dir / "runs" / "slow").glob("*.stdout.log")):  # its slot is claimed: lock held
            assert time.monotonic() < deadline and slow.poll() is None
            time.sleep(0.02)
        argv = [*cli_command(), "prune", "--keep", "1"]
        prune = subprocess.Popen(argv, cwd=root, env=env, **pipes)  # type: ignore[call-overload]
        waiting = prune.stderr.readline()  # printed before it blocks (or at the latest when the job gives up)
        (root / "release").write_text("")
        out, err = prune.communicate(timeout=60)
    finally:
        (root / "release").write_text("")
        assert slow.wait(timeout=60) == 0
        slow.communicate(timeout=10)
        if prune is not None and prune.poll() is None:
            prune.kill()
    assert waiting == "orchastration: waiting for the state lock held by another run...\n"
    assert prune.returncode == 0, err
    assert out.splitlines() == ["nothing to prune (kept 1 record)"]  # the run finished and wrote its record first
    assert len(stamps(state_dir / "runs" / "slow")) == 1


def test_bad_arguments_and_an_empty_state_dir(cli: Cli, state_dir: Path) -> None:
    assert_error(cli(["prune", "--keep", "0"]), 2, "--keep")
    assert_error(cli(["prune", "--older-than", "soon"]), 2, "--older-than", "soon")
    assert_error(cli(["prune", "--older-than", "-1"]), 2, "--older-than")
    assert_error(cli(["prune", "--older-than", "nan"]), 2, "--older-than")
    result = cli(["prune"])
    assert (result.code, result.lines) == (0, ["nothing to prune (kept 0 records)"])
    assert not state_dir.exists()  # prune created nothing


@posix_only
def test_remove_files_inside_refuses_a_directory_swapped_for_a_symlink(tmp_path: Path) -> None:
    # What prune does when runs/<name> becomes a symlink after it was listed: every name is refused.
    from orchastration.removal import remove_files_inside

    root, outside = tmp_path / "state", tmp_path / "outside"
    (root / "runs" / "real").mkdir(parents=True)
    outside.mkdir()
    (outside / f"{OLD}.json").write_text("{}")
    (root / "runs" / "real" / f"{OLD}.json").write_text("{}")
    (root / "runs" / "real" / "sub").mkdir()
    (root / "runs" / "swapped").symlink_to(outside, target_is_directory=True)
    assert remove_files_inside(str(root), ["runs", "swapped"], [f"{OLD}.json"]) == {
        f"{OLD}.json": "a directory on the way is a symlink"
    }
    assert (outside / f"{OLD}.json").exists()
    done = remove_files_inside(str(root), ["runs", "real"], [f"{OLD}.json", "sub", "absent.log"])
    assert done == {f"{OLD}.json": 2, "sub": "a directory", "absent.log": 0}
    assert not (root / "runs" / "real" / f"{OLD}.json").exists() and (root / "runs" / "real" / "sub").is_dir()
