"""End to end through the installed CLI: failures, timeouts, interrupts, parallelism, records, locking."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Result, assert_error, cli_command
from jobs_helpers import PY, concat_job, last_record, project, records, result_fields, statuses, write_config
from reliability.common import pid_alive

Cli = Callable[..., Result]


def test_failure_stops_unless_keep_going(cli: Cli, tmp_path: Path, state_dir: Path) -> None:
    root = project(tmp_path)
    jobs = {
        "bad": {"command": [PY, "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"]},
        "after_bad": {"command": [PY, "-c", "pass"], "depends_on": ["bad"]},
        "zz_other": {"command": [PY, "-c", "pass"]},
    }
    write_config(root, jobs)
    res = cli(["run"], cwd=root)
    assert res.code == 1
    assert result_fields(res.out, "bad")["exit"] == "3"
    got = statuses(res.out)
    assert got["bad"] == "failed" and got["after_bad"] == "not_run" and got["zz_other"] == "not_run"
    assert "boom" in res.err
    assert not (state_dir / "runs" / "zz_other").exists()

    res = cli(["run", "--keep-going"], cwd=root)
    assert res.code == 1
    assert statuses(res.out) == {"bad": "failed", "after_bad": "not_run", "zz_other": "ran"}
    assert "dependency failed: bad" in res.out
    record = last_record(state_dir, "bad")
    assert record["status"] == "failed" and record["exit_code"] == 3
    assert Path(record["stderr_path"]).read_text().strip() == "boom"


def test_command_not_found(cli: Cli, tmp_path: Path, state_dir: Path) -> None:
    root = project(tmp_path)
    write_config(root, {"nf": {"command": ["no-such-program-xyz", "--flag"]}})
    res = cli(["run", "nf"], cwd=root)
    assert res.code == 1
    fields = result_fields(res.out, "nf")
    assert fields["status"] == "failed" and fields["exit"] == "127"
    assert "command not found: no-such-program-xyz" in res.out + res.err
    assert last_record(state_dir, "nf")["exit_code"] == 127


GRANDCHILD = (
    "import subprocess, sys, time\n"
    "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "open('grandchild.pid', 'w').write(str(g.pid))\n"
    "print('started', flush=True)\n"
    "time.sleep(60)\n"
)


@pytest.mark.skipif(os.name != "posix", reason="process liveness via os.kill(pid, 0)")
def test_timeout_kills_grandchildren(cli: Cli, tmp_path: Path, state_dir: Path) -> None:
    root = project(tmp_path)
    write_config(root, {"slow": {"command": [PY, "-c", GRANDCHILD], "timeout_seconds": 1}})
    started = time.monotonic()
    res = cli(["run"], cwd=root)
    assert time.monotonic() - started < 30
    assert res.code == 1
    fields = result_fields(res.out, "slow")
    assert fields["status"] == "timeout" and fields["exit"] == "-1"
    pid = int((root / "grandchild.pid").read_text())
    deadline = time.monotonic() + 10
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(pid)
    assert last_record(state_dir, "slow")["status"] == "timeout"


def test_parallel_is_faster_than_serial_and_prefixes_output(cli: Cli, tmp_path: Path) -> None:
    root = project(tmp_path)
    sleeper = [PY, "-c", "import time; print('hi'); time.sleep(1.0)"]
    write_config(root, {f"s{i}": {"command": sleeper, "always_run": True} for i in range(4)})
    t0 = time.monotonic()
    serial = cli(["run"], cwd=root)
    serial_s = time.monotonic() - t0
    t0 = time.monotonic()
    parallel = cli(["run", "-j", "4"], cwd=root)
    parallel_s = time.monotonic() - t0
    assert serial.code == parallel.code == 0
    assert serial_s >= 4.0
    assert parallel_s < serial_s - 1.5, (serial_s, parallel_s)  # ideal: 1 s vs 4 s
    assert "[s0] hi" in parallel.out and "\nhi\n" in "\n" + serial.out
    assert set(statuses(parallel.out).values()) == {"ran"}


def test_records_fields_and_no_env_values(cli: Cli, tmp_path: Path, state_dir: Path, env: dict[str, str]) -> None:
    root = project(tmp_path)
    secret = "s3cr3t-value-do-not-log"
    job = concat_job("out.txt", "src/a.txt", env={"API_TOKEN": secret})
    job["command"] = [PY, "-c", "import os; print(len(os.environ['API_TOKEN'])); open('out.txt','w').write('x')"]
    write_config(root, {"rec": job})
    assert cli(["run"], cwd=root).code == 0
    assert cli(["run", "--force"], cwd=root).code == 0
    files = records(state_dir, "rec")
    assert len(files) == 2 and files[0].name < files[1].name
    record = json.loads(files[1].read_text())
    assert record == last_record(state_dir, "rec")
    for key in ("job_name", "start_time", "end_time", "duration_ms", "exit_code", "status", "stdout_path",
                "stderr_path", "os", "binary_version", "command", "working_dir", "schema", "doit_task"):  # fmt: skip
        assert key in record, key
    assert record["job_name"] == record["doit_task"] == "rec"
    assert record["status"] == "ran" and record["reasons"] == ["forced"]
    assert record["env_names"] == ["API_TOKEN"] and len(record["env_hash"]) == 64
    assert set(record["inputs"]) == {"src/a.txt"} and record["inputs"]["src/a.txt"]
    assert record["outputs"] == {"out.txt": record["outputs"]["out.txt"]} and record["outputs"]["out.txt"]
    assert Path(record["stdout_path"]).read_text() == f"{len(secret)}\n"
    for directory in (state_dir, Path(env["XDG_CACHE_HOME"])):  # records, logs, the doit database
        for path in directory.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path


def test_fifty_megabytes_of_output_captured_whole(cli: Cli, tmp_path: Path, state_dir: Path) -> None:
    root = project(tmp_path)
    script = "import sys\nline = b'y' * 1023 + b'\\n'\nw = sys.stdout.buffer.write\nfor _ in range(51200): w(line)\n"
    write_config(root, {"big": {"command": [PY, "-c", script]}})
    res = cli(["-q", "run"], cwd=root, timeout=300)
    assert res.code == 0, res.err
    assert res.out.strip() == result_line_for(res.out, "big")
    log = Path(last_record(state_dir, "big")["stdout_path"])
    assert log.stat().st_size == 50 * 1024 * 1024
    with open(log, "rb") as fh:
        assert fh.read(1024) == b"y" * 1023 + b"\n"


def result_line_for(out: str, job: str) -> str:
    return next(line for line in out.splitlines() if line.startswith(f"job={job} "))


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
@pytest.mark.parametrize(("parallel", "signum"), [("1", signal.SIGINT), ("2", signal.SIGINT), ("1", signal.SIGTERM)])
def test_sigint_gives_130_and_interrupted_record(
    tmp_path: Path, env: dict[str, str], state_dir: Path, parallel: str, signum: int
) -> None:
    root = project(tmp_path)
    write_config(root, {"long": {"command": [PY, "-c", GRANDCHILD]}, "other": {"command": [PY, "-c", "pass"]}})
    proc = subprocess.Popen(
        [*cli_command(), "run", "long", "-j", parallel],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not (root / "grandchild.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err
    assert result_fields(out, "long")["status"] == "interrupted"
    record = last_record(state_dir, "long")
    assert record["status"] == "interrupted" and record["exit_code"] == 130
    pid = int((root / "grandchild.pid").read_text())
    deadline = time.monotonic() + 10
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(pid)
    # an interrupted run is never up to date
    why = subprocess.run([*cli_command(), "why", "long"], cwd=root, env=env, capture_output=True, text=True)
    assert why.stdout.strip() == "last run interrupted"


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
@pytest.mark.parametrize("keep_going", [False, True])
def test_an_interrupt_in_a_first_build_stops_it_there(
    tmp_path: Path, env: dict[str, str], state_dir: Path, keep_going: bool
) -> None:
    """One job at a time, a first build's jobs run before doit is asked (engine/first_pass.py); Ctrl-C
    in the second of three: the first stays ran (and up to date), the second is interrupted, the third
    never starts, with or without --keep-going."""
    root = project(tmp_path)
    slow = "import os, time; open('b.pid', 'w').write(str(os.getpid())); time.sleep(60)"
    write_config(
        root,
        {
            "a": {"command": [PY, "-c", "open('a.txt', 'w').write('a')"], "outputs": ["a.txt"]},
            "b": {"command": [PY, "-c", slow], "depends_on": ["a"]},
            "c": {"command": [PY, "-c", "open('c.txt', 'w').write('c')"], "outputs": ["c.txt"], "depends_on": ["b"]},
        },
    )
    args = [*cli_command(), "run", *(["--keep-going"] if keep_going else [])]
    proc = subprocess.Popen(args, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not (root / "b.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert statuses(out) == {"a": "ran", "b": "interrupted", "c": "not_run"}, out
    assert "Traceback" not in err and not (root / "c.txt").exists()
    assert last_record(state_dir, "b")["status"] == "interrupted"
    for job, reason in (("a", "up-to-date"), ("b", "last run interrupted")):
        why = subprocess.run([*cli_command(), "why", job], cwd=root, env=env, capture_output=True, text=True)
        assert why.stdout.strip() == reason, (job, why.stdout, why.stderr)


def test_two_concurrent_runs_both_succeed(tmp_path: Path, env: dict[str, str], state_dir: Path) -> None:
    root = project(tmp_path)
    slow = [PY, "-c", "import time; time.sleep(1.5); open('slow.txt', 'w').write('ok')"]
    write_config(root, {"slow": {"command": slow, "outputs": ["slow.txt"]}, "quick": {"command": [PY, "-c", "pass"]}})
    run = [*cli_command(), "run"]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    first = subprocess.Popen([*run, "slow"], cwd=root, env=env, **pipes)  # type: ignore[call-overload]
    deadline = time.monotonic() + 30
    while not list((state_dir / "runs").glob("slow/*.stdout.log")) and time.monotonic() < deadline:
        time.sleep(0.02)
    second = subprocess.run([*run, "quick"], cwd=root, env=env, capture_output=True, text=True, timeout=60)
    out1, err1 = first.communicate(timeout=60)
    assert first.returncode == 0 and second.returncode == 0, (err1, second.stderr)
    assert "waiting for the state lock held by another run" in second.stderr
    assert statuses(out1) == {"slow": "ran"} and statuses(second.stdout) == {"quick": "ran"}
    again = subprocess.run(run, cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert statuses(again.stdout) == {"quick": "skipped", "slow": "skipped"}, again.stderr


def test_config_errors_cycle_unknown_dependency_unknown_job(cli: Cli, tmp_path: Path) -> None:
    root = project(tmp_path)
    write_config(root, {"a": {"command": [PY], "depends_on": ["b"]}, "b": {"command": [PY], "depends_on": ["a"]}})
    assert_error(cli(["run"], cwd=root), 2, "dependency cycle", "a", "b")
    write_config(root, {"a": {"command": [PY], "depends_on": ["nope"]}})
    assert_error(cli(["run"], cwd=root), 2, "jobs.a.depends_on", "unknown job 'nope'")
    write_config(root, {"build": {"command": [PY, "-c", "pass"]}})
    assert_error(cli(["run", "biuld"], cwd=root), 2, "unknown job 'biuld'", "did you mean 'build'")
    assert_error(cli(["why", "zzz"], cwd=root), 2, "unknown job 'zzz'")
    assert_error(cli(["run", "-j", "0"], cwd=root), 2, "-j")
    assert_error(cli(["run", "--json"], cwd=root), 2, "--dry-run")


def test_shell_jobs(cli: Cli, tmp_path: Path) -> None:
    if os.name != "posix":
        pytest.skip("POSIX shell syntax")
    root = project(tmp_path)
    write_config(root, {"sh": {"command": "echo $GREETING > greet.txt", "shell": True, "env": {"GREETING": "hi"}}})
    assert statuses(cli(["run"], cwd=root).out) == {"sh": "ran"}
    assert (root / "greet.txt").read_text() == "hi\n"


def test_quiet_hides_job_output(cli: Cli, tmp_path: Path) -> None:
    root = project(tmp_path)
    write_config(root, {"talk": {"command": [PY, "-c", "print('chatty')"]}})
    res = cli(["-q", "run"], cwd=root)
    assert "chatty" not in res.out and statuses(res.out) == {"talk": "ran"}
