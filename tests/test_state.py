"""Atomic state writes and unique, sortable timestamps."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from orchastration import state


def test_stamp_and_iso_formats() -> None:
    moment = datetime(2026, 11, 24, 10, 15, 0, 123456, tzinfo=UTC)
    assert state.stamp(moment) == "20261124T101500.123456Z"
    assert state.iso(moment) == "2026-11-24T10:15:00.123456Z"
    # Another zone, no microseconds, a naive (local) time: in UTC, as strftime would write them.
    east = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    for when in (east, datetime(2026, 1, 2, 3, 4, 5, 6), datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)):
        assert state.stamp(when) == when.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        assert state.iso(when) == when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert state.iso(east) == "2026-01-01T21:34:05.000000Z"


def test_unique_now_is_strictly_increasing_under_a_frozen_clock() -> None:
    frozen = datetime(2026, 1, 1, tzinfo=UTC)
    times = [state.unique_now(lambda: frozen) for _ in range(5)]
    assert len(set(times)) == 5 and times == sorted(times)


def test_write_new_record_never_collides(tmp_path: Path) -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    paths: list[Path] = []
    lock = threading.Lock()

    def write(i: int) -> None:
        p = state.write_new_record(tmp_path, {"i": i}, when=moment)
        with lock:
            paths.append(p)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({p.name for p in paths}) == 20
    assert sorted(json.loads(p.read_text())["i"] for p in paths) == list(range(20))
    assert all(json.loads(p.read_text())["schema"] == state.SCHEMA_VERSION for p in paths)
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]


def test_claim_run_slot_is_exclusive(tmp_path: Path) -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    first, _ = state.claim_run_slot(tmp_path, moment)
    second, _ = state.claim_run_slot(tmp_path, moment)
    assert first != second and first < second
    path = state.write_record(tmp_path, second, {"ok": True})
    assert json.loads((tmp_path / "last.json").read_text()) == json.loads(path.read_text())


def test_failed_atomic_write_keeps_old_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "rec.json"
    state.atomic_write_json(target, {"v": 1})

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        state.atomic_write_json(target, {"v": 2})
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["rec.json"]


def test_read_json_tolerates_absent_file(tmp_path: Path) -> None:
    assert state.read_json(tmp_path / "none.json") is None


def test_host_info() -> None:
    import platform

    info = state.host_info()
    assert info["binary_version"]
    assert info["os"] == f"{platform.system().lower()}-{platform.machine().lower()}"  # what it always said


def test_atomic_writes_leave_a_private_file_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "d" / "x.json"
    state.atomic_write_text(target, "{}")
    state.write_new_record(tmp_path / "runs", {"a": 1})
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["x.json"]
    assert [p.name.startswith(".") for p in (tmp_path / "runs").iterdir()] == [False]
    if os.name == "posix":
        assert target.stat().st_mode & 0o777 == 0o600
        assert all(p.stat().st_mode & 0o777 == 0o600 for p in (tmp_path / "runs").iterdir())


def _json_dumps_text(value: object) -> str:
    return state.json_safe(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)) + "\n"


def test_dumps_writes_what_json_dumps_writes() -> None:
    import enum

    class Level(enum.IntEnum):
        HIGH = 3

    class Word(enum.StrEnum):
        YES = "yes"

    record = {
        "schema": 1, "name": "j", "status": "restored", "exit_code": 0, "duration_ms": 12, "timeout_seconds": 0.0,
        "command": ["cat", "a b", "é", "\u2028", "\x00\x1f\"\\"], "shell": False, "program": None, "ok": True,
        "inputs": {"in/a.txt": "ab" * 32, "in/missing": None, "z": "", "A": "x"},
        "outputs": {}, "depends_on": [], "reasons": ("never run", "input changed: in/a.txt"),
        "nested": {"deeper": {"list": [1, 2.5, -0.0, 1e100, [], {}, [[]], {"k": [None]}]}},
        "floats": [float("nan"), float("inf"), float("-inf"), 0.1 + 0.2, 2**70, -(2**70)],
        "enums": [Level.HIGH, Word.YES], "name\udcff": "file\udcfe", "\U0001f600": "emoji",
    }  # fmt: skip
    assert state.dumps(record) == _json_dumps_text(record)
    for value in ([], {}, "", 0, None, [record, record], {"": {"": []}}, {"b": 1, "a": 2, "ä": 3, "Z": 4}):
        assert state.dumps(value) == _json_dumps_text(value)


def test_dumps_leaves_what_records_never_hold_to_json() -> None:
    # Keys that are not strings are json's to convert (and sort, or refuse), as before.
    for value in ({1: "a", 2: "b"}, {True: 1}, {None: 0}, {"x": [{2.5: "y"}]}):
        assert state.dumps(value) == _json_dumps_text(value)
    with pytest.raises(TypeError):
        state.dumps({1: "a", "b": 2})  # json.dumps cannot sort int and str keys either
    with pytest.raises(TypeError, match="not JSON serializable"):
        state.dumps({"a": {1, 2}})
    cycle: list[object] = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="Circular reference"):
        state.dumps({"a": cycle})


def test_a_units_records_share_no_list_and_follow_a_changed_unit(tmp_path: Path) -> None:
    """Each record of a unit has lists of its own (a change to one record's never reaches the next),
    and a unit with the same name but another command and working dir gets its own fields."""
    from dataclasses import replace

    from orchastration.engine.records import build_record
    from orchastration.engine.units import Unit
    from orchastration.process import ProcessResult

    unit = Unit("j", ("tool", "x"), False, tmp_path, {}, 0, ("a.txt",), ("out",), ("dep",), False, tmp_path / "r")
    when = state.utc_now()
    res = ProcessResult(0, "ok", 3, "")

    def record(u: Unit, inputs: dict[str, str | None]) -> dict[str, object]:
        return build_record(u, run_id="1", started=when, result=res, program=None, inputs=inputs,
                            outputs={str(tmp_path / "out"): "o"}, reasons=["x"], algorithm="sha256")  # fmt: skip

    first = record(unit, {str(tmp_path / "a.txt"): "h1"})
    first["command"].append("mutated")
    first["depends_on"].append("mutated")
    second = record(unit, {str(tmp_path / "a.txt"): "h2", str(tmp_path / "sub" / "b.txt"): None})
    assert second["command"] == ["tool", "x"] and second["depends_on"] == ["dep"]
    assert second["inputs"] == {"a.txt": "h2", "sub/b.txt": None} and second["outputs"] == {"out": "o"}
    assert (second["name"], second["doit_task"], second["working_dir"]) == ("j", "j", str(tmp_path))
    changed = record(replace(unit, command=("tool", "y"), working_dir=tmp_path / "sub"), {})
    assert changed["command"] == ["tool", "y"] and changed["working_dir"] == str(tmp_path / "sub")


def test_log_lines_carry_the_time_as_datetime_writes_it() -> None:
    """The JSON log line's time is made without datetime (a second's text once a second): the same
    text, rounding included."""
    import random
    from datetime import UTC, datetime

    from orchastration.logs import _utc_text

    rng = random.Random(7)
    times = [rng.uniform(0, 2e9) for _ in range(20_000)] + [
        1796677565 + rng.randint(0, 10**6) / 1e6 for _ in range(20_000)
    ]
    times += [1796677565.9999995, 1796677565.0000005, 0.0, 1796677565.999999]
    for t in times:
        assert _utc_text(t) == datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), t
