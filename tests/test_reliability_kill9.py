"""A ``kill -9`` of the CLI keeps every job that finished before it (docs/reliability.md, "Durability").

Each job journals its start and end; the CLI is SIGKILLed once k of n jobs have ended (k > 0). Every job
whose run record says it finished must then be up to date (``run --dry-run`` says so, and the next run
skips it); the job that was running at the kill says ``last run interrupted``; the next run runs only
the jobs that had not finished.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from jobs_helpers import records, write_config
from reliability.common import cli_command

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL: POSIX")

N = 6
JOB = """
import os, sys, time
name = sys.argv[1]
with open("journal.log", "a") as fh:
    fh.write(f"start {name} {os.getpid()}\\n")
time.sleep(float(sys.argv[2]))
with open(f"out/{name}.txt", "w") as fh:
    fh.write(name)
with open("journal.log", "a") as fh:
    fh.write(f"end {name} {os.getpid()}\\n")
"""


def _journal(root: Path) -> list[list[str]]:
    path = root / "journal.log"
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def _project(root: Path) -> None:
    (root / "out").mkdir(parents=True)
    (root / "job.py").write_text(JOB)
    jobs = {
        f"j{i}": {"command": [sys.executable, "job.py", f"j{i}", "0.25"], "inputs": ["job.py"],
                  "outputs": [f"out/j{i}.txt"]}
        for i in range(N)
    }  # fmt: skip
    write_config(root, jobs)


def _finished_by_record(state_dir: Path) -> set[str]:
    """The jobs a record says finished: a record in place, or ``last.json`` alone when the kill came
    between its link and the record's rename (records.settle_run; the next check settles it)."""
    done = set()
    for i in range(N):
        last = state_dir / "runs" / f"j{i}" / "last.json"
        for path in [*records(state_dir, f"j{i}"), *([last] if last.exists() else [])]:
            with contextlib.suppress(OSError, ValueError):
                if json.loads(path.read_text()).get("status") == "ran":
                    done.add(f"j{i}")
    return done


def _kill_after(
    root: Path, env: dict[str, str], state_dir: Path, ended: int, delay: float, flags: tuple[str, ...] = ()
) -> None:
    """Start ``run`` (with ``flags``) and SIGKILL it ``delay`` s after ``ended`` jobs have a finished
    record; then end the jobs it left running."""
    proc = subprocess.Popen([*cli_command(), "run", *flags], cwd=root, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while len(_finished_by_record(state_dir)) < ended:
            assert proc.poll() is None, "the run ended before the kill point"
            assert time.monotonic() < deadline, "the jobs never ended"
            time.sleep(0.005)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    # The job that was running is in its own process group and outlives the CLI: end it.
    events = _journal(root)
    ended_pids = {e[2] for e in events if e[0] == "end"}
    for event in events:
        if event[0] == "start" and event[2] not in ended_pids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(int(event[2]), signal.SIGKILL)


@pytest.mark.parametrize(
    ("ended", "delay", "flags"),
    # With -j the bookkeeping of finished jobs is done by the jobs' threads between commands, as
    # one job at a time (engine/durable.py): a kill finds it part done there too.
    [(1, 0.0, ()), (2, 0.26, ()), (3, 0.1, ()), (2, 0.0, ("-j", "2")), (3, 0.13, ("-j", "3"))],
)
def test_kill_9_keeps_every_finished_job(
    tmp_path: Path, env: dict[str, str], state_dir: Path, ended: int, delay: float, flags: tuple[str, ...]
) -> None:
    root = tmp_path / "p"
    _project(root)
    _kill_after(root, env, state_dir, ended, delay, flags)
    finished = _finished_by_record(state_dir)
    assert finished, "no job had a finished record at the kill"
    started = {e[1] for e in _journal(root) if e[0] == "start"}

    plan = subprocess.run([*cli_command(), "run", "--dry-run", "--json"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert plan.returncode == 0, plan.stderr
    items = {item["job"]: item for item in json.loads(plan.stdout)}
    for name in sorted(finished):
        assert not items[name]["would_run"], (name, items[name]["reasons"])
    for name in sorted(started - finished):  # running at the kill (or ended, its record not yet in place)
        assert items[name]["reasons"] == ["last run interrupted"], (name, items[name]["reasons"])

    before = len(_journal(root))
    rerun = subprocess.run([*cli_command(), "run"], cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    ran_again = {e[1] for e in _journal(root)[before:] if e[0] == "start"}
    assert ran_again == {f"j{i}" for i in range(N)} - finished
    for name in finished:
        assert f"job={name} status=skipped" in rerun.stdout


def test_a_kill_between_last_json_and_the_record_rename_keeps_the_run_and_repairs_both(
    tmp_path: Path, env: dict[str, str], state_dir: Path
) -> None:
    """A good run's record becomes ``last.json`` (a hard link to the pending mark) just before the mark
    is renamed into place. The state a kill between the two leaves (the mark *is* last.json, no record
    under its stamp) is rebuilt here exactly; the crash harness found the window of the old order
    (record renamed, then a kill before last.json: a stale last.json nothing ever updated)."""
    root = tmp_path / "p"
    _project(root)
    first = subprocess.run([*cli_command(), "run"], cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    second = subprocess.run([*cli_command(), "run", "--force", "j0"], cwd=root, env=env, capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    assert second.returncode == 0, second.stderr
    newest = records(state_dir, "j0")[-1]
    run_dir = newest.parent
    assert os.path.samefile(newest, run_dir / "last.json")
    os.replace(newest, run_dir / ".incomplete")  # the kill came after last.json, before the rename
    before = len(_journal(root))

    plan = subprocess.run([*cli_command(), "run", "--dry-run", "--json"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert plan.returncode == 0, plan.stderr
    assert not any(item["would_run"] for item in json.loads(plan.stdout)), plan.stdout
    assert (run_dir / ".incomplete").exists()  # a dry run changes nothing

    rerun = subprocess.run([*cli_command(), "run"], cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    assert "job=j0 status=skipped" in rerun.stdout
    assert len(_journal(root)) == before  # nothing ran again
    assert newest.exists() and not (run_dir / ".incomplete").exists()
    assert os.path.samefile(newest, run_dir / "last.json")


def test_a_mark_that_is_not_last_json_is_still_an_interrupted_run(
    tmp_path: Path, env: dict[str, str], state_dir: Path
) -> None:
    root = tmp_path / "p"
    _project(root)
    first = subprocess.run([*cli_command(), "run"], cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    run_dir = records(state_dir, "j1")[-1].parent
    (run_dir / ".incomplete").write_text("")  # a run of j1 started and was killed
    rerun = subprocess.run([*cli_command(), "run"], cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    assert "job=j1 status=ran" in rerun.stdout and "job=j0 status=skipped" in rerun.stdout


def _restored_by_record(state_dir: Path) -> set[str]:
    """The jobs a record says were restored: a record in place, or ``last.json`` alone when the kill came
    between its link and the record's rename (records.settle_run; the next check settles it)."""
    done = set()
    runs = state_dir / "runs"
    for path in [*runs.glob("*/2*.json"), *runs.glob("*/last.json")]:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text()).get("status") == "restored":
                done.add(path.parent.name)
    return done


def test_kill_9_while_a_fresh_clone_restores_keeps_every_restored_job(tmp_path: Path, env: dict[str, str]) -> None:
    """A fresh clone restores its jobs from the output cache before doit is asked (engine/first_pass.py);
    a SIGKILL in the middle of it keeps every job whose record says it was restored, and the next run
    restores the rest: no command runs in the clone, every output is byte-identical."""
    n = 300
    cache = tmp_path / "cache"
    env = {k: v for k, v in env.items() if k != "ORCHASTRATION_NO_CACHE"}
    first, clone = tmp_path / "one" / "p", tmp_path / "two" / "p"
    for root in (first, clone):
        (root / "out").mkdir(parents=True)
        (root / "job.py").write_text(JOB)
        jobs = {f"j{i}": {"command": [sys.executable, "job.py", f"j{i}", "0"], "inputs": ["job.py"],
                          "outputs": [f"out/j{i}.txt"]} for i in range(n)}  # fmt: skip
        write_config(root, jobs, f'[cache]\ndir = "{cache.as_posix()}"\n')
    built = subprocess.run([*cli_command(), "--state-dir", str(tmp_path / "s1"), "run"], cwd=first, env=env,
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert built.returncode == 0, built.stderr
    state = tmp_path / "s2"
    proc = subprocess.Popen([*cli_command(), "--state-dir", str(state), "run"], cwd=clone, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while len(_restored_by_record(state)) < 20:
            assert proc.poll() is None, "the run ended before the kill point"
            assert time.monotonic() < deadline, "nothing was restored"
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    restored = _restored_by_record(state)
    assert 20 <= len(restored) < n, len(restored)
    plan = subprocess.run([*cli_command(), "--state-dir", str(state), "run", "--dry-run", "--json"], cwd=clone,
                          env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert plan.returncode == 0, plan.stderr
    items = {item["job"]: item for item in json.loads(plan.stdout)}
    for name in sorted(restored):
        assert not items[name]["would_run"], (name, items[name]["reasons"])
    for name in sorted(set(items) - restored):
        assert items[name]["reasons"][0] in ("never run", "last run interrupted"), (name, items[name]["reasons"])
    rerun = subprocess.run([*cli_command(), "--state-dir", str(state), "run"], cwd=clone, env=env,
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    for i in range(n):
        status = "skipped" if f"j{i}" in restored else "restored"
        assert f"job=j{i} status={status} " in rerun.stdout + " ", (i, status)
        assert (clone / "out" / f"j{i}.txt").read_text() == f"j{i}"
    assert not (clone / "journal.log").exists()  # no command ran in the clone
