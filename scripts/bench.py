#!/usr/bin/env python3
"""Benchmark harness (stdlib only): orchastration against plain doit on one identical workload.

Each workload is N jobs x M input files; job i concatenates its inputs into ``out/<i>.txt``
(``cat a b > out``, through the shell for both tools). Every figure is a whole process, timed
from outside: the median of several runs after a warm-up. Scenarios: cold build, no-op rerun,
one input edited, start-up (``--version`` vs ``python -c pass``) and listing.

    python scripts/bench.py --quick          # seconds: small sizes (a test runs this)
    python scripts/bench.py                  # 100 x 10 and 1,000 x 10
    python scripts/bench.py --write          # also write docs/benchmarks.md

Both tools' cold builds happen first, then the harness sleeps ``SETTLE_SECONDS``: orchastration
only trusts a file's stat after it is older than its 2 s "racy" window (a same-size edit in the
same timestamp tick must not pass as unchanged), so steady-state no-op reruns start after that.
A missing tool is reported and skipped, never fatal.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SETTLE_SECONDS = 2.2
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Row:
    """One scenario: the figure per tool (ms) and orchastration's ratio to doit."""

    scenario: str
    ms: dict[str, float] = field(default_factory=dict)

    def ratio(self) -> str:
        ours, theirs = self.ms.get("orchastration"), self.ms.get("doit") or self.ms.get("python -c pass")
        return f"{ours / theirs:.2f}x" if ours and theirs else "-"


def tool(name: str) -> str | None:
    """An executable next to this interpreter (the venv), else on PATH."""
    here = Path(sys.executable).parent / (name + (".exe" if os.name == "nt" else ""))
    return str(here) if here.exists() else shutil.which(name)


def timed(argv: list[str], cwd: Path, env: dict[str, str], check: bool = True) -> float:
    """Wall time of one whole process, in ms."""
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = (time.perf_counter() - start) * 1000
    if check and proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv[:3])} failed in {cwd}: {proc.stderr.decode(errors='replace')[-800:]}")
    return elapsed


def median(argv: list[str], cwd: Path, env: dict[str, str], repeat: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        timed(argv, cwd, env)
    return statistics.median(timed(argv, cwd, env) for _ in range(repeat))


def make_workload(base: Path, jobs: int, inputs: int) -> None:
    """Inputs ``in/<i>_<k>.txt``, an orchastration.toml and a dodo.py describing the same jobs."""
    (base / "in").mkdir(parents=True)
    (base / "out").mkdir()
    old = time.time() - 3600  # inputs written "an hour ago", like a checked-out tree
    toml, dodo = ['[hash]\nalgorithm = "sha256"\n'], ["DOIT_CONFIG = {'verbosity': 0}\n", "def task_cat():\n"]
    for i in range(jobs):
        files = [f"in/{i}_{k}.txt" for k in range(inputs)]
        for name in files:
            path = base / name
            path.write_text(f"{name}\n" * 20)
            os.utime(path, (old, old))
        command = f"cat {' '.join(files)} > out/{i}.txt"
        toml.append(
            f'[jobs.j{i}]\ncommand = "{command}"\nshell = true\ninputs = {files!r}\noutputs = ["out/{i}.txt"]\n'
        )
        dodo.append(
            f"    yield {{'name': 'j{i}', 'actions': [{command!r}], 'file_dep': {files!r}, "
            f"'targets': ['out/{i}.txt']}}\n"
        )
    (base / "orchastration.toml").write_text("\n".join(toml).replace("'", '"'))
    (base / "dodo.py").write_text("".join(dodo))


def bench_size(jobs: int, inputs: int, repeat: int, work: Path) -> list[Row]:
    """All scenarios at one size, for every tool that is installed."""
    ours, doit = tool("orchastration"), tool("doit")
    tools = {"orchastration": ours, "doit": doit}
    for name, path in tools.items():
        if path is None:
            print(f"bench: {name} not found: skipped", file=sys.stderr)
    dirs = {name: work / f"{name}-{jobs}x{inputs}" for name in tools}
    env = {**os.environ, "NO_COLOR": "1"}
    envs = {
        name: {**env, "ORCHASTRATION_STATE_DIR": str(d / ".state"), "XDG_CACHE_HOME": str(d / ".cache")}
        for name, d in dirs.items()
    }
    argv = {"orchastration": [ours or "", "-q", "run"], "doit": [doit or ""]}
    label = f"{jobs} x {inputs}"
    rows = [Row(f"cold build {label}"), Row(f"no-op rerun {label}"), Row(f"one input edited {label}")]
    live = [n for n, p in tools.items() if p]
    for name in live:
        make_workload(dirs[name], jobs, inputs)
        rows[0].ms[name] = timed(argv[name], dirs[name], envs[name])
    time.sleep(SETTLE_SECONDS)
    for name in live:
        rows[1].ms[name] = median(argv[name], dirs[name], envs[name], repeat, warmup=2)
    for name in live:
        times = []
        for k in range(repeat):
            edited = dirs[name] / "in" / f"{k % jobs}_0.txt"
            with open(edited, "a") as fh:
                fh.write("edit\n")
            times.append(timed(argv[name], dirs[name], envs[name]))
        rows[2].ms[name] = statistics.median(times)
    listing = Row(f"list {label}")
    if ours:
        listing.ms["orchastration"] = median([ours, "list"], dirs["orchastration"], envs["orchastration"], repeat)
    if doit:
        listing.ms["doit"] = median([doit, "list"], dirs["doit"], envs["doit"], repeat)
    return [*rows, listing]


def startup(repeat: int, work: Path) -> list[Row]:
    row = Row("start-up (--version)")
    env = {**os.environ}
    row.ms["python -c pass"] = median([sys.executable, "-c", "pass"], work, env, repeat)
    ours = tool("orchastration")
    if ours:
        row.ms["orchastration"] = median([ours, "--version"], work, env, repeat)
    return [row]


def versions() -> str:
    parts = [f"Python {platform.python_version()}"]
    for name in ("orchastration", "doit"):
        try:
            from importlib.metadata import version

            parts.append(f"{name} {version(name)}")
        except Exception:
            parts.append(f"{name} (not installed)")
    return ", ".join(parts)


def table(rows: list[Row]) -> str:
    names = sorted({n for r in rows for n in r.ms}, key=lambda n: (n != "orchastration", n))
    head = "| scenario | " + " | ".join(f"{n} (ms)" for n in names) + " | orchastration / doit |"
    lines = [head, "|" + "---|" * (len(names) + 2)]
    for r in rows:
        cells = [f"{r.ms[n]:.0f}" if n in r.ms else "-" for n in names]
        lines.append(f"| {r.scenario} | " + " | ".join(cells) + f" | {r.ratio()} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds")
    parser.add_argument("--write", action="store_true", help="write docs/benchmarks.md")
    parser.add_argument("--repeat", type=int, default=0, help="runs per figure (median)")
    parser.add_argument("--size", help="one size only, e.g. 1000x10")
    args = parser.parse_args(argv)
    if os.name != "posix" or shutil.which("cat") is None:
        print("bench: needs a POSIX shell with cat: skipped", file=sys.stderr)
        return 0
    sizes = [(20, 5)] if args.quick else [(100, 10), (1000, 10)]
    if args.size:
        sizes = [tuple(int(x) for x in args.size.split("x"))]  # type: ignore[misc]
    repeat = args.repeat or (3 if args.quick else 7)
    with tempfile.TemporaryDirectory(prefix="orchastration-bench-") as tmp:
        work = Path(tmp)
        rows = startup(repeat, work)
        for jobs, inputs in sizes:
            rows += bench_size(jobs, inputs, repeat, work)
    text = table(rows)
    print(text)
    if args.write:
        header = (
            "# Benchmarks\n\n"
            f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.platform()}, "
            f"{os.cpu_count()} CPUs; {versions()}.\n"
            f"Command: `python scripts/bench.py{' --quick' if args.quick else ''} --write` "
            f"(median of {repeat} whole-process runs after a warm-up).\n\n"
        )
        target = ROOT / "docs" / "benchmarks.md"
        existing = target.read_text() if target.exists() else ""
        notes = existing.split("<!-- notes -->", 1)[1] if "<!-- notes -->" in existing else "\n"
        target.write_text(header + text + "\n\n<!-- notes -->" + notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
