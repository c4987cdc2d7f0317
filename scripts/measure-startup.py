"""Measure start-up: the median and fastest wall time of each command line, run interleaved.

    python3 scripts/measure-startup.py -n 40 "python3 -c pass" "orchastration --version" \
        "dist/orchastration --version" "dist/orchastration list"

Each round runs every command once, so background load affects them alike. Commands run in the current
directory (put an orchastration.toml there to time a command that reads one) with output discarded;
a command that fails stops the measurement.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import sys
import time


def main(argv: list[str] | None = None) -> int:
    """Time the command lines given as arguments and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=30, help="timed runs of each command (default 30)")
    parser.add_argument("commands", nargs="+", metavar="COMMAND", help="a command line, quoted")
    args = parser.parse_args(argv)
    commands = {line: shlex.split(line) for line in args.commands}
    times: dict[str, list[float]] = {line: [] for line in commands}
    for round_number in range(args.runs + 2):  # two untimed rounds warm the page cache
        for line, command in commands.items():
            start = time.perf_counter()
            done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            elapsed = (time.perf_counter() - start) * 1000
            if done.returncode != 0:
                sys.stderr.write(f"measure-startup: '{line}' exited {done.returncode}: {done.stderr.decode()}\n")
                return 1
            if round_number >= 2:
                times[line].append(elapsed)
    print("| command | median | fastest |\n|---|---|---|")
    for line, values in times.items():
        print(f"| `{line}` | {statistics.median(values):.0f} ms | {min(values):.0f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
