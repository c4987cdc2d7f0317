"""Top-level job commands: ``list``, ``run``, ``status``, ``why``, ``clean``, ``forget``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, cast

from orchastration.cli.app import App
from orchastration.cli.session_hooks import add_trace_flag, both, recorded
from orchastration.errors import UsageError
from orchastration.outcomes import CleanStatus, UnitStatus, exit_code_for

if TYPE_CHECKING:
    from orchastration.cli.parser import SubParsers
    from orchastration.engine.units import UnitResult

PROGRESS_MIN_JOBS = 4  # fewer jobs than this: plain result lines are progress enough


def register(sub: SubParsers) -> None:
    # Here, not at the top: a plain `run` line imports this module but never argparse (cli/parser.py).
    from orchastration.cli.parser import add_command, positive_int

    p = add_command(sub, "list", "list the configured jobs", run_list)
    p.add_argument("--json", action="store_true", help="JSON output")
    p = add_command(sub, "run", "run jobs (and what they depend on) unless up to date", run_run)
    p.add_argument("jobs", nargs="*", metavar="JOB", help="jobs to run (default: every job)")
    p.add_argument("--force", action="store_true", help="rerun the named jobs even if up to date")
    p.add_argument("-j", "--jobs", dest="parallel", type=positive_int, default=None, metavar="N",
                   help="run N at once (default 1; on dask: the cluster's worker threads)")  # fmt: skip
    p.add_argument("--executor", choices=("local", "dask"), help="where commands run (default: [executor].kind)")
    p.add_argument("--address", metavar="ADDR", help="dask scheduler, e.g. tcp://HOST:8786 (implies --executor dask)")
    p.add_argument("--dry-run", action="store_true", help="run nothing; say what would run and why")
    p.add_argument("--json", action="store_true", help="with --dry-run: the ordered plan as JSON")
    p.add_argument("--keep-going", action="store_true", help="keep running independent jobs after a failure")
    p.usage = "%(prog)s [options] [JOB ...] [-- ARG ...]"
    p.completer_rest = "file"  # type: ignore[attr-defined]  # after `--`: the job's arguments, often files
    add_trace_flag(p)
    p.add_argument("--no-cache", action="store_true", help="neither restore from nor store to the output cache")
    p.add_argument("--cache-mode", choices=("read", "write", "readwrite", "off"), help="use of the shared cache")
    p = add_command(sub, "status", "each job's last run and whether it is up to date", run_status)
    p.add_argument("jobs", nargs="*", metavar="JOB", help="these jobs (default: every job)")
    p.add_argument("--json", action="store_true", help="JSON output")
    p = add_command(sub, "why", "every reason a job would run now", run_why)
    p.add_argument("job", metavar="JOB")
    p = add_command(sub, "clean", "delete the declared outputs of jobs", run_clean)
    p.add_argument("jobs", nargs="*", metavar="JOB")
    p.add_argument("--all", action="store_true", help="every job")
    p = add_command(sub, "forget", "drop jobs' up-to-date state so they run next time", run_forget)
    p.add_argument("jobs", nargs="*", metavar="JOB")
    p.add_argument("--all", action="store_true", help="every job")


def job_config(app: App) -> Any:
    """The config, from the parsed-config cache when the file is unchanged (see ``jobs.cached_config``)."""
    if app._config is None:
        from orchastration.jobs import cached_config

        app._config = cached_config(app.args.config, app.environ, app.cwd, app.paths)
        app.setup_logging()
    return app.config


def plain_run_args(argv: list[str]) -> Any:
    """What the parser gives for a plain ``run`` line (``fast_run.parse_plain``: global path flags, -q,
    --no-color, -j N, job names), without building it (~4 ms of a run that is not a no-op); None for
    any other line. ``tests/test_cli.py`` compares the two for every kind of plain line."""
    from types import SimpleNamespace  # what argparse.Namespace is, without importing argparse

    from orchastration.cli.fast_run import parse_plain

    plain = parse_plain(argv)
    if plain is None:
        return None
    values, flags = plain.values, plain.flags
    return SimpleNamespace(
        version=False, config=values.get("--config"), state_dir=values.get("--state-dir"), log_level=None,
        log_format=None, no_color="--no-color" in flags, quiet=bool({"-q", "--quiet"} & flags), verbose=False,
        handler=run_run, jobs=plain.names, force=False, parallel=plain.parallel, executor=None, address=None,
        dry_run=False, json=False, keep_going=False, trace=None, no_cache=False, cache_mode=None,
    )  # fmt: skip


def run_list(app: App) -> int:
    from orchastration.cli import render

    jobs = job_config(app).jobs
    render.show(app, render.jobs([jobs[name] for name in sorted(jobs)]), as_json=app.args.json)
    return 0


def run_run(app: App) -> int:
    args = app.args
    started = time.perf_counter()
    if args.json and not args.dry_run:
        raise UsageError("run: --json needs --dry-run")
    job_args = _job_args(args)
    if args.dry_run:
        code = None if args.force or job_args is not None else _fast_noop(app, started, None)
        if code is not None:
            return code
        config = job_config(app)
        if not config.jobs:
            raise UsageError(no_jobs_message(app, config.path))
        return _dry_run(app, config, job_args)
    with recorded(app, kind="jobs", parallel=args.parallel, selected=args.jobs) as session:
        session.exit_code = _run_recorded(app, session, job_args, started)
        return session.exit_code


def _run_recorded(app: App, session: Any, job_args: dict[str, list[str]] | None, started: float) -> int:
    """``run`` (not --dry-run), each job's start and result also going to the session recorder."""
    args = app.args
    if not args.force and job_args is None:
        code = _fast_noop(app, started, session.on_result)
        if code is not None:
            return code
    config = job_config(app)
    if not config.jobs:
        raise UsageError(no_jobs_message(app, config.path))
    session.edges = {name: list(job.depends_on) for name, job in config.jobs.items() if job.depends_on}
    progress = _progress(app, len(args.jobs) or len(config.jobs))
    console, err_console = _consoles(app, progress)
    from orchastration.executors import choose
    from orchastration.jobs import run

    where = choose(config, app.environ, args.executor or ("dask" if args.address else None), args.address)
    try:
        results = run(
            config, app.paths, args.jobs, environ=app.environ, parallel=args.parallel, force=bool(args.force),
            keep_going=args.keep_going, console=console, err_console=err_console,
            on_result=both(_result_printer(app, progress), session.on_result),
            on_start=both(progress.start if progress is not None else None, session.on_start),
            on_lock_wait=_lock_wait_notice(app), summaries=app.summaries, args=job_args, executor=where,
            no_cache=args.no_cache, cache_mode=args.cache_mode,
        )  # fmt: skip
    finally:
        if progress is not None:
            progress.close()
    _summary(app, [r.status for r in results], started)
    return exit_code_for([r.status for r in results])


def _job_args(args: Any) -> dict[str, list[str]] | None:
    """``run JOB -- ARG ...``: the arguments by job name (None: no ``--``); exactly one job named."""
    extra = getattr(args, "job_args", None)
    if extra is None:
        return None
    if len(args.jobs) != 1:
        raise UsageError(f"run: arguments after '--' need exactly one job name (got {len(args.jobs)})")
    return {args.jobs[0]: extra}


def no_jobs_message(app: App, config_file: Any) -> str:
    """Why ``run`` has nothing to do (exit 2: a CI script run in the wrong directory must not pass)."""
    if config_file is not None:
        return f"no jobs configured in {config_file}; add a [jobs.<name>] table to it"
    from orchastration.paths import PROJECT_FILE

    looked = f"no {PROJECT_FILE} in {app.cwd} or its parents, no {app.paths.user_config}"
    return f"no jobs configured (no config file found: {looked}); create one with 'orchastration init'"


def _summary(app: App, statuses: list[str], started: float) -> None:
    """The one summary line on stderr after a run of two or more jobs (not with -q)."""
    if app.quiet or len(statuses) < 2:
        return
    from orchastration.cli.render import run_summary

    app.err.write(run_summary(statuses, time.perf_counter() - started) + "\n")


def _consoles(app: App, progress: Any) -> tuple[IO[str] | None, IO[str] | None]:
    """Where jobs' output goes: nowhere with -q; above the progress line when there is one."""
    if app.quiet:
        return None, None
    if progress is None:
        return app.out, app.err
    from orchastration.cli.jobs_progress import AboveProgress

    return cast(IO[str], AboveProgress(app.out, progress)), cast(IO[str], AboveProgress(app.err, progress))


def _result_printer(app: App, progress: Any) -> Callable[[UnitResult], None]:
    """Print each job's result line as it finishes (and a failed job's message on stderr)."""

    from orchastration.cli.render import result_line

    def on_result(result: UnitResult) -> None:
        if progress is not None:
            progress.finish(result.name, result.status in ("ran", "skipped", "restored"))
            with progress.lock:
                progress.clear()
                app.print(result_line(result))
                app.out.flush()
                progress.draw()
        else:
            app.print(result_line(result))
            app.out.flush()
        if result.status in ("failed", "timeout") and app.quiet:
            _quiet_failure(app, result)
        elif result.status == "failed" and result.message:
            app.err.write(f"orchastration: job {result.name} failed: {result.message}\n")

    return on_result


def _lock_wait_notice(app: App) -> Callable[[], None]:
    def on_lock_wait() -> None:
        app.err.write("orchastration: waiting for the state lock held by another run...\n")
        app.err.flush()

    return on_lock_wait


def _quiet_failure(app: App, result: UnitResult) -> None:
    """With -q the job's output was not shown: the tail of its stderr, then the ``failed`` line."""
    from orchastration.joblogs import TAIL_LINES, stderr_tail

    tail = stderr_tail(result.record_path, TAIL_LINES)
    detail = f": {result.message}" if result.message else ""
    app.err.write("".join(f"{line}\n" for line in tail) + f"orchastration: job {result.name} failed{detail}\n")
    app.err.flush()


def _fast_noop(app: App, started: float, on_result: Callable[[UnitResult], None] | None) -> int | None:
    """Answer a fully up-to-date run from the up-to-date summary, before the config model or doit load."""
    from orchastration.engine.fastpath import Summaries
    from orchastration.paths import find_config

    if app.summaries is None:
        app.summaries = Summaries(app.paths.engine_dir)
    path, _ = find_config(app.args.config, app.environ, app.cwd, app.paths.user_config)
    names = app.summaries.noop(path, app.args.jobs, app.environ)
    if names is None:
        return None
    from orchastration.cli import render
    from orchastration.engine.units import PlanItem, UnitResult

    if app.args.dry_run:
        render.show(app, render.job_plan([PlanItem(n, ()) for n in names]), as_json=app.args.json)
        return 0
    for name in names:
        result = UnitResult(name, UnitStatus.SKIPPED, 0, 0, None, (), "")
        app.print(render.result_line(result))
        if on_result is not None:
            on_result(result)
    _summary(app, [UnitStatus.SKIPPED] * len(names), started)
    return 0


def _dry_run(app: App, config: Any, job_args: dict[str, list[str]] | None) -> int:
    from orchastration.cli import render
    from orchastration.jobs import plan

    items = plan(config, app.paths, app.args.jobs, force=bool(app.args.force), args=job_args, environ=app.environ)
    render.show(app, render.job_plan(items or []), as_json=app.args.json)
    return 0


def _progress(app: App, total: int) -> Any:
    """A progress line on an interactive stderr for runs of several jobs."""
    if app.quiet or total < PROGRESS_MIN_JOBS:
        return None
    isatty = getattr(app.err, "isatty", None)
    if not (isatty and isatty()) or app.environ.get("TERM") == "dumb":
        return None
    from orchastration.cli.jobs_progress import Progress

    return Progress(app.err, total)


def run_status(app: App) -> int:
    from orchastration.cli import render
    from orchastration.jobs import status

    render.show(app, render.job_statuses(status(job_config(app), app.paths, app.args.jobs)), as_json=app.args.json)
    return 0


def run_why(app: App) -> int:
    from orchastration.jobs import plan

    config = job_config(app)
    config.job(app.args.job)
    reasons = (plan(config, app.paths, [app.args.job], environ=app.environ) or [])[-1].reasons
    for reason in reasons or ["up-to-date"]:
        app.print(reason)
    return 0


def _names(app: App, verb: str) -> list[str] | None:
    """JOB ... or --all (None = all); exactly one of them."""
    if app.args.all and app.args.jobs:
        raise UsageError(f"{verb}: give job names or --all, not both")
    if not app.args.all and not app.args.jobs:
        raise UsageError(f"{verb}: give one or more job names, or --all")
    if app.args.all:
        return None
    config = job_config(app)
    for name in app.args.jobs:
        config.job(name)
    return list(dict.fromkeys(app.args.jobs))


def run_clean(app: App) -> int:
    from orchastration.jobs import clean

    names = _names(app, "clean")
    config = job_config(app)
    results = clean(config, sorted(config.jobs) if names is None else names)
    for res in results:
        if res.action == CleanStatus.REMOVED:
            app.print(f"job={res.job} removed {res.path}")
        elif res.action == CleanStatus.REFUSED:
            app.err.write(f"orchastration: error: job {res.job}: not removing {res.path}: {res.detail}\n")
        elif res.action == CleanStatus.KEPT:
            app.err.write(f"orchastration: warning: job {res.job}: kept {res.path}: {res.detail}\n")
    return exit_code_for(r.action for r in results)


def run_forget(app: App) -> int:
    from orchastration.jobs import forget

    names = _names(app, "forget")
    for name in forget(job_config(app), app.paths, names):
        app.print(f"job={name} forgotten")
    return 0
