"""``watch``: run jobs, then rerun them when their inputs change (``watching.watch`` does the work)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchastration.cli.app import App
from orchastration.cli.parser import SubParsers, add_command, positive_int
from orchastration.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from orchastration.config import Config
    from orchastration.engine.units import UnitResult
    from orchastration.watching import WatchEvent

SHOWN_PATHS = 3  # a rerun line names this many changed files, then "and N more"


def register(sub: SubParsers) -> None:
    p = add_command(sub, "watch", "run jobs, then rerun them whenever their inputs change", run_watch)
    p.add_argument("jobs", nargs="*", metavar="JOB", help="jobs to watch (default: every job)")
    p.add_argument("--poll", action="store_true", help="scan for changes instead of OS events (network file systems)")
    p.add_argument("-j", "--jobs", dest="parallel", type=positive_int, default=1, metavar="N", help="run N at once")
    p.add_argument("--keep-going", action="store_true", help="keep running independent jobs after a failure")


def run_watch(app: App) -> int:
    from orchastration.cli.cmd_jobs import job_config
    from orchastration.jobs import cached_config
    from orchastration.watching import watch

    config = job_config(app)
    if not config.jobs:
        where = f"in {config.path}" if config.path is not None else "(no config file found)"
        raise UsageError(f"no jobs configured {where}; nothing to watch (create some with 'orchastration init')")

    def reload() -> Config:
        return cached_config(app.args.config, app.environ, app.cwd, app.paths)

    watch(config, app.args.jobs, paths=app.paths, run=_runner(app), reload=reload, report=_reporter(app),
          poll=bool(app.args.poll))  # fmt: skip
    return 0


def _runner(app: App) -> Callable[[Config, bool], Sequence[UnitResult]]:
    """One run of the watched jobs as ``run`` does it; after the first, only jobs that did something
    get a result line (the rest are up to date, as they were a moment ago)."""
    from orchastration.cli.cmd_jobs import _consoles, _lock_wait_notice, _result_printer
    from orchastration.jobs import run

    printer = _result_printer(app, None)
    console, err_console = _consoles(app, None)
    args = app.args

    def run_jobs(config: Config, first: bool) -> Sequence[UnitResult]:
        def on_result(result: UnitResult) -> None:
            if first or result.status != "skipped":
                printer(result)

        return run(
            config, app.paths, args.jobs, environ=app.environ, parallel=args.parallel, keep_going=args.keep_going,
            console=console, err_console=err_console, on_result=on_result, on_lock_wait=_lock_wait_notice(app),
        )  # fmt: skip

    return run_jobs


def _reporter(app: App) -> Callable[[WatchEvent], None]:
    """Each watch event as one line on stderr (with -q, only errors)."""
    from orchastration.cli import one_line
    from orchastration.patterns import display_path
    from orchastration.watching import Rejected, Rerun

    def report(event: WatchEvent) -> None:
        if isinstance(event, Rejected):
            line = f"orchastration: error: {one_line(event.message)} (still watching)"
        elif app.quiet:
            return
        elif isinstance(event, Rerun):
            shown = [display_path(app.cwd, p) for p in event.paths[:SHOWN_PATHS]]
            more = len(event.paths) - len(shown)
            names = ", ".join(shown) + (f" and {more} more" if more else "")
            line = f"watch: {one_line(names)} changed; running"
        else:
            line = "watch: waiting for changes (Ctrl-C to stop)"
        app.err.write(line + "\n")
        app.err.flush()

    return report
