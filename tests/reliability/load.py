"""Resource limits: a job printing a lot is captured to disk with bounded memory; a config of many
jobs loads and lists in reasonable time."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from reliability.common import PY, cli_command, isolated_env

MIB = 1 << 20
# Prints SIZE bytes (lines of 1 KiB) to stdout, in 1 MiB writes: the job itself stays small.
PRINTER = (
    "import sys; size = int(sys.argv[1]); line = (b'x' * 1023) + b'\\n'; block = line * 1024; w = sys.stdout.buffer\n"
    "for _ in range(size // len(block)): w.write(block)\n"
    "w.write(line[: size % len(block)])"
)


@dataclass
class BigOutput:
    """One run of a job printing ``size`` bytes."""

    size: int
    seconds: float
    max_rss_kib: int  # the orchastration process (and its reaped children), from wait4
    baseline_rss_kib: int  # the same job printing nothing
    log_bytes: int
    code: int


def _run_measured(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, float, int]:
    started = time.monotonic()
    proc = subprocess.Popen(
        [*cli_command(), *argv], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    if os.name == "posix":
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        rss = int(usage.ru_maxrss)
    else:  # no wait4: the run still has to succeed; memory is not measured
        proc.wait()
        rss = 0
    if proc.stderr is not None:
        proc.stderr.close()
    return proc.returncode, time.monotonic() - started, rss


def big_output(base: Path, size: int) -> BigOutput:
    """Run a job printing ``size`` bytes (streamed to the console, here /dev/null, and its log)."""
    proj = base / "proj"
    proj.mkdir(parents=True, exist_ok=True)
    env = isolated_env(base)
    jobs = {"big": size, "small": 0}
    (proj / "orchastration.toml").write_text(
        "".join(f"[jobs.{name}]\ncommand = {json.dumps([PY, '-c', PRINTER, str(n)])}\n\n" for name, n in jobs.items()),
        encoding="utf-8",
    )
    _, _, baseline = _run_measured(["run", "small"], proj, env)
    code, seconds, rss = _run_measured(["run", "big"], proj, env)
    state = Path(env["ORCHASTRATION_STATE_DIR"])
    logs = sorted((state / "runs" / "big").glob("*.stdout.log"))
    log_bytes = logs[-1].stat().st_size if logs else -1
    return BigOutput(size, seconds, rss, baseline, log_bytes, code)


@dataclass
class ManyJobs:
    """Timings of commands on a config of ``count`` jobs."""

    count: int
    seconds: dict[str, float]
    lines: int


def many_jobs(base: Path, count: int, commands: tuple[tuple[str, ...], ...] = (("list",), ("list",))) -> ManyJobs:
    """Write ``count`` jobs (a few dependencies each) and time ``commands`` (the first ``list`` parses;
    the second may use the parsed-config cache)."""
    proj = base / "proj"
    proj.mkdir(parents=True, exist_ok=True)
    env = isolated_env(base)
    parts = []
    for i in range(count):
        deps = json.dumps([f"job{i - 1:05d}"] if i % 10 else [])
        parts.append(
            f'[jobs.job{i:05d}]\ndescription = "job number {i}"\ncommand = ["true"]\n'
            f'inputs = ["src/{i % 100}/*.txt"]\noutputs = ["out/{i}.txt"]\ndepends_on = {deps}\n\n'
        )
    (proj / "orchastration.toml").write_text("".join(parts), encoding="utf-8")
    seconds: dict[str, float] = {}
    lines = 0
    for n, argv in enumerate(commands):
        started = time.monotonic()
        proc = subprocess.run([*cli_command(), *argv], cwd=proj, env=env, capture_output=True, text=True)
        took = time.monotonic() - started
        if proc.returncode not in (0,):
            raise AssertionError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr[-500:]}")
        seconds[f"{n + 1}: {' '.join(argv)}"] = took
        if argv == ("list",):
            lines = len(proc.stdout.splitlines())
    return ManyJobs(count, seconds, lines)
