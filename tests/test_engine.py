"""The engine API (what task builds call): units through the real doit runner, plan/why/forget, fast path."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from orchastration.engine import PlanItem, Unit, UnitResult, fastpath, forget, plan, run_units, why
from orchastration.engine.lock import state_lock
from orchastration.paths import Paths

PY = sys.executable
ENV = dict(os.environ)


def unit(tmp_path: Path, name: str, code: str, **kw: object) -> Unit:
    fields: dict[str, object] = {
        "command": (PY, "-c", code),
        "shell": False,
        "working_dir": tmp_path,
        "env": {},
        "timeout_seconds": 0,
        "inputs": (),
        "outputs": (),
        "depends_on": (),
        "always_run": False,
        "record_dir": tmp_path / "state" / "runs" / name.replace(":", "_"),
        "extra_record": {},
    }
    fields.update(kw)
    return Unit(name=name, **fields)  # type: ignore[arg-type]


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(user_config=tmp_path / "none.toml", state_dir=tmp_path / "state", log_file=tmp_path / "log")


@pytest.mark.parametrize("first", ["abs_outputs", "output_globs"])
def test_a_units_outputs_split_into_literals_and_globs_whichever_is_asked_first(tmp_path: Path, first: str) -> None:
    """One split of the declared outputs fills both halves (``abs_outputs``, ``output_globs``)."""
    u = unit(tmp_path, "u", "", outputs=("dist/*.whl", "out.txt", "build/", "logs/**/*.log"))
    getattr(u, first)
    assert u.abs_outputs == (str(tmp_path / "out.txt"), str(tmp_path / "build"))
    assert u.output_globs == (str(tmp_path / "dist" / "*.whl"), str(tmp_path / "logs" / "**" / "*.log"))


def test_task_style_units_callbacks_and_extra_record(tmp_path: Path, paths: Paths) -> None:
    (tmp_path / "in.txt").write_text("x")
    build = unit(
        tmp_path,
        "task:build",
        "open('out.txt','w').write(open('in.txt').read()); print('made')",
        inputs=("in.txt",),
        outputs=("out.txt",),
        extra_record={"task_name": "build", "action": "build.run"},
    )
    seen: list[UnitResult] = []
    started: list[str] = []
    console = io.StringIO()
    kw = {"paths": paths, "hash_algorithm": "sha256"}
    results = run_units(
        [build], ["task:build"], console=console, on_result=seen.append, on_start=started.append, environ=ENV, **kw
    )
    assert [r.status for r in results] == ["ran"] and seen == results and started == ["task:build"]
    assert console.getvalue() == "made\n"
    record = results[0].record_path
    assert record is not None and record.parent == build.record_dir
    import json

    data = json.loads(record.read_text())
    assert (data["task_name"], data["action"], data["doit_task"]) == ("build", "build.run", "task:build")
    assert run_units([build], ["task:build"], environ=ENV, **kw)[0].status == "skipped"
    assert why([build], "task:build", **kw) == []
    assert [r.status for r in run_units([build], ["task:build"], force=True, environ=ENV, **kw)] == ["ran"]
    dry = run_units([build], ["task:build"], dry_run=True, environ=ENV, **kw)
    assert (dry[0].status, dry[0].reasons) == ("skipped", ())
    forget(["task:build"], paths=paths)
    assert plan([build], ["task:build"], **kw) == [PlanItem("task:build", ("state forgotten",))]


def test_failures_dependencies_and_force_by_name(tmp_path: Path, paths: Paths) -> None:
    kw = {"paths": paths, "hash_algorithm": "md5"}
    base = unit(tmp_path, "base", "pass")
    top = unit(tmp_path, "top", "pass", depends_on=("base",))
    assert [r.name for r in run_units([base, top], ["top"], environ=ENV, **kw)] == ["base", "top"]
    got = run_units([base, top], ["top"], force=["base"], environ=ENV, **kw)
    assert [(r.name, r.status) for r in got] == [("base", "ran"), ("top", "ran")]
    assert got[0].reasons == ("forced",) and got[1].reasons == ("dependency ran: base",)
    bad = unit(tmp_path, "base", "import sys; sys.exit(4)")
    got = run_units([bad, top], ["top"], force=True, environ=ENV, **kw)
    assert [(r.name, r.status, r.exit_code) for r in got] == [("base", "failed", 4), ("top", "not_run", None)]
    assert why([bad, top], "base", **kw) == ["last run failed"]


def test_the_reasons_a_first_run_gives_without_and_with_a_runs_directory(tmp_path: Path, paths: Paths) -> None:
    # The first pass knows "never run" from one listing of the runs directory (engine/uptodate.py,
    # without_run_dir); a unit whose directory exists says why its last run does not count.
    kw = {"paths": paths, "hash_algorithm": "sha256", "environ": ENV}
    from orchastration.engine.uptodate import without_run_dir

    fresh, forgotten, killed = (unit(tmp_path, n, "pass") for n in ("fresh", "forgotten", "killed"))
    assert without_run_dir([fresh, forgotten, killed]) == {"fresh", "forgotten", "killed"}  # no runs dir yet
    assert run_units([forgotten], ["forgotten"], **kw)[0].reasons == ("never run",)
    forget(["forgotten"], paths=paths)
    killed.record_dir.mkdir()
    (killed.record_dir / ".incomplete").write_text("")  # a first run killed before its record
    assert without_run_dir([fresh, forgotten, killed]) == {"fresh"}
    got = run_units([fresh, forgotten, killed], ["fresh", "forgotten", "killed"], **kw)
    assert [(r.name, r.status, r.reasons) for r in got] == [
        ("fresh", "ran", ("never run",)),
        ("forgotten", "ran", ("state forgotten",)),
        ("killed", "ran", ("last run interrupted",)),
    ]


def test_unknown_dependency_is_a_programming_error(tmp_path: Path, paths: Paths) -> None:
    with pytest.raises(ValueError, match="unknown unit 'nope'"):
        run_units(
            [unit(tmp_path, "a", "pass", depends_on=("nope",))],
            ["a"],
            paths=paths,
            hash_algorithm="sha256",
            environ=ENV,
        )


def test_lock_waiter_is_told(tmp_path: Path, paths: Paths) -> None:
    told = threading.Event()
    holder_ready, release = threading.Event(), threading.Event()

    def hold() -> None:
        with state_lock(paths.engine_dir):
            holder_ready.set()
            release.wait(10)

    # each hold opens the lock file itself: a thread contends like another process would.
    t = threading.Thread(target=hold)
    t.start()
    holder_ready.wait(10)
    threading.Timer(0.5, release.set).start()
    results = run_units(
        [unit(tmp_path, "a", "pass")], ["a"], paths=paths, hash_algorithm="sha256", environ=ENV, on_lock_wait=told.set
    )
    t.join(10)
    assert told.is_set() and results[0].status == "ran"


def test_fastpath_write_check_invalidate(tmp_path: Path) -> None:
    engine = tmp_path / "engine"
    summaries = fastpath.Summaries(engine)
    f = tmp_path / "f.txt"
    f.write_text("one")
    key = fastpath.make_key(b"config", "/c.toml", ["a"])
    assert summaries.write(key, ["a"], [("a", [str(f)], [])]) == 0  # too fresh: not trusted
    assert not summaries.path(key).exists()
    old = time.time() - 60
    os.utime(f, (old, old))
    assert summaries.write(key, ["a"], [("a", [str(f)], [str(tmp_path / "*.txt")])]) == 1
    assert summaries.check(key) == ["a"]
    assert summaries.check(fastpath.make_key(b"config2", "/c.toml", ["a"])) is None
    (tmp_path / "g.txt").write_text("new file matching the glob")
    assert summaries.check(key) is None
    (tmp_path / "g.txt").unlink()
    assert summaries.check(key) == ["a"]
    f.write_text("longer")  # a different size, even with the old mtime put back
    os.utime(f, (old, old))
    assert summaries.check(key) is None
    f.write_text("one")
    os.utime(f, (old, old))
    assert summaries.check(key) == ["a"]
    summaries.invalidate()
    assert summaries.check(key) is None


def test_fastpath_vouches_per_unit_and_anchors_void_everything(tmp_path: Path) -> None:
    engine = tmp_path / "engine"
    summaries = fastpath.Summaries(engine)
    files = {n: tmp_path / f"{n}.txt" for n in ("a", "b", "c", "db")}
    old = time.time() - 60
    for path in files.values():
        path.write_text(path.name)
        os.utime(path, (old, old))
    fresh = tmp_path / "fresh.txt"
    fresh.write_text("just written")
    key = fastpath.make_key(b"config", "/c.toml", [])
    units = [("a", [str(files["a"])], []), ("b", [str(files["b"])], []), ("c", [str(files["c"]), str(fresh)], [])]
    # c has a file modified within RACY_SECONDS: no entry, so the run is never a no-op
    assert summaries.write(key, ["a", "b", "c"], units, anchors=[str(files["db"])]) == 2
    assert summaries.check(key) is None
    summary = summaries.trusted(key)
    assert summary is not None and summary.order == ["a", "b", "c"] and sorted(summary.entries) == ["a", "b"]
    assert fastpath.entry_files(summary.entries["a"]) == [str(files["a"])]
    files["b"].write_text("an edit")
    summaries.invalidate()  # (drops this process's memo of the files checked, as a run does)
    # carried entries are written as they were: a changed file is still seen by the next check
    assert summaries.write(key, ["a", "b"], [], anchors=[str(files["db"])], carried=summary.entries) == 2
    again = summaries.trusted(key)
    assert again is not None and sorted(again.entries) == ["a"]
    files["db"].write_text("the database changed under the summary")
    assert summaries.trusted(key) is None
    assert summaries.check(key) is None


def test_fast_run_accepts_only_plain_run_lines() -> None:
    from orchastration.cli.fast_run import Plain, parse_plain

    assert parse_plain(["run"]) == Plain({}, [], frozenset(), None)
    got = parse_plain(["-q", "--config", "c.toml", "run", "a", "b.c"])
    assert got == Plain({"--config": "c.toml"}, ["a", "b.c"], frozenset({"-q"}), None)
    got = parse_plain(["--state-dir=/s", "run", "-q", "x"])
    assert got == Plain({"--state-dir": "/s"}, ["x"], frozenset({"-q"}), None)
    assert parse_plain(["run", "-j", "2", "a"]) == Plain({}, ["a"], frozenset(), 2)
    assert parse_plain(["run", "a", "--jobs=3"]) == Plain({}, ["a"], frozenset(), 3)
    for argv in (["run", "--force"], ["run", "--dry-run"], ["-v", "run"], ["orchestration", "run", "x"],
                 ["build", "run", "t"], ["run", "-j", "0"], ["run", "-j", "x"], ["-j", "2", "run"], ["list"],
                 ["run", ".hidden"], ["run", "a", "-q", "b"], ["run", "a", "-j", "2", "b"],
                 ["--config", "-q", "run"], ["run", "--", "x"]):  # fmt: skip
        assert parse_plain(argv) is None, argv


def test_last_json_newest_wins_when_runs_finish_out_of_order(tmp_path: Path) -> None:
    import json

    from orchastration.engine.records import update_last
    from orchastration.state import write_record

    d = tmp_path / "runs" / "j"
    d.mkdir(parents=True)
    newer = write_record(d, "20261124T101500.000002Z", {"run_id": "20261124T101500.000002Z"}, update_last=False)
    older = write_record(d, "20261124T101500.000001Z", {"run_id": "20261124T101500.000001Z"}, update_last=False)
    update_last(d, "20261124T101500.000002Z", newer)
    assert os.path.samefile(d / "last.json", newer)  # the first: the record's own link
    update_last(d, "20261124T101500.000001Z", older)  # finished later, started earlier
    assert json.loads((d / "last.json").read_text())["run_id"] == "20261124T101500.000002Z"
    assert not list(d.glob(".last.*.tmp"))


def test_light_doit_skips_the_command_line_layer_until_asked_for() -> None:
    # In a fresh interpreter: the engine imports doit's runner without doit_cmd/importlib.metadata,
    # and the rest of the package still appears on first use.
    code = (
        "import sys\n"
        "import orchastration.engine.doit_adapter\n"
        "import doit.control, doit.dependency, doit.runner, doit.task\n"
        "assert 'doit.doit_cmd' not in sys.modules and 'importlib.metadata' not in sys.modules\n"
        "from doit import get_var, create_after\n"
        "import doit\n"
        "assert doit.__version__ and callable(doit.run) and callable(get_var) and callable(create_after)\n"
        "assert 'doit.doit_cmd' in sys.modules\n"
        "print('ok')\n"
    )
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout == "ok\n", out.stderr


def test_run_units_leaves_the_cycle_collector_as_it_found_it(tmp_path: Path, paths: Paths) -> None:
    # The backend pauses the collector while loading a run and freezes what it loaded.
    import gc

    ok = unit(tmp_path, "ok", "pass")
    orphan = unit(tmp_path, "orphan", "pass", depends_on=("nowhere",))
    assert gc.isenabled()
    [result] = run_units([ok], ["ok"], paths=paths, hash_algorithm="sha256", environ=ENV)
    assert result.status == "ran"
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert [i.name for i in plan([ok], ["ok"], paths=paths, hash_algorithm="sha256")] == ["ok"]
    assert gc.isenabled() and gc.get_freeze_count() == 0
    with pytest.raises(ValueError, match="unknown unit"):  # an error while loading
        run_units([orphan], ["orphan"], paths=paths, hash_algorithm="sha256", environ=ENV)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.disable()
    try:  # a caller that turned it off keeps it off
        run_units([ok], ["ok"], paths=paths, hash_algorithm="sha256", environ=ENV, force=True)
        assert not gc.isenabled()
    finally:
        gc.enable()
