"""scripts/bench.py --quick: the benchmark harness runs end to end and produces a sane table (no timing asserted)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PY = sys.executable
ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the workloads use a POSIX shell (cat, sleep, seq)")


def parse_table(text: str, first_header: str) -> tuple[list[str], dict[str, list[str]]]:
    """The Markdown table whose first column is ``first_header``: its header and rows by first cell."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    header = [c.strip() for c in lines[start].strip("|").split("|")]
    rows: dict[str, list[str]] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = cells
    return header, rows


def test_quick_mode_measures_every_scenario_with_sane_figures(tmp_path: Path) -> None:
    # make and doit are always there (doit is a dependency); other peers are optional in CI.
    out = subprocess.run(
        [PY, str(SCRIPTS / "bench.py"), "--quick", "--repeat", "1", "--tools", "orchastration,doit,make"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    header, rows = parse_table(out.stdout, "scenario")
    assert header[:4] == ["scenario", "unit", "orchastration", "doit"]
    assert "÷ doit" in header and "÷ baseline" in header
    ours, doit, vs_doit = header.index("orchastration"), header.index("doit"), header.index("÷ doit")
    expected = [
        "start-up (`--version`)",
        "cold build 20 x 5",
        "no-op rerun 20 x 5",
        "one input edited 20 x 5",
        "list 20 x 5",
        "8 x sleep 0.1 at -j 4 (wall)",
        "hash 32 MiB (sha256) throughput",
        "hash 32 MiB: peak RSS",
        "4 MiB of job output: wall",
        "4 MiB of job output: peak RSS",
    ]
    for scenario in expected:
        assert scenario in rows, (scenario, out.stdout)
        value = float(rows[scenario][ours])
        unit = rows[scenario][1]
        low, high = {"ms": (0.5, 60_000), "MiB/s": (1, 100_000), "MB": (1, 2_000)}[unit]
        assert low < value < high, (scenario, value)
    # Eight 0.1 s sleeps four at a time cannot take less than 0.2 s; they ran in parallel (< serial 0.8 s + start).
    assert 190 < float(rows["8 x sleep 0.1 at -j 4 (wall)"][ours]) < 5_000
    # The ratio column is orchastration's figure over doit's.
    for scenario in ("no-op rerun 20 x 5", "list 20 x 5"):
        ratio = float(rows[scenario][vs_doit].rstrip("x"))
        assert ratio == pytest.approx(float(rows[scenario][ours]) / float(rows[scenario][doit]), rel=0.1, abs=0.02)
    assert rows["start-up (`--version`)"][header.index("baseline")].endswith("(python -c pass)")
    assert rows["hash 32 MiB (sha256) throughput"][header.index("baseline")].endswith("(sha256sum)")
    # What the output cache saves: a fresh clone restores the five 0.2 s jobs the cold build ran one by one.
    cached = rows["5 x sleep 0.2 with an output: fresh clone, warm cache"]
    assert cached[header.index("baseline")].endswith("(cold build, empty cache: 1 s of sleep)")
    assert float(cached[ours]) < 1_000 <= float(cached[header.index("baseline")].split()[0])
    # The file system's state, which sets the cold-build ratios, is measured at both ends of the run.
    costs = re.search(r"a new file on this file system cost (\d+) µs at the run's start and (\d+) µs", out.stdout)
    assert costs and all(0 < int(us) < 100_000 for us in costs.groups()), out.stdout
    # make has no listing command: its cell is empty, not a made-up number.
    assert rows["list 20 x 5"][header.index("make")] == "-"
    _, goals = parse_table(out.stdout, "goal")
    assert goals["`--version` ≤ 2 x `python -c pass`"][2] in ("met", "**not met**")
    assert goals["no-op rerun 1,000 x 10 ≤ 0.3 x doit"][1] == "not measured"  # quick mode has no 1,000 x 10
    assert goals["cold build 1,000 x 10 ≤ 1.0 x doit"][1] == "not measured"
    assert goals["fresh clone, warm cache 1,000 x 10 ≤ 0.3 x doit's cold build"][1] == "not measured"
    cache_goal = goals["5 x `sleep 0.2` with an output, fresh clone with a warm cache ≤ 0.1 x its cold build"]
    assert cache_goal[2] in ("met", "**not met**") and cache_goal[1].endswith("x"), cache_goal


def test_a_missing_or_failing_tool_is_reported_and_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sys.path.insert(0, str(SCRIPTS))
    try:
        from bench import startup
        from benchkit import tools
    finally:
        sys.path.remove(str(SCRIPTS))
    failing, missing = tools.Make("false"), tools.Doit(str(tmp_path / "no-such-doit"))
    failing.name, missing.name = "failing", "missing"
    [row] = startup([failing, missing], tmp_path, dict(os.environ), repeat=1)
    assert set(row.values) == {"python -c pass"}
    err = capsys.readouterr().err
    assert re.search(r"bench: failing: start-up .*: skipped: false --version exited 1", err), err
    assert re.search(r"bench: missing: start-up .*: skipped: .*no-such-doit: cannot start", err), err


def test_unknown_tool_is_a_usage_error() -> None:
    out = subprocess.run(
        [PY, str(SCRIPTS / "bench.py"), "--quick", "--tools", "orchastration,ninja"], capture_output=True, text=True
    )
    assert out.returncode == 2 and "--tools: unknown ninja" in out.stderr


def test_a_cold_build_starts_from_a_workload_whose_old_state_was_moved_aside(tmp_path: Path) -> None:
    """Resetting a workload moves its state and outputs into the run's trash, not deleted: deleting
    thousands of files just before a measured run charged that run for the file system's work on them."""
    sys.path.insert(0, str(SCRIPTS))
    try:
        from benchkit import tools
    finally:
        sys.path.remove(str(SCRIPTS))
    d = tmp_path / "orchastration-1000x10"
    for name in (".state/runs/j0/last.json", ".cache/entry.json", "out/0.txt", "in/0_0.txt"):
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(name)
    tools.Orchastration("orchastration").reset(d)
    assert sorted(p.name for p in d.iterdir()) == ["in", "out"] and list((d / "out").iterdir()) == []
    trash = tmp_path / tools.TRASH
    moved = sorted(p.relative_to(trash).as_posix() for p in trash.rglob("*") if p.is_file())
    assert sorted(m.split("/", 1)[1] for m in moved) == ["0.txt", "entry.json", "runs/j0/last.json"], moved
    (d / "out" / "1.txt").write_text("new")
    tools.fresh_checkout(d)  # a fresh clone: no state, no outputs; the cache (none here) stays
    assert sorted(p.name for p in d.iterdir()) == ["in", "out"] and list((d / "out").iterdir()) == []


def test_a_figure_takes_its_runs_in_turns_and_a_failing_contender_drops_out(tmp_path: Path) -> None:
    """Run i of every contender comes before run i + 1 of any (a slow spell of the machine falls on all of
    them); a contender whose command fails leaves with its error while the others go on."""
    sys.path.insert(0, str(SCRIPTS))
    try:
        from benchkit.measure import BenchError, Contender, Sample, round_robin
    finally:
        sys.path.remove(str(SCRIPTS))
    order: list[str] = []
    flaky = tmp_path / "flaky.sh"
    flaky.write_text('[ ! -e "$1" ] || exit 3\n')  # fails once the marker exists (its third run)

    def before(name: str) -> Any:
        def note(i: int) -> None:
            order.append(f"{name}{i}")
            if name == "c" and i == 2:
                (tmp_path / "marker").touch()

        return note

    env = dict(os.environ)
    contenders = [
        Contender("a", ["true"], tmp_path, env, before("a")),
        Contender("b", [PY, "-c", "pass"], tmp_path, env, before("b")),
        Contender("c", ["sh", str(flaky), str(tmp_path / "marker")], tmp_path, env, before("c")),
    ]
    results = round_robin(contenders, repeat=3, warmup=1)
    assert order == ["a0", "b0", "c0", "a1", "b1", "c1", "a2", "b2", "c2", "a3", "b3"]
    a, b, c = results["a"], results["b"], results["c"]
    assert isinstance(a, Sample) and isinstance(b, Sample) and (a.runs, b.runs) == (3, 3)
    assert 0 < a.ms < 5_000 and 0 < b.ms < 5_000
    assert isinstance(c, BenchError) and "exited 3" in str(c)
