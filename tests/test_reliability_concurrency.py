"""Concurrency: 20 invocations at once on one state dir all succeed (waiting for the lock), with one
record per real run and a consistent database; a lock left by a killed run never blocks the next."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from reliability.common import PY, cli_command, isolated_env, run, state_problems
from reliability.concurrency import storm

COUNT = int(os.environ.get("ORCH_CONCURRENCY", "20"))


def test_twenty_invocations_at_once_balance_the_books(tmp_path: Path) -> None:
    report = storm(tmp_path, COUNT, seed=int(os.environ.get("ORCH_CONCURRENCY_SEED", "1")))
    assert report.invocations == COUNT
    assert not report.problems, "\n".join(report.problems)
    assert report.waited >= 1  # they really overlapped: someone waited for the lock
    assert all(report.ran[j] >= 1 for j in "abcdef")


# Sleeps as long as sleep.txt says (not an input): 30 s while it is killed, 0 for the rerun.
SLOW = (
    "import os, time; open('started','w').write(str(os.getpid())); "
    "time.sleep(float(open('sleep.txt').read())); open('slow.out','w').close()"
)


def _wait_for(path: Path, seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        time.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL: POSIX")
def test_lock_of_a_killed_run_never_blocks_the_next(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "sleep.txt").write_text("30")
    quick = [PY, "-c", "open('quick.out','w').close()"]
    (root / "orchastration.toml").write_text(
        f"[jobs.slow]\ncommand = {json.dumps([PY, '-c', SLOW])}\noutputs = ['slow.out']\n\n"
        f"[jobs.quick]\ncommand = {json.dumps(quick)}\noutputs = ['quick.out']\n",
        encoding="utf-8",
    )
    env = isolated_env(tmp_path)
    state = Path(env["ORCHASTRATION_STATE_DIR"])
    proc = subprocess.Popen([*cli_command(), "run", "slow"], cwd=root, env=env)
    orphan = int(_wait_for(root / "started"))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    try:
        # The holder is dead; its job lives on (its own session) and must not hold the lock either.
        assert (state / "engine" / "state.lock").exists()
        started = time.monotonic()
        res = run(["run", "quick"], root, env, timeout=60)
        assert res.code == 0, res.err
        assert "waiting for the state lock" not in res.err
        assert time.monotonic() - started < 15
        # The killed job is not up to date; its next run completes and then it is.
        assert run(["why", "slow"], root, env).out.strip() == "last run interrupted"
        (root / "sleep.txt").write_text("0")
        res = run(["run", "slow"], root, env, timeout=60)
        assert res.code == 0 and "job=slow status=ran" in res.out, (res.out, res.err)
        assert run(["why", "slow"], root, env).out.strip() == "up-to-date"
        assert not state_problems(state)
    finally:
        os.killpg(orphan, signal.SIGKILL)
