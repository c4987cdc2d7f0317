"""The one subprocess runner: live prefixed output, whole-output log files, tree kill on timeout/interrupt.

Used by jobs, task builds and command agents. Output is pumped in fixed-size
chunks by reader threads, so memory stays bounded whatever the command prints.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

CHUNK = 1 << 16  # 64 KiB reads: few syscalls, small constant memory
MAX_PARTIAL_LINE = 1 << 16  # a line longer than this is written to the console in pieces
KILL_GRACE_SECONDS = 2.0  # SIGTERM first so tools can clean up, then SIGKILL
PIPE_DRAIN_SECONDS = 5.0  # after a kill, how long to wait for escaped grandchildren to close the pipes

EXIT_TIMEOUT = -1
EXIT_CANNOT_EXECUTE = 126
EXIT_NOT_FOUND = 127
EXIT_INTERRUPTED = 130

# One lock for every console write: parallel jobs and their two streams never split a line.
_console_lock = threading.Lock()


@dataclass(frozen=True)
class ProcessResult:
    """How a command ended."""

    exit_code: int  # the command's code; -1 timeout; 126 cannot execute; 127 not found; 130 interrupted
    status: str  # "ok" | "failed" | "timeout" | "interrupted" | "not_found"
    duration_ms: int
    message: str  # "" or a one-line explanation


def merged_env(overrides: Mapping[str, str] | None, base: Mapping[str, str]) -> dict[str, str]:
    """The child's environment: ``base`` (what the caller was given, e.g. ``main(environ=...)``) with
    ``overrides`` applied."""
    env = dict(base)
    if overrides:
        env.update(overrides)
    return env


def resolve_program(program: str, cwd: Path, env: Mapping[str, str]) -> str | None:
    """The executable ``program`` names: a path (relative to ``cwd``) or a lookup on ``env``'s PATH."""
    if os.sep in program or (os.altsep and os.altsep in program):
        candidate = Path(program)
        if not candidate.is_absolute():
            candidate = cwd / candidate
        # shutil.which also applies PATHEXT on Windows to an explicit path.
        return shutil.which(str(candidate)) or (str(candidate) if candidate.is_file() else None)
    path = env.get("PATH", os.defpath)
    if os.name == "nt":
        path = env.get("Path", path)
    return shutil.which(program, path=path)


def command_text(command: Sequence[str] | str) -> str:
    """A command as one readable line (for messages and records)."""
    if isinstance(command, str):
        return command
    import shlex

    return shlex.join(command) if os.name == "posix" else subprocess.list2cmdline(list(command))


class _Pump(threading.Thread):
    """Copy one pipe to a log file (whole) and a console (line by line, prefixed)."""

    def __init__(self, pipe: BinaryIO, log: BinaryIO | None, console: IO[str] | None, prefix: str) -> None:
        super().__init__(daemon=True)
        self.pipe, self.log, self.console, self.prefix = pipe, log, console, prefix
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.partial = ""
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            read = getattr(self.pipe, "read1", self.pipe.read)
            while True:
                chunk = read(CHUNK)
                if not chunk:
                    break
                if self.log is not None:
                    self.log.write(chunk)
                if self.console is not None:
                    self._show(self.decoder.decode(chunk))
            if self.console is not None:
                self._show(self.decoder.decode(b"", final=True))
                if self.partial:
                    self._write(self.prefix + self.partial + "\n")
                    self.partial = ""
        except BaseException as exc:  # a dead console or full disk must not hang the child
            self.error = exc
            self._drain()

    def _drain(self) -> None:
        """Keep reading so the child never blocks on a full pipe; still log what we can."""
        try:
            while chunk := self.pipe.read(CHUNK):
                if self.log is not None:
                    self.log.write(chunk)
        except Exception:
            pass

    def _show(self, text: str) -> None:
        if not text:
            return
        if not self.prefix:
            self._write(text)  # no prefix: no need to split lines
            return
        text = self.partial + text
        cut = text.rfind("\n") + 1
        self.partial = text[cut:]
        if cut:
            self._write("".join(self.prefix + line for line in text[:cut].splitlines(keepends=True)))
        if len(self.partial) > MAX_PARTIAL_LINE:
            self._write(self.prefix + self.partial + "\n")
            self.partial = ""

    def _write(self, text: str) -> None:
        assert self.console is not None
        with _console_lock:
            self.console.write(text)
            self.console.flush()


def _popen_kwargs() -> dict[str, Any]:
    """Start the child in its own process group so the whole tree can be killed."""
    if os.name == "posix":
        return {"start_new_session": True}
    return {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}


def kill_tree(proc: subprocess.Popen[bytes], grace: float = KILL_GRACE_SECONDS) -> None:
    """Kill ``proc`` and every process in its group (POSIX) or tree (Windows)."""
    if os.name == "posix":
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        # SIGKILL the group even when the leader has gone: children may have ignored SIGTERM.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    else:
        subprocess.run(
            ["taskkill", "/T", "/F", "/PID", str(proc.pid)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        with contextlib.suppress(OSError):
            proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace + 5)


def _exit_code(returncode: int) -> int:
    """Death by signal N reads as 128+N, as shells report it."""
    return 128 - returncode if returncode < 0 else returncode


def _open_log(path: Path | None) -> BinaryIO | None:
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    # 0600: a run's output is the user's alone (docs/reliability.md); an existing file keeps its mode.
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")


def run_process(
    command: Sequence[str] | str,
    *,
    shell: bool = False,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 0,
    stdout_path: Path | None = None,
    stderr_path: Path | None = None,
    console: IO[str] | None = None,
    prefix: str = "",
    stdin_data: bytes | None = None,
    cancel: threading.Event | None = None,
    err_console: IO[str] | None = None,
    base_env: Mapping[str, str],
) -> ProcessResult:
    """Run one command to completion; never raises for the command's own failure.

    ``env`` holds overrides added to ``base_env`` (the environment the caller was given). Output
    streams live to ``console`` (stderr to ``err_console`` if given) and whole to the
    log files. ``timeout`` (seconds, 0 = none), ``cancel`` being set, or a
    KeyboardInterrupt in the calling thread kill the whole process tree.
    """
    start = time.monotonic()

    def result(code: int, status: str, message: str = "") -> ProcessResult:
        return ProcessResult(code, status, int((time.monotonic() - start) * 1000), message)

    child_env = merged_env(env, base_env)
    if not cwd.is_dir():
        return result(EXIT_NOT_FOUND, "not_found", f"working directory not found: {cwd}")
    if shell:
        if not isinstance(command, str):
            command = command_text(command)
        argv: Sequence[str] | str = command
    else:
        if isinstance(command, str):
            command = [command]
        if not command:
            return result(EXIT_NOT_FOUND, "not_found", "empty command")
        program = resolve_program(command[0], cwd, child_env)
        if program is None:
            return result(EXIT_NOT_FOUND, "not_found", f"command not found: {command[0]}")
        argv = [program, *command[1:]]
    out_log = err_log = None
    try:
        out_log = _open_log(stdout_path)
        err_log = _open_log(stderr_path)
        try:
            proc = subprocess.Popen(
                argv,
                shell=shell,
                cwd=cwd,
                env=child_env,
                stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                **_popen_kwargs(),
            )
        except FileNotFoundError as exc:
            return result(EXIT_NOT_FOUND, "not_found", f"command not found: {exc.filename or argv}")
        except PermissionError as exc:
            return result(EXIT_CANNOT_EXECUTE, "failed", f"cannot execute {exc.filename or argv}: permission denied")
        except OSError as exc:
            return result(EXIT_CANNOT_EXECUTE, "failed", f"cannot execute {command_text(command)}: {exc}")
        assert proc.stdout is not None and proc.stderr is not None
        pumps = [
            _Pump(proc.stdout, out_log, console, prefix),  # type: ignore[arg-type]
            _Pump(proc.stderr, err_log, err_console or console, prefix),  # type: ignore[arg-type]
        ]
        for pump in pumps:
            pump.start()
        if stdin_data is not None:
            threading.Thread(target=_feed, args=(proc, stdin_data), daemon=True).start()
        outcome = _wait(proc, timeout, cancel, start)
        for pump in pumps:
            pump.join(PIPE_DRAIN_SECONDS if outcome else None)
        if outcome == "timeout":
            return result(EXIT_TIMEOUT, "timeout", f"timed out after {timeout:g}s")
        if outcome == "interrupted":
            return result(EXIT_INTERRUPTED, "interrupted", "interrupted")
        code = _exit_code(proc.returncode)
        if code == 0:
            return result(0, "ok")
        if shell and code == EXIT_NOT_FOUND:
            return result(code, "failed", "exit 127 from the shell: command not found?")
        return result(code, "failed", f"exited with code {code}")
    finally:
        for fh in (out_log, err_log):
            if fh is not None:
                fh.close()


def _feed(proc: subprocess.Popen[bytes], data: bytes) -> None:
    """Write stdin from a thread so a child that prints before reading cannot deadlock us."""
    assert proc.stdin is not None
    try:
        proc.stdin.write(data)
    except OSError:  # the child exited or closed stdin early: fine
        pass
    finally:
        with contextlib.suppress(OSError):
            proc.stdin.close()


def _wait(proc: subprocess.Popen[bytes], timeout: float, cancel: threading.Event | None, start: float) -> str:
    """Wait for ``proc``; on timeout/cancel/Ctrl-C kill its tree. Returns ``""``, timeout or interrupted."""
    deadline = start + timeout if timeout and timeout > 0 else None
    try:
        if cancel is None:
            # Nothing to poll for: block in waitpid (Ctrl-C still interrupts it in the main thread).
            try:
                proc.wait(timeout=None if deadline is None else max(deadline - time.monotonic(), 0))
                return ""
            except subprocess.TimeoutExpired:
                kill_tree(proc)
                return "timeout"
        while True:
            step = 0.05 if cancel is not None else 0.5
            if deadline is not None:
                step = min(step, max(deadline - time.monotonic(), 0))
            try:
                proc.wait(timeout=step)
                return ""
            except subprocess.TimeoutExpired:
                pass
            if cancel is not None and cancel.is_set():
                kill_tree(proc)
                return "interrupted"
            if deadline is not None and time.monotonic() >= deadline:
                kill_tree(proc)
                return "timeout"
    except KeyboardInterrupt:
        kill_tree(proc)
        return "interrupted"
