"""``orchestration approve|reject|runs`` and what ``orchestration run`` needs for approval gates: the
terminal question and the user's name (the CLI is the only layer that reads stdin and the environment)."""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING

from orchastration.cli import render
from orchastration.cli.app import App
from orchastration.cli.parser import SubParsers, add_command, add_json_flag

if TYPE_CHECKING:
    from orchastration.agents.gates import Approval


def register(group: SubParsers) -> None:
    """Add ``orchestration approve|reject|runs``."""
    for verb, handler in (("approve", run_approve), ("reject", run_reject)):
        cmd = add_command(group, verb, f"{verb} the approval gate the last run waits at", handler)
        cmd.add_argument("name", metavar="NAME", help="orchestration name")
        cmd.add_argument("gate", metavar="GATE", nargs="?", help="the gate (default: the one it waits at)")
        cmd.add_argument(
            "--comment",
            metavar="TEXT",
            required=verb == "reject",
            default="",
            help="why (in the context as gate.<GATE>.comment)",
        )
    runs = add_command(group, "runs", "the runs of an orchestration: stamp, status, goal, cost, duration", run_runs)
    runs.add_argument("name", metavar="NAME", help="orchestration name")
    add_json_flag(runs)


def user_name(app: App) -> str:
    """Who decides: the login name from the environment."""
    env = app.environ
    return env.get("USER") or env.get("USERNAME") or env.get("LOGNAME") or "unknown"


def approval(app: App, yes: bool) -> Approval:
    """How gates decide in this run: ``--yes``; else a person, when stdin is a terminal; else they wait."""
    from orchastration.agents.gates import Approval

    if yes or not _is_terminal():
        return Approval(yes=yes, user=user_name(app))
    lock = threading.Lock()

    def ask(gate: str, message: str) -> tuple[bool, str] | None:
        with lock:  # gates of one parallel step ask one at a time
            app.err.write(f"{gate}: {message} [y/N] ")
            app.err.flush()
            answer = sys.stdin.readline()
            if not answer:
                return None
            app.err.write("comment (optional): ")
            app.err.flush()
            return answer.strip().lower() in ("y", "yes"), sys.stdin.readline().strip()

    return Approval(user=user_name(app), ask=ask)


def _is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):  # closed
        return False


def _decide(app: App, approved: bool) -> int:
    from orchastration.agents.gates import decide

    orch = app.config.orchestration(app.args.name)
    done = decide(
        app.paths.orchestrations_dir / orch.name, orch.name, app.args.gate,
        approved=approved, user=user_name(app), comment=app.args.comment,
    )  # fmt: skip
    app.print(done.line())
    return 0


def run_approve(app: App) -> int:
    """``orchestration approve NAME [GATE] [--comment TEXT]``."""
    return _decide(app, True)


def run_reject(app: App) -> int:
    """``orchestration reject NAME [GATE] --comment TEXT``."""
    return _decide(app, False)


def run_runs(app: App) -> int:
    """``orchestration runs NAME [--json]``: one line per run, oldest first."""
    from orchastration.agents.records import run_summaries

    orch = app.config.orchestration(app.args.name)
    rows = run_summaries(app.paths.orchestrations_dir / orch.name)
    lines = [
        f"{r['stamp']} status={r['status']} cost=${r['cost_usd']:.2f} duration_ms={r['duration_ms']} "
        f"goal={r['goal']!r} record={r['record']}"
        for r in rows
    ] or [f"no runs of orchestration {orch.name}"]
    render.show(app, render.Output(lines, rows), as_json=app.args.json)
    return 0
