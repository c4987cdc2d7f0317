"""What every harness needs: the CLI as a subprocess, an isolated environment, a SIGKILL at a
chosen moment, and the state-dir checks (every file parses, the database is sound)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PY = sys.executable


def cli_command() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m orchastration``."""
    script = Path(sys.executable).parent / ("orchastration.exe" if os.name == "nt" else "orchastration")
    if script.exists():
        return [str(script)]
    found = shutil.which("orchastration")
    return [found] if found else [sys.executable, "-m", "orchastration"]


def isolated_env(base: Path, **extra: str) -> dict[str, str]:
    """An environment with its own HOME, caches and state dir under ``base``."""
    home = base / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHASTRATION_")}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        ORCHASTRATION_STATE_DIR=str(base / "state"),
        NO_COLOR="1",
        # The output cache would restore what a test deleted to see it rerun; the cache's own tests
        # (test_cache*.py) turn it back on.
        ORCHASTRATION_NO_CACHE="1",
    )
    env.pop("APPDATA", None)
    env.pop("LOCALAPPDATA", None)
    env.update(extra)
    return env


@dataclass
class Done:
    """One finished (or killed) invocation."""

    code: int
    out: str
    err: str
    killed: bool = False
    seconds: float = 0.0
    signal: str = ""  # the signal sent, when it was


def run(argv: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float = 120) -> Done:
    """Run the CLI to the end."""
    started = time.monotonic()
    proc = subprocess.run(
        [*cli_command(), *argv], cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout
    )
    return Done(proc.returncode, proc.stdout, proc.stderr, False, time.monotonic() - started)


def run_killed(argv: Sequence[str], cwd: Path, env: Mapping[str, str], delay: float, sig: int | None = None) -> Done:
    """Start the CLI and send it ``sig`` (default SIGKILL) after ``delay`` seconds if still running.

    With SIGKILL only the orchastration process dies, as when the OS kills it: the commands it
    started run in their own sessions and live on. With SIGTERM it stops them and exits 130.
    """
    started = time.monotonic()
    proc = subprocess.Popen(
        [*cli_command(), *argv],
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    killed = False
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        default = signal.SIGKILL if os.name == "posix" else signal.SIGTERM
        proc.send_signal(default if sig is None else sig)
        killed = True
    out, err = proc.communicate(timeout=60)
    return Done(proc.returncode, out, err, killed, time.monotonic() - started)


def state_problems(state_dir: Path) -> list[str]:
    """Every JSON state file parses; temp files are only ever dot-named; doit's database is sound."""
    problems: list[str] = []
    for path in sorted(state_dir.rglob("*")):
        if not path.is_file():
            continue
        if path.name.startswith("."):
            continue  # temp files of an atomic write a kill interrupted, and lock files: never read
        if path.suffix == ".json":
            try:
                json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                problems.append(f"{path}: does not parse: {exc}")
        elif path.suffix == ".sqlite3":
            verdict = _database_verdict(path)
            if verdict != "ok":
                problems.append(f"{path}: integrity_check: {verdict}")
    return problems


def _database_verdict(path: Path) -> str:
    """``ok``, or what is wrong with doit's database, read as the next run will: a copy of it with its
    write-ahead log (a read-only connection may not see what the log holds). A database with no table
    at all is sound: the kill came after the file was made, before doit's first commit."""
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for suffix in ("", "-wal"):
            if Path(f"{path}{suffix}").exists():
                shutil.copyfile(f"{path}{suffix}", Path(tmp) / f"db{suffix}")
        try:
            conn = sqlite3.connect(Path(tmp) / "db")
            try:
                verdict = str(conn.execute("pragma integrity_check").fetchone()[0])
                if conn.execute("select count(*) from sqlite_master").fetchone()[0]:
                    conn.execute("select count(*) from doit").fetchone()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            verdict = str(exc)
    return verdict


def last_json_problems(runs_dir: Path) -> list[str]:
    """In every record directory ``last.json`` is the newest engine run record (after a complete run).

    A task's directory also holds action records (``plan.create``, ``doc.generate``, an up-to-date
    build); those have no ``run_id`` and never become ``last.json``, which keeps the last build.
    """
    problems: list[str] = []
    if not runs_dir.is_dir():
        return problems
    for directory in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
        records = []
        for path in sorted(directory.glob("2*.json")):
            try:
                records.append(json.loads(path.read_text(encoding="utf-8")))
            except ValueError:  # a problem to report, not a crash of the harness
                problems.append(f"{directory.name}: {path.name} is not a whole record ({path.stat().st_size} bytes)")
        runs = [r for r in records if "run_id" in r]
        last = directory / "last.json"
        if not runs:
            continue
        if not last.exists():
            problems.append(f"{directory.name}: records but no last.json")
            continue
        current = json.loads(last.read_text(encoding="utf-8"))
        if current != runs[-1]:
            problems.append(f"{directory.name}: last.json is {current.get('run_id')}, newest is {runs[-1]['run_id']}")
    return problems


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, reparented and not yet reaped, counts as dead)."""
    if os.name == "nt":
        out = subprocess.run(["tasklist", "/FI", f"PID eq {pid}"], capture_output=True, text=True).stdout
        return str(pid) in out
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


def settle_orphans(pids: Sequence[int], kill: bool, timeout: float = 30) -> list[int]:
    """After the CLI died, end the commands it left: kill them (a crash of everything) or wait.
    Returns those still alive at the end."""
    if kill and os.name == "posix":
        for pid in pids:
            try:
                os.killpg(pid, signal.SIGKILL)  # each command leads its own process group
            except OSError:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    return [p for p in pids if pid_alive(p)]


def tree_snapshot(root: Path, skip: Sequence[Path] = ()) -> dict[str, tuple[int, int]]:
    """``relative path -> (size, mtime_ns)`` of every file under ``root`` (minus ``skip``)."""
    found = {}
    skipped = [s.resolve() for s in skip]
    for path in root.rglob("*"):
        if any(path.resolve().is_relative_to(s) for s in skipped):
            continue
        if path.is_file() or path.is_symlink():
            st = path.lstat()
            found[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return found
