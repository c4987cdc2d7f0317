"""Supervising a started command: read its pipes, wait for it, enforce its deadline and cancellation,
and deal with processes it left behind holding its pipes (docs/jobs.md, "Interrupts and timeouts").

POSIX: the calling thread reads both pipes with ``poll(2)`` (``pipes.PolledPipes``: one reader, no
thread per pipe) and, on Linux, wakes on the command's exit through a pidfd. Windows pipes cannot be
polled: a reader thread per pipe (``pipes.Pump``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import BinaryIO

from orchastration.pipes import STOP_SECONDS, PolledPipes, Pump, Sink, join, stop

KILL_GRACE_SECONDS = 2.0  # SIGTERM first so tools can clean up, then SIGKILL
LEFTOVER_GRACE_SECONDS = 2.0  # after the command exits, how long processes it left may hold its pipes

LEFTOVERS_KILLED = "left background processes running: killed"
LEFTOVERS_DETACHED = "left background processes holding its output: no longer waited for"


def supervise(
    proc: subprocess.Popen[bytes],
    sinks: list[Sink],
    stdin_data: bytes | None,
    deadline: float | None,
    cancel: threading.Event | None,
    interrupted: bool = False,
) -> tuple[str, str]:
    """Copy the command's pipes into ``sinks``, wait for its process, then for its pipes to close:
    (``""``, timeout or interrupted; the warning about processes it left behind, or ``""``). A
    Ctrl-C (or SIGTERM, SIGHUP) from the moment the process exists kills its tree; ``interrupted``:
    one came while it was being started."""
    assert proc.stdout is not None and proc.stderr is not None
    pipes: list[BinaryIO] = [proc.stdout, proc.stderr]  # type: ignore[list-item]
    if os.name == "posix":
        return _supervise_polled(proc, PolledPipes(pipes, sinks, proc.pid), stdin_data, deadline, cancel, interrupted)
    pumps = [Pump(pipe, sink) for pipe, sink in zip(pipes, sinks, strict=True)]
    return _supervise_threads(proc, pumps, stdin_data, deadline, cancel, interrupted)


def _supervise_polled(
    proc: subprocess.Popen[bytes],
    pipes: PolledPipes,
    stdin_data: bytes | None,
    deadline: float | None,
    cancel: threading.Event | None,
    interrupted: bool,
) -> tuple[str, str]:
    try:
        if interrupted:
            raise KeyboardInterrupt
        if stdin_data is not None:
            threading.Thread(target=_feed, args=(proc, stdin_data), daemon=True).start()
        outcome = _wait_polled(proc, pipes, deadline, cancel)
        if outcome:  # its tree was killed; a process that left the group may still hold the pipes
            pipes.drain(time.monotonic() + STOP_SECONDS)
            return outcome, ""
        return _after_exit(proc, deadline, cancel, pipes.drain)
    except KeyboardInterrupt:
        kill_tree(proc)
        return "interrupted", ""
    finally:
        pipes.close()


def _wait_polled(
    proc: subprocess.Popen[bytes], pipes: PolledPipes, deadline: float | None, cancel: threading.Event | None
) -> str:
    """Read the pipes until the process exits; on timeout or cancel kill its tree. Returns ``""``,
    timeout or interrupted."""
    while not pipes.done:
        if proc.poll() is not None:
            return ""
        if cancel is not None and cancel.is_set():
            kill_tree(proc)
            return "interrupted"
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            kill_tree(proc)
            return "timeout"
        # Without a pidfd nothing wakes the poll when the process exits holding no pipe: look often.
        step = None if pipes.pidfd >= 0 or pipes.exited else 0.05
        if cancel is not None:
            step = 0.05
        if deadline is not None:
            step = deadline - now if step is None else min(step, deadline - now)
        if pipes.pump(step):
            proc.wait()
    return _wait(proc, deadline, cancel)  # the pipes ended first: wait for the process itself


def _after_exit(
    proc: subprocess.Popen[bytes],
    deadline: float | None,
    cancel: threading.Event | None,
    drained: Callable[[float, threading.Event | None], bool],
) -> tuple[str, str]:
    """The command exited: what it left running in its group gets ``LEFTOVER_GRACE_SECONDS`` (never
    past the deadline) to finish writing and close the pipes; then the group is killed.
    ``drained(until, cancel)``: read the pipes to their end (True) or until then (polled or threads)."""
    until = time.monotonic() + LEFTOVER_GRACE_SECONDS
    if deadline is not None:
        until = min(until, deadline)
    if drained(until, cancel):
        return "", ""
    timed_out = deadline is not None and time.monotonic() >= deadline
    killed = _kill_group(proc)
    drained(time.monotonic() + STOP_SECONDS, None)
    warning = LEFTOVERS_KILLED if killed else LEFTOVERS_DETACHED
    if cancel is not None and cancel.is_set():
        return "interrupted", warning
    return ("timeout" if timed_out else ""), warning


def kill_tree(proc: subprocess.Popen[bytes], grace: float = KILL_GRACE_SECONDS) -> None:
    """Kill ``proc`` and every process in its group (POSIX) or tree (Windows)."""
    if os.name == "posix":
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        # SIGKILL the group even when the leader has gone: children may have ignored SIGTERM.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    else:
        subprocess.run(
            ["taskkill", "/T", "/F", "/PID", str(proc.pid)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        with contextlib.suppress(OSError):
            proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace + 5)


def _feed(proc: subprocess.Popen[bytes], data: bytes) -> None:
    """Write stdin from a thread so a child that prints before reading cannot deadlock us."""
    assert proc.stdin is not None
    try:
        proc.stdin.write(data)
    except OSError:  # the child exited or closed stdin early: fine
        pass
    finally:
        with contextlib.suppress(OSError):
            proc.stdin.close()


def _supervise_threads(
    proc: subprocess.Popen[bytes],
    pumps: list[Pump],
    stdin_data: bytes | None,
    deadline: float | None,
    cancel: threading.Event | None,
    interrupted: bool = False,
) -> tuple[str, str]:
    """Start the pumps (and a feeder thread for stdin), wait for the command's process, then for its
    pipes to close: (``""``, timeout or interrupted; the warning about processes it left behind, or
    ``""``). A Ctrl-C (or SIGTERM, SIGHUP) from the moment the process exists kills its tree;
    ``interrupted``: one came while it was being started."""
    try:
        if interrupted:
            raise KeyboardInterrupt
        for pump in pumps:
            pump.start()
        if stdin_data is not None:
            threading.Thread(target=_feed, args=(proc, stdin_data), daemon=True).start()
        outcome = _wait(proc, deadline, cancel)
        if outcome:  # its tree was killed; a process that left the group may still hold the pipes
            join(pumps, time.monotonic() + STOP_SECONDS)
            return outcome, ""
        return _after_exit(proc, deadline, cancel, lambda until, stop_on: join(pumps, until, stop_on))
    except KeyboardInterrupt:
        kill_tree(proc)
        return "interrupted", ""
    finally:
        stop(proc, pumps)


def _kill_group(proc: subprocess.Popen[bytes]) -> bool:
    """Kill what is left of the command's process group (POSIX) or tree (Windows, as far as
    ``taskkill /T`` still finds it once the command exited); True if anything was there."""
    if os.name == "posix":
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    done = subprocess.run(
        ["taskkill", "/T", "/F", "/PID", str(proc.pid)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return done.returncode == 0


def _wait(proc: subprocess.Popen[bytes], deadline: float | None, cancel: threading.Event | None) -> str:
    """Wait for ``proc``; on timeout or cancel kill its tree. Returns ``""``, timeout or interrupted."""
    if cancel is None:
        # Nothing to poll for: block in waitpid (Ctrl-C still interrupts it in the main thread).
        try:
            proc.wait(timeout=None if deadline is None else max(deadline - time.monotonic(), 0))
            return ""
        except subprocess.TimeoutExpired:
            kill_tree(proc)
            return "timeout"
    while True:
        step = 0.05
        if deadline is not None:
            step = min(step, max(deadline - time.monotonic(), 0))
        try:
            proc.wait(timeout=step)
            return ""
        except subprocess.TimeoutExpired:
            pass
        if cancel.is_set():
            kill_tree(proc)
            return "interrupted"
        if deadline is not None and time.monotonic() >= deadline:
            kill_tree(proc)
            return "timeout"
