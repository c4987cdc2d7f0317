"""The dask executor end to end: a real ``dask scheduler`` and two ``dask worker`` processes on
127.0.0.1, projects run through the installed CLI with ``--executor dask --address ...``.

Nothing outlives the tests, even a failed one: every process they start (the cluster, the CLI) carries
``MARK=TOKEN`` in its environment, and so does everything those start (a worker's job commands inherit
its environment, even in a session of their own, even once orphaned). After each test, the marked
processes outside the cluster's sessions are killed; after the module, all of them."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Result
from jobs_helpers import toml_value
from reliability.common import cli_command

pytest.importorskip("distributed")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="the tests find their processes in /proc"),
]

DASK = str(Path(sys.executable).parent / "dask")
START_SECONDS = 90  # scheduler and workers import distributed: slow on a loaded machine
MARK, TOKEN = "ORCHASTRATION_TEST_CLUSTER", uuid.uuid4().hex  # one token per test process (xdist worker)
SESSIONS: set[int] = set()  # the cluster's processes (each leads a session of its own)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spawn(argv: list[str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as fh:
        proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True,
                                env={**os.environ, MARK: TOKEN})  # fmt: skip
    SESSIONS.add(proc.pid)
    return proc


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    SESSIONS.discard(proc.pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes (its parent has not reaped it yet).
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    return False


def marked() -> list[int]:
    """The live processes started with ``MARK=TOKEN`` in their environment."""
    needle = f"{MARK}={TOKEN}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError):
            if entry.name.isdigit() and needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
    return [pid for pid in found if _alive(pid)]


def sweep(keep: set[int] | frozenset[int] = frozenset()) -> list[int]:
    """SIGKILL the marked processes outside the sessions ``keep``; the pids killed."""
    killed = []
    for pid in marked():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.getsid(pid) not in keep:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in killed) and time.monotonic() < deadline:
        time.sleep(0.05)
    return killed


@pytest.fixture(autouse=True)
def _nothing_left() -> Iterator[None]:
    """After each test (passed or not): kill what it left running, but the cluster."""
    yield
    sweep(keep=set(SESSIONS))


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    """The isolated environment, marked: the CLI and whatever it starts are swept after the test."""
    return {**env, MARK: TOKEN}


class Cluster:
    """A scheduler and its workers (by name), and a client of the test's own to look at them."""

    def __init__(self, address: str, client: Any, procs: list[subprocess.Popen[bytes]], root: Path) -> None:
        self.address, self.client, self.procs, self.root = address, client, procs, root

    def worker(self, name: str) -> str:
        """The address of the worker started with ``--name name``."""
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        return next(addr for addr, info in workers.items() if info.get("name") == name)

    def start_worker(self, name: str, *extra: str) -> subprocess.Popen[bytes]:
        argv = [DASK, "worker", self.address, "--nthreads", "1", "--no-dashboard", "--name", name, *extra]
        proc = _spawn(argv, self.root / f"{name}.log", self.root)
        self.procs.append(proc)
        return proc

    def wait_workers(self, n: int) -> None:
        self.client.wait_for_workers(n, timeout=START_SECONDS)

    def stop_worker(self, proc: subprocess.Popen[bytes], address: str) -> None:
        """Kill a worker the test started and wait until the scheduler has let it go."""
        _kill(proc)
        deadline = time.monotonic() + 30
        while address in self.client.scheduler_info(n_workers=-1)["workers"] and time.monotonic() < deadline:
            time.sleep(0.1)

    def running(self) -> dict[str, list[str]]:
        """The jobs each worker runs now."""
        from orchastration.executors import remote

        return dict(self.client.run(remote.running))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """``dask scheduler`` and two workers: ``cpu`` (2 threads) and ``gpu`` (2 threads, GPU=1). The
    workers run in a directory of their own (see ``test_working_dir_the_workers_do_not_see``)."""
    from distributed import Client

    root = tmp_path_factory.mktemp("cluster")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [_spawn([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                    root / "scheduler.log", root)]  # fmt: skip
    client = None
    try:
        common = ["--nthreads", "2", "--no-dashboard"]
        procs.append(_spawn([DASK, "worker", address, *common, "--name", "cpu"], root / "cpu.log", root))
        procs.append(_spawn([DASK, "worker", address, *common, "--name", "gpu", "--resources", "GPU=1"],
                            root / "gpu.log", root))  # fmt: skip
        client = Client(address, timeout=START_SECONDS, set_as_default=False)
        found = Cluster(address, client, procs, root)
        found.wait_workers(2)
        yield found
    finally:
        if client is not None:
            with contextlib.suppress(Exception):
                client.close(timeout=5)
        for proc in reversed(procs):
            _kill(proc)
        sweep()  # what the workers ran, in sessions of its own


def write_project(root: Path, jobs: dict[str, dict[str, Any]], executor: dict[str, Any] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    lines = []
    if executor:
        lines += ["[executor]", *(f"{k} = {toml_value(v)}" for k, v in executor.items()), ""]
    for name, spec in jobs.items():
        lines.append(f"[jobs.{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in spec.items()]
        lines.append("")
    (root / "orchastration.toml").write_text("\n".join(lines))
    return root


def py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def last(state: Path, job: str) -> dict[str, Any]:
    record = json.loads((state / "runs" / job / "last.json").read_text())
    assert isinstance(record, dict)
    return record


def results(result: Result) -> dict[str, str]:
    """``{job: status}`` from the result lines."""
    import re

    return dict(re.findall(r"^job=(\S+) status=(\S+)", result.out, re.MULTILINE))


def project_jobs() -> dict[str, dict[str, Any]]:
    """A producer and a consumer, four half-second jobs (both workers get some), a GPU job, a local job."""
    jobs: dict[str, dict[str, Any]] = {
        "make": {
            "command": py(
                "import sys; print('made it'); print('to stderr', file=sys.stderr);"
                "open('made.txt', 'w').write('data\\n')"
            ),
            "outputs": ["made.txt"],
        },  # fmt: skip
        "use": {
            "command": py("open('used.txt', 'w').write(open('made.txt').read().upper())"),
            "inputs": ["made.txt"],
            "outputs": ["used.txt"],
        },  # fmt: skip
        "train": {"command": py("print('training')"), "resources": {"GPU": 1}, "always_run": True},
        "here": {"command": py("print('on the CLI machine')"), "local": True, "always_run": True},
    }
    for i in range(4):
        jobs[f"sleep{i}"] = {"command": py(f"import time; time.sleep(0.5); open('s{i}.txt', 'w').write('{i}')"),
                             "outputs": [f"s{i}.txt"]}  # fmt: skip
    return jobs


def test_a_project_runs_on_the_cluster_as_it_does_locally(
    cluster: Cluster, cli: Callable[..., Result], env: dict[str, str], tmp_path: Path
) -> None:
    remote_dir = write_project(tmp_path / "remote", project_jobs())
    local_dir = write_project(tmp_path / "local", project_jobs())
    dask_state, local_state = tmp_path / "dask-state", tmp_path / "local-state"
    ran = cli(["--state-dir", str(dask_state), "run", "--executor", "dask", "--address", cluster.address],
              cwd=remote_dir)  # fmt: skip
    assert ran.code == 0, (ran.out, ran.err)
    here = cli(["--state-dir", str(local_state), "run", "-j", "4"], cwd=local_dir)
    assert here.code == 0, (here.out, here.err)
    assert results(ran) == results(here) == dict.fromkeys(project_jobs(), "ran")
    for name in ("made.txt", "used.txt", "s0.txt", "s3.txt"):
        assert (remote_dir / name).read_bytes() == (local_dir / name).read_bytes()
    # Output reached the console live, prefixed (-j defaults to the cluster's 4 threads), and the logs.
    assert "[make] made it" in ran.out and "[make] to stderr" in ran.err
    record = last(dask_state, "make")
    assert Path(record["stdout_path"]).read_text() == "made it\n"
    assert Path(record["stderr_path"]).read_text() == "to stderr\n"
    # The records name the workers; both got work; the GPU job ran on the GPU worker only.
    cpu, gpu = cluster.worker("cpu"), cluster.worker("gpu")
    remote_jobs = [n for n in project_jobs() if n != "here"]
    workers = {n: last(dask_state, n).get("worker") for n in remote_jobs}
    assert all(last(dask_state, n)["executor"] == "dask" for n in remote_jobs)
    assert set(workers.values()) == {cpu, gpu}, workers
    assert workers["train"] == gpu
    assert "executor" not in last(dask_state, "here") and "executor" not in last(local_state, "make")
    # Up to date afterwards, whichever executor ran it.
    again = cli(["--state-dir", str(dask_state), "run", "make", "use", "--address", cluster.address], cwd=remote_dir)
    assert again.code == 0 and results(again) == {"make": "skipped", "use": "skipped"}, (again.out, again.err)


def test_a_timeout_kills_the_remote_tree(cluster: Cluster, cli: Callable[..., Result], tmp_path: Path) -> None:
    child = (
        "import subprocess; p = subprocess.Popen(['sleep', '60']); open('child.pid', 'w').write(str(p.pid)); p.wait()"
    )
    project = write_project(tmp_path / "p", {"slow": {"command": py(child), "timeout_seconds": 2}},
                            executor={"kind": "dask", "address": cluster.address})  # fmt: skip
    ran = cli(["run"], cwd=project, timeout=120)
    assert ran.code == 1 and results(ran) == {"slow": "timeout"}, (ran.out, ran.err)
    pid = int((project / "child.pid").read_text())
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid), "the job's child outlived its timeout"
    assert not any(cluster.running().values())


def _wait_for(path: Path, proc: subprocess.Popen[str], seconds: float = 60) -> None:
    """Until ``path`` holds something (a pid file exists empty between its creation and its write)."""
    deadline = time.monotonic() + seconds
    while not (path.exists() and path.read_text().strip()):
        assert proc.poll() is None, proc.communicate(timeout=5)
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.1)


SLEEPER = (
    "import os, time; print('started', flush=True); open('{name}.pid', 'w').write(str(os.getpid())); time.sleep(60)"
)


def test_ctrl_c_leaves_nothing_running_on_the_workers(cluster: Cluster, env: dict[str, str], tmp_path: Path) -> None:
    jobs = {name: {"command": py(SLEEPER.format(name=name))} for name in ("one", "two")}
    project = write_project(tmp_path / "p", jobs, executor={"kind": "dask", "address": cluster.address})
    proc = subprocess.Popen([*cli_command(), "run", "-j", "2"], cwd=project, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        for name in jobs:
            _wait_for(project / f"{name}.pid", proc)
        # Output is live: the console shows it while the jobs still run.
        assert proc.stdout is not None
        seen = [proc.stdout.readline() for _ in jobs]
        assert sorted(seen) == ["[one] started\n", "[two] started\n"], seen
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err, err
    for name in jobs:
        assert not _alive(int((project / f"{name}.pid").read_text())), f"{name} still runs"
    assert not any(cluster.running().values())


def test_a_lost_worker_fails_its_job(cluster: Cluster, env: dict[str, str], tmp_path: Path) -> None:
    # A worker of its own (no nanny: killing the one process loses it), which only this job can use.
    doomed = cluster.start_worker("doomed", "--no-nanny", "--resources", "DOOMED=1")
    cluster.wait_workers(3)
    lost = cluster.worker("doomed")
    jobs = {"victim": {"command": py(SLEEPER.format(name="victim")), "resources": {"DOOMED": 1}}}
    project = write_project(tmp_path / "p", jobs, executor={"kind": "dask", "address": cluster.address})
    proc = subprocess.Popen([*cli_command(), "run"], cwd=project, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    pid = 0
    try:
        _wait_for(project / "victim.pid", proc)
        pid = int((project / "victim.pid").read_text())
        _kill(doomed)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        # The worker died by SIGKILL: nothing was left to kill its command (docs/distributed.md).
        with contextlib.suppress(ProcessLookupError):
            if pid:
                os.kill(pid, signal.SIGKILL)
    assert proc.returncode == 1, (out, err)
    assert results(Result(1, out, err)) == {"victim": "failed"}
    assert f"worker lost: {lost}" in err
    assert last(Path(env["ORCHASTRATION_STATE_DIR"]), "victim")["worker"] == lost


def test_a_retry_after_a_lost_worker_runs_on_another(cluster: Cluster, env: dict[str, str], tmp_path: Path) -> None:
    # Two workers of its own (no nanny), the only ones offering SPARE: the first attempt runs on one of
    # them, which is killed; the retry runs on the other. The command sleeps on its first attempt only.
    spares = {name: cluster.start_worker(name, "--no-nanny", "--resources", "SPARE=1") for name in ("spare1", "spare2")}
    cluster.wait_workers(4)
    names = {cluster.worker(name): name for name in spares}
    command = py(
        "import os, time\n"
        "if os.path.exists('first.pid'):\n    print('second attempt'); open('done.txt', 'w').write('ok')\n"
        "else:\n    open('first.pid', 'w').write(str(os.getpid())); time.sleep(60)"
    )
    jobs = {"flaky": {"command": command, "resources": {"SPARE": 1}, "retries": 1, "outputs": ["done.txt"]}}
    project = write_project(tmp_path / "p", jobs, executor={"kind": "dask", "address": cluster.address})
    proc = subprocess.Popen([*cli_command(), "run"], cwd=project, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        _wait_for(project / "first.pid", proc)
        lost = next(addr for addr, keys in cluster.running().items() if keys)
        cluster.stop_worker(spares[names[lost]], lost)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        for name, worker in spares.items():  # the survivor too: later tests count the workers
            if worker.poll() is None:
                cluster.stop_worker(worker, cluster.worker(name))
        # Its worker died by SIGKILL: nothing was left to kill the first attempt (docs/distributed.md).
        with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
            os.kill(int((project / "first.pid").read_text()), signal.SIGKILL)
    assert proc.returncode == 0, (out, err)
    assert results(Result(0, out, err)) == {"flaky": "ran"}
    assert f"flaky: attempt 1: worker lost: {lost}" in err
    record = last(Path(env["ORCHASTRATION_STATE_DIR"]), "flaky")
    survivor = next(addr for addr in names if addr != lost)
    assert (record["status"], record["attempts"], record["worker"]) == ("ran", 2, survivor)
    assert Path(record["stdout_path"]).read_text() == "second attempt\n"
    assert (project / "done.txt").read_text() == "ok"


# A job whose declared output shows up on this machine only a while after the job ended, as on a
# network file system: the command leaves a detached writer behind (a session of its own, no pipes
# held, so the job ends at once) that makes the output when released (a file appears) or after
# DELAY seconds.
LATE_WRITER = (
    "import os, sys, time\n"
    "delay, end = float(sys.argv[1]), time.monotonic() + 60\n"
    "while not os.path.exists('release') and time.monotonic() < end and (delay < 0 or time.monotonic() < delay):\n"
    "    time.sleep(0.05)\n"
    "open('late.tmp', 'w').write('late')\n"
    "os.replace('late.tmp', 'late.txt')\n"
)


def late_job(delay: float) -> dict[str, Any]:
    """The job: when late.txt is not there yet, start the writer (``delay`` < 0: wait for release) and end."""
    start = (
        "import os, subprocess, sys, time\n"
        "if not os.path.exists('late.txt'):\n"
        f"    delay = {delay!r} if {delay!r} < 0 else time.monotonic() + {delay!r}\n"
        f"    subprocess.Popen([sys.executable, '-c', {LATE_WRITER!r}, str(delay)], start_new_session=True,\n"
        "                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    )
    return {"command": py(start), "outputs": ["late.txt"]}


def test_fs_latency_waits_for_outputs_that_show_up_late(
    cluster: Cluster, cli: Callable[..., Result], env: dict[str, str], tmp_path: Path
) -> None:
    executor = {"kind": "dask", "address": cluster.address, "fs_latency_seconds": 30}
    project = write_project(tmp_path / "p", {"late": late_job(1.0)}, executor=executor)
    ran = cli(["run"], cwd=project)
    assert ran.code == 0 and results(ran) == {"late": "ran"}, (ran.out, ran.err)
    assert "not seen here" not in ran.err and "declared output not created" not in ran.err, ran.err
    record = last(Path(env["ORCHASTRATION_STATE_DIR"]), "late")
    assert record["outputs"]["late.txt"] is not None, record["outputs"]
    again = cli(["run"], cwd=project)
    assert again.code == 0 and results(again) == {"late": "skipped"}, (again.out, again.err)


def test_without_fs_latency_a_late_output_is_named_and_missing(
    cluster: Cluster, cli: Callable[..., Result], env: dict[str, str], tmp_path: Path
) -> None:
    # As locally, a declared output the job did not make is a warning, recorded null, and the job is
    # due again, even once the file has shown up (what that run made was never seen here); on the
    # cluster the warning says how long the CLI waited and where the job ran.
    executor = {"kind": "dask", "address": cluster.address, "fs_latency_seconds": 0}
    project = write_project(tmp_path / "p", {"late": late_job(-1)}, executor=executor)
    ran = cli(["run"], cwd=project)
    (project / "release").touch()  # the writer may end now: the CLI is done with it
    assert ran.code == 0 and results(ran) == {"late": "ran"}, (ran.out, ran.err)
    record = last(Path(env["ORCHASTRATION_STATE_DIR"]), "late")
    assert (
        f"late: not seen here 0 s after the job ended on {record['worker']} (executor.fs_latency_seconds): late.txt"
        in ran.err
    )
    assert "declared output not created: late.txt" in ran.err
    assert record["outputs"] == {"late.txt": None}
    deadline = time.monotonic() + 30
    while not (project / "late.txt").exists():
        assert time.monotonic() < deadline, "the late writer never wrote late.txt"
        time.sleep(0.05)
    assert cli(["why", "late"], cwd=project).out.splitlines() == ["output missing at last run: late.txt"]
    again = cli(["run"], cwd=project)
    assert again.code == 0 and results(again) == {"late": "ran"}, (again.out, again.err)
    assert results(cli(["run"], cwd=project)) == {"late": "skipped"}


def test_an_unreachable_scheduler_is_a_usage_error(cli: Callable[..., Result], tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", {"a": {"command": py("pass")}})
    address = f"tcp://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    ran = cli(["run", "--executor", "dask", "--address", address], cwd=project, timeout=120)
    elapsed = time.monotonic() - started
    assert ran.code == 2 and "Traceback" not in ran.err, (ran.out, ran.err)
    assert f"cannot reach the dask scheduler at {address}" in ran.err
    # 5 s to connect, plus starting Python and importing distributed (seconds on a loaded machine).
    assert elapsed < 45
    assert not (tmp_path / "p" / "state").exists()


@pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="needs /proc/self/cwd")
def test_a_working_dir_the_workers_do_not_see(cluster: Cluster, cli: Callable[..., Result], tmp_path: Path) -> None:
    # /proc/self/cwd is each process's own working directory: here the CLI's (the project), for
    # the workers their own. So this dir exists for the CLI and not on the workers, as a dir on
    # a disk only this machine mounts would.
    project = write_project(tmp_path / "p", {"a": {"command": py("pass"), "working_dir": "/proc/self/cwd/here"}},
                            executor={"kind": "dask", "address": cluster.address})  # fmt: skip
    (project / "here").mkdir()
    ran = cli(["run"], cwd=project)
    assert ran.code == 2, (ran.out, ran.err)
    assert "working dir /proc/self/cwd/here is not visible on worker" in ran.err
    assert "Traceback" not in ran.err and "job=" not in ran.out


def test_task_builds_run_on_the_cluster(
    cluster: Cluster, cli: Callable[..., Result], env: dict[str, str], tmp_path: Path
) -> None:
    project = tmp_path / "p"
    project.mkdir()
    command = toml_value(py("print('building'); open('built.txt', 'w').write('ok')"))
    (project / "orchastration.toml").write_text(
        f'[executor]\nkind = "dask"\naddress = "{cluster.address}"\n'
        f'[tasks.site]\ncommand = {command}\noutputs = ["built.txt"]\n'
    )
    ran = cli(["build", "run", "site"], cwd=project)
    assert ran.code == 0, (ran.out, ran.err)
    assert "building" in ran.out and (project / "built.txt").read_text() == "ok"
    record = last(Path(env["ORCHASTRATION_STATE_DIR"]), "site")
    assert record["executor"] == "dask" and record["worker"] in {cluster.worker("cpu"), cluster.worker("gpu")}
