"""The flusher's work queue (engine/durable.py): in order, and never a hang at close."""

from __future__ import annotations

import threading
from pathlib import Path

from orchastration.engine.durable import Flusher


def test_work_runs_in_order_and_drain_waits_for_it(tmp_path: Path) -> None:
    flusher = Flusher(tmp_path)
    seen: list[int] = []
    for i in range(200):  # past the backlog bound: submit waits, order holds
        flusher.submit(lambda i=i: seen.append(i))
    flusher.drain()
    assert seen == list(range(200))
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
