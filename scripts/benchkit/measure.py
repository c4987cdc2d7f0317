"""Whole-process measurements: wall time and peak RSS of one command, medians after a warm-up."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


class BenchError(Exception):
    """A command under test failed: its tool is reported and skipped for that scenario."""


@dataclass(frozen=True)
class Sample:
    """One run: wall time in ms and the peak RSS in MB of the largest process of its tree."""

    ms: float
    rss_mb: float


GNU_TIME = "/usr/bin/time"


def rss_floor_mb() -> float:
    """The smallest peak RSS ``run_once(rss=True)`` can report (see there)."""
    if _gnu_time():
        return 0.0
    import resource  # POSIX only

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _gnu_time() -> bool:
    return os.path.exists(GNU_TIME) and sys.platform.startswith("linux")


def run_once(argv: list[str], cwd: Path, env: dict[str, str], rss: bool = False) -> Sample:
    """Run one whole process (stdout discarded, stderr kept for the error message) and measure it.

    Peak RSS is the largest process of the tree (the tool or one of its jobs), as ``wait4`` reports
    it. The child of a fork inherits its parent's high-water mark until it execs, so the harness's
    own RSS (~15 MB of Python) would be a floor: with ``rss=True`` the command runs under GNU
    ``time -f %M`` (a ~2 MB process) instead, when there is one.
    """
    report = None
    if rss and _gnu_time():
        report = tempfile.NamedTemporaryFile(prefix="bench-rss-", delete=False)  # noqa: SIM115
        report.close()
        argv = [GNU_TIME, "-f", "%M", "-o", report.name, *argv]
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        except OSError as exc:
            raise BenchError(f"{argv[0]}: cannot start: {exc}") from None
        if hasattr(os, "wait4"):
            _, status, usage = os.wait4(proc.pid, 0)
            elapsed = (time.perf_counter() - start) * 1000
            proc.returncode = os.waitstatus_to_exitcode(status)
            rss = usage.ru_maxrss / 1024  # KiB on Linux
        else:  # pragma: no cover - Windows: wall time only
            proc.wait()
            elapsed = (time.perf_counter() - start) * 1000
            rss = 0.0
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-600:]
            raise BenchError(f"{' '.join(argv[:4])} exited {proc.returncode} in {cwd}: {tail}")
    if report is not None:
        text = Path(report.name).read_text().strip().splitlines()
        os.unlink(report.name)
        rss = int(text[-1]) / 1024 if text and text[-1].isdigit() else rss
    return Sample(elapsed, rss)


def median_of(
    argv: list[str],
    cwd: Path,
    env: dict[str, str],
    repeat: int,
    warmup: int = 1,
    before: Callable[[int], None] | None = None,
    rss: bool = False,
) -> Sample:
    """Median wall time (and the median peak RSS) of ``repeat`` runs after ``warmup`` unmeasured ones.

    ``before(i)`` runs untimed before each run (warm-ups included): e.g. reset a tree for a cold
    build, or edit one input.
    """
    samples = []
    for i in range(warmup + repeat):
        if before is not None:
            before(i)
        sample = run_once(argv, cwd, env, rss)
        if i >= warmup:
            samples.append(sample)
    return Sample(statistics.median(s.ms for s in samples), statistics.median(s.rss_mb for s in samples))
