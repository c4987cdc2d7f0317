"""The subprocess runner: exit codes, live prefixed output, whole logs, tree kills, stdin, env."""

from __future__ import annotations

import io
import os
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from reliability.common import pid_alive

from orchastration.process import command_text, resolve_program, run_process

PY = sys.executable
ENV = dict(os.environ)


def test_ok_output_to_console_and_logs(tmp_path: Path) -> None:
    console = io.StringIO()
    code = "import sys; print('hello'); print('world'); sys.stderr.write('oops\\n')"
    res = run_process(
        [PY, "-c", code],
        cwd=tmp_path,
        base_env=ENV,
        stdout_path=tmp_path / "o.log",
        stderr_path=tmp_path / "e.log",
        console=console,
        prefix="[a] ",
    )
    assert (res.exit_code, res.status, res.message) == (0, "ok", "")
    assert (tmp_path / "o.log").read_text() == "hello\nworld\n"
    assert (tmp_path / "e.log").read_text() == "oops\n"
    lines = console.getvalue().splitlines()
    assert sorted(lines) == ["[a] hello", "[a] oops", "[a] world"]
    assert res.duration_ms >= 0


def test_partial_last_line_is_completed_on_console(tmp_path: Path) -> None:
    console = io.StringIO()
    code = "import sys; sys.stdout.write('a\\nno newline')"
    run_process([PY, "-c", code], cwd=tmp_path, base_env=ENV, console=console, prefix="> ")
    assert console.getvalue() == "> a\n> no newline\n"


def test_failed_exit_code_is_kept(tmp_path: Path) -> None:
    res = run_process([PY, "-c", "raise SystemExit(3)"], cwd=tmp_path, base_env=ENV)
    assert (res.exit_code, res.status) == (3, "failed")
    assert "3" in res.message


def test_command_not_found(tmp_path: Path) -> None:
    res = run_process(["definitely-not-a-command-xyz", "arg"], cwd=tmp_path, base_env=ENV)
    assert (res.exit_code, res.status) == (127, "not_found")
    assert res.message == "command not found: definitely-not-a-command-xyz"


def test_missing_working_dir(tmp_path: Path) -> None:
    res = run_process([PY, "-c", "pass"], cwd=tmp_path / "nope", base_env=ENV)
    assert res.status == "not_found" and "working directory" in res.message


@pytest.mark.skipif(os.name != "posix", reason="POSIX shell")
def test_shell_mode_and_shell_not_found(tmp_path: Path) -> None:
    res = run_process("echo $((2+3)) > out.txt", shell=True, cwd=tmp_path, base_env=ENV)
    assert res.status == "ok"
    assert (tmp_path / "out.txt").read_text() == "5\n"
    res = run_process("no-such-cmd-xyz", shell=True, cwd=tmp_path, base_env=ENV)
    assert (res.exit_code, res.status) == (127, "failed")
    assert "not found" in res.message


def test_env_overrides_and_path_lookup(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    tool = bindir / ("mytool.bat" if os.name == "nt" else "mytool")
    if os.name == "nt":
        tool.write_text("@echo %MY_VAR%\n")
    else:
        tool.write_text('#!/bin/sh\necho "$MY_VAR"\n')
        tool.chmod(0o755)
    env = {"PATH": str(bindir) + os.pathsep + os.environ.get("PATH", ""), "MY_VAR": "from-env"}
    assert resolve_program("mytool", tmp_path, env) is not None
    assert resolve_program("mytool", tmp_path, {"PATH": str(tmp_path)}) is None
    res = run_process(["mytool"], cwd=tmp_path, base_env=ENV, env=env, stdout_path=tmp_path / "o.log")
    assert res.status == "ok", res
    assert (tmp_path / "o.log").read_text().strip() == "from-env"


@pytest.mark.skipif(os.name == "nt", reason="Windows uses shutil.which itself (PATHEXT)")
def test_program_lookup_is_shutil_which_without_importing_shutil(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil
    import subprocess

    from orchastration.process import which

    a, b, c = (tmp_path / n for n in ("a", "b", "c"))
    for d in (a, b, c):
        d.mkdir()
    for where, mode in ((a, 0o644), (b, 0o755), (c, 0o755)):
        (where / "tool").write_text("#!/bin/sh\n")
        (where / "tool").chmod(mode)  # a: not executable
    (a / "only-dir").mkdir()  # a directory is never the program
    (c / "only-c").write_text("#!/bin/sh\n")
    (c / "only-c").chmod(0o700)
    monkeypatch.chdir(c)  # an empty PATH entry (or ".") is the current directory
    paths = [f"{a}:{b}:{c}", f"{a}:{a}:{c}", f"{c}:{b}", f"{a}", "", ":", f"{a}::{b}", f".:{a}", str(tmp_path / "none")]
    programs = ["tool", "only-c", "only-dir", "absent", str(b / "tool"), str(a / "tool"), "./tool", str(a)]
    for path in paths:
        for program in programs:
            assert which(program, path) == shutil.which(program, path=path), (program, path)
    for program in programs[4:]:
        assert which(program, None) == shutil.which(program), program
    # A run of argv commands (program looked up for the spawn and for the record) loads no shutil.
    (tmp_path / "orchastration.toml").write_text('[jobs.a]\ncommand = ["true"]\n')
    code = (
        "import io, sys\n"
        "from orchastration.cli import main\n"
        f"rc = main(['--state-dir', {str(tmp_path / 'state')!r}, 'run'], stdout=io.StringIO(), stderr=io.StringIO())\n"
        "print(rc, 'shutil' in sys.modules)\n"
    )
    env = {**ENV, "XDG_CACHE_HOME": str(tmp_path / "xdg"), "ORCHASTRATION_NO_CACHE": "1"}
    proc = subprocess.run([PY, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.stdout.split() == ["0", "False"], (proc.stdout, proc.stderr)


def test_stdin_data(tmp_path: Path) -> None:
    res = run_process(
        [PY, "-c", "import sys; sys.stdout.write(sys.stdin.read().upper())"],
        cwd=tmp_path,
        base_env=ENV,
        stdin_data=b"abc" * 100_000,
        stdout_path=tmp_path / "o.log",
    )
    assert res.status == "ok"
    assert (tmp_path / "o.log").read_text() == "ABC" * 100_000


def _tree_script(tmp_path: Path) -> str:
    """A child that starts a grandchild writing its pid, then both sleep."""
    return textwrap.dedent(
        f"""
        import subprocess, sys, time
        g = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open({str(tmp_path / "grandchild.pid")!r}, "w").write(str(g.pid))
        print("started", flush=True)
        time.sleep(60)
        """
    )


def _wait_dead(pid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_timeout_kills_grandchildren(tmp_path: Path) -> None:
    started = time.monotonic()
    res = run_process([PY, "-c", _tree_script(tmp_path)], cwd=tmp_path, base_env=ENV, timeout=1.5)
    assert (res.exit_code, res.status) == (-1, "timeout")
    assert res.message == "timed out after 1.5s"
    assert time.monotonic() - started < 20
    assert _wait_dead(int((tmp_path / "grandchild.pid").read_text()))


def test_cancel_event_interrupts(tmp_path: Path) -> None:
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    res = run_process([PY, "-c", _tree_script(tmp_path)], cwd=tmp_path, base_env=ENV, cancel=cancel)
    assert (res.exit_code, res.status) == (130, "interrupted")
    assert _wait_dead(int((tmp_path / "grandchild.pid").read_text()))


def test_large_output_streams_with_bounded_memory(tmp_path: Path) -> None:
    """20 MB through the runner in a child interpreter whose peak RSS we can read."""
    pytest.importorskip("resource")
    script = textwrap.dedent(
        f"""
        import os, resource, sys
        from pathlib import Path
        from orchastration.process import run_process
        loop = "import sys\\nline = 'x' * 99 + '\\\\n'\\nfor _ in range(200000): sys.stdout.write(line)"
        cmd = [sys.executable, "-c", loop]
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        out = Path({str(tmp_path / "big.log")!r})
        res = run_process(cmd, cwd=Path({str(tmp_path)!r}), base_env=os.environ, stdout_path=out)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(res.status, peak - base)
        """
    )
    import subprocess

    out = subprocess.run([PY, "-c", script], capture_output=True, text=True, timeout=120)
    status, grown_kb = out.stdout.split()
    assert status == "ok", out.stderr
    assert (tmp_path / "big.log").stat().st_size == 20_000_000
    assert int(grown_kb) < 30_000  # far below the 20 MB the command printed


def test_command_text() -> None:
    assert command_text("echo hi") == "echo hi"
    if os.name == "posix":
        assert command_text(["echo", "a b"]) == "echo 'a b'"


def test_the_process_environment_is_inherited_not_encoded_and_overrides_still_apply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CLI's own environment (inherited_env.InheritedEnviron): a command without env overrides
    # inherits it (Popen env=None: no copy encoded per command); overrides, or any other mapping, are
    # passed as before. The child sees the same variables either way.
    import copy
    import pickle
    import subprocess

    from orchastration.inherited_env import InheritedEnviron

    monkeypatch.setenv("ORCH_PROBE", "from the process")
    given: list[object] = []
    real_popen = subprocess.Popen

    def popen(*args: object, **kw: object) -> object:
        given.append(kw.get("env", "missing"))
        return real_popen(*args, **kw)  # type: ignore[call-overload]

    monkeypatch.setattr(subprocess, "Popen", popen)
    show = [PY, "-c", "import os; print(os.environ.get('ORCH_PROBE'), os.environ.get('ORCH_EXTRA'))"]
    inherited = InheritedEnviron(os.environ)
    for base, overrides, env_given, seen in (
        (inherited, None, None, "from the process None"),
        (inherited, {"ORCH_EXTRA": "x"}, dict, "from the process x"),
        (dict(os.environ), None, dict, "from the process None"),
    ):
        out = tmp_path / "out.log"
        result = run_process(show, cwd=tmp_path, base_env=base, env=overrides, stdout_path=out)
        assert result.exit_code == 0, result
        assert out.read_text().strip() == seen
        assert given[-1] is None if env_given is None else isinstance(given[-1], dict)
    with pytest.raises(TypeError):
        inherited["ORCH_PROBE"] = "changed"
    with pytest.raises(TypeError):
        inherited.update(ORCH_PROBE="changed")
    for twin in (copy.copy(inherited), pickle.loads(pickle.dumps(inherited)), inherited | {}, inherited.copy()):
        assert type(twin) is dict and twin == inherited  # a copy can change: it is encoded like any mapping


def test_an_interrupt_from_on_running_stops_the_started_command(tmp_path: Path) -> None:
    """``on_running`` (the run's bookkeeping, done while the command runs, its interrupts held and
    raised after it) raising KeyboardInterrupt: the command just started is stopped and the run says
    interrupted, as for an interrupt while it starts; it is never left running unseen."""
    pid_file = tmp_path / "pid"
    # Written whole, then renamed: the file never exists empty (a stop between its creation and its
    # write left it so, and the test read '' as a pid).
    code = (
        f"import os, time; open({str(pid_file)!r} + '.tmp', 'w').write(str(os.getpid())); "
        f"os.replace({str(pid_file)!r} + '.tmp', {str(pid_file)!r}); time.sleep(60)"
    )

    def bookkeeping_interrupted() -> None:
        until = time.monotonic() + 10
        while not pid_file.exists() and time.monotonic() < until:
            time.sleep(0.01)
        raise KeyboardInterrupt

    started = time.monotonic()
    res = run_process([PY, "-c", code], cwd=tmp_path, base_env=ENV, on_running=bookkeeping_interrupted)
    assert res.status == "interrupted" and time.monotonic() - started < 30, res
    pid = int(pid_file.read_text())
    until = time.monotonic() + 10
    while pid_alive(pid) and time.monotonic() < until:
        time.sleep(0.05)
    assert not pid_alive(pid)
