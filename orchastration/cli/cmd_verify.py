"""``verify [JOB ...] [--json]``: re-hash the outputs of the last successful runs against their records."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from orchastration.cli.app import App
from orchastration.cli.parser import SubParsers, add_command, add_json_flag

if TYPE_CHECKING:
    from orchastration.cli.render import Output
    from orchastration.verify import OutputCheck


def register(sub: SubParsers) -> None:
    p = add_command(
        sub, "verify", "re-hash the outputs of each job's last successful run against its record", run,
        description="Re-hash every output of each job's (or task build's) last successful run and compare it with "
        "the hash in its record: OK, CHANGED or MISSING. Exit 1 on any CHANGED or MISSING output, or when a job "
        "named here has no successful run.",
    )  # fmt: skip
    p.add_argument("jobs", nargs="*", metavar="JOB", help="jobs or tasks (default: every job, and every built task)")
    add_json_flag(p, "a JSON array: {job (or task), output, state, record}")


def run(app: App) -> int:
    from orchastration.cli import render
    from orchastration.cli.cmd_jobs import job_config
    from orchastration.verify import exit_code, targets, verify

    chosen = targets(job_config(app), app.paths, app.args.jobs)
    checks = verify(chosen)
    if not chosen and not app.args.json:
        app.print(render.NO_JOBS)
        return 0
    render.show(app, output(checks), as_json=app.args.json)
    return exit_code(checks)


def output(checks: Sequence[OutputCheck]) -> Output:
    """One line per output (``job=<name> output=<path> OK|CHANGED|MISSING``) or per target without any,
    then a count of each state; ``--json``: one object per line."""
    from orchastration.cli.render import Output

    lines = [_line(c) for c in checks]
    counts = Counter(c.state.value for c in checks if c.output is not None)
    if checks:
        verdicts = ", ".join(f"{counts[s]} {s}" for s in ("OK", "CHANGED", "MISSING") if counts[s])
        names = len({(c.kind, c.name) for c in checks})
        what = ("job", "jobs") if all(c.kind == "job" for c in checks) else ("job or task", "jobs and tasks")
        outputs = sum(counts.values())
        lines.append(f"verified {_count(outputs, 'output', 'outputs')} of {_count(names, *what)}: {verdicts or 'none'}")
    return Output(lines=lines, data=[_json(c) for c in checks])


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _line(check: OutputCheck) -> str:
    who = f"{check.kind}={check.name}"
    if check.output is None:
        return f"{who} no successful run" if check.state == "NO_RUN" else f"{who} no outputs recorded"
    detail = f" ({check.detail})" if check.detail else ""
    return f"{who} output={check.output} {check.state}{detail}"


def _json(check: OutputCheck) -> dict[str, Any]:
    data = {check.kind: check.name, "output": check.output, "state": str(check.state), "record": check.record}
    if check.detail:
        data["detail"] = check.detail
    return data
