"""Command-line entry: ``main(argv) -> int``; the one place outcomes become exit codes."""

from __future__ import annotations

import os
import sys

from orchastration import __version__

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~8 ms of start-up
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path
    from typing import IO, Any

# Start-up matters (`--version` is measured against `python -c pass`): this module imports
# only what the fast path needs; argparse, pathlib and the commands load in _run.

PROG = "orchastration"


_IMPORT_MACHINERY = "<frozen importlib._bootstrap"
# threading.py's blocking waits: an interrupt must land there (it is what ends a wait for a job).
_WAITS = frozenset({"wait", "wait_for", "join", "_wait_for_tstate_lock"})


def _raise_interrupt(signum: int, frame: Any) -> None:
    """SIGTERM/SIGHUP (and Ctrl-C) as a KeyboardInterrupt where the main thread is, except where an
    exception would leave a lock held for good, raised again 10 ms later, until that code is over:

    - inside the import machinery: CPython's module locks are Python code, and an exception landing
      between taking one and the ``with`` that releases it leaves that module locked; the next thread
      to import it waits forever (``scripts/crashtest.py`` hung so, orchestration scenario);
    - inside threading.py, but for its blocking waits: ``with condition:`` takes the lock inside
      ``Condition.__enter__``, Python code, and an exception at its return never reaches the ``with``;
      the run's bookkeeping thread then waited for that lock forever (crashtest, restore scenario:
      SIGTERM at -j 2)."""
    if _DEFERRING:
        # A second signal while this handler decides about one (or starts its retry: a thread start
        # waits on a condition): raised there, it would leave through this handler, at the very place
        # this one spares. This one's interrupt (raised now, or by its retry) is enough.
        return
    _DEFERRING.append(signum)
    try:
        innermost = frame
        while frame is not None:
            code = frame.f_code
            if code.co_filename.startswith(_IMPORT_MACHINERY) or (
                frame is innermost and code.co_filename == _threading_file() and code.co_name not in _WAITS
            ):
                import threading

                retry = threading.Timer(0.01, _raise_again, (signum,))
                retry.daemon = True
                retry.start()
                return
            frame = frame.f_back
    finally:
        _DEFERRING.clear()
    raise KeyboardInterrupt


def _threading_file() -> str:
    import threading

    return threading.__file__


_ARMED: list[Any] = []  # [a lock] while ``_raise_interrupt`` handles the stop signals
_DEFERRING: list[int] = []  # [the signal] while ``_raise_interrupt`` handles one


def _raise_again(signum: int) -> None:
    import signal

    held = list(_ARMED)
    if not held:
        return
    with held[0]:  # never once the handlers are restored: the default one would kill the process
        if _ARMED:
            signal.raise_signal(signum)


def one_line(text: str) -> str:
    """An error message as one printable line: control characters (a newline or a terminal escape
    inside a name the user typed) are shown escaped, never written raw to the terminal."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else ascii(ch)[1:-1] for ch in text)


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Run one command; return its exit code (0 ok, 1 failed, 2 usage/config, 130 interrupted)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    # Fast path: --version must not pay for building the parser.
    if args_list == ["--version"]:
        out.write(f"{PROG} {__version__}\n")
        return 0
    env = os.environ if environ is None else environ  # the one read of the process environment
    summaries = None
    # Fast path: a fully up-to-date `run` answers from the jobs' up-to-date summary (cli/fast_run.py).
    if "run" in args_list:
        from orchastration.cli.fast_run import try_fast_run

        fast, summaries = try_fast_run(args_list, out, env, cwd, err)
        if fast is not None:
            return fast
    previous = _stop_signals_interrupt()
    try:
        return _guarded(args_list, out, err, env, cwd, summaries)
    finally:
        _restore_signals(previous)


def _stop_signals_interrupt() -> dict[int, Any]:
    """SIGTERM and SIGHUP (a closed terminal or SSH session; POSIX only) stop a run as Ctrl-C does:
    its jobs are killed and recorded ``interrupted`` (docs/jobs.md). The handlers they replaced."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return {}
    stops = [signal.SIGTERM]
    if os.name == "posix":
        stops.append(signal.SIGHUP)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        stops.append(signal.SIGINT)  # the same, and the same care about imports
    _ARMED.append(threading.Lock())
    return {sig: signal.signal(sig, _raise_interrupt) for sig in stops}


def _restore_signals(previous: dict[int, Any]) -> None:
    import signal

    if not previous or not _ARMED:
        return
    with _ARMED[0]:  # a deferred interrupt is raised before this, or not at all
        _ARMED.clear()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _guarded(
    args_list: list[str], out: IO[str], err: IO[str], env: Mapping[str, str], cwd: Path | None, summaries: Any
) -> int:
    """``_run`` with every way it can end turned into an exit code and at most one line on ``err``."""
    from orchastration.errors import EXIT_FAILED, OrchastrationError

    verbose = "-v" in args_list or "--verbose" in args_list
    try:
        return _run(args_list, out, err, env, cwd, summaries)
    except OrchastrationError as exc:
        if verbose:
            import traceback

            traceback.print_exc(file=err)
        if str(exc):
            err.write(f"{PROG}: error: {one_line(str(exc))}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        return _guarded_interrupt(err)
    except BrokenPipeError:
        # stdout closed early (e.g. piped to head): not an error of ours.
        try:  # noqa: SIM105 - contextlib is not imported on this path
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return EXIT_FAILED
    except Exception as exc:  # a bug: say so in one line unless asked for the traceback
        if _interrupt_inside(exc):  # e.g. Ctrl-C or SIGTERM while a class was being created
            return _guarded_interrupt(err)
        if verbose:
            import traceback

            traceback.print_exc(file=err)
        err.write(f"{PROG}: error: internal error: {type(exc).__name__}: {one_line(str(exc))} (rerun with --verbose)\n")
        return EXIT_FAILED


def _guarded_interrupt(err: IO[str]) -> int:
    from orchastration.errors import EXIT_INTERRUPTED

    try:  # noqa: SIM105 - after SIGHUP the terminal may be gone
        err.write(f"{PROG}: interrupted\n")
    except OSError:
        pass
    return EXIT_INTERRUPTED


def _interrupt_inside(exc: BaseException) -> bool:
    """Whether ``exc`` wraps an interrupt: Python turns an exception raised while a class is created
    (a dataclass field's ``__set_name__``, during an import) into a ``RuntimeError`` caused by it."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def entry() -> None:
    """The ``orchastration`` console script: ``main()``, then exit without tearing the interpreter down.

    Freeing every object of a run one by one at exit costs ~20 ms after a run over 1,000 jobs. By the
    time ``main`` returns every file this tool wrote is closed and every child reaped; the standard
    streams are flushed and the exit handlers (logging's flush and close among them) run as usual,
    then ``os._exit``. ``python -m orchastration`` exits the ordinary way (profilers, coverage).
    """
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken pipe: nothing more to say there
            continue
    import atexit

    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_handlers is None:  # not CPython: the ordinary exit
        sys.exit(code)
    run_exit_handlers()
    os._exit(code)


def _run(
    argv: list[str], out: IO[str], err: IO[str], environ: Mapping[str, str], cwd: Path | None, summaries: Any
) -> int:
    import contextlib
    from pathlib import Path

    from orchastration.cli.app import App, command_module, split_job_args, version_text

    args = None
    if "run" in argv:  # a plain `run` line: the parser's result without building the parser
        from orchastration.cli.cmd_jobs import plain_run_args

        args = plain_run_args(argv)
        job_args = None
    if args is None:
        from orchastration.cli.parser import build_parser

        parser = build_parser(command_module(argv))
        if not argv:
            parser.print_help(out)
            return 0
        argv, job_args = split_job_args(argv)  # `run JOB -- ARGS`: the job's arguments are not argparse's
        try:
            with contextlib.redirect_stdout(out):  # argparse prints --help to sys.stdout
                args = parser.parse_args(argv)
        except SystemExit as exc:  # --help printed by argparse
            return int(exc.code or 0)
    args.job_args = job_args
    if args.version:
        out.write(version_text() + "\n")
        return 0
    from orchastration.inherited_env import InheritedEnviron

    # The process's own environment (no ``environ`` given): commands inherit it (inherited_env.py).
    environ = InheritedEnviron(environ) if environ is os.environ else dict(environ)
    app = App(args=args, out=out, err=err, environ=environ, cwd=(cwd or Path.cwd()).absolute(),
              summaries=summaries, argv=list(argv))  # fmt: skip
    app.setup_logging()
    code: int = args.handler(app)
    return code


__all__ = ["main"]
