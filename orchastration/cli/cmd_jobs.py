"""Top-level job commands: ``list``, ``run``, ``status``, ``why``, ``clean``, ``forget``."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, cast

from orchastration.cli.app import App, SubParsers, add_command, positive_int
from orchastration.errors import EXIT_FAILED, UsageError, exit_code_for

if TYPE_CHECKING:
    from orchastration.engine.units import UnitResult

PROGRESS_MIN_JOBS = 4  # fewer jobs than this: plain result lines are progress enough


def register(sub: SubParsers) -> None:
    p = add_command(sub, "list", "list the configured jobs", run_list)
    p.add_argument("--json", action="store_true", help="JSON output")
    p = add_command(sub, "run", "run jobs (and what they depend on) unless up to date", run_run)
    p.add_argument("jobs", nargs="*", metavar="JOB", help="jobs to run (default: every job)")
    p.add_argument("--force", action="store_true", help="rerun the named jobs even if up to date")
    p.add_argument("-j", "--jobs", dest="parallel", type=positive_int, default=1, metavar="N", help="run N at once")
    p.add_argument("--dry-run", action="store_true", help="run nothing; say what would run and why")
    p.add_argument("--json", action="store_true", help="with --dry-run: the ordered plan as JSON")
    p.add_argument("--keep-going", action="store_true", help="keep running independent jobs after a failure")
    p = add_command(sub, "status", "each job's last run and whether it is up to date", run_status)
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


def run_list(app: App) -> int:
    jobs = job_config(app).jobs
    if app.args.json:
        app.print_json([_job_json(jobs[name]) for name in sorted(jobs)])
        return 0
    if not jobs:
        app.print("no jobs configured")
    for name in sorted(jobs):
        description = jobs[name].description
        app.print(f"{name} - {description}" if description else name)
    return 0


def _job_json(job: Any) -> dict[str, Any]:
    command = job.command if isinstance(job.command, str) else list(job.command)
    return {
        "name": job.name,
        "description": job.description,
        "command": command,
        "shell": job.shell,
        "working_dir": str(job.working_dir),
        "timeout_seconds": job.timeout_seconds,
        "env_names": sorted(job.env),
        "inputs": list(job.inputs),
        "outputs": list(job.outputs),
        "depends_on": list(job.depends_on),
        "always_run": job.always_run,
    }


def result_line(result: UnitResult) -> str:
    """``job=<name> status=<status> exit=<code> duration_ms=<ms>`` (+ a message for failures)."""
    exit_code = "-" if result.exit_code is None else str(result.exit_code)
    line = f"job={result.name} status={result.status} exit={exit_code} duration_ms={result.duration_ms}"
    if result.status not in ("ran", "skipped") and result.message:
        line += f" message={result.message!r}" if " " in result.message else f" message={result.message}"
    return line


def run_run(app: App) -> int:
    args = app.args
    if args.json and not args.dry_run:
        raise UsageError("run: --json needs --dry-run")
    if not args.force:
        code = _fast_noop(app)
        if code is not None:
            return code
    config = job_config(app)
    if args.dry_run:
        return _dry_run(app, config)
    progress = _progress(app, len(args.jobs) or len(config.jobs))
    console, err_console = _consoles(app, progress)
    from orchastration.jobs import run

    try:
        results = run(
            config, app.paths, args.jobs, environ=app.environ, parallel=args.parallel, force=bool(args.force),
            keep_going=args.keep_going, console=console, err_console=err_console,
            on_result=_result_printer(app, progress), on_start=progress.start if progress is not None else None,
            on_lock_wait=_lock_wait_notice(app), summaries=app.summaries,
        )  # fmt: skip
    finally:
        if progress is not None:
            progress.close()
    if not results:
        app.print("no jobs configured")
    return exit_code_for([r.status for r in results])


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

    def on_result(result: UnitResult) -> None:
        if progress is not None:
            progress.finish(result.name, result.status in ("ran", "skipped"))
            with progress.lock:
                progress.clear()
                app.print(result_line(result))
                app.out.flush()
                progress.draw()
        else:
            app.print(result_line(result))
            app.out.flush()
        if result.status == "failed" and result.message and not app.quiet:
            app.err.write(f"orchastration: job {result.name} failed: {result.message}\n")

    return on_result


def _lock_wait_notice(app: App) -> Callable[[], None]:
    def on_lock_wait() -> None:
        app.err.write("orchastration: waiting for the state lock held by another run...\n")
        app.err.flush()

    return on_lock_wait


def _fast_noop(app: App) -> int | None:
    """Answer a fully up-to-date run from the up-to-date summary, before the config model or doit load."""
    from orchastration.engine.fastpath import Summaries
    from orchastration.paths import find_config

    if app.summaries is None:
        app.summaries = Summaries(app.paths.engine_dir)
    path, _ = find_config(app.args.config, app.environ, app.cwd, app.paths.user_config)
    names = app.summaries.noop(path, app.args.jobs, app.environ)
    if names is None:
        return None
    for name in names:
        if app.args.dry_run:
            if app.args.json:
                continue
            app.print(f"job={name} up-to-date")
        else:
            app.print(f"job={name} status=skipped exit=0 duration_ms=0")
    if app.args.dry_run and app.args.json:
        app.print_json([{"job": n, "would_run": False, "reasons": []} for n in names])
    return 0


def _dry_run(app: App, config: Any) -> int:
    from orchastration.jobs import plan

    items = plan(config, app.paths, app.args.jobs, force=bool(app.args.force))
    if items is None:
        app.print("no jobs configured")
        return 0
    if app.args.json:
        app.print_json([{"job": i.name, "would_run": i.would_run, "reasons": list(i.reasons)} for i in items])
        return 0
    for item in items:
        if item.would_run:
            app.print(f"job={item.name} would-run reason={'; '.join(item.reasons)}")
        else:
            app.print(f"job={item.name} up-to-date")
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
    from orchastration.jobs import status

    config = job_config(app)
    statuses = status(config, app.paths)
    if app.args.json:
        app.print_json([s.to_json() for s in statuses])
        return 0
    if not config.jobs:
        app.print("no jobs configured")
    for st in statuses:
        verdict = "up-to-date" if not st.reasons else f"stale: {', '.join(st.reasons)}"
        if st.last is None:
            app.print(f"{st.name} - no runs recorded")
            continue
        last = st.last
        app.print(
            f"{st.name} - exit={last.get('exit_code')} duration_ms={last.get('duration_ms')} "
            f"start={last.get('start_time')} {verdict}"
        )
    return 0


def run_why(app: App) -> int:
    from orchastration.engine import why
    from orchastration.jobs import job_units

    config = job_config(app)
    config.job(app.args.job)
    reasons = why(job_units(config, app.paths), app.args.job, paths=app.paths, hash_algorithm=config.hash.algorithm)
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
    chosen = sorted(config.jobs) if names is None else names
    code = 0
    for res in clean(config, chosen):
        if res.action == "removed":
            app.print(f"job={res.job} removed {res.path}")
        elif res.action == "refused":
            app.err.write(f"orchastration: error: job {res.job}: not removing {res.path}: {res.detail}\n")
            code = EXIT_FAILED
        elif res.action == "kept":
            app.err.write(f"orchastration: warning: job {res.job}: kept {res.path}: {res.detail}\n")
    return code


def run_forget(app: App) -> int:
    from orchastration.jobs import forget

    names = _names(app, "forget")
    for name in forget(job_config(app), app.paths, names):
        app.print(f"job={name} forgotten")
    return 0
