"""The first pass's look-ahead process (engine/lookahead.py): a fresh clone of many jobs, restored from
the output cache, with a fork of the CLI reading the inputs and cache entries ahead; the installed CLI,
real files, a real cache; the process watched through /proc."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Result, cli_command
from jobs_helpers import statuses, write_config
from test_cache import job

Cli = Callable[..., Result]
LINUX = sys.platform.startswith("linux")
AN_HOUR_AGO = time.time() - 3600  # inputs older than RACY_SECONDS: the look-ahead reads them


@pytest.fixture(autouse=True)
def cache_on(env: dict[str, str]) -> None:
    env.pop("ORCHASTRATION_NO_CACHE", None)


def _project(root: Path, cache: Path, count: int, command: Callable[[int], dict[str, object]]) -> Path:
    (root / "src").mkdir(parents=True)
    jobs = {}
    for i in range(count):
        for k in range(2):
            path = root / "src" / f"{i}_{k}.txt"
            path.write_text(f"input {i} {k}\n" * (k + 1))
            os.utime(path, (AN_HOUR_AGO, AN_HOUR_AGO))
        jobs[f"j{i}"] = command(i)
    write_config(root, jobs, f'[cache]\ndir = "{cache.as_posix()}"\n')
    return root


def _python_job(i: int) -> dict[str, object]:
    return job(f"dist/{i}.txt", f"m-{i}", f"src/{i}_0.txt", f"src/{i}_1.txt")


def _shell_job(i: int) -> dict[str, object]:
    command = f"cat src/{i}_0.txt src/{i}_1.txt > dist/{i}.txt"
    return {"command": command, "shell": True, "inputs": [f"src/{i}_0.txt", f"src/{i}_1.txt"],
            "outputs": [f"dist/{i}.txt"]}  # fmt: skip


def _built_and_cloned(cli: Cli, tmp_path: Path, count: int, command: Callable[[int], dict[str, object]]) -> Path:
    """A project of ``count`` independent jobs built once (filling the cache), and a copy of it in
    another directory (file times kept, no state, no outputs): the fresh clone."""
    first = _project(tmp_path / "one" / "proj", tmp_path / "cache", count, command)
    if command is _shell_job:
        (first / "dist").mkdir()
    _run(cli, first)
    clone = tmp_path / "two" / "clone"
    shutil.copytree(first, clone, ignore=shutil.ignore_patterns("dist", "m-*"))
    (clone / "dist").mkdir()
    return clone


def _run(cli: Cli, root: Path, *args: str) -> Result:
    result = cli(["--state-dir", str(root.parent / f"state-{root.name}"), "run", *args], cwd=root)
    assert result.code == 0, (result.out, result.err)
    return result


def _first_pass(env: dict[str, str]) -> dict[str, object]:
    log_file = Path(env["XDG_CACHE_HOME"]) / "orchastration" / "orchastration.log"
    events = [json.loads(line) for line in log_file.read_text().splitlines()]
    last: dict[str, object] = [e for e in events if e["msg"] == "first pass"][-1]
    return last


def _processes_in(directory: Path) -> dict[int, str]:
    """Live processes whose working dir is ``directory``: pid -> state letter (Linux /proc)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/cwd") != str(directory):
                continue
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            found[int(entry)] = state
    return found


def _look_ahead_of(proc: subprocess.Popen[Any], clone: Path) -> int:
    """The look-ahead process of the CLI ``proc`` running in ``clone``, once it is there."""
    deadline, helper = time.monotonic() + 60, None
    while helper is None and proc.poll() is None and time.monotonic() < deadline:
        helper = next((pid for pid in _processes_in(clone) if pid != proc.pid), None)
    assert helper is not None, "a look-ahead process ran beside the CLI"
    return helper


def test_a_fresh_clone_of_many_jobs_is_read_ahead_and_restored_whole(
    cli: Cli, env: dict[str, str], tmp_path: Path
) -> None:
    clone = _built_and_cloned(cli, tmp_path, 80, _python_job)
    staging = clone.parent / "state-clone" / "engine" / ".staged"
    staging.mkdir(parents=True)
    (staging / ".7").write_text("staged by a run killed before it was taken\n")
    result = _run(cli, clone)
    assert set(statuses(result.out).values()) == {"restored"} and len(statuses(result.out)) == 80
    assert not staging.exists(), "what a killed run staged, and what this one did, is gone"
    assert not list(clone.glob("dist/*.restore"))
    assert not list(clone.glob("m-*")), "no command ran"
    # The first job is looked up by the pass itself (it decides whether a look-ahead pays), those
    # after it by the look-ahead, on Linux, unless the pass gets to one first; elsewhere the pass
    # reads every one.
    counts = _first_pass(env)
    assert (counts["restored"], counts["ran"]) == (80, 0)
    assert 0 < counts["ahead"] <= 79 if LINUX else counts["ahead"] == 0
    first = tmp_path / "one" / "proj"
    state = clone.parent / "state-clone"
    for i in range(80):
        assert (clone / "dist" / f"{i}.txt").read_bytes() == (first / "dist" / f"{i}.txt").read_bytes()
        record = json.loads((state / "runs" / f"j{i}" / "last.json").read_text())
        want = {f"src/{i}_{k}.txt": hashlib.sha256((clone / "src" / f"{i}_{k}.txt").read_bytes()).hexdigest()
                for k in range(2)}  # fmt: skip
        assert record["status"] == "restored" and record["inputs"] == want, record
        assert not list((state / "runs" / f"j{i}").glob(".incomplete*")), "every record settled"
    if LINUX:
        assert not _processes_in(clone), "the look-ahead was waited for"
    again = _run(cli, clone)
    assert set(statuses(again.out).values()) == {"skipped"}
    why = cli(["--state-dir", str(state), "why", "j79"], cwd=clone)
    assert why.code == 0 and "up-to-date" in why.out, why


_SHUTIL_WATCH = (  # where shutil gets imported, on stderr (what a failing assertion shows)
    "import sys, traceback\n"
    "class Watch:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name == 'shutil':\n"
    "            sys.stderr.write('shutil imported:\\n' + ''.join(traceback.format_stack()))\n"
    "sys.meta_path.insert(0, Watch())\n"
)


def _run_counting_shutil(env: dict[str, str], root: Path) -> tuple[bool, str]:
    """Run ``root``'s jobs through the CLI's ``main`` in a new interpreter: whether ``shutil`` was
    imported, and where (the run's own stderr with it)."""
    state = str(root.parent / f"state-{root.name}")
    code = _SHUTIL_WATCH + (
        "import io\n"
        "from orchastration.cli import main\n"
        "err = io.StringIO()\n"
        f"rc = main(['--state-dir', {state!r}, 'run'], stdout=io.StringIO(), stderr=err)\n"
        "sys.stderr.write(err.getvalue())\n"
        "print(rc, 'shutil' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.split()[0] == "0", (proc.stdout, proc.stderr)
    return proc.stdout.split()[1] == "True", proc.stderr


def test_runs_of_shell_jobs_with_or_without_a_look_ahead_do_not_import_shutil(
    cli: Cli, env: dict[str, str], tmp_path: Path
) -> None:
    # shutil and the compression modules it loads cost ~2 ms of every run (process.py imports it for
    # argv commands only); the look-ahead's staging directory (flat) is removed without it.
    clone = _built_and_cloned(cli, tmp_path, 80, _shell_job)
    imported, err = _run_counting_shutil(env, clone)  # a fresh clone: restored with a look-ahead
    assert not imported, err
    staging = clone.parent / "state-clone" / "engine" / ".staged"
    assert not staging.exists()
    assert _first_pass(env)["restored"] == 80  # (the look-ahead's share: the test above)
    (clone / "src" / "3_0.txt").write_text("edited\n")
    imported, err = _run_counting_shutil(env, clone)  # one job runs, no look-ahead
    assert not imported, err
    assert (clone / "dist" / "3.txt").read_text().startswith("edited\n")
    staging.mkdir()
    (staging / ".7").write_text("left by a killed run\n")
    (clone / "src" / "4_0.txt").write_text("edited\n")  # (a run, not the no-op answer, which stages nothing)
    imported, err = _run_counting_shutil(env, clone)
    assert not imported, err
    assert not staging.exists(), "what a killed run staged is removed"


def test_a_staging_directory_with_a_subdirectory_is_removed_whole(tmp_path: Path) -> None:
    from orchastration.engine.lookahead import discard

    staging = tmp_path / ".staged"
    (staging / "odd" / "deeper").mkdir(parents=True)
    (staging / "odd" / "deeper" / "f").write_text("x")
    (staging / ".1").write_text("y")
    discard(staging)
    assert not staging.exists()
    discard(staging)  # none: nothing to do
    staging.write_text("a file where the directory goes")
    discard(staging)  # not a directory: left for _emptied to refuse (no staging then)
    assert staging.read_text() == "a file where the directory goes"


@pytest.mark.skipif(not LINUX, reason="the look-ahead process runs on Linux")
def test_entries_the_look_ahead_found_recently_used_are_not_touched_again(
    cli: Cli, env: dict[str, str], tmp_path: Path
) -> None:
    """The LRU order is a manifest's mtime, touched on a hit unless touched within the hour: the
    look-ahead passes on what its read of the manifest showed, so a restore it looked up does not
    touch a recently used entry (a system call a job) and still touches one unused for longer."""
    clone = _built_and_cloned(cli, tmp_path, 80, _python_job)
    manifests = sorted((tmp_path / "cache").glob("**/entries/*/*.json"))
    assert len(manifests) == 80
    recently, long_ago = time.time() - 800, time.time() - 7200
    for n, path in enumerate(manifests):
        os.utime(path, (recently, recently) if n % 2 else (long_ago, long_ago))
    result = _run(cli, clone)
    assert set(statuses(result.out).values()) == {"restored"} and len(statuses(result.out)) == 80
    assert _first_pass(env)["ahead"], "the look-ahead looked entries up"
    for n, path in enumerate(manifests):
        mtime = path.stat().st_mtime
        if n % 2:
            assert abs(mtime - recently) < 1, f"{path.name}: used within the hour, not touched again"
        else:
            assert mtime > time.time() - 120, f"{path.name}: unused for two hours, touched by its restore"


def test_inputs_modified_just_now_are_left_to_the_pass(cli: Cli, env: dict[str, str], tmp_path: Path) -> None:
    """A file modified within RACY_SECONDS is not read ahead (an edit in the same timestamp tick would
    look unchanged to the next run): those jobs' inputs are read by the pass, as ever."""
    clone = _built_and_cloned(cli, tmp_path, 70, _python_job)
    for i in range(1, 70, 2):
        os.utime(clone / "src" / f"{i}_1.txt")  # now
    result = _run(cli, clone)
    assert set(statuses(result.out).values()) == {"restored"} and len(statuses(result.out)) == 70
    ahead = _first_pass(env)["ahead"]
    assert 0 < ahead <= 34 if LINUX else ahead == 0  # of j2, j4, ..., j68 (j0 is the probe)
    assert not list(clone.glob("m-*"))


def test_an_entry_the_look_ahead_finds_corrupt_runs_its_job_and_says_so_once(
    cli: Cli, env: dict[str, str], tmp_path: Path
) -> None:
    clone = _built_and_cloned(cli, tmp_path, 70, _python_job)
    cache = tmp_path / "cache"
    entry = next(p for p in (cache / "v1" / "entries").rglob("*.json") if "dist/40.txt" in p.read_text())
    entry.write_text(entry.read_text()[:-20])
    result = _run(cli, clone)
    found = statuses(result.out)
    assert found["j40"] == "ran" and {s for n, s in found.items() if n != "j40"} == {"restored"}
    assert [p.name for p in clone.glob("m-*")] == ["m-40"]
    assert result.err.count("j40: local cache corrupt or partial entry") == 1, result.err
    ahead = _first_pass(env)["ahead"]
    assert 0 < ahead <= 69 if LINUX else ahead == 0


@pytest.mark.skipif(not LINUX, reason="the look-ahead process is Linux only")
def test_the_look_ahead_dies_with_a_killed_cli_and_the_next_run_finishes_the_work(
    env: dict[str, str], cli: Cli, tmp_path: Path
) -> None:
    """kill -9 of the CLI while its look-ahead lives (the CLI stopped first, so the look-ahead, its
    pipe full, is caught alive): the look-ahead goes with it (PR_SET_PDEATHSIG), the state lock is
    free, and the next run restores what was not done, the jobs whose records settled up to date."""
    clone = _built_and_cloned(cli, tmp_path, 300, _shell_job)
    state = clone.parent / "state-clone"
    proc = subprocess.Popen(
        [*cli_command(), "--state-dir", str(state), "run"], cwd=clone, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        helper = _look_ahead_of(proc, clone)
        os.kill(proc.pid, signal.SIGSTOP)
        assert helper in _processes_in(clone)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while _processes_in(clone) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _processes_in(clone), "the look-ahead died with the CLI"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    result = _run(cli, clone)
    found = statuses(result.out)
    assert len(found) == 300 and set(found.values()) <= {"restored", "skipped"}, result.out
    made = {i: (clone / "dist" / f"{i}.txt").read_text() for i in range(300)}
    assert made == {i: f"input {i} 0\ninput {i} 1\ninput {i} 1\n" for i in range(300)}
    assert set(statuses(_run(cli, clone).out).values()) == {"skipped"}


def _second_machine(cli: Cli, env: dict[str, str], tmp_path: Path) -> tuple[Path, Path]:
    """70 jobs built with a shared cache (a file:// URL) and cloned; the clone's local cache is a new,
    empty directory: (the clone, its local cache)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    env["ORCHASTRATION_CACHE_URL"] = shared.as_uri()
    clone = _built_and_cloned(cli, tmp_path, 70, _python_job)
    text = (clone / "orchastration.toml").read_text()
    local = tmp_path / "second-machine-cache"
    (clone / "orchastration.toml").write_text(text.replace((tmp_path / "cache").as_posix(), local.as_posix()))
    return clone, local


def test_with_a_shared_cache_the_look_ahead_reads_inputs_and_the_pass_does_the_lookups(
    cli: Cli, env: dict[str, str], tmp_path: Path
) -> None:
    """The look-ahead never contacts a shared cache (its round trips, and the local copies a hit makes,
    are the pass's): a second machine, its local cache empty, restores every job from the shared one."""
    clone, local = _second_machine(cli, env, tmp_path)
    result = _run(cli, clone)
    assert set(statuses(result.out).values()) == {"restored"} and len(statuses(result.out)) == 70
    assert not list(clone.glob("m-*"))
    ahead = _first_pass(env)["ahead"]
    assert 0 < ahead <= 69 if LINUX else ahead == 0
    assert len(list((local / "v1" / "entries").rglob("*.json"))) == 70  # each hit copied by the pass
    stats = cli(["--state-dir", str(clone.parent / "state-clone"), "cache", "stats", "--json"], cwd=clone)
    assert json.loads(stats.out)["last_run"]["remote_hits"] == 70, stats.out


def test_with_j_the_pass_restores_what_the_local_cache_holds_and_threads_run_the_rest(
    cli: Cli, env: dict[str, str], tmp_path: Path
) -> None:
    """``-j 2`` on a fresh clone: the first pass restores the jobs the local cache holds (read ahead),
    doit's threads run those it does not hold; every job once. (Before, with -j doit's threads did
    every restore: no first pass, 2.3 x slower at 1,000 jobs.)"""
    clone = _built_and_cloned(cli, tmp_path, 80, _python_job)
    edited = {5, 41, 77}
    for i in edited:
        path = clone / "src" / f"{i}_0.txt"
        path.write_text(f"edited {i}\n")
        os.utime(path, (AN_HOUR_AGO, AN_HOUR_AGO))
    result = _run(cli, clone, "-j", "2")
    found = statuses(result.out)
    assert len(found) == 80 and {n for n, s in found.items() if s != "restored"} == {f"j{i}" for i in edited}
    assert {found[f"j{i}"] for i in edited} == {"ran"}, result.out
    assert sorted(p.name for p in clone.glob("m-*")) == sorted(f"m-{i}" for i in edited)
    counts = _first_pass(env)
    assert (counts["restored"], counts["ran"], counts["failed"]) == (77, 0, None), counts
    for i in range(80):
        want = b"".join((clone / "src" / f"{i}_{k}.txt").read_bytes() for k in range(2)) + b"!"
        assert (clone / "dist" / f"{i}.txt").read_bytes() == want
    assert set(statuses(_run(cli, clone, "-j", "2").out).values()) == {"skipped"}


def test_with_j_and_a_shared_cache_the_threads_do_the_restores(cli: Cli, env: dict[str, str], tmp_path: Path) -> None:
    """A shared cache's round trips are waited for side by side by doit's threads, not one by one by
    the pass: a second machine (its local cache empty) restores every job at ``-j 2``, the pass none."""
    clone, _ = _second_machine(cli, env, tmp_path)
    result = _run(cli, clone, "-j", "2")
    assert set(statuses(result.out).values()) == {"restored"} and len(statuses(result.out)) == 70
    assert not list(clone.glob("m-*"))
    log_file = Path(env["XDG_CACHE_HOME"]) / "orchastration" / "orchastration.log"
    passes = [json.loads(line) for line in log_file.read_text().splitlines() if '"first pass"' in line]
    assert all(p["restored"] == 0 for p in passes[1:]), passes  # (the first: the build filling the cache)
    stats = cli(["--state-dir", str(clone.parent / "state-clone"), "cache", "stats", "--json"], cwd=clone)
    assert json.loads(stats.out)["last_run"]["remote_hits"] == 70, stats.out


def test_with_j_a_shared_cache_configured_the_pass_still_restores_what_the_local_one_holds(
    cli: Cli, env: dict[str, str], tmp_path: Path
) -> None:
    """A CI machine with its local cache kept and a shared cache configured: at ``-j 2`` the first pass
    restores every job from the local cache, with no round trip to the shared one."""
    shared = tmp_path / "shared"
    shared.mkdir()
    env["ORCHASTRATION_CACHE_URL"] = shared.as_uri()
    clone = _built_and_cloned(cli, tmp_path, 70, _python_job)  # (the same local cache: warm)
    result = _run(cli, clone, "-j", "2")
    assert set(statuses(result.out).values()) == {"restored"} and len(statuses(result.out)) == 70
    assert not list(clone.glob("m-*"))
    counts = _first_pass(env)
    assert (counts["restored"], counts["ran"]) == (70, 0), counts
    stats = cli(["--state-dir", str(clone.parent / "state-clone"), "cache", "stats", "--json"], cwd=clone)
    last = json.loads(stats.out)["last_run"]
    assert (last["remote_hits"], last["hits"]) == (0, 70), last


@pytest.mark.skipif(not LINUX, reason="the look-ahead process is Linux only")
def test_killed_at_any_point_of_a_read_ahead_restore_nothing_is_lost_or_left_running(
    env: dict[str, str], cli: Cli, tmp_path: Path
) -> None:
    """kill -9 at points spread over a read-ahead restore (start-up, the fork, early, midway and late
    in the pass, each seen happen, not timed): no process is left, every job whose record says it was
    restored is up to date with the right output, and the next run restores the rest, running no command."""
    clone = _built_and_cloned(cli, tmp_path, 200, _shell_job)
    partial = []  # kill points that fell inside the restore
    for point, when in enumerate(("start-up", "fork", 20, 80, 160)):
        root = tmp_path / f"kill{point}"
        shutil.copytree(clone, root)
        state = root.parent / f"state-{root.name}"
        proc = subprocess.Popen(
            [*cli_command(), "--state-dir", str(state), "run"], cwd=root, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if when == "fork":
            _look_ahead_of(proc, root)
        elif isinstance(when, int):  # that many records settled
            deadline = time.monotonic() + 60
            while len(list(state.glob("runs/*/last.json"))) < when and proc.poll() is None:
                assert time.monotonic() < deadline, f"{when} jobs never restored"
                time.sleep(0.002)
        proc.kill()
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while _processes_in(root) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _processes_in(root), f"a process left after the kill at {when}"
        restored = [
            i for i in range(200)
            if (state / "runs" / f"j{i}" / "last.json").is_file()
            and json.loads((state / "runs" / f"j{i}" / "last.json").read_text())["status"] == "restored"
        ]  # fmt: skip
        if 0 < len(restored) < 200:
            partial.append(when)
        dry = cli(["--state-dir", str(state), "run", "--dry-run"], cwd=root)
        assert dry.code == 0, dry.err
        lines = [line[len("job=") :] for line in dry.out.splitlines() if line.startswith("job=")]
        verdicts = dict(line.split(" ", 2)[:2] for line in lines)
        for i in restored:
            assert (root / "dist" / f"{i}.txt").read_text() == f"input {i} 0\ninput {i} 1\ninput {i} 1\n"
            assert verdicts[f"j{i}"] == "up-to-date", (when, i, dry.out)
        rerun = _run(cli, root)
        found = statuses(rerun.out)
        assert {found[f"j{i}"] for i in restored} <= {"skipped"}, (when, rerun.out)
        # The rest say why truthfully: never run (an empty runs directory the look-ahead made, or
        # none), or interrupted (the one being restored at the kill).
        for i in set(range(200)) - set(restored):
            reasons = json.loads((state / "runs" / f"j{i}" / "last.json").read_text())["reasons"]
            assert reasons in (["never run"], ["last run interrupted"]), (when, i, reasons)
        assert set(found.values()) <= {"restored", "skipped"} and len(found) == 200, (when, rerun.out)
        assert not (state / "engine" / ".staged").exists(), "the outputs staged before the kill are gone"
        assert not list(root.glob("dist/*.restore"))
    assert partial, "at least one kill fell inside the restore"


@pytest.mark.skipif(not LINUX, reason="the look-ahead process is Linux only")
def test_a_fork_that_fails_leaves_the_pass_to_read_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from orchastration.engine import lookahead
    from orchastration.engine.result_store import NO_STORE
    from orchastration.engine.uptodate import HashCache

    def no_fork() -> int:
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(lookahead.threading, "active_count", lambda: 1)
    monkeypatch.setattr(lookahead.os, "fork", no_fork)
    open_fds = set(os.listdir("/proc/self/fd"))
    names = [f"u{i}" for i in range(lookahead.MIN_UNITS)]
    assert lookahead.Lookahead.start(names, {}, {}, HashCache("sha256"), NO_STORE) is None
    assert set(os.listdir("/proc/self/fd")) == open_fds, "the pipe is closed again"
    # One thread more than this one: no fork is tried at all (a lock it holds would stay held).
    monkeypatch.setattr(lookahead.threading, "active_count", lambda: 2)
    monkeypatch.setattr(lookahead.os, "fork", lambda: pytest.fail("forked beside another thread"))
    assert lookahead.Lookahead.start(names, {}, {}, HashCache("sha256"), NO_STORE) is None


@pytest.mark.skipif(not LINUX, reason="the look-ahead process is Linux only")
def test_ctrl_c_during_a_read_ahead_restore_stops_both_and_the_next_run_finishes(
    env: dict[str, str], cli: Cli, tmp_path: Path
) -> None:
    """Ctrl-C reaches the CLI's whole process group: the look-ahead ends at once (its SIGINT is the
    default), the CLI says it was interrupted (130) and waits for it, and the next run restores the rest."""
    clone = _built_and_cloned(cli, tmp_path, 300, _shell_job)
    state = clone.parent / "state-clone"
    proc = subprocess.Popen(
        [*cli_command(), "--state-dir", str(state), "run"], cwd=clone, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        _look_ahead_of(proc, clone)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    assert proc.returncode == 130 and "interrupted" in err, (proc.returncode, err)
    assert "Traceback" not in err, err
    assert not _processes_in(clone), "nothing left running"
    found = statuses(_run(cli, clone).out)
    assert len(found) == 300 and set(found.values()) <= {"restored", "skipped"}


@pytest.mark.skipif(not LINUX, reason="the look-ahead process is Linux only")
def test_the_pass_never_waits_for_the_look_ahead_and_drops_what_comes_late() -> None:
    """The parent's end alone, fed through a pipe by the test: a unit whose message has not come is
    the pass's at once (the counter tells the look-ahead it was reached), a message that comes late for
    it is dropped, a message cut short is not waited for; ``close`` stops and reaps the process."""
    import mmap
    import pickle
    import struct

    from orchastration.engine.lookahead import Lookahead

    def frame(*message: object) -> bytes:
        payload = pickle.dumps(message)
        return struct.pack("I", len(payload)) + payload

    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    progress = mmap.mmap(-1, 8)
    ahead = Lookahead(stand_in.pid, read_fd, progress, ["a", "b", "c", "d"])
    try:
        started = time.monotonic()
        assert ahead.take("a") is None and time.monotonic() - started < 1
        assert struct.unpack_from("q", progress)[0] == 1  # the look-ahead is to skip "a"
        b_states = {"/p/b": [1, 2, "h"]}
        os.write(write_fd, frame("a", {"/p/a": [1, 2, "x"]}, None, True) + frame("b", b_states, ("lookup",), True))
        assert ahead.take("b") == (b_states, ("lookup",))  # "a" came late: dropped
        assert (ahead.taken, ahead.made) == (1, {"b"})
        os.write(write_fd, frame("c", {"/p/c": [1, 2, "y"]}, None, False)[:-3])  # cut short
        assert ahead.take("c") is None and struct.unpack_from("q", progress)[0] == 3
    finally:
        ahead.close()
        os.close(write_fd)
    assert stand_in.wait(timeout=10) is not None
    assert ahead.take("d") is None  # closed: the pass reads alone


@pytest.mark.skipif(not LINUX, reason="the look-ahead process is Linux only")
def test_the_stop_signals_wait_while_the_look_ahead_is_forked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ctrl-C landing just after the fork would run the CLI's handler in the child, inside the
    interpreter's after-fork work (CI once printed "Exception ignored in ... KeyboardInterrupt"): the
    stop signals are blocked across the fork and the mask is as it was after it."""
    import errno

    from orchastration.engine import lookahead
    from orchastration.engine.result_store import NO_STORE
    from orchastration.engine.uptodate import HashCache
    from orchastration.interrupts import STOP_SIGNALS

    seen: list[set[int]] = []

    def fork_seeing_the_mask() -> int:
        seen.append({int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])})
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(lookahead.threading, "active_count", lambda: 1)
    monkeypatch.setattr(lookahead.os, "fork", fork_seeing_the_mask)
    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    names = [f"u{i}" for i in range(lookahead.MIN_UNITS)]
    assert lookahead.Lookahead.start(names, {}, {}, HashCache("sha256"), NO_STORE) is None
    assert seen and set(STOP_SIGNALS) <= seen[0], seen
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before


def test_outputs_staged_ahead_are_renamed_into_place_and_a_stale_or_vanished_one_is_written_instead(
    tmp_path: Path,
) -> None:
    """``found(unit, stage_in)`` (the look-ahead's end, a store of its own) writes the entry's outputs
    into the staging directory, checked and with their modes; the restore after ``adopt`` renames
    them into place (the very files: no second write). A staged file gone since (the pass ended,
    another file system) or naming another blob is not used: the restore writes the output itself."""
    from orchastration.cache.entry import Blob, Manifest, dump
    from orchastration.cache.key import Keys
    from orchastration.cache.local import EMPTY_SHA256, LocalCache
    from orchastration.cache.store import CacheStore
    from orchastration.engine.runner import Launch
    from orchastration.engine.units import Unit
    from orchastration.engine.uptodate import HashCache

    small, big = b"small output\n", os.urandom(64 * 1024)  # inline in the manifest / in the blob store
    (tmp_path / "big.src").write_bytes(big)
    local = LocalCache(tmp_path / "cache")
    big_sha, big_size = local.put_file(tmp_path / "big.src")
    job = Unit("j", ("tool",), False, tmp_path, {}, 0, ("a.txt",), ("out/s.txt", "out/b.bin"), (), False,
               tmp_path / "r")  # fmt: skip
    a = str(tmp_path / "a.txt")
    (tmp_path / "out").mkdir()
    staging = tmp_path / "staging"

    def stores() -> tuple[CacheStore, CacheStore]:
        pair = CacheStore(local, Keys(tmp_path, "sha256")), CacheStore(local, Keys(tmp_path, "sha256"))
        for store in pair:
            store.open({"j": job}, {"j": [a]}, HashCache("sha256"))
        return pair

    here, ahead = stores()
    key = here.keys.key(job, {a: "h1"})
    assert key is not None
    empty = Blob(EMPTY_SHA256, 0o600, 0, b"")
    outputs = {"out/s.txt": Blob(hashlib.sha256(small).hexdigest(), 0o640, len(small), small),
               "out/b.bin": Blob(big_sha, 0o751, big_size)}  # fmt: skip
    local.write_manifest(key, dump(Manifest(key, outputs, empty, empty, 5), b""))
    staging.mkdir()
    assert ahead.look_ahead(job, {a: "h1"})
    found = ahead.found(job, str(staging))
    staged = found[-1]  # type: ignore[index]
    assert set(staged) == {"out/s.txt", "out/b.bin"}
    files = {rel: Path(path) for rel, (path, _) in staged.items()}
    assert files["out/s.txt"].read_bytes() == small and files["out/b.bin"].read_bytes() == big
    assert (files["out/s.txt"].stat().st_mode & 0o777, files["out/b.bin"].stat().st_mode & 0o777) == (0o640, 0o751)
    inodes = {rel: path.stat().st_ino for rel, path in files.items()}
    here.adopt(job, found)
    launch = Launch({}, tmp_path / "o.log", tmp_path / "e.log")
    assert here.restore(job, {a: "h1"}, launch) is not None
    for rel, content, mode in (("out/s.txt", small, 0o640), ("out/b.bin", big, 0o751)):
        target = tmp_path / rel
        assert target.read_bytes() == content and target.stat().st_mode & 0o777 == mode
        assert target.stat().st_ino == inodes[rel], "the staged file itself was put in place"
    assert not list(staging.iterdir()) and not list((tmp_path / "out").glob("*.restore"))

    # Staged again, then one staged file vanishes and the other is said to hold another blob.
    for rel in outputs:
        (tmp_path / rel).unlink()
    here, ahead = stores()
    assert ahead.look_ahead(job, {a: "h1"})
    found = ahead.found(job, str(staging))
    staged = dict(found[-1])  # type: ignore[index]
    Path(staged["out/s.txt"][0]).unlink()
    staged["out/b.bin"] = (staged["out/b.bin"][0], "0" * 64)
    here.adopt(job, (*found[:-1], staged))  # type: ignore[misc]
    assert here.restore(job, {a: "h1"}, launch) is not None
    assert (tmp_path / "out/s.txt").read_bytes() == small and (tmp_path / "out/b.bin").read_bytes() == big
    assert [p.name for p in staging.iterdir()] == [Path(staged["out/b.bin"][0]).name], "not taken: left to discard"
    assert not list((tmp_path / "out").glob("*.restore"))


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="needs a second file system (/dev/shm)")
def test_outputs_are_not_staged_on_another_file_system(tmp_path: Path) -> None:
    from orchastration.cache.entry import Blob, Manifest
    from orchastration.cache.local import EMPTY_SHA256, LocalCache
    from orchastration.cache.staging import Stager
    from orchastration.engine.units import Unit

    (tmp_path / "out").mkdir()
    other = Path(tempfile.mkdtemp(dir="/dev/shm"))
    try:
        if os.stat(other).st_dev == os.stat(tmp_path).st_dev:
            pytest.skip("/dev/shm is on the same file system here")
        job = Unit("j", ("tool",), False, tmp_path, {}, 0, (), ("out/s.txt",), (), False, tmp_path / "r")
        empty = Blob(EMPTY_SHA256, 0o600, 0, b"")
        data = b"x\n"
        entry = Manifest("k", {"out/s.txt": Blob(hashlib.sha256(data).hexdigest(), 0o644, 2, data)}, empty, empty, 1)
        local = LocalCache(tmp_path / "cache")
        assert Stager(str(tmp_path / "out")).stage(job, entry, local, lambda p: True)  # the same one: staged
        assert Stager(str(other)).stage(job, entry, local, lambda p: True) == {}
        assert not list(other.iterdir())
    finally:
        shutil.rmtree(other)
