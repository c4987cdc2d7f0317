#!/usr/bin/env python3
"""Dask executor benchmark: a local cluster (a scheduler, 2 workers x 8 threads) beside the local executor.

Two figures (docs/distributed.md), each the median of ``--repeat`` whole runs timed from outside:

- 64 jobs of ``sleep 0.5``: on the cluster (``-j`` its 16 threads) and locally at ``-j 16``; the ideal
  is 4 rounds x 0.5 s = 2.0 s (plus the CLI's start-up, shown apart: ``--version`` and the cluster's
  connect are part of every run). Beside them, the floor dask itself sets: ``import distributed``
  alone, and a bare client (no orchastration) running the same 64 sleeps on the workers 16 at a time,
  each submitted when one ends, as ``-j 16`` does.
- 1,000 trivial jobs (``true``): wall time and per-job cost, on the cluster and locally at ``-j 16``.

    python scripts/bench_dask.py [--repeat 3] [--jobs 1000]

Needs ``pip install '.[dask]'``; POSIX only (``sleep``, ``true``, process groups).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

BIN = Path(sys.executable).parent
WORKERS, THREADS = 2, 8

# A bare distributed client: the 64 sleeps as 16 slots of 4 tasks each, one after the other (as doit's
# -j 16 submits them), each a subprocess on the worker; from the process's start: import, connect, run.
BARE = """
import os, subprocess, sys, threading
from distributed import Client
client = Client(sys.argv[1], timeout=30, set_as_default=False)
def job(i):
    subprocess.run(["sleep", "0.5"], check=True)
def slot(i):
    for _ in range(4):
        client.submit(job, i, pure=False).result()
threads = [threading.Thread(target=slot, args=(i,)) for i in range(16)]
for t in threads:
    t.start()
for t in threads:
    t.join()
client.close()
os._exit(0)  # as the CLI: no interpreter teardown
"""


@contextlib.contextmanager
def cluster(work: Path) -> Iterator[str]:
    """A scheduler and ``WORKERS`` workers on 127.0.0.1; killed (process groups) on the way out."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    log = open(work / "cluster.log", "wb")  # noqa: SIM115 - closed below
    procs = [subprocess.Popen([BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], stdout=log, stderr=log, start_new_session=True)]  # fmt: skip
    try:
        for i in range(WORKERS):
            argv = [BIN / "dask", "worker", address, "--nthreads", str(THREADS), "--no-dashboard", "--name", f"w{i}"]
            procs.append(subprocess.Popen(argv, stdout=log, stderr=log, start_new_session=True))
        from distributed import Client

        with Client(address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(WORKERS, timeout=120)
        yield address
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def project(root: Path, count: int, command: list[str]) -> Path:
    root.mkdir(parents=True)
    text = "".join(f"[jobs.j{i}]\ncommand = {command!r}\nalways_run = true\n".replace("'", '"') for i in range(count))
    (root / "orchastration.toml").write_text(text)
    return root


def timed(argv: list[str], cwd: Path, env: dict[str, str], repeat: int) -> float:
    """Median wall seconds of ``repeat`` runs (after one warm-up); a failed run is fatal."""
    times = []
    for i in range(repeat + 1):
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"bench: {' '.join(map(str, argv))} failed ({done.returncode}): {done.stderr[-2000:]}")
        if i:
            times.append(elapsed)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1000, help="trivial jobs for the per-job figure")
    args = parser.parse_args(argv)
    cli = str(BIN / "orchastration")
    with tempfile.TemporaryDirectory(prefix="orchastration-bench-dask-") as tmp:
        work = Path(tmp)
        env = {**os.environ, "ORCHASTRATION_STATE_DIR": str(work / "state"), "ORCHASTRATION_NO_FASTPATH": "1"}
        env.pop("ORCHASTRATION_DASK_ADDRESS", None)
        sleeps = project(work / "sleep", 64, ["sleep", "0.5"])
        trivial = project(work / "trivial", args.jobs, ["true"])
        single = project(work / "single", 1, ["true"])
        with cluster(work) as address:
            remote = ["--executor", "dask", "--address", address]
            python = sys.executable
            rows = [
                ("start-up (--version)", timed([cli, "--version"], work, env, args.repeat), None),
                (
                    "import distributed (python -c)",
                    timed([python, "-c", "import distributed"], work, env, args.repeat),
                    None,
                ),
                (
                    "64 x sleep 0.5, bare distributed client (16 at a time)",
                    timed([python, "-c", BARE, address], work, env, args.repeat),
                    2.0,
                ),
                (
                    "1 x true, dask (import, connect, checks)",
                    timed([cli, "run", *remote], single, env, args.repeat),
                    None,
                ),
                ("1 x true, local", timed([cli, "run"], single, env, args.repeat), None),
                ("64 x sleep 0.5, dask (-j 16)", timed([cli, "run", *remote], sleeps, env, args.repeat), 2.0),
                ("64 x sleep 0.5, local -j 16", timed([cli, "run", "-j", "16"], sleeps, env, args.repeat), 2.0),
                (f"{args.jobs} x true, dask (-j 16)", timed([cli, "run", *remote], trivial, env, args.repeat), None),
                (f"{args.jobs} x true, local -j 16", timed([cli, "run", "-j", "16"], trivial, env, args.repeat), None),
            ]
    fixed = {"dask": rows[3][1], "local": rows[4][1]}  # a run of one job: what does not grow with the jobs
    print(f"| scenario | wall (s, median of {args.repeat}) | vs ideal | minus a 1-job run (s) | per job (ms) |")
    print("|---|---|---|---|---|")
    for name, seconds, ideal in rows:
        kind = "dask" if "dask" in name else "local"
        ratio = f"{seconds / ideal:.2f} x {ideal:g} s" if ideal else ""
        net = f"{seconds - fixed[kind]:.2f}" if name.startswith(("64", str(args.jobs))) and "bare" not in name else ""
        per_job = f"{(seconds - fixed[kind]) * 1000 / (args.jobs - 1):.1f}" if name.startswith(str(args.jobs)) else ""
        print(f"| {name} | {seconds:.2f} | {ratio} | {net} | {per_job} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
