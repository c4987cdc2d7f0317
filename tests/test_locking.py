"""The cross-process file lock (``locking.hold``): real processes holding it, a holder killed."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from orchastration.locking import hold

HOLDER = """
import sys, time
from pathlib import Path
from orchastration.locking import hold
with hold(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(60)
"""


def _holder(path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_lock_held_by_another_process_waits_says_so_once_and_times_out(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "x.lock"
    proc = _holder(path)
    told: list[int] = []
    try:
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="x.lock"), hold(path, lambda: told.append(1), timeout=0.3):
            pass
        assert time.monotonic() - started >= 0.3
        assert told == [1]
    finally:
        proc.kill()
        proc.wait(10)
    with hold(path, lambda: told.append(2), timeout=5):  # the OS released it with the dead holder
        pass
    assert told == [1]


def test_two_threads_of_one_process_exclude_each_other(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    inside, release, told = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with hold(path):
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=first)
    thread.start()
    assert inside.wait(10)
    threading.Timer(0.3, release.set).start()
    with hold(path, told.set, timeout=10):
        assert release.is_set()  # got it only once the first thread let go
    thread.join(10)
    assert told.is_set()
