"""``history``: the recorded ``run`` sessions, newest first (docs/observability.md)."""

from __future__ import annotations

from orchastration.cli.app import App
from orchastration.cli.parser import SubParsers, add_command, positive_int


def register(sub: SubParsers) -> None:
    """Add ``history [--json] [-n N]``."""
    p = add_command(sub, "history", "the recorded runs (sessions), newest first", run_history)
    p.add_argument("-n", dest="limit", type=positive_int, default=20, metavar="N", help="show N sessions (default 20)")
    p.add_argument("--json", action="store_true", help="JSON output")


def run_history(app: App) -> int:
    """List the newest sessions of this project's state dir."""
    from orchastration.cli import render
    from orchastration.sessions import recent

    render.show(app, render.sessions(recent(app.paths.state_dir, app.args.limit)), as_json=app.args.json)
    return 0
