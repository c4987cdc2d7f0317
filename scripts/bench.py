#!/usr/bin/env python3
"""Benchmark harness: orchastration side by side with doit, make, go-task, just and Snakemake.

Every tool gets the same generated workload in its own format (``benchkit/tools.py``): N jobs x M
input files, job i concatenating its inputs into ``out/<i>.txt`` through the shell. Every figure is
a whole process timed from outside: the median of several runs after a warm-up, the tools of a row
taking turns (run i of every tool before run i + 1 of any: a slow spell of the shared machine falls on
all of them, not on one). Scenarios: start-up (``--version``), cold build (an empty output cache, in
turns with a cold build with the cache off), no-op rerun, one input edited, listing, a fresh clone with
a warm output cache (in turns with the peers' cold builds), at 100 x 10 and 1,000 x 10;
16 x ``sleep 0.5`` at ``-j 8`` (scheduling overhead); 50 jobs sleeping 0.5 s each with an output, cold
and as a fresh clone with the output cache warm (what the cache saves); ``hash`` of a 1 GiB file beside ``sha256sum``
(throughput, peak RSS); 50 MB of job output (wall time, peak RSS).

    python scripts/bench.py --quick          # seconds, small sizes (a test runs this)
    python scripts/bench.py                  # the full run (minutes)
    python scripts/bench.py --write          # also write docs/benchmarks.md
    python scripts/bench.py --tools orchastration,doit --size 1000x10

Peers come from ``pip install .[bench]`` (doit, snakemake, go-task-bin, rust-just) and the system's
make. A missing tool, or one whose run fails, is reported on stderr and skipped, never fatal.

After the cold builds the harness sleeps ``SETTLE_SECONDS`` (for every tool): orchastration only
trusts a file's stat once it is older than its 2 s "racy" window, so steady-state no-op reruns
start after that.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchkit import tools as tk  # noqa: E402
from benchkit.measure import (  # noqa: E402
    BenchError,
    BenchTimeout,
    Contender,
    Sample,
    new_file_us,
    round_robin,
    rss_floor_mb,
)
from benchkit.report import OURS, Row, goals_table, table  # noqa: E402

SETTLE_SECONDS = 2.2
PARALLEL = 2  # jobs at once in the parallel cold build (this machine has two cores)
ROOT = Path(__file__).resolve().parent.parent
FULL = {
    "sizes": [(100, 10), (1000, 10)],
    "sleep": (16, 0.5, 8),
    "cache_sleep": (50, 0.5),
    "hash_mib": 1024,
    "output_mib": 50,
    "repeat": 7,
}
QUICK = {
    "sizes": [(20, 5)],
    "sleep": (8, 0.1, 4),
    "cache_sleep": (5, 0.2),
    "hash_mib": 32,
    "output_mib": 4,
    "repeat": 3,
}


def _take(
    row: Row,
    contenders: list[Contender],
    repeat: int,
    warmup: int = 1,
    rss: bool = False,
    pick: Callable[[Sample], float] = lambda s: s.ms,
    rss_row: Row | None = None,
) -> list[str]:
    """One figure of every contender, measured in turns (``round_robin``), into ``row`` (and the peak RSS
    into ``rss_row``); returns the names that have one. A failing or timed-out contender is reported and
    left out of the row."""
    taken = []
    for name, result in round_robin(contenders, repeat, warmup, rss).items():
        if isinstance(result, BenchError):
            print(f"bench: {name}: {row.scenario}: skipped: {result}", file=sys.stderr)
            if isinstance(result, BenchTimeout):
                row.notes.append(f"{name}: killed after {result.seconds:g} s")
            continue
        row.values[name], row.runs[name] = pick(result), result.runs
        if rss_row is not None:
            rss_row.values[name], rss_row.runs[name] = result.rss_mb, result.runs
        taken.append(name)
    return taken


def startup(tools: list[tk.Tool], work: Path, env: dict[str, str], repeat: int) -> list[Row]:
    """``--version`` of every tool beside ``python -c pass``."""
    row = Row("startup", "start-up (`--version`)", "ms", baseline="python -c pass")
    contenders = [Contender(row.baseline, [sys.executable, "-c", "pass"], work, env)]
    contenders += [Contender(t.name, t.version_argv(), work, t.env(env, work)) for t in tools]
    _take(row, contenders, repeat)
    return [row]


def builds(
    tools: list[tk.Tool], work: Path, env: dict[str, str], size: tuple[int, int], repeat: int
) -> tuple[list[Row], Row | None]:
    """Cold build, no-op rerun, one input edited and listing of the N x M workload; with orchastration,
    also its cold build with the cache off (the ``cold`` row's empty cache must cost little over it,
    measured in the same rounds), returned apart."""
    jobs_n, inputs_n = size
    label, tag = f"{jobs_n} x {inputs_n}", f"{jobs_n}x{inputs_n}"
    jobs = tk.build_jobs(jobs_n, inputs_n)
    cold = Row(f"cold:{tag}", f"cold build {label}", "ms")
    noop = Row(f"noop:{tag}", f"no-op rerun {label}", "ms")
    edit = Row(f"edit:{tag}", f"one input edited {label}", "ms")
    listing = Row(f"list:{tag}", f"list {label}", "ms")
    off = Row(f"cold-nocache:{tag}", f"cold build, cache off {label}", "ms")
    ours = next((t for t in tools if t.name == OURS), None)
    # (name, tool, tree, environment over the tool's): every tool, and ours again with the cache off
    setups = [(t.name, t, work / f"{t.name}-{tag}", {}) for t in tools]
    if ours is not None:
        setups.append((off.scenario, ours, work / f"{ours.name}-{tag}-nocache", {"ORCHASTRATION_NO_CACHE": "1"}))
    dirs = {name: d for name, _, d, _ in setups}
    old = time.time() - 3600  # inputs written "an hour ago", like a checked-out tree
    contenders = []
    for name, t, d, extra in setups:
        (d / "in").mkdir(parents=True)
        for job in jobs:
            for path in job.inputs:
                (d / path).write_text(f"{path}\n" * 20)
                os.utime(d / path, (old, old))
        t.write_build(d, jobs)
        run_env = {**t.env(env, d), **extra}
        contenders.append(Contender(name, t.build_argv(), d, run_env, lambda _i, t=t, d=d: t.reset(d)))
    done = _take(cold, contenders, min(repeat, 3))
    if off.scenario in cold.values:
        off.values[OURS], off.runs[OURS] = cold.values.pop(off.scenario), cold.runs.pop(off.scenario)
    live = [t for t in tools if t.name in done]  # the tools whose cold build worked: the rest need its tree
    # The same cold build, PARALLEL jobs at once (tools whose workload has such a run; each run leaves
    # the tree built for the rows after it).
    parallel = Row(f"cold-j{PARALLEL}:{tag}", f"cold build {label} at -j {PARALLEL}", "ms")
    both = [(t, argv) for t in live if (argv := t.parallel_build_argv(PARALLEL))]
    _take(parallel, [Contender(t.name, argv, dirs[t.name], t.env(env, dirs[t.name]),
                               lambda _i, t=t: t.reset(dirs[t.name])) for t, argv in both], min(repeat, 3))  # fmt: skip
    time.sleep(SETTLE_SECONDS)
    _take(noop, [Contender(t.name, t.build_argv(), dirs[t.name], t.env(env, dirs[t.name])) for t in live], repeat, 2)

    def touch(i: int, d: Path) -> None:
        with open(d / "in" / f"{i % jobs_n}_0.txt", "a") as fh:
            fh.write(f"edit {i}\n")

    _take(edit, [Contender(t.name, t.build_argv(), dirs[t.name], t.env(env, dirs[t.name]),
                           lambda i, d=dirs[t.name]: touch(i, d)) for t in live], repeat)  # fmt: skip
    listed = [(t, t.list_argv()) for t in live]
    _take(listing, [Contender(t.name, a, dirs[t.name], t.env(env, dirs[t.name])) for t, a in listed if a], repeat)
    for row in (noop, edit):
        row.notes += [f"{t.name} has no up-to-date check: it reruns every job" for t in live if not t.incremental]
    return [cold, parallel, noop, edit, listing], (off if ours is not None else None)


def cached(
    tools: list[tk.Tool], cold: Row, work: Path, env: dict[str, str], size: tuple[int, int], repeat: int
) -> list[Row]:
    """The output cache (docs/cache.md) on the N x M workload: a fresh clone of the tree with the cache its
    cold build filled (every job restored), in turns with the peers' cold builds (having no such cache,
    a fresh clone of theirs is a cold build)."""
    import shutil

    tag = f"{size[0]}x{size[1]}"
    ours = next((t for t in tools if t.name == OURS), None)
    if ours is None:
        return []
    built = work / f"{ours.name}-{tag}"
    if OURS not in cold.values or not (built / ".cache").is_dir():
        return []
    warm = Row(f"warm-clone:{tag}", f"fresh clone, warm cache {size[0]} x {size[1]}", "ms")
    clone = work / f"{ours.name}-{tag}-clone"
    shutil.copytree(built, clone, ignore=shutil.ignore_patterns(".state", "out"))
    contenders = [Contender(ours.name, ours.build_argv(), clone, ours.env(env, clone),
                            lambda _i: tk.fresh_checkout(clone))]  # fmt: skip
    for t in tools:
        d = work / f"{t.name}-{tag}"
        if t.name != OURS and t.name in cold.values:
            contenders.append(Contender(t.name, t.build_argv(), d, t.env(env, d), lambda _i, t=t, d=d: t.reset(d)))
    _take(warm, contenders, min(repeat, 3))
    warm.notes.append("the peers have no output cache: their figure is their cold build, measured in the same rounds")
    return [warm]


def sleeps(tools: list[tk.Tool], work: Path, env: dict[str, str], spec: tuple[int, float, int], repeat: int) -> Row:
    """Scheduling overhead: ``count`` x ``sleep seconds`` at ``parallel`` jobs at once."""
    count, seconds, parallel = spec
    row = Row("sleep", f"{count} x sleep {seconds} at -j {parallel} (wall)", "ms")
    contenders = []
    for t in tools:
        d = work / f"{t.name}-sleep"
        d.mkdir()
        t.write_sleep(d, count, seconds)
        contenders.append(Contender(t.name, t.sleep_argv(count, parallel), d, t.env(env, d)))
    _take(row, contenders, repeat)
    return row


def cached_sleeps(ours: tk.Orchastration, work: Path, env: dict[str, str], spec: tuple[int, float], repeat: int) -> Row:
    """What the output cache saves (issue 17): ``count`` jobs each sleeping ``seconds`` and writing an
    output, built once with an empty cache (the baseline), then as a fresh clone with that cache warm."""
    count, seconds = spec
    cold = f"cold build, empty cache: {_fmt_ms(count * seconds * 1000)} of sleep"
    row = Row("cache-sleep", f"{count} x sleep {seconds} with an output: fresh clone, warm cache", "ms", baseline=cold)
    d = work / f"{ours.name}-cache-sleep"
    d.mkdir()
    ours.write_cached_sleep(d, count, seconds)
    argv, run_env = ours.build_argv(), ours.env(env, d)
    if _take(row, [Contender(cold, argv, d, run_env, lambda _i: ours.reset(d))], 1, warmup=0):
        row.runs.pop(cold, None)  # one run by design (it is long): not a figure cut short by the budget
        _take(row, [Contender(ours.name, argv, d, run_env, lambda _i: tk.fresh_checkout(d))], min(repeat, 3))
    return row


def _fmt_ms(ms: float) -> str:
    return f"{ms / 1000:g} s" if ms >= 1000 else f"{ms:g} ms"


def hashing(ours: tk.Tool | None, work: Path, env: dict[str, str], mib: int, repeat: int) -> list[Row]:
    """``orchastration hash`` of a ``mib`` MiB file beside ``sha256sum``: throughput and peak RSS."""
    big, small = work / "big.bin", work / "small.bin"
    block = os.urandom(1 << 20)
    with open(big, "wb") as fh:
        for _ in range(mib):
            fh.write(block)
    small.write_bytes(block)
    label = _mib_label(mib)
    speed = Row("hash", f"hash {label} (sha256) throughput", "MiB/s", baseline="sha256sum")
    rss = Row("hash-rss", f"hash {label}: peak RSS", "MB", baseline="sha256sum")
    rss_small = Row("hash-rss-small", "hash 1 MiB: peak RSS", "MB", baseline="sha256sum")
    argvs = {"sha256sum": ([tk.find("sha256sum") or "sha256sum"], env)}
    if ours is not None:
        argvs[OURS] = ([ours.exe, "hash", "--algo", "sha256", "--file"], ours.env(env, work))
    _take(speed, [Contender(name, [*a, str(big)], work, e) for name, (a, e) in argvs.items()], repeat, rss=True,
          pick=lambda s: mib / (s.ms / 1000), rss_row=rss)  # fmt: skip
    _take(rss_small, [Contender(name, [*a, str(small)], work, e) for name, (a, e) in argvs.items()], repeat,
          rss=True, pick=lambda s: s.rss_mb)  # fmt: skip
    return [speed, rss, rss_small]


def _mib_label(mib: int) -> str:
    return f"{mib // 1024} GiB" if mib >= 1024 and mib % 1024 == 0 else f"{mib} MiB"


def output(tools: list[tk.Tool], work: Path, env: dict[str, str], mib: int, repeat: int) -> list[Row]:
    """One job printing ``mib`` MiB: wall time and peak RSS, each tool with its own capture."""
    wall = Row("output", f"{mib} MiB of job output: wall", "ms")
    rss = Row("output-rss", f"{mib} MiB of job output: peak RSS", "MB")
    contenders = []
    for t in tools:
        d = work / f"{t.name}-output"
        d.mkdir()
        tk.write_chunk(d)
        t.write_output(d, mib << 20)
        contenders.append(Contender(t.name, t.output_argv(), d, t.env(env, d)))
    _take(wall, contenders, repeat, rss=True, rss_row=rss)
    return [wall, rss]


def bench_env(work: Path) -> dict[str, str]:
    """The environment of every measured process: as installed tools run for a user.

    Bytecode caching is on for everyone, in a directory of the run (a PYTHONDONTWRITEBYTECODE=1
    inherited from a sandbox would make every Python tool recompile the modules pip did not
    precompile, such as an editable install's, on each run: ~40 ms of a 1,000-job rerun).
    The warm-up runs fill the cache.
    """
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPYCACHEPREFIX": str(work / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def tool_versions(tools: list[tk.Tool]) -> str:
    """``name version`` of every tool measured, as each one prints it."""
    parts = [f"Python {platform.python_version()}"]
    for t in tools:
        try:
            out = subprocess.run(t.version_argv(), capture_output=True, text=True, timeout=60).stdout
            first = (out.strip().splitlines() or ["?"])[0].split()
            parts.append(f"{t.name} {first[-1] if first else '?'}")  # "GNU Make 4.3" -> "make 4.3"
        except (OSError, subprocess.SubprocessError):
            parts.append(f"{t.name} ?")
    return ", ".join(parts)


def machine() -> str:
    """OS, CPU model, cores and memory, for the record."""
    cpu = platform.processor() or platform.machine()
    mem = ""
    try:
        info = Path("/proc/cpuinfo").read_text()
        cpu = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), cpu)
        meminfo = Path("/proc/meminfo").read_text().splitlines()
        kib = int(next(line.split()[1] for line in meminfo if line.startswith("MemTotal")))
        mem = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    return f"{platform.platform()}, {cpu}, {os.cpu_count()} CPUs{mem}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds (what the test runs)")
    parser.add_argument("--write", action="store_true", help="also write docs/benchmarks.md")
    parser.add_argument("--repeat", type=int, default=0, help="measured runs per figure (median); default 7, quick 3")
    parser.add_argument("--size", action="append", help="N x M workload size(s), e.g. 1000x10 (repeatable)")
    parser.add_argument("--tools", help="comma-separated subset of: " + ", ".join(c.name for c in tk.ALL))
    parser.add_argument("--only", help="comma-separated scenarios: startup,builds,sleep,hash,output (default all)")
    args = parser.parse_args(argv)
    if os.name != "posix":
        print("bench: the workloads need a POSIX shell (cat, sleep, seq): skipped", file=sys.stderr)
        return 0
    mode = QUICK if args.quick else FULL
    repeat = args.repeat or int(mode["repeat"])
    sizes = [tuple(int(x) for x in s.lower().split("x")) for s in args.size] if args.size else mode["sizes"]
    wanted = set(args.tools.split(",")) if args.tools else {c.name for c in tk.ALL}
    if wanted - {c.name for c in tk.ALL}:
        parser.error(f"--tools: unknown {', '.join(sorted(wanted - {c.name for c in tk.ALL}))}")
    scenarios = set(args.only.split(",")) if args.only else {"startup", "builds", "sleep", "hash", "output"}
    tools: list[tk.Tool] = []
    for cls in tk.ALL:
        exe = tk.find(cls.exe_name) if cls.name in wanted else None
        if exe:
            tools.append(cls(exe))
        elif cls.name in wanted:
            print(f"bench: {cls.name} ({cls.exe_name}) not found: skipped", file=sys.stderr)
    ours = next((t for t in tools if t.name == OURS), None)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="orchastration-bench-") as tmp:
        work = Path(tmp)
        env = bench_env(work)
        file_costs = [new_file_us(work)]
        if "startup" in scenarios:
            rows += startup(tools, work, env, repeat)
        if "builds" in scenarios:
            for size in sizes:
                built, off = builds(tools, work, env, size, repeat)
                rows += built + cached(tools, built[0], work, env, size, repeat) + ([off] if off else [])
        if "sleep" in scenarios:
            rows.append(sleeps(tools, work, env, mode["sleep"], repeat))
            if isinstance(ours, tk.Orchastration):
                rows.append(cached_sleeps(ours, work, env, mode["cache_sleep"], repeat))
        if "hash" in scenarios:
            rows += hashing(ours, work, env, int(mode["hash_mib"]), repeat)
        if "output" in scenarios:
            rows += output(tools, work, env, int(mode["output_mib"]), repeat)
        file_costs.append(new_file_us(work))
    peers = [t.name for t in tools if t.name != OURS]
    count, seconds, parallel = mode["sleep"]
    # Full: the write-path issue's 1.05 s for 16 x 0.5 s at -j 8 (ideal 1.0 s); quick: ideal + 5 % + 0.1 s.
    ideal_ms = -(-count // parallel) * seconds * 1000
    sleep_limit = ideal_ms * 1.05 + (0 if not args.quick else 100)
    labels = {
        "sleep": f"{count} x `sleep {seconds}` at `-j {parallel}`",
        "hash": _mib_label(int(mode["hash_mib"])),
        "output": f"{mode['output_mib']} MiB",
        "cache_sleep": f"{mode['cache_sleep'][0]} x `sleep {mode['cache_sleep'][1]}`",
    }
    notes = [f"- {r.scenario}: {note}." for r in rows for note in r.notes]
    notes += [
        f"- {r.scenario}: {tool}: {n} run{'s' if n > 1 else ''} only (over the time budget per figure)."
        for r in rows
        for tool, n in r.runs.items()
        if n < min(repeat, 3)
    ]
    notes.append(
        "- a new file on this file system cost {:.0f} µs at the run's start and {:.0f} µs at its end (1,000 empty"
        " files and directories, 10 to a new directory). A cold build makes ~3 a job here (run directory,"
        " record, output), doit 1: where a file costs more, the cold-build and fresh-clone ratios are"
        " higher (notes below).".format(*file_costs)
    )
    floor = rss_floor_mb()
    if floor:
        notes.append(f"- peak RSS figures below {floor:.0f} MB are the harness's own (no GNU time here).")
    tables = (table(rows, peers), "\n".join(notes), goals_table(rows, labels, sleep_limit))
    text = "\n\n".join(part for part in tables if part)
    print(text)
    if args.write:
        write_doc(text, tools, repeat, args)
    return 0


def write_doc(text: str, tools: list[tk.Tool], repeat: int, args: argparse.Namespace) -> None:
    """docs/benchmarks.md: the header (machine, versions, date), this run's tables, then the kept notes."""
    command = "python scripts/bench.py" + "".join(
        f" {flag}" for flag, on in (("--quick", args.quick), ("--write", True)) if on
    )
    header = (
        "# Benchmarks\n\n"
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine()}.\n\n"
        f"Versions: {tool_versions(tools)}.\n\n"
        f"Command: `{command}` (each figure: the median of {repeat} whole-process runs after a warm-up, "
        "the tools of a row taking turns run by run; cold builds: 3 runs). "
        "`÷ peer` is orchastration's figure divided by the peer's: below 1 is "
        "faster / smaller for ms and MB, above 1 is faster for MiB/s.\n\n"
    )
    target = ROOT / "docs" / "benchmarks.md"
    existing = target.read_text() if target.exists() else ""
    notes = existing.split("<!-- notes -->", 1)[1] if "<!-- notes -->" in existing else "\n"
    target.write_text(header + text + "\n\n<!-- notes -->" + notes)


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:  # the command under test was stopped too (benchkit.measure.run_once)
        print("bench: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
