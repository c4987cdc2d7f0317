"""``--trace FILE``: Chrome trace events from a real run (docs/observability.md)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conftest import Result, assert_error
from jobs_helpers import PY, write_config

Cli = Callable[..., Result]
SLEEP = "import time; time.sleep(0.15)"


def _x_events(trace: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in trace["traceEvents"] if e["ph"] == "X"]


def test_trace_has_one_complete_event_per_job_on_its_slot(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    jobs = {f"w{i}": {"command": [PY, "-c", SLEEP]} for i in range(5)}
    jobs["last"] = {"command": [PY, "-c", "print('done')"], "depends_on": ["w0", "w1"]}
    write_config(root, jobs)
    res = cli(["run", "-j", "2", "--trace", "trace.json"], cwd=root)
    assert res.code == 0, res.err
    trace = json.loads((root / "trace.json").read_text(encoding="utf-8"))
    events = _x_events(trace)
    assert sorted(e["name"] for e in events) == sorted(jobs)
    for event in events:
        record = json.loads(Path(event["args"]["record"]).read_text())
        assert abs(event["dur"] - record["duration_ms"] * 1000) <= 1000, (event, record["duration_ms"])
        assert event["args"]["status"] == "ran" and event["args"]["exit_code"] == 0
        assert event["args"]["reasons"] == ["never run"] and event["args"]["cache"] is None
        assert 0 <= event["tid"] < 2 and event["ts"] >= 0 and event["pid"] == 1
    assert {e["tid"] for e in events} == {0, 1}  # five sleeping jobs two at a time use both slots
    for tid in (0, 1):  # one job at a time on a slot
        spans = sorted((e["ts"], e["ts"] + e["dur"]) for e in events if e["tid"] == tid)
        assert all(end <= start for (_, end), (start, _) in zip(spans, spans[1:], strict=False)), spans
    by_name = {e["name"]: e for e in events}
    assert by_name["last"]["ts"] >= max(by_name["w0"]["ts"] + by_name["w0"]["dur"], 0)
    names = {e["args"]["name"] for e in trace["traceEvents"] if e["ph"] == "M" and e["name"] == "thread_name"}
    assert names == {"slot 0", "slot 1"}

    res = cli(["run", "--trace", "noop.json"], cwd=root)  # nothing runs: no X event, the jobs listed as idle
    assert res.code == 0, res.err
    noop = json.loads((root / "noop.json").read_text(encoding="utf-8"))
    assert _x_events(noop) == [] and len(noop["otherData"]["idle"]) == len(jobs)


def test_trace_to_a_missing_directory_is_refused_before_anything_runs(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    write_config(root, {"a": {"command": [PY, "-c", "open('made', 'w')"]}})
    assert_error(cli(["run", "--trace", "nodir/t.json"], cwd=root), 2, "--trace nodir/t.json: directory not found")
    assert not (root / "made").exists()


def test_orchestration_trace_has_one_event_per_agent(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "orch"
    root.mkdir()
    (root / "orchastration.toml").write_text(
        f"[agents.Slow]\ncommand = [{json.dumps(PY)}, '-c', {json.dumps(SLEEP)}]\n"
        "[orchestrations.o]\nsteps = [['PlannerAgent'], ['Slow', 'ReviewerAgent'], ['DocAgent']]\n",
        encoding="utf-8",
    )
    res = cli(["orchestration", "run", "o", "--trace", str(tmp_path / "o.json")], cwd=root)
    assert res.code == 0, res.err
    events = _x_events(json.loads((tmp_path / "o.json").read_text(encoding="utf-8")))
    assert sorted(e["name"] for e in events) == ["s1.PlannerAgent", "s2.ReviewerAgent", "s2.Slow", "s3.DocAgent"]
    record = json.loads(Path(events[0]["args"]["record"]).read_text())
    durations = {f"s{a['step']}.{a['name']}": a["duration_ms"] for a in record["agents"]}
    for event in events:
        assert abs(event["dur"] - durations[event["name"]] * 1000) <= 1000
        assert 0 <= event["tid"] < 2 and event["args"]["status"] == "success"
