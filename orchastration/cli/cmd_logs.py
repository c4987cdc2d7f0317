"""``logs JOB|TASK [--run STAMP] [--stdout|--stderr] [--path]``: a run's captured output (see joblogs.py)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO

from orchastration.cli.app import App
from orchastration.cli.parser import SubParsers, add_command
from orchastration.errors import UsageError


def register(sub: SubParsers) -> None:
    p = add_command(sub, "logs", "print the output of a job's (or task build's) last run", run_logs)
    name = p.add_argument("name", metavar="JOB|TASK", help="a job, or a task (its builds)")
    name.completer = "jobs"  # type: ignore[attr-defined]  # read by orchastration/completion/table.py
    p.add_argument("--run", metavar="STAMP", help="that run (its record's <timestamp>) instead of the last")
    p.add_argument("--stdout", action="store_true", help="only the run's stdout")
    p.add_argument("--stderr", action="store_true", help="only the run's stderr (written to stderr)")
    p.add_argument("--path", action="store_true", help="print the log files' paths instead of their contents")


def run_logs(app: App) -> int:
    from orchastration.joblogs import find_run, read_log

    args = app.args
    _check_name(app, args.name)
    logs = find_run(app.paths.runs_dir, args.name, args.run)
    both = args.stdout == args.stderr  # neither flag (or both): both logs
    chosen = [(logs.stdout_path, app.out)] if args.stdout or both else []
    chosen += [(logs.stderr_path, app.err)] if args.stderr or both else []
    if args.path:
        for path, _ in chosen:
            app.print(str(path))
        return 0
    for path, stream in chosen:
        _copy(read_log(path), stream)
    return 0


def _check_name(app: App, name: str) -> None:
    """A configured job or task (unknown: exit 2 naming it, with the job's did-you-mean)."""
    from orchastration.cli.cmd_jobs import job_config

    config = job_config(app)
    if name in config.jobs or name in config.tasks:
        return
    if not config.tasks:
        config.job(name)  # raises: unknown job, with suggestions
    raise UsageError(f"unknown job or task '{name}'")


def _copy(chunks: Iterable[bytes], stream: IO[str]) -> None:
    """Write a log's bytes to ``stream`` as they are (its text layer flushed first), or decoded when
    the stream has no bytes layer (an in-process caller's StringIO)."""
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        import codecs

        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        for data in chunks:
            stream.write(decoder.decode(data))
        stream.write(decoder.decode(b"", final=True))
        return
    stream.flush()
    for data in chunks:
        buffer.write(data)
    buffer.flush()
