"""Crash safety, sampled: SIGKILL ``run`` (dependent jobs), ``orchestration run`` and ``doc generate`` at
random points; every state file parses, nothing unfinished is up to date, a rerun heals, the README is
never torn. ``scripts/crashtest.py`` runs the same harness with hundreds of kill points.

``ORCH_CRASH_POINTS`` (default 3) and ``ORCH_CRASH_SEED`` (default: a fresh one, printed on failure).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from reliability.crash import run_scenario

POINTS = int(os.environ.get("ORCH_CRASH_POINTS", "3"))
SEED = int(os.environ.get("ORCH_CRASH_SEED", str(random.randrange(1_000_000))))

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL and process groups: POSIX")


@pytest.mark.parametrize("kind", ["jobs", "restore", "orchestration", "doc"])
def test_killed_at_random_points_state_stays_sound(kind: str, tmp_path: Path) -> None:
    summary = run_scenario(kind, tmp_path, POINTS, SEED)
    assert summary.points == POINTS
    assert not summary.problems, f"seed {SEED}:\n" + "\n".join(summary.problems)


def test_a_record_that_is_not_whole_is_a_problem_not_a_crash_of_the_harness(tmp_path: Path) -> None:
    """An empty settled record (what a cut record write once left) crashed the check with a
    JSONDecodeError instead of being reported."""
    from reliability.common import last_json_problems

    runs = tmp_path / "runs" / "b"
    runs.mkdir(parents=True)
    (runs / "20261207T000000.000000Z.json").write_text("", encoding="utf-8")
    assert last_json_problems(tmp_path / "runs") == ["b: 20261207T000000.000000Z.json is not a whole record (0 bytes)"]
