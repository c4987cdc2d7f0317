#!/usr/bin/env python3
"""The full reliability run, by hand: hundreds of SIGKILL points, a storm of concurrent invocations,
a 1 GiB job output and 10,000 jobs. Prints the figures; exits 1 if anything was lost or wrong.

    python scripts/crashtest.py                      # 120 kill points (40 per scenario), everything else
    python scripts/crashtest.py --points 300 --seed 7
    python scripts/crashtest.py --only crash --scenario jobs

The harness is the one the test suite samples (tests/reliability/); see docs/reliability.md.
The fuzz tests run in full with ``ORCH_FUZZ_EXAMPLES=1000 pytest tests/test_reliability_hostile.py``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from reliability import concurrency, crash, load  # noqa: E402

PARTS = ("crash", "concurrency", "big-output", "many-jobs")


def _crash(args: argparse.Namespace, base: Path, figures: dict[str, object]) -> list[str]:
    kinds = [args.scenario] if args.scenario else list(crash.SCENARIOS)
    per = max(1, args.points // len(kinds))
    problems: list[str] = []
    for i, kind in enumerate(kinds):
        started = time.monotonic()
        summary = crash.run_scenario(kind, base / f"crash-{kind}", per, args.seed + i)
        problems += summary.problems
        figures[f"crash.{kind}"] = {
            "kill_points": summary.points,
            "killed_mid_run": summary.killed,
            "of_which_sigterm": summary.terminated,
            "finished_before_the_kill": summary.points - summary.killed,
            "survived": summary.points - len({p.split(":")[0] for p in summary.problems}),
            "seconds": round(time.monotonic() - started, 1),
        }
        print(f"crash {kind}: {figures[f'crash.{kind}']}", flush=True)
    return problems


def _concurrency(args: argparse.Namespace, base: Path, figures: dict[str, object]) -> list[str]:
    problems: list[str] = []
    for round_ in range(args.storms):
        report = concurrency.storm(base / f"storm-{round_}", args.concurrent, args.seed + round_)
        problems += [f"storm {round_}: {p}" for p in report.problems]
        figures[f"concurrency.{round_}"] = {
            "invocations": report.invocations,
            "waited_for_the_lock": report.waited,
            "real_runs": report.ran,
            "seconds": round(report.seconds, 1),
        }
        print(f"concurrency storm {round_}: {figures[f'concurrency.{round_}']}", flush=True)
    return problems


def _big_output(args: argparse.Namespace, base: Path, figures: dict[str, object]) -> list[str]:
    size = args.big_output_mib * load.MIB
    result = load.big_output(base / "big", size)
    figures["big_output"] = {
        "bytes": result.size,
        "captured_bytes": result.log_bytes,
        "max_rss_mib": round(result.max_rss_kib / 1024, 1),
        "baseline_rss_mib": round(result.baseline_rss_kib / 1024, 1),
        "seconds": round(result.seconds, 1),
    }
    print(f"big output: {figures['big_output']}", flush=True)
    problems = []
    if result.code != 0 or result.log_bytes != size:
        problems.append(f"big output: exit {result.code}, captured {result.log_bytes} of {size} bytes")
    if result.max_rss_kib and result.max_rss_kib - result.baseline_rss_kib > 64 * 1024:
        problems.append(f"big output: memory grew by {(result.max_rss_kib - result.baseline_rss_kib) // 1024} MiB")
    return problems


def _many_jobs(args: argparse.Namespace, base: Path, figures: dict[str, object]) -> list[str]:
    commands = (("list",), ("list",), ("list", "--json"), ("status",), ("run", "--dry-run"))
    result = load.many_jobs(base / "many", args.jobs, commands)
    figures["many_jobs"] = {"jobs": result.count, **{k: round(v, 2) for k, v in result.seconds.items()}}
    print(f"many jobs: {figures['many_jobs']}", flush=True)
    return [] if result.lines == args.jobs else [f"list printed {result.lines} lines for {args.jobs} jobs"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=120, help="kill points in all (split over the scenarios)")
    parser.add_argument("--scenario", choices=sorted(crash.SCENARIOS), help="only this crash scenario")
    parser.add_argument("--seed", type=int, default=random.randrange(1_000_000))
    parser.add_argument("--concurrent", type=int, default=20, help="invocations at once per storm")
    parser.add_argument("--storms", type=int, default=5)
    parser.add_argument("--big-output-mib", type=int, default=1024)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--only", choices=PARTS, action="append", help="run only these parts (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    args = parser.parse_args()
    parts = args.only or list(PARTS)
    runners = {"crash": _crash, "concurrency": _concurrency, "big-output": _big_output, "many-jobs": _many_jobs}
    figures: dict[str, object] = {"seed": args.seed}
    problems: list[str] = []
    print(f"seed {args.seed}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="orch-crashtest-"))
    try:
        for part in parts:
            problems += runners[part](args, work, figures)
    finally:
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work directory: {work}")
    if args.json:
        Path(args.json).write_text(json.dumps({**figures, "problems": problems}, indent=2) + "\n", encoding="utf-8")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print("all survived" if not problems else f"{len(problems)} problems", flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
