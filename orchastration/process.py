"""The one subprocess runner: live prefixed output, whole-output log files, tree kill on timeout/interrupt.

Used by jobs, task builds and command agents. Output is read in fixed-size chunks (``pipes.py``), so
memory stays bounded whatever the command prints. A run is over when the command's process exits;
processes it left holding its pipes get ``LEFTOVER_GRACE_SECONDS``, then its group is killed
(``supervision.py``; docs/jobs.md, "Interrupts and timeouts").
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from orchastration import interrupts
from orchastration.dataclass_code import dataclass, field
from orchastration.inherited_env import inherits
from orchastration.pipes import LogFiles, Sink, write_error
from orchastration.supervision import supervise

EXIT_TIMEOUT = -1
EXIT_CANNOT_EXECUTE = 126
EXIT_NOT_FOUND = 127
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class ProcessResult:
    """How a command ended."""

    exit_code: int  # the command's code; -1 timeout; 126 cannot execute; 127 not found; 130 interrupted
    status: str  # "ok" | "failed" | "timeout" | "interrupted" | "not_found"
    duration_ms: int
    message: str  # "" or a one-line explanation
    warning: str = ""  # "" or what was done about processes the command left behind
    record_fields: Mapping[str, Any] = field(default_factory=dict)  # added to the run record (executor, worker)


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
        return which(str(candidate), None) or (str(candidate) if candidate.is_file() else None)
    path = env.get("PATH", os.defpath)
    if os.name == "nt":
        path = env.get("Path", path)
    return which(program, path)


def which(program: str, path: str | None) -> str | None:
    """``shutil.which(program, path=path)`` (``path`` None: ``program`` names a file). On POSIX the same
    lookup without importing ``shutil`` (~2 ms with the compression modules it loads, on the way to
    the first command of every run of argv commands); on Windows shutil's own (PATHEXT, the current
    directory first)."""
    if os.name == "nt":
        import shutil

        return shutil.which(program, path=path)
    if os.path.dirname(program):
        return program if _executable(program) else None
    if not path:  # (an empty PATH finds nothing; ":" is the current directory, as for shutil)
        return None
    seen: set[str] = set()
    for directory in path.split(os.pathsep):
        if directory not in seen:
            seen.add(directory)
            name = os.path.join(directory, program)
            if _executable(name):
                return name
    return None


def _executable(path: str) -> bool:
    return os.access(path, os.F_OK | os.X_OK) and not os.path.isdir(path)


def command_text(command: Sequence[str] | str) -> str:
    """A command as one readable line (for messages and records)."""
    if isinstance(command, str):
        return command
    import shlex

    return shlex.join(command) if os.name == "posix" else subprocess.list2cmdline(list(command))


def _popen_kwargs() -> dict[str, Any]:
    """Start the child in its own process group so the whole tree can be killed."""
    if os.name == "posix":
        return {"start_new_session": True}
    return {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}


def _exit_code(returncode: int) -> int:
    """Death by signal N reads as 128+N, as shells report it."""
    return 128 - returncode if returncode < 0 else returncode


def _ended(start: float, code: int, status: str, message: str = "", warning: str = "") -> ProcessResult:
    return ProcessResult(code, status, int((time.monotonic() - start) * 1000), message, warning)


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
    on_running: Callable[[], None] | None = None,
    empty_log: Path | None = None,
) -> ProcessResult:
    """Run one command to completion; never raises for the command's own failure.

    ``env`` holds overrides added to ``base_env`` (the environment the caller was given). Output
    streams live to ``console`` (stderr to ``err_console`` if given) and whole to the log files.
    ``timeout`` (seconds, 0 = none) bounds the whole run, processes the command left behind
    included; it, ``cancel`` being set, or a KeyboardInterrupt in the calling thread kill the whole
    process tree. The run is over when the command's process exits and its pipes close: processes
    it left holding them get ``LEFTOVER_GRACE_SECONDS``, then its process group is killed.
    ``on_running``: called once the process has started, before this thread waits for it.
    ``empty_log``: the shared empty file a log that gets no output is linked to (pipes.LogFiles).
    """
    start = time.monotonic()
    child_env = merged_env(env, base_env)
    argv = _argv(command, shell, cwd, child_env)
    if isinstance(argv, tuple):
        return _ended(start, *argv)
    logs = LogFiles((stdout_path, stderr_path), empty_log)
    try:
        unwritable = logs.open()
        if unwritable:
            return _ended(start, EXIT_CANNOT_EXECUTE, "failed", unwritable)
        inherit = inherits(base_env, env)  # the process's own environment: no copy to encode
        with interrupts.held() as held:
            spawned = _spawn(argv, shell, cwd, None if inherit else child_env, stdin_data is not None)
        if isinstance(spawned, tuple):
            if held:
                raise KeyboardInterrupt
            return _ended(start, *spawned)
        if on_running is not None:
            try:
                on_running()
            except KeyboardInterrupt:  # (the caller's work, held until it was done): stop the command
                held.append(interrupts.STOP_SIGNALS[0])  # SIGINT
        consoles = (console, err_console or console)
        sinks = [Sink(log, path, out, prefix) for log, path, out in zip(logs.files, logs.paths, consoles, strict=True)]
        deadline = start + timeout if timeout > 0 else None
        outcome, leftovers = supervise(spawned, sinks, stdin_data, deadline, cancel, interrupted=bool(held))
    finally:
        logs.close()
    failure = next((write_error(s.log_path, s.log_error) for s in sinks if s.log_error), logs.error)
    return _verdict(start, spawned, outcome, leftovers, failure, timeout, shell)


_Refusal = tuple[int, str, str]  # (exit code, status, message) of a command that could not start


def _argv(
    command: Sequence[str] | str, shell: bool, cwd: Path, env: Mapping[str, str]
) -> Sequence[str] | str | _Refusal:
    """What to start, or why nothing can be (no working dir, no program)."""
    if not cwd.is_dir():
        return EXIT_NOT_FOUND, "not_found", f"working directory not found: {cwd}"
    if shell:
        return command if isinstance(command, str) else command_text(command)
    argv = [command] if isinstance(command, str) else list(command)
    if not argv:
        return EXIT_NOT_FOUND, "not_found", "empty command"
    program = resolve_program(argv[0], cwd, env)
    if program is None:
        return EXIT_NOT_FOUND, "not_found", f"command not found: {argv[0]}"
    return [program, *argv[1:]]


def _spawn(
    argv: Sequence[str] | str, shell: bool, cwd: Path, env: Mapping[str, str] | None, stdin: bool
) -> subprocess.Popen[bytes] | _Refusal:
    """Start the command in its own process group with piped output, or say why it cannot start
    (``env`` None: the process's own environment)."""
    try:
        return subprocess.Popen(
            argv,
            shell=shell,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            **_popen_kwargs(),
        )
    except FileNotFoundError as exc:
        return EXIT_NOT_FOUND, "not_found", f"command not found: {exc.filename or argv}"
    except PermissionError as exc:
        return EXIT_CANNOT_EXECUTE, "failed", f"cannot execute {exc.filename or argv}: permission denied"
    except OSError as exc:
        return EXIT_CANNOT_EXECUTE, "failed", f"cannot execute {command_text(argv)}: {exc}"


def _verdict(
    start: float,
    proc: subprocess.Popen[bytes],
    outcome: str,
    leftovers: str,
    failure: str,
    timeout: float,
    shell: bool,
) -> ProcessResult:
    """How the run ended: timeout or interrupt first, then a log file that could not be written, then
    the command's exit code."""
    if outcome == "timeout":
        return _ended(start, EXIT_TIMEOUT, "timeout", f"timed out after {timeout:g}s", leftovers)
    if outcome == "interrupted":
        return _ended(start, EXIT_INTERRUPTED, "interrupted", "interrupted", leftovers)
    code = _exit_code(proc.returncode)
    if failure:
        return _ended(start, code, "failed", failure, leftovers)
    if code == 0:
        return _ended(start, 0, "ok", "", leftovers)
    if shell and code == EXIT_NOT_FOUND:
        return _ended(start, code, "failed", "exit 127 from the shell: command not found?", leftovers)
    return _ended(start, code, "failed", f"exited with code {code}", leftovers)
