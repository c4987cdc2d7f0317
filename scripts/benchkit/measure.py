"""Whole-process measurements: wall time and peak RSS of one command, medians after a warm-up."""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


class BenchError(Exception):
    """A command under test failed: its tool is reported and skipped for that scenario."""


class BenchTimeout(BenchError):
    """A command ran past its time limit (its process group was killed)."""

    def __init__(self, message: str, seconds: float) -> None:
        super().__init__(message)
        self.seconds = seconds


@dataclass(frozen=True)
class Sample:
    """Wall time in ms and peak RSS in MB of the largest process of the tree (medians of ``runs``)."""

    ms: float
    rss_mb: float
    runs: int = 1


GNU_TIME = "/usr/bin/time"
BUDGET_SECONDS = 60.0  # per figure: a tool slower than this gets fewer runs
TIMEOUT_SECONDS = 600.0  # per run


def rss_floor_mb() -> float:
    """The smallest peak RSS ``run_once(rss=True)`` can report (see there)."""
    if _gnu_time():
        return 0.0
    import resource  # POSIX only

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _gnu_time() -> bool:
    return os.path.exists(GNU_TIME) and sys.platform.startswith("linux")


def run_once(argv: list[str], cwd: Path, env: dict[str, str], rss: bool = False, timeout: float = 0) -> Sample:
    """Run one whole process (stdout discarded, stderr kept for the error message) and measure it.

    Peak RSS is the largest process of the tree (the tool or one of its jobs), as ``wait4`` reports
    it. The child of a fork inherits its parent's high-water mark until it execs, so the harness's
    own RSS (~15 MB of Python) would be a floor: with ``rss=True`` the command runs under GNU
    ``time -f %M`` (a ~2 MB process) instead, when there is one. ``timeout`` (s, 0: none) kills
    the command's process group and raises BenchTimeout.
    """
    report = None
    if rss and _gnu_time():
        report = tempfile.NamedTemporaryFile(prefix="bench-rss-", delete=False)  # noqa: SIM115
        report.close()
        argv = [GNU_TIME, "-f", "%M", "-o", report.name, *argv]
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(
                argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True
            )
        except OSError as exc:
            raise BenchError(f"{argv[0]}: cannot start: {exc}") from None
        fired = threading.Event()

        def kill() -> None:
            fired.set()
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill) if timeout else None
        if timer is not None:
            timer.start()
        try:
            if hasattr(os, "wait4"):
                _, status, usage = os.wait4(proc.pid, 0)
                elapsed = (time.perf_counter() - start) * 1000
                proc.returncode = os.waitstatus_to_exitcode(status)
                rss = usage.ru_maxrss / 1024  # KiB on Linux
            else:  # pragma: no cover - Windows: wall time only
                proc.wait()
                elapsed = (time.perf_counter() - start) * 1000
                rss = 0.0
        except BaseException:  # Ctrl-C: the command is in its own session, so stop it here
            kill()
            raise
        finally:
            if timer is not None:
                timer.cancel()
        if fired.is_set():
            raise BenchTimeout(f"{' '.join(argv[:4])}: killed after {timeout:g} s", timeout)
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-600:]
            raise BenchError(f"{' '.join(argv[:4])} exited {proc.returncode} in {cwd}: {tail}")
    if report is not None:
        text = Path(report.name).read_text().strip().splitlines()
        os.unlink(report.name)
        rss = int(text[-1]) / 1024 if text and text[-1].isdigit() else rss
    return Sample(elapsed, rss)


@dataclass(frozen=True)
class Contender:
    """One command of a round robin: its name (a tool, or a baseline), what it runs where, and what to
    do untimed before each of its runs (``before(i)``: reset a tree for a cold build, edit an input)."""

    name: str
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    before: Callable[[int], None] | None = None


def round_robin(
    contenders: list[Contender], repeat: int, warmup: int = 1, rss: bool = False
) -> dict[str, Sample | BenchError]:
    """Each contender's median wall time (and median peak RSS) of ``repeat`` runs after ``warmup``
    unmeasured ones, the runs taken in turns: run i of every contender before run i + 1 of any.

    On a shared machine a slow spell of a few seconds falls on every contender of the figure alike, so
    their ratio holds; measured one after the other, the spell landed on one side (one tool's runs, then
    the next tool's). A slow contender gets fewer runs: once it has spent ``BUDGET_SECONDS`` its runs so
    far are its sample (a warm-up over budget counts as its one run), and the others go on; ``Sample.runs``
    says how many. A contender whose run fails or times out (``TIMEOUT_SECONDS``) leaves with its error.
    """
    samples: dict[str, list[Sample]] = {c.name: [] for c in contenders}
    spent = dict.fromkeys(samples, 0.0)
    failed: dict[str, BenchError] = {}
    active = list(contenders)
    for i in range(warmup + repeat):
        for c in list(active):
            try:
                if c.before is not None:
                    c.before(i)
                sample = run_once(c.argv, c.cwd, c.env, rss, TIMEOUT_SECONDS)
            except BenchError as exc:
                failed[c.name] = exc
                active.remove(c)
                continue
            spent[c.name] += sample.ms / 1000
            if i >= warmup or spent[c.name] > BUDGET_SECONDS:
                samples[c.name].append(sample)
            if samples[c.name] and spent[c.name] > BUDGET_SECONDS:
                active.remove(c)
    results: dict[str, Sample | BenchError] = dict(failed)
    for name, taken in samples.items():
        if name not in failed:
            ms, mb = statistics.median(s.ms for s in taken), statistics.median(s.rss_mb for s in taken)
            results[name] = Sample(ms, mb, len(taken))
    return results


_probes = iter(range(1_000_000))


def new_file_us(parent: Path, files: int = 1000, per_dir: int = 10) -> float:
    """What making a file costs on this file system now: µs per empty file, ``files`` of them made in
    ``files / per_dir`` new directories (the shape of a build's outputs and run records) under
    ``parent``, directories counted as files. Nothing is deleted: deleting here would raise the cost
    it measures (on ext4, a new inode is looked for past the recently deleted ones), and ``parent`` is
    the run's temporary directory."""
    root = parent / f"new-file-probe-{next(_probes)}"
    root.mkdir()
    start = time.perf_counter()
    for d in range(files // per_dir):
        sub = root / str(d)
        os.mkdir(sub)
        for f in range(per_dir - 1):
            os.close(os.open(sub / str(f), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    return (time.perf_counter() - start) * 1e6 / files
