"""``report``: one session as a self-contained HTML file (docs/observability.md)."""

from __future__ import annotations

from orchastration.cli.app import App
from orchastration.cli.parser import SubParsers, add_command

DEFAULT_FILE = "orchastration-report.html"


def register(sub: SubParsers) -> None:
    """Add ``report [SESSION] [-o FILE]``."""
    p = add_command(sub, "report", "write an HTML report of a run (default: the newest session)", run_report)
    p.add_argument("session", nargs="?", metavar="SESSION", help="a session stamp (or its prefix) from 'history'")
    p.add_argument(
        "-o", "--output", metavar="FILE", default=DEFAULT_FILE, help=f"the HTML file (default {DEFAULT_FILE})"
    )


def run_report(app: App) -> int:
    """Find the session, render it, print where the report is."""
    from orchastration.report import write_report
    from orchastration.sessions import find_session
    from orchastration.trace import check_output_path

    out = check_output_path("-o", app.args.output, app.cwd)
    _, session = find_session(app.paths.state_dir, app.args.session)
    done = write_report(session, app.paths.runs_dir, out)
    app.print(f"report={done.path} session={done.session} jobs={done.jobs}")
    return 0
