"""Session records, ``history`` and ``report`` through the installed CLI (docs/observability.md)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conftest import Result, assert_error
from jobs_helpers import PY, age, write_config
from reliability.common import cli_command

from orchastration.report import critical_path, tail, topological
from orchastration.sessions import _to_json, assign_slots, to_json

Cli = Callable[..., Result]


def _sessions(state_dir: Path) -> list[dict[str, Any]]:
    """Every session record, oldest first."""
    return [json.loads(p.read_text()) for p in sorted((state_dir / "sessions").glob("*.json"))]


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    write_config(
        root,
        {
            "gen": {"command": [PY, "-c", "print('generated <b>&amp;</b>')"], "outputs": []},
            "build": {"command": [PY, "-c", "print('built')"], "depends_on": ["gen"]},
            "broken": {"command": [PY, "-c", "import sys; print('oops', file=sys.stderr); sys.exit(3)"]},
        },
    )
    return root


def test_every_run_writes_one_session_and_history_lists_them(cli: Cli, tmp_path: Path, state_dir: Path) -> None:
    root = _project(tmp_path)
    res = cli(["run", "-j", "2", "--keep-going"], cwd=root)
    assert res.code == 1, res.err
    [session] = _sessions(state_dir)
    assert session["schema"] == 1 and session["kind"] == "jobs"
    assert session["argv"] == ["run", "-j", "2", "--keep-going"]
    assert session["parallel"] == 2 and session["exit_code"] == 1
    assert session["counts"] == {"ran": 2, "failed": 1}
    assert session["edges"] == {"build": ["gen"]}
    jobs = {j["name"]: j for j in session["jobs"]}
    assert set(jobs) == {"gen", "build", "broken"}
    for job in jobs.values():
        record = json.loads(Path(job["record"]).read_text())
        assert record["duration_ms"] == job["duration_ms"] and record["status"] == job["status"]
        assert job["slot"] in (0, 1) and job["start_us"] >= session["start_us"]
    assert jobs["broken"]["exit_code"] == 3

    assert cli(["run", "gen", "build"], cwd=root).code == 0  # up to date now: the no-op answer
    assert cli(["run", "gen", "build"], cwd=root).code == 0
    sessions = _sessions(state_dir)
    assert len(sessions) == 3
    assert sessions[-1]["counts"] == {"skipped": 2} and sessions[-1]["selected"] == ["gen", "build"]

    res = cli(["history"], cwd=root)
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    assert len(lines) == 3
    assert re.match(r"^\d{8}T\d{6}\.\d{6}Z  \d+\.\d\d s  exit=0  2 skipped  orchastration run gen build$", lines[0])
    assert lines[-1].endswith("exit=1  2 ran, 1 failed  orchastration run -j 2 --keep-going"), lines[-1]
    data = json.loads(cli(["history", "--json", "-n", "1"], cwd=root).out)
    assert [d["stamp"] for d in data] == [sessions[-1]["stamp"]]
    assert data[0]["command"] == "orchastration run gen build" and data[0]["counts"] == {"skipped": 2}


def test_bad_input_and_dry_runs_write_no_session(cli: Cli, tmp_path: Path, state_dir: Path) -> None:
    root = _project(tmp_path)
    assert_error(cli(["run", "nosuchjob"], cwd=root), 2, "nosuchjob")  # exit 2 leaves nothing behind
    assert cli(["run", "--dry-run"], cwd=root).code == 0  # runs nothing
    assert _sessions(state_dir) == []


def test_an_interrupted_run_writes_its_session(tmp_path: Path, env: dict[str, str], state_dir: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    write_config(root, {"slow": {"command": [PY, "-c", "import time; print('started', flush=True); time.sleep(60)"]}})
    proc = subprocess.Popen([*cli_command(), "run"], cwd=root, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().startswith("started")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
    [session] = _sessions(state_dir)
    assert session["exit_code"] == 130 and session["counts"] == {"interrupted": 1}


def test_history_without_sessions(cli: Cli, tmp_path: Path) -> None:
    res = cli(["history"], cwd=tmp_path)
    assert (res.code, res.out) == (0, "no sessions recorded\n")
    assert json.loads(cli(["history", "--json"], cwd=tmp_path).out) == []


def test_report_is_one_inline_html_file_with_every_job(cli: Cli, tmp_path: Path, state_dir: Path) -> None:
    root = _project(tmp_path)
    cli(["run", "--keep-going"], cwd=root)
    res = cli(["report"], cwd=root)
    assert res.code == 0, res.err
    out = root / "orchastration-report.html"
    assert res.out.startswith(f"report={out} session=") and res.out.rstrip().endswith("jobs=3")
    html = out.read_text(encoding="utf-8")
    assert "<script" not in html and not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    for name in ("gen", "build", "broken"):
        assert f"<code>{name}</code>" in html
    assert "generated &lt;b&gt;&amp;amp;&lt;/b&gt;" in html  # the output tail, escaped
    assert "oops" in html and "never run" in html
    # The critical path is gen -> build (the failed job stands alone): both nodes and their edge marked.
    assert re.search(r'class="node crit"[^>]*/><text[^>]*>gen<', html)
    assert re.search(r'class="node crit"[^>]*/><text[^>]*>build<', html)
    assert 'class="edge crit"' in html

    stamp = _sessions(state_dir)[0]["stamp"]
    res = cli(["report", stamp[:15], "-o", str(tmp_path / "r.html")], cwd=root)
    assert res.code == 0 and (tmp_path / "r.html").read_text(encoding="utf-8") == html
    assert_error(cli(["report", "19990101"], cwd=root), 2, "session 19990101: not found")
    assert_error(cli(["report", "-o", str(tmp_path / "no" / "r.html")], cwd=root), 2, "directory not found")


def test_report_of_a_no_op_session_reads_the_graph_from_the_last_records(
    cli: Cli, tmp_path: Path, state_dir: Path
) -> None:
    root = _project(tmp_path)
    age(root / "orchastration.toml")  # settled: an up-to-date run leaves a summary the no-op answer trusts
    for _ in range(3):
        assert cli(["run", "gen", "build"], cwd=root).code == 0
    assert _sessions(state_dir)[-1].get("fast_path") is True
    res = cli(["report", "-o", "noop.html"], cwd=root)
    assert res.code == 0, res.err
    html = (root / "noop.html").read_text(encoding="utf-8")
    assert "every job was up to date" in html and 'class="edge"' in html


def test_orchestration_run_writes_a_session_of_its_agents(cli: Cli, tmp_path: Path, state_dir: Path) -> None:
    root = tmp_path / "orch"
    root.mkdir()
    (root / "orchastration.toml").write_text(
        "[agents.Echo]\ncommand = ['python3', '-c', 'print(1)']\n"
        "[orchestrations.o]\nsteps = [['PlannerAgent'], ['Echo', 'ReviewerAgent'], ['DocAgent']]\n",
        encoding="utf-8",
    )
    res = cli(["orchestration", "run", "o", "--goal", "g"], cwd=root)
    assert res.code == 0, res.err
    [session] = _sessions(state_dir)
    assert session["kind"] == "orchestration" and session["orchestration"]["status"] == "success"
    names = [j["name"] for j in session["jobs"]]
    assert sorted(names) == ["s1.PlannerAgent", "s2.Echo", "s2.ReviewerAgent", "s3.DocAgent"]
    assert session["edges"]["s3.DocAgent"] == ["s2.Echo", "s2.ReviewerAgent"] or sorted(
        session["edges"]["s3.DocAgent"]
    ) == ["s2.Echo", "s2.ReviewerAgent"]
    res = cli(["report"], cwd=root)
    assert res.code == 0, res.err
    html = (root / "orchastration-report.html").read_text(encoding="utf-8")
    assert "Orchestration o" in html and "PlannerAgent" in html


def test_slots_go_to_the_lowest_free_one_and_never_exceed_j() -> None:
    spans = [("a", 0, 10), ("b", 0, 5), ("c", 5, 8), ("d", 8, 20), ("e", 10, 12)]
    assert assign_slots(spans, 2) == {"b": 0, "a": 1, "c": 0, "d": 0, "e": 1}
    assert set(assign_slots([("x", 0, 10), ("y", 1, 10), ("z", 2, 10)], 2).values()) <= {0, 1}


def test_both_session_encoders_write_the_same_bytes() -> None:
    """The encoder that spares the no-op answer the json module, and json's own (used once a run has
    loaded it), write the same text for every kind of value a record holds."""
    record = {
        "schema": 1,
        "argv": ["run", "-j", "2", 'a "quoted" \\ name', "tab\there", "é ü 日本", "\udce9 surrogate"],
        "ok": True,
        "error": None,
        "duration": 12.5,
        "jobs": [{"name": f"j{i}", "status": "ran", "exit_code": 0, "slot": i % 2} for i in range(3)],
        "edges": {"b": ["a"], "c": []},
        "counts": {1: "int key"},
    }
    assert "json" in __import__("sys").modules  # this process loaded it: to_json takes json's path
    assert to_json(record) == _to_json(record) == json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def test_critical_path_follows_the_longest_chain_of_durations(tmp_path: Path) -> None:
    edges = {"b": ["a"], "c": ["a"], "d": ["b", "c"]}
    order = topological(["d", "c", "b", "a"], edges)
    assert order.index("a") < order.index("b") < order.index("d")
    assert critical_path(order, edges, {"a": 1, "b": 5, "c": 2, "d": 1}) == ["a", "b", "d"]
    assert critical_path(order, edges, {}) == []
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert tail(str(log), 10_000).splitlines() == [f"line {i}" for i in range(80, 100)]
    assert tail(str(log), 12) == "…e 98\nline 99" and tail(str(tmp_path / "none"), 100) == ""
