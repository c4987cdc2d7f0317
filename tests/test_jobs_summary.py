"""End to end through the installed CLI: the up-to-date summary hands doit only what changed.

After a run, the units doit judged up to date (with settled files) are listed in the summary; the
next run reports those still unchanged as skipped and lets doit decide the others and everything
downstream of them. These tests check the verdicts stay doit's: whatever changed, and whatever
depends on it, reruns exactly when it would without the summary.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from conftest import Result
from jobs_helpers import PY, age, concat_job, project, statuses, write_config

Cli = Callable[..., Result]


def _run(cli: Cli, root: Path, *args: str) -> dict[str, str]:
    res = cli(["run", *args], cwd=root)
    assert res.code == 0, (res.out, res.err)
    return statuses(res.out)


def _by_summary(env: dict[str, str]) -> list[int]:
    """``by_summary`` of every run's up-to-date check so far, from the JSON-lines log file."""
    log_file = Path(env["XDG_CACHE_HOME"]) / "orchastration" / "orchastration.log"
    events = [json.loads(line) for line in log_file.read_text().splitlines()]
    return [e["by_summary"] for e in events if e["msg"] == "up-to-date check"]


def _settle(root: Path) -> None:
    """Age the project's files written in the last 10 s: the summary trusts only files older than 2 s
    (older files keep their mtimes: changing one is an edit the summary would see)."""
    recent = time.time() - 10
    age(*(p for p in root.rglob("*") if p.is_file() and p.stat().st_mtime > recent), seconds=30)


def _chain(root: Path) -> dict[str, dict[str, object]]:
    """gen -> mid (reads gen's output) -> top (depends_on mid); solo and its follower stand apart."""
    (root / "src" / "c.txt").write_text("gamma\n")
    return {
        "gen": concat_job("gen.txt", "src/a.txt"),
        "mid": concat_job("mid.txt", "gen.txt"),
        "top": {**concat_job("top.txt", "src/b.txt"), "depends_on": ["mid"]},
        "solo": concat_job("solo.txt", "src/c.txt"),
        "follower": {**concat_job("follower.txt", "src/b.txt"), "depends_on": ["solo"]},
    }


def _summarised_chain(cli: Cli, tmp_path: Path) -> Path:
    """The chain project, built, settled and rerun once: its summary vouches for all five jobs."""
    root = project(tmp_path)
    write_config(root, _chain(root))
    _run(cli, root)
    _settle(root)
    _run(cli, root)
    return root


def test_an_edit_reruns_what_changed_and_its_dependents_only(cli: Cli, tmp_path: Path, env: dict[str, str]) -> None:
    root = project(tmp_path)
    write_config(root, _chain(root))
    assert set(_run(cli, root).values()) == {"ran"}
    _settle(root)
    assert set(_run(cli, root).values()) == {"skipped"}  # doit decides all five; the summary is written
    assert _by_summary(env)[-1] == 0
    (root / "src" / "a.txt").write_text("ALPHA\n")
    _settle(root)
    got = _run(cli, root)
    assert got == {"gen": "ran", "mid": "ran", "top": "ran", "solo": "skipped", "follower": "skipped"}
    assert _by_summary(env)[-1] == 2  # solo and follower: unchanged, vouched for by the summary
    assert (root / "mid.txt").read_text() == "ALPHA\n"
    _settle(root)
    # the units that just ran are decided by doit once more (their files were fresh), then trusted
    assert set(_run(cli, root).values()) == {"skipped"}
    assert _by_summary(env)[-1] == 2
    assert set(_run(cli, root).values()) == {"skipped"}  # answered before doit loads: no check logged
    assert len(_by_summary(env)) == 4


def test_a_trusted_unit_downstream_of_a_change_goes_to_doit(cli: Cli, tmp_path: Path, env: dict[str, str]) -> None:
    root = _summarised_chain(cli, tmp_path)
    # follower's own files are unchanged, but solo (which it depends on) reruns: follower must too
    (root / "src" / "c.txt").write_text("GAMMA, longer\n")
    _settle(root)
    got = _run(cli, root)
    assert got["solo"] == "ran" and got["follower"] == "ran"
    assert got["gen"] == got["mid"] == got["top"] == "skipped"
    assert _by_summary(env)[-1] == 3


def test_force_always_run_glob_output_and_failure_go_to_doit(cli: Cli, tmp_path: Path, env: dict[str, str]) -> None:
    root = project(tmp_path)
    jobs = _chain(root)
    jobs["globber"] = {**concat_job("glob.txt"), "inputs": ["src/*.txt"]}
    jobs["globber"]["command"] = [PY, "-c", "import glob; open('glob.txt','w').write(str(sorted(glob.glob('src/*'))))"]
    write_config(root, jobs)
    _run(cli, root)
    _settle(root)
    _run(cli, root)
    # a new file matching a trusted unit's glob
    (root / "src" / "d.txt").write_text("delta\n")
    _settle(root)
    assert _run(cli, root)["globber"] == "ran"
    _settle(root)
    _run(cli, root)
    # a deleted output of a trusted unit
    (root / "solo.txt").unlink()
    got = _run(cli, root)
    assert got["solo"] == "ran" and got["follower"] == "ran" and got["gen"] == "skipped"
    _settle(root)
    _run(cli, root)
    # --force of one job: it runs, and its dependents follow (doit sees the dependency ran)
    got = _run(cli, root, "--force", "solo")
    assert got == {"solo": "ran"}
    assert _run(cli, root)["follower"] == "ran"

    # an always_run job never lets the run be a no-op, and never costs the others a check by doit
    jobs["clock"] = {"command": [PY, "-c", "pass"], "always_run": True}
    write_config(root, jobs)
    _run(cli, root)
    _settle(root)
    _run(cli, root)
    for _ in range(2):
        got = _run(cli, root)
        assert got["clock"] == "ran" and [s for j, s in got.items() if j != "clock"] == ["skipped"] * 6
        assert _by_summary(env)[-1] == 6

    # a failing job has no entry: it fails again rather than being called up to date
    jobs["broken"] = {"command": [PY, "-c", "raise SystemExit(3)"], "inputs": ["src/a.txt"], "outputs": ["x.txt"]}
    write_config(root, jobs)
    for _ in range(2):
        res = cli(["run", "--keep-going"], cwd=root)
        assert res.code == 1 and statuses(res.out)["broken"] == "failed"
        _settle(root)


def test_no_fastpath_makes_doit_decide_every_job(cli: Cli, tmp_path: Path, env: dict[str, str]) -> None:
    root = _summarised_chain(cli, tmp_path)
    (root / "src" / "c.txt").write_text("GAMMA, longer\n")
    env["ORCHASTRATION_NO_FASTPATH"] = "1"
    got = _run(cli, root)
    assert got["solo"] == got["follower"] == "ran" and got["gen"] == "skipped"
    assert _by_summary(env)[-1] == 0
    assert set(_run(cli, root).values()) == {"skipped"}  # not even the no-op answer: doit decided it
    assert _by_summary(env)[-1] == 0


def test_the_no_op_answer_loads_neither_doit_nor_the_config_model_nor_typing(
    cli: Cli, tmp_path: Path, env: dict[str, str]
) -> None:
    root = _summarised_chain(cli, tmp_path)
    code = (
        "import sys\nfrom orchastration.cli import main\nrc = main(['-q', 'run'])\n"
        "heavy = ('doit', 'orchastration.config', 'orchastration.engine.units', 'dataclasses', 'tomllib', 'tomli',\n"
        "         'typing')\n"
        "print(rc, sorted(m for m in sys.modules if m in heavy or m.split('.')[0] == 'doit'))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True)
    assert out.stdout.splitlines()[-1] == "0 []", (out.stdout, out.stderr)
    assert len(out.stdout.splitlines()) == 6  # five skipped lines, then the check
