"""The flusher's work queue (engine/durable.py): in order, and never a hang at close."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from orchastration.engine import durable
from orchastration.engine.durable import Flusher


def test_work_runs_in_order_and_drain_waits_for_it(tmp_path: Path) -> None:
    flusher = Flusher(tmp_path)
    seen: list[int] = []
    for i in range(200):  # past the backlog bound: submit waits, order holds
        flusher.submit(lambda i=i: seen.append(i))
    flusher.drain()
    assert seen == list(range(200))
    flusher.close()


def test_work_submitted_first_runs_before_what_is_still_queued(tmp_path: Path) -> None:
    """The next job's run directory and input hashes go ahead of the records still queued."""
    flusher = Flusher(tmp_path)
    taken, busy, seen = threading.Event(), threading.Event(), []
    flusher.submit(lambda: (taken.set(), busy.wait(10), seen.append("running")))
    assert taken.wait(10)  # the thread is in the first piece: what follows is queued
    flusher.submit(lambda: seen.append("record a"))
    flusher.submit(lambda: seen.append("record b"))
    flusher.submit(lambda: seen.append("next job's inputs"), first=True)
    busy.set()
    flusher.drain()
    assert seen == ["running", "next job's inputs", "record a", "record b"]
    flusher.close()


def test_work_submitted_after_the_thread_stopped_runs_and_close_returns(tmp_path: Path) -> None:
    """A unit still running after an interrupt submits its record once the flusher's thread has stopped:
    close() hung in drain() waiting for work no thread would run."""
    flusher = Flusher(tmp_path)
    flusher.submit(lambda: None)
    with flusher._cond:  # what close() does first: stop the thread
        flusher._stop = True
        flusher._cond.notify_all()
    assert flusher._thread is not None
    flusher._thread.join(10)
    assert not flusher._thread.is_alive()
    late: list[str] = []
    flusher.submit(lambda: late.append("record"))  # queued: the thread is gone
    closing = threading.Thread(target=flusher.close, daemon=True)
    closing.start()
    closing.join(10)
    assert not closing.is_alive(), "close() hung"
    assert late == ["record"]
    flusher.submit(lambda: late.append("after"))  # closed: runs at once
    assert late == ["record", "after"]


def test_held_work_waits_for_a_command_or_runs_on_the_jobs_thread(tmp_path: Path, monkeypatch: Any) -> None:
    """Gated (one job at a time): while the jobs' thread works (held) the thread leaves the queue alone;
    a command's start (release) hands it over; a restored unit (no command) runs it on the jobs' thread,
    in order (two threads taking turns at the interpreter lock cost a fresh clone ~20 %)."""
    monkeypatch.setattr(durable, "HOLD_SECONDS", 30.0)  # the starvation guard out of the way
    flusher = Flusher(tmp_path, gated=True)
    ran: list[tuple[str, str]] = []
    flusher.hold()
    for name in ("record", "commit"):
        flusher.submit(lambda name=name: ran.append((name, threading.current_thread().name)))
    time.sleep(0.2)
    assert ran == []  # held: the thread waits
    flusher.run_queued()
    me = threading.current_thread().name
    assert ran == [("record", me), ("commit", me)]
    started = threading.Event()
    flusher.submit(started.set)
    flusher.release()  # a command starts: the thread takes the queue
    assert started.wait(10)
    flusher.close()


@pytest.mark.skipif(os.name != "posix", reason="a signal sent to this process (POSIX)")
def test_an_interrupt_never_cuts_a_piece_run_on_the_jobs_thread(tmp_path: Path, monkeypatch: Any) -> None:
    """On the jobs' (main) thread the CLI's signal handlers run: a Ctrl-C or SIGTERM during a restored
    unit's bookkeeping cut a piece in two (a database commit without the record it vouches for) and
    the pieces after it still ran. Now every piece runs whole and the interrupt comes after them."""
    monkeypatch.setattr(durable, "HOLD_SECONDS", 30.0)

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # what the CLI turns SIGTERM into

    previous = signal.signal(signal.SIGTERM, interrupt)
    flusher = Flusher(tmp_path, gated=True)
    seen: list[str] = []

    def commit_then_settle() -> None:
        seen.append("commit")
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # the handler runs between bytecodes, here if it is not held
            pass
        seen.append("settle")

    try:
        flusher.hold()
        flusher.submit(commit_then_settle)
        flusher.submit(lambda: seen.append("next unit"))
        with pytest.raises(KeyboardInterrupt):
            flusher.run_queued()
        assert seen == ["commit", "settle", "next unit"]
    finally:
        signal.signal(signal.SIGTERM, previous)
        with contextlib.suppress(KeyboardInterrupt):  # (kept by the queue, before: re-raised by close)
            flusher.close()


def test_a_started_command_has_the_jobs_thread_do_the_queue_up_to_a_heavy_piece(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """Gated: once a command has started, the jobs' thread does the queued bookkeeping itself while it
    runs (no turns with another thread at the interpreter lock), but never a heavy piece (a large
    output to store: the command's output would wait in its pipes): that and what follows go to the
    thread."""
    monkeypatch.setattr(durable, "HOLD_SECONDS", 30.0)
    flusher = Flusher(tmp_path, gated=True)
    me, ran = threading.current_thread().name, []
    done = threading.Event()
    flusher.hold()
    flusher.submit(lambda: ran.append(("record", threading.current_thread().name)))
    flusher.submit(lambda: ran.append(("store 2 GB", threading.current_thread().name)), heavy=True)
    flusher.submit(lambda: (ran.append(("commit", threading.current_thread().name)), done.set()))
    flusher.command_started()
    assert done.wait(10)
    assert ran == [("record", me), ("store 2 GB", "orchastration-flusher"), ("commit", "orchastration-flusher")]
    flusher.close()


def test_a_started_command_has_the_jobs_thread_do_the_queue_for_a_budget_only(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(durable, "HOLD_SECONDS", 30.0)
    monkeypatch.setattr(durable, "BUDGET_SECONDS", 0.05)
    flusher = Flusher(tmp_path, gated=True)
    me, where = threading.current_thread().name, []
    flusher.hold()
    for _ in range(3):
        flusher.submit(lambda: (where.append(threading.current_thread().name), time.sleep(0.04)))
    flusher.command_started()
    flusher.drain()
    assert where[:2] == [me, me] and where[2] == "orchastration-flusher"  # the budget ran out after two
    flusher.close()


def test_held_work_is_taken_by_the_thread_after_hold_seconds(tmp_path: Path, monkeypatch: Any) -> None:
    """The thread never starves: a piece held longer than HOLD_SECONDS runs on it anyway."""
    monkeypatch.setattr(durable, "HOLD_SECONDS", 0.05)
    flusher = Flusher(tmp_path, gated=True)
    flusher.hold()
    done, where = threading.Event(), []
    flusher.submit(lambda: (where.append(threading.current_thread().name), done.set()))
    assert done.wait(10)
    assert where == ["orchastration-flusher"]
    flusher.close()


def test_run_queued_leaves_an_ungated_queue_to_the_thread(tmp_path: Path) -> None:
    flusher = Flusher(tmp_path)  # -j N: several jobs' threads; the queue is the thread's alone
    gate, seen = threading.Event(), []
    flusher.submit(lambda: gate.wait(10))
    flusher.submit(lambda: seen.append(threading.current_thread().name))
    flusher.run_queued()
    gate.set()
    flusher.drain()
    assert seen == ["orchastration-flusher"]
    flusher.close()


def test_a_run_whose_record_write_was_cut_short_is_not_kept(tmp_path: Path) -> None:
    """A record write that never completed (cut by an interrupt, a bug) leaves the run's mark the
    empty link: the landing drops the run's state (it runs again) and never settles that mark as an
    (empty) record."""
    from types import SimpleNamespace

    from orchastration.engine.runner import Landing, _Ending

    mark = tmp_path / "u" / ".incomplete"
    ending = _Ending(None, SimpleNamespace(name="u"), "20261207T000000.000000Z", mark,  # type: ignore[arg-type]
                     None, None, None, None, {}, {}, (), (mark, mark))  # type: ignore[arg-type]  # fmt: skip
    flusher = Flusher(tmp_path)
    commits: list[tuple[str, bool]] = []
    Landing(ending, flusher).land(lambda name, keep, now: commits.append((name, keep)), lambda: None)
    flusher.drain()
    flusher.close()
    assert commits == [("u", False)]


WAIT_FOR_DIR = """
import os, sys, time
until = time.monotonic() + 10
while not os.path.isdir(sys.argv[1]) and time.monotonic() < until:
    time.sleep(0.01)
print("made" if os.path.isdir(sys.argv[1]) else "absent")
sys.exit(int(sys.argv[2]))
"""


def test_the_next_jobs_run_directory_is_made_while_this_one_runs(cli: Any, tmp_path: Path) -> None:
    # One job at a time: the flusher's thread makes the next job's run directory (a new inode, slow right
    # after mass deletes) while this job's command runs, off the jobs' path. A job the run then never
    # starts keeps an empty directory: it still reads as never run.
    from jobs_helpers import PY, statuses, write_config

    root, state = tmp_path / "proj", tmp_path / "state"
    root.mkdir()
    second = state / "runs" / "second"

    def jobs(first_exits: int) -> dict[str, dict[str, Any]]:
        return {
            "first": {"command": [PY, "-c", WAIT_FOR_DIR, str(second), str(first_exits)], "always_run": True},
            "second": {"command": [PY, "-c", "print('second')"], "always_run": True, "after": ["first"]},
        }

    write_config(root, jobs(0))
    ran = cli(["--state-dir", str(state), "run"], cwd=root)
    assert ran.code == 0 and statuses(ran.out) == {"first": "ran", "second": "ran"}, ran
    assert cli(["--state-dir", str(state), "logs", "first"], cwd=root).out.strip() == "made"
    # The first job fails: the second never starts, its directory is there and empty.
    shutil.rmtree(state)
    write_config(root, jobs(3))
    failed = cli(["--state-dir", str(state), "run"], cwd=root)
    assert failed.code == 1 and statuses(failed.out) == {"first": "failed", "second": "not_run"}, failed
    assert second.is_dir() and list(second.iterdir()) == []
    shown = cli(["--state-dir", str(state), "status", "second"], cwd=root)
    assert shown.code == 0 and shown.out.strip() == "second - no completed run, stale: always_run, never run", shown
    logs = cli(["--state-dir", str(state), "logs", "second"], cwd=root)
    assert logs.code == 2 and "no runs recorded" in logs.err, logs


def test_the_next_units_lookup_ahead_never_hashes_an_input_just_modified(tmp_path: Path) -> None:
    # Session.ahead_of: the flusher's thread hashes the next unit's inputs (HashCache.prefetch) and looks
    # the unit up in the result store. An input modified within RACY_SECONDS is left to the unit itself
    # (a same-size edit in the same timestamp tick after an early read would go unseen), so the lookup,
    # which needs every input's hash, is not made either; with every input settled it is.
    import os
    import time

    from orchastration.engine.fastpath import RACY_SECONDS
    from orchastration.engine.result_store import NoStore
    from orchastration.engine.runner import UnitRunner
    from orchastration.engine.session import Session
    from orchastration.engine.units import Unit
    from orchastration.engine.uptodate import HashCache

    class Recording(NoStore):
        def __init__(self) -> None:
            self.looked: list[dict[str, str | None]] = []

        def look_ahead(self, unit: Unit, inputs: Any) -> None:
            self.looked.append(dict(inputs))

    old, new = tmp_path / "old.txt", tmp_path / "new.txt"
    old.write_text("old\n")
    new.write_text("new\n")
    past = time.time() - RACY_SECONDS - 10
    os.utime(old, (past, past))
    units = {n: Unit(n, ("true",), False, tmp_path, {}, 0, (), ("o",), (), False, tmp_path / "runs" / n) for n in "ab"}
    store, cache = Recording(), HashCache("sha256")
    flusher = Flusher(tmp_path / "engine")
    runner = UnitRunner("sha256", {}, cache, store=store, flusher=flusher)
    inputs = {"a": [], "b": [str(old), str(new)]}
    session = Session(units, ["a", "b"], runner, {}, inputs, {"a": [], "b": []})
    ahead = session.ahead_of("a")
    assert ahead is not None
    ahead()
    flusher.drain()
    assert cache.try_state(str(old)) is not None
    assert store.looked == [] and not any(key[0] == str(new) for key in cache._hashes)  # left to unit b
    os.utime(new, (past, past))
    ahead()
    flusher.close()
    assert [sorted(looked) for looked in store.looked] == [sorted(inputs["b"])]


def _group_log(flusher: Flusher, events: list[str], i: int) -> None:
    """A piece that staged row ``i``: its record settles once a commit covered it."""
    events.append(f"row {i}")
    flusher.grouped(lambda: events.append("commit"), lambda: events.append(f"settle {i}"))


def test_rows_are_committed_in_groups_and_settled_only_after_their_commit(tmp_path: Path) -> None:
    """One transaction for up to GROUP pieces' rows: 70 rows take three commits (32, 32, and the rest
    at the drain), and no record settles before the commit that holds its row."""
    flusher = Flusher(tmp_path, gated=True)
    events: list[str] = []
    for i in range(70):
        flusher.submit(lambda i=i: _group_log(flusher, events, i))
        flusher.run_queued()  # the jobs' thread, as after a restored unit
    flusher.drain()
    flusher.close()
    assert events.count("commit") == 3 == flusher.groups
    committed: set[int] = set()
    staged: list[int] = []
    for event in events:
        if event.startswith("row "):
            staged.append(int(event.split()[1]))
        elif event == "commit":
            committed.update(staged)
            staged = []
        else:
            assert int(event.split()[1]) in committed, event
    assert [e for e in events if e.startswith("settle")] == [f"settle {i}" for i in range(70)]


def test_a_group_nobody_ends_is_committed_by_the_thread_in_time(tmp_path: Path) -> None:
    """A row staged before a long wait (the next job's command runs for minutes) is not left
    uncommitted: the thread ends the group once it is GROUP_SECONDS old."""
    for gated in (False, True):
        flusher = Flusher(tmp_path, gated=gated)
        events: list[str] = []
        flusher.submit(lambda f=flusher, e=events: _group_log(f, e, 0))
        flusher.run_queued()
        until = time.monotonic() + 10
        while "settle 0" not in events and time.monotonic() < until:
            time.sleep(0.01)
        assert events == ["row 0", "commit", "settle 0"], gated
        flusher.close()


def test_a_failed_group_commit_settles_nothing_and_is_raised(tmp_path: Path) -> None:
    flusher = Flusher(tmp_path)
    settled: list[int] = []

    def piece(i: int) -> None:
        def commit() -> None:
            raise OSError("disk full")

        flusher.grouped(commit, lambda: settled.append(i))

    for i in range(3):
        flusher.submit(lambda i=i: piece(i))
    with pytest.raises(OSError, match="disk full"):
        flusher.drain()
    flusher.close()
    assert settled == []


def test_a_restored_jobs_row_waits_for_its_group_and_a_run_jobs_is_committed_at_once(tmp_path: Path) -> None:
    """Restored jobs (a fresh clone: nothing to overlap their bookkeeping with) are committed in groups;
    a job whose command ran is committed and settled on its own, while the next command runs."""
    from types import SimpleNamespace

    from orchastration.engine.runner import Landing, _Ending

    events: list[str] = []

    class Seen(Landing):
        def _settle(self) -> None:
            events.append(f"settle {self.ending.unit.name}")

    def landing(name: str, restored: object) -> Seen:
        ending = _Ending(None, SimpleNamespace(name=name), "20261207T000000.000000Z", tmp_path / name,  # type: ignore[arg-type]
                         None, None, None, restored, {}, {}, (), (tmp_path, tmp_path))  # type: ignore[arg-type]  # fmt: skip
        ending.written = True
        return Seen(ending, flusher)

    flusher = Flusher(tmp_path, gated=True)
    commit = lambda name, keep, now: events.append(f"row {name}" + (" committed" if now else ""))  # noqa: E731
    staged = lambda: events.append("group committed")  # noqa: E731
    landing("r1", object()).land(commit, staged)
    landing("ran", None).land(commit, staged)
    landing("r2", object()).land(commit, staged)
    flusher.run_queued()
    assert events == ["row r1", "row ran committed", "settle ran", "row r2"]
    flusher.drain()
    flusher.close()
    assert events[4:] == ["group committed", "settle r1", "settle r2"]
