"""Per-project state (docs/architecture.md "Where state lives"), the no-op summary agreeing with ``why``,
and the small truths of ``status``, ``run --dry-run`` and command agents' context files.

Everything through the installed CLI, in real directories, with every subprocess bounded in time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from jobs_helpers import PY, write_config
from reliability.common import cli_command, isolated_env, run

STATE_ENV = "ORCHASTRATION_STATE_DIR"


def shared_root_env(tmp_path: Path) -> dict[str, str]:
    """An isolated environment without ``$ORCHASTRATION_STATE_DIR``: every project finds its own state dir."""
    env = isolated_env(tmp_path)
    env.pop(STATE_ENV)
    return env


def state_root(env: dict[str, str]) -> Path:
    return Path(env["XDG_CACHE_HOME"]) / "orchastration" / "state"


def two_projects(tmp_path: Path, command_a: list[str], command_b: list[str]) -> tuple[Path, Path]:
    a, b = tmp_path / "a" / "app", tmp_path / "b" / "app"  # the same directory name, two projects
    for root, command in ((a, command_a), (b, command_b)):
        root.mkdir(parents=True)
        write_config(root, {"build": {"command": command}})
    return a, b


def expected_state_dir(env: dict[str, str], config: Path) -> Path:
    real = os.path.realpath(config)
    digest = hashlib.sha256(real.encode("utf-8")).hexdigest()[:12]
    return state_root(env) / "projects" / f"{Path(real).parent.name}-{digest}"


def test_two_projects_with_a_build_job_never_rerun_each_other(tmp_path: Path) -> None:
    env = shared_root_env(tmp_path)
    a, b = two_projects(tmp_path, [PY, "-c", "print('a')"], [PY, "-c", "print('b')"])
    assert "job=build status=ran " in run(["run", "build"], a, env, timeout=60).out
    assert "job=build status=ran " in run(["run", "build"], b, env, timeout=60).out
    for root in (a, b):
        assert run(["why", "build"], root, env, timeout=60).out == "up-to-date\n"
        assert "job=build status=skipped " in run(["run", "build"], root, env, timeout=60).out
    assert (expected_state_dir(env, a / "orchastration.toml") / "runs" / "build" / "last.json").is_file()


def test_status_in_one_project_does_not_show_the_others_runs(tmp_path: Path) -> None:
    env = shared_root_env(tmp_path)
    a, b = two_projects(tmp_path, [PY, "-c", "print('a')"], [PY, "-c", "print('b')"])
    assert run(["run", "build"], a, env, timeout=60).code == 0
    assert run(["status"], b, env, timeout=60).out == "build - no runs recorded\n"
    assert run(["status"], a, env, timeout=60).out.startswith("build - exit=0 ")


@contextlib.contextmanager
def started(argv: list[str], cwd: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [*cli_command(), *argv], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()  # the CLI kills its jobs' trees on SIGTERM
        proc.communicate(timeout=30)


def wait_for(path: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_a_slow_run_in_one_project_never_makes_another_wait(tmp_path: Path) -> None:
    env = shared_root_env(tmp_path)
    marker = tmp_path / "slow-started"
    slow = f"import pathlib, time; pathlib.Path({str(marker)!r}).write_text('x'); time.sleep(8)"
    a, b = two_projects(tmp_path, [PY, "-c", slow], [PY, "-c", "print('b')"])
    with started(["run", "build"], a, env) as proc:
        wait_for(marker, 30)  # project a holds its state lock while its job sleeps
        began = time.monotonic()
        quick = run(["run", "build"], b, env, timeout=60)
        took = time.monotonic() - began
        assert proc.poll() is None, "the slow run ended before the test could overlap them"
    assert quick.code == 0 and "job=build status=ran " in quick.out, quick
    assert "waiting for the state lock" not in quick.err
    assert took < 6, took


def test_config_path_prints_the_state_dir(tmp_path: Path) -> None:
    env = shared_root_env(tmp_path)
    a, _ = two_projects(tmp_path, [PY, "-c", "pass"], [PY, "-c", "pass"])
    lines = run(["config", "path"], a, env, timeout=60).out.splitlines()
    assert lines[0] == str(a / "orchastration.toml")
    assert lines[2] == f"state: {expected_state_dir(env, a / 'orchastration.toml')}"
    elsewhere = tmp_path / "empty"
    elsewhere.mkdir()
    lines = run(["config", "path"], elsewhere, env, timeout=60).out.splitlines()
    assert lines[2] == f"state: {state_root(env) / 'projects' / 'default'}"
    lines = run(["--state-dir", str(tmp_path / "mine"), "config", "path"], a, env, timeout=60).out.splitlines()
    assert lines[2] == f"state: {tmp_path / 'mine'}"
    env[STATE_ENV] = str(tmp_path / "from-env")
    assert run(["config", "path"], a, env, timeout=60).out.splitlines()[2] == f"state: {tmp_path / 'from-env'}"


def test_log_events_carry_the_project_and_job_events_their_record(tmp_path: Path) -> None:
    env = shared_root_env(tmp_path)
    a, _ = two_projects(tmp_path, [PY, "-c", "pass"], [PY, "-c", "pass"])
    assert run(["run", "build"], a, env, timeout=60).code == 0
    elsewhere = tmp_path / "empty"
    elsewhere.mkdir()
    assert run(["--log-level", "debug", "hash", "--file", str(a / "orchastration.toml")], elsewhere, env).code == 0
    log_file = Path(env["XDG_CACHE_HOME"]) / "orchastration" / "orchastration.log"
    events = [json.loads(line) for line in log_file.read_text(encoding="utf-8").splitlines()]
    assert events and all("project" in e for e in events), events
    finished = [e for e in events if e["msg"] == "job finished"]
    assert finished and finished[0]["project"] == str(a / "orchastration.toml")
    record = Path(finished[0]["record"])
    assert record.is_file() and record.parent == expected_state_dir(env, a / "orchastration.toml") / "runs" / "build"


def test_noop_summary_agrees_with_why_when_home_changes(tmp_path: Path) -> None:
    """``working_dir = "~/proj"`` means another directory under another HOME: the summary must not vouch."""
    env = isolated_env(tmp_path)  # one state dir for both homes
    root = tmp_path / "repo"
    root.mkdir()
    write_config(root, {"where": {"command": [PY, "-c", "import os; print(os.getcwd())"], "working_dir": "~/proj"}})
    homes = [tmp_path / "h1", tmp_path / "h2"]
    for home in homes:
        (home / "proj").mkdir(parents=True)
    first = {**env, "HOME": str(homes[0])}
    assert "job=where status=ran " in run(["run"], root, first, timeout=60).out
    assert "job=where status=skipped " in run(["run"], root, first, timeout=60).out
    assert "job=where status=skipped " in run(["run"], root, first, timeout=60).out  # the summary's answer
    second = {**env, "HOME": str(homes[1])}
    reasons = run(["why", "where"], root, second, timeout=60).out
    assert reasons != "up-to-date\n"
    done = run(["run"], root, second, timeout=60)
    assert "job=where status=ran " in done.out, (reasons, done)
    assert "status=skipped" not in done.out
    last = json.loads((tmp_path / "state" / "runs" / "where" / "last.json").read_text(encoding="utf-8"))
    assert last["working_dir"] == str(homes[1] / "proj")


def _kill_pid_in(path: Path) -> None:
    with contextlib.suppress(OSError, ValueError):
        os.kill(int(path.read_text()), signal.SIGKILL if os.name == "posix" else signal.SIGTERM)


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL of the CLI")
def test_status_text_says_what_json_says_after_a_killed_first_run(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    root = tmp_path / "repo"
    root.mkdir()
    pid = tmp_path / "job.pid"
    slow = f"import os, pathlib, time; pathlib.Path({str(pid)!r}).write_text(str(os.getpid())); time.sleep(30)"
    write_config(root, {"slow": {"command": [PY, "-c", slow]}})
    with started(["run", "slow"], root, env) as proc:
        try:
            wait_for(pid, 30)
            time.sleep(0.2)
            proc.kill()  # the CLI only, as the OS would: no record is written
            proc.wait(timeout=30)
        finally:
            _kill_pid_in(pid)
    data = json.loads(run(["status", "--json"], root, env, timeout=60).out)
    assert data[0]["reasons"] == ["last run interrupted"] and data[0]["last_run"] is None
    text = run(["status"], root, env, timeout=60).out
    assert "last run interrupted" in text and "no runs recorded" not in text, text


def test_dry_run_says_may_run_for_a_job_linked_only_by_a_file(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    root = tmp_path / "repo"
    root.mkdir()
    (root / "src.txt").write_text("one\n")
    gen = "import pathlib; pathlib.Path('gen.txt').write_text('constant\\n')"
    use = "import pathlib; pathlib.Path('use.txt').write_text(pathlib.Path('gen.txt').read_text())"
    write_config(
        root,
        {
            "gen": {"command": [PY, "-c", gen], "inputs": ["src.txt"], "outputs": ["gen.txt"]},
            "use": {"command": [PY, "-c", use], "inputs": ["gen.txt"], "outputs": ["use.txt"]},
            "after": {"command": [PY, "-c", "pass"], "depends_on": ["gen"]},
        },
    )
    assert run(["run"], root, env, timeout=60).code == 0
    (root / "src.txt").write_text("two\n")  # gen reruns; its output stays the same bytes
    plan = run(["run", "--dry-run"], root, env, timeout=60).out.splitlines()
    assert "job=gen would-run reason=input changed: src.txt" in plan
    assert "job=use would-run reason=may run: dependency will run: gen" in plan, plan
    assert "job=after would-run reason=dependency will run: gen" in plan, plan
    done = run(["run"], root, env, timeout=60).out.splitlines()
    assert "job=use status=skipped exit=0 duration_ms=0" in done, done


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL of the CLI")
def test_a_killed_orchestration_leaves_no_context_file_in_tmp(tmp_path: Path) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = isolated_env(tmp_path, TMPDIR=str(tmpdir))
    root = tmp_path / "repo"
    root.mkdir()
    pid = tmp_path / "agent.pid"
    agent = f"import os, pathlib, time; pathlib.Path({str(pid)!r}).write_text(str(os.getpid())); time.sleep(30)"
    (root / "orchastration.toml").write_text(
        f'[agents.Slow]\ncommand = [{json.dumps(PY)}, "-c", {json.dumps(agent)}]\n'
        '[orchestrations.o]\nagents = ["Slow"]\n',
        encoding="utf-8",
    )
    with started(["orchestration", "run", "o"], root, env) as proc:
        try:
            wait_for(pid, 30)
            proc.kill()
            proc.wait(timeout=30)
        finally:
            _kill_pid_in(pid)
    assert not list(tmpdir.glob("orchastration-agent-*")), list(tmpdir.iterdir())
    leftovers = list((tmp_path / "state" / "orchestrations" / "o" / "tmp").glob("*/context.json"))
    assert leftovers, "the context file lives under the state dir"
    pid.unlink()
    quick = f"import os, pathlib; pathlib.Path({str(pid)!r}).write_text(str(os.getpid()))"
    (root / "orchastration.toml").write_text(
        f'[agents.Slow]\ncommand = [{json.dumps(PY)}, "-c", {json.dumps(quick)}]\n'
        '[orchestrations.o]\nagents = ["Slow"]\n',
        encoding="utf-8",
    )
    done = run(["orchestration", "run", "o"], root, env, timeout=60)
    assert done.code == 0, done
    assert not [p for p in leftovers if p.exists()], "the next run removes what a killed run left"


def test_a_dodo_file_records_runs_in_the_projects_own_state_dir(tmp_path: Path) -> None:
    env = shared_root_env(tmp_path)
    a, _ = two_projects(tmp_path, [PY, "-c", "print('a')"], [PY, "-c", "pass"])
    (a / "dodo.py").write_text(
        "from orchastration.dodo import doit_tasks\n\n"
        "def task_jobs():\n    yield from doit_tasks('orchastration.toml')\n"
    )
    done = subprocess.run(
        [PY, "-m", "doit", "build"], cwd=a, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert (expected_state_dir(env, a / "orchastration.toml") / "runs" / "build" / "last.json").is_file()
    assert run(["status"], a, env, timeout=60).out.startswith("build - exit=0 ")  # the CLI sees the same runs


def test_a_new_checkout_at_the_same_path_does_not_parse_its_config_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parsed configs live in the user cache dir, not the state dir: with the state dir gone (a CI job
    with its cache restored, a re-clone) the run takes the model from there; an edited file is parsed."""
    import io

    import orchastration.config
    from orchastration.cli import main

    env = isolated_env(tmp_path)
    project = tmp_path / "proj"
    project.mkdir()
    write_config(project, {"a": {"command": [PY, "-c", "open('a.txt', 'w').write('a')"], "outputs": ["a.txt"]}})

    def run_in(state: Path) -> tuple[int, str]:
        out, err = io.StringIO(), io.StringIO()
        code = main(["--state-dir", str(state), "run"], stdout=out, stderr=err, environ=env, cwd=project)
        return code, out.getvalue() + err.getvalue()

    assert run_in(tmp_path / "state-1")[0] == 0
    cache = Path(env["XDG_CACHE_HOME"]) / "orchastration" / "config-cache"
    assert len(list(cache.glob("*.pickle"))) == 1
    assert not list((tmp_path / "state-1").rglob("*.pickle")), "nothing parsed is kept in the state dir"

    def no_parse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the config was parsed again")

    real = orchastration.config.load_config
    monkeypatch.setattr(orchastration.config, "load_config", no_parse)
    code, text = run_in(tmp_path / "state-2")  # a new checkout: no state at all
    assert code == 0 and "status=ran" in text, text
    (project / "orchastration.toml").write_text((project / "orchastration.toml").read_text() + "\n# edited\n")
    code, text = run_in(tmp_path / "state-2")  # (the CLI reports what its parse raised)
    assert code != 0 and "parsed again" in text, text
    monkeypatch.setattr(orchastration.config, "load_config", real)
    assert run_in(tmp_path / "state-2")[0] == 0
    assert len(list(cache.glob("*.pickle"))) == 2
