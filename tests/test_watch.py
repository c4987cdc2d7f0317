"""``watch``: the installed CLI reruns jobs when their inputs change, never for their outputs, and
Ctrl-C ends it with exit 130 and nothing left running (docs/jobs.md, "watch")."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest
from conftest import Result, assert_error
from jobs_helpers import PY, write_config
from reliability.common import cli_command, pid_alive

from orchastration.paths import Paths
from orchastration.watching import watch_set

posix_only = pytest.mark.skipif(os.name != "posix", reason="SIGINT to a process is POSIX")

# The job: concatenates its inputs into out.txt and says so; "slow" in an input makes it sleep
# (writing its pid first); with "hold" in an input it waits for the file `release` (not an input).
JOB = textwrap.dedent(
    """
    import os, sys, time
    out, *ins = sys.argv[1:]
    data = "".join(open(p).read() for p in sorted(ins))
    if "hold" in data:
        open("held", "w").write(str(os.getpid()))
        while not os.path.exists("release"):
            time.sleep(0.02)
        data = "".join(open(p).read() for p in sorted(ins))
    open(out, "w").write(data)
    if "slow" in data:
        open("slow.pid", "w").write(str(os.getpid()))
        time.sleep(1000)
    """
)


class Watching:
    """``orchastration watch`` running in a project, its output going to files the test polls."""

    def __init__(self, proj: Path, env: dict[str, str], *args: str) -> None:
        self.proj = proj
        self.runs = Path(env["ORCHASTRATION_STATE_DIR"]) / "runs"
        self._out: IO[str] = open(proj.parent / "watch.out", "w+")  # noqa: SIM115 - closed in stop()
        self._err: IO[str] = open(proj.parent / "watch.err", "w+")  # noqa: SIM115
        self.proc = subprocess.Popen([*cli_command(), "watch", *args], cwd=proj, env=env, stdout=self._out,
                                     stderr=self._err, text=True)  # fmt: skip

    def out(self) -> str:
        return Path(self._out.name).read_text()

    def err(self) -> str:
        return Path(self._err.name).read_text()

    def records(self, job: str) -> int:
        """How many runs of ``job`` have finished (their records written)."""
        return len([p for p in (self.runs / job).glob("*.json") if p.name != "last.json"])

    def wait(self, what: str, test: Callable[[], bool], seconds: float = 60) -> float:
        """Wait until ``test()`` holds; the seconds it took."""
        start = time.monotonic()
        while not test():
            assert self.proc.poll() is None, f"watch exited {self.proc.returncode}: {self.err()}"
            assert time.monotonic() - start < seconds, f"{what}: not within {seconds} s\n{self.out()}\n{self.err()}"
            time.sleep(0.02)
        return time.monotonic() - start

    def wait_text(self, path: Path) -> str:
        """The content of ``path`` once a job has written it whole (a number)."""
        self.wait(f"{path.name} written", lambda: path.exists() and path.read_text().isdigit())
        return path.read_text()

    def waiting(self, times: int) -> float:
        """Wait for the ``times``-th "waiting for changes" line."""
        return self.wait(f"waiting #{times}", lambda: self.err().count("waiting for changes") >= times)

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        self.proc.wait(timeout=30)
        self._out.close()
        self._err.close()


@contextlib.contextmanager
def watching(proj: Path, env: dict[str, str], *args: str) -> Iterator[Watching]:
    w = Watching(proj, env, *args)
    try:
        yield w
    finally:
        w.stop()
        with contextlib.suppress(OSError, ValueError):  # nothing outlives a test
            os.kill(int((proj / "slow.pid").read_text()), signal.SIGKILL)


def _project(tmp_path: Path) -> Path:
    proj = tmp_path / "proj"
    (proj / "src").mkdir(parents=True)
    (proj / "job.py").write_text(JOB)
    (proj / "src" / "a.txt").write_text("alpha\n")
    write_config(proj, {"copy": {"command": [PY, "job.py", "out.txt", "src/a.txt"], "inputs": ["src/*.txt"],
                                 "outputs": ["out.txt"]}})  # fmt: skip
    return proj


def _sigint(w: Watching) -> tuple[int, str]:
    w.proc.send_signal(signal.SIGINT)
    code = w.proc.wait(timeout=30)
    return code, w.err()


@posix_only
def test_an_input_edit_reruns_an_output_edit_does_not_and_ctrl_c_kills_the_running_job(
    tmp_path: Path, env: dict[str, str]
) -> None:
    proj = _project(tmp_path)
    with watching(proj, env) as w:
        w.waiting(1)
        assert w.records("copy") == 1 and "job=copy status=ran" in w.out()
        (proj / "src" / "a.txt").write_text("alpha 2\n")
        assert w.wait("rerun after an input edit", lambda: w.records("copy") == 2, seconds=3) < 3
        assert "watch: src/a.txt changed; running" in w.err()
        assert (proj / "out.txt").read_text() == "alpha 2\n"
        w.waiting(2)
        (proj / "out.txt").write_text("edited by hand\n")  # the job's own output: never a change
        (proj / "notes.txt").write_text("not an input\n")
        time.sleep(1.5)
        assert w.records("copy") == 2 and w.err().count("changed; running") == 1, w.err()
        (proj / "src" / "a.txt").write_text("slow\n")  # the job now sleeps: Ctrl-C must kill it
        pid = int(w.wait_text(proj / "slow.pid"))
        assert pid_alive(pid)
        code, err = _sigint(w)
    assert code == 130, err
    assert "orchastration: interrupted" in err and "Traceback" not in err, err
    assert not pid_alive(pid)


@posix_only
def test_changes_during_a_run_queue_exactly_one_more_run(tmp_path: Path, env: dict[str, str]) -> None:
    proj = _project(tmp_path)
    (proj / "src" / "a.txt").write_text("hold\n")  # the first run waits for `release`
    with watching(proj, env) as w:
        w.wait("the first run", lambda: (proj / "held").exists())
        for n in range(3):  # three separate changes while it runs (one a new file the glob matches)
            (proj / "src" / "a.txt").write_text(f"hold {n}\n")
            time.sleep(0.3)
        (proj / "src" / "b.txt").write_text("b\n")
        time.sleep(0.3)
        (proj / "release").write_text("")
        w.wait("one rerun", lambda: w.records("copy") == 2)
        w.waiting(2)
        time.sleep(1.5)
        assert w.records("copy") == 2, w.out()
        assert w.err().count("changed; running") == 1, w.err()
        assert "watch: src/a.txt, src/b.txt changed; running" in w.err()
        assert (proj / "out.txt").read_text() == "hold 2\n"  # the rerun saw the last edit
        code, err = _sigint(w)  # waiting: Ctrl-C ends it all the same
    assert code == 130, err


@posix_only
def test_a_config_edit_reloads_it_and_a_broken_one_keeps_the_old(tmp_path: Path, env: dict[str, str]) -> None:
    proj = _project(tmp_path)
    config = proj / "orchastration.toml"
    with watching(proj, env, "copy") as w:
        w.waiting(1)
        config.write_text(config.read_text() + "description = 'new'\n[jobs.copy.env]\nX = '1'\n")
        w.wait("rerun after a config edit", lambda: w.records("copy") == 2)  # the env changed: it reruns
        assert "watch: orchastration.toml changed; running" in w.err()
        w.waiting(2)
        config.write_text(config.read_text() + "oops = \n")
        w.wait("the error", lambda: "(still watching)" in w.err())
        assert w.err().count("orchastration: error:") == 1 and "orchastration.toml" in w.err(), w.err()
        (proj / "src" / "a.txt").write_text("alpha 3\n")  # the old config still watches its inputs
        w.wait("rerun on the old config", lambda: w.records("copy") == 3)
        code, err = _sigint(w)
    assert code == 130, err


def test_unknown_jobs_and_no_jobs_are_usage_errors(tmp_path: Path, run_main: Callable[..., Result]) -> None:
    proj = _project(tmp_path)
    assert_error(run_main(["watch", "nope"], cwd=proj), 2, "unknown job 'nope'")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "orchastration.toml").write_text("")
    assert_error(run_main(["watch"], cwd=empty), 2, "no jobs configured", "nothing to watch")


@posix_only  # the expected paths are written with '/'
def test_the_watch_set_names_the_inputs_of_the_jobs_run_and_nothing_else(tmp_path: Path) -> None:
    """Directories, literal files and globs (new files too) count; outputs, hidden files, other
    files and the state and log directories do not; trees are watched only where a pattern needs it."""
    from orchastration.config import load_config

    proj = tmp_path / "proj"
    for d in ("src/sub", "include", "docs/api", "build", "other"):
        (proj / d).mkdir(parents=True)
    (proj / "include" / "x.h").write_text("")
    (proj / "orchastration.toml").write_text(textwrap.dedent("""
        [jobs.compile]
        command = ["true"]
        inputs = ["src/**/*.c", "include/x.h"]
        outputs = ["build/app", "src/gen.c"]
        [jobs.docs]
        command = ["true"]
        inputs = ["docs", "build/app"]
        outputs = ["site"]
        [jobs.lint]
        command = ["true"]
        inputs = ["other/*.py"]
        """))  # fmt: skip
    config = load_config(proj / "orchastration.toml", environ={"HOME": str(tmp_path)}, cwd=proj,
                         user_config=tmp_path / "none.toml")  # fmt: skip
    paths = Paths(user_config=tmp_path / "none.toml", state_dir=proj / ".state", log_file=proj / "logs" / "o.log")
    wset = watch_set(config, ["docs"], paths)  # docs needs compile (it makes build/app); lint is not run
    p = str(proj)
    assert wset.recursive == (f"{p}/docs", f"{p}/src")
    assert wset.flat == (p, f"{p}/include")  # the config's directory and a literal file's
    assert wset.counts(f"{p}/orchastration.toml")
    for counted in ("src/a.c", "src/sub/new.c", "include/x.h", "docs/api/index.md"):
        assert wset.counts(f"{p}/{counted}"), counted
    for ignored in ("src/gen.c", "build/app", "src/a.h", "src/.hidden.c", "include/y.h", "other/a.py",
                    ".state/runs/docs/last.json", "logs/o.log", "site/index.html", "docs/.index.md.swp"):  # fmt: skip
        assert not wset.counts(f"{p}/{ignored}"), ignored
    every = watch_set(config, [], paths)
    assert every.recursive == (f"{p}/docs", f"{p}/src") and every.flat == (p, f"{p}/include", f"{p}/other")
    assert every.counts(f"{p}/other/a.py")
