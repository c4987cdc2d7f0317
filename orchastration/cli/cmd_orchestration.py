"""``orchestration list|show|run`` (and ``approve|reject|runs``, in ``orchestration_more``): pipelines of
agents, sequential or in parallel steps."""

from __future__ import annotations

from typing import Any

from orchastration.cli import render
from orchastration.cli.app import App
from orchastration.cli.parser import SubParsers, add_command, add_group, add_json_flag, positive_int
from orchastration.cli.session_hooks import add_trace_flag, recorded
from orchastration.errors import UsageError
from orchastration.outcomes import OrchestrationStatus, exit_code_for


def register(sub: SubParsers) -> None:
    """Add ``orchestration list|show|run``."""
    group = add_group(sub, "orchestration", "run pipelines of agents (Planner, Builder, Reviewer, Doc, commands)")
    add_json_flag(add_command(group, "list", "configured orchestrations", run_list))
    show = add_command(group, "show", "the steps of an orchestration as a diagram", run_show)
    show.add_argument("name", metavar="NAME", help="orchestration name")
    show.add_argument("--format", choices=("text", "mermaid", "dot"), default="text", help="diagram format")
    run = add_command(group, "run", "run the steps in order; agents of one step in parallel", run_run)
    run.add_argument("name", metavar="NAME", help="orchestration name")
    run.add_argument("--goal", default="", metavar="TEXT", help="the goal, in the context as 'goal'")
    run.add_argument("--task", metavar="TASK", help="the task to plan/build/review/document (default: NAME)")
    run.add_argument(
        "-j",
        "--jobs",
        dest="parallel",
        type=positive_int,
        metavar="N",
        help="agents run at once (default: widest step)",
    )
    run.add_argument("--force", action="store_true", help="rerun every agent, even if up to date")
    run.add_argument("--dry-run", action="store_true", help="show the steps and what would run; run nothing")
    add_trace_flag(run)
    run.add_argument("--yes", action="store_true", help="approve every approval gate of this run")
    from orchastration.cli import orchestration_more

    orchestration_more.register(group)


def run_list(app: App) -> int:
    """``orchestration list``: name and description, sorted."""
    orchestrations = sorted(app.config.orchestrations.values(), key=lambda o: o.name)
    render.show(app, render.orchestrations(orchestrations), as_json=app.args.json)
    return 0


def run_show(app: App) -> int:
    """``orchestration show``: the steps as a diagram."""
    from orchastration.agents.diagram import render

    app.out.write(render(app.config.orchestration(app.args.name), app.args.format))
    return 0


def run_run(app: App) -> int:
    """``orchestration run``: run (or --dry-run) and print the outcome."""
    from orchastration.agents.pipeline import OrchestrationRun, RunOptions
    from orchastration.cli.orchestration_more import approval

    args = app.args
    orch = app.config.orchestration(args.name)
    options = RunOptions(
        goal=args.goal, task=args.task, parallel=args.parallel, force=args.force, approval=approval(app, args.yes)
    )
    if args.task is not None and not args.task.strip():
        raise UsageError("--task: must not be empty")
    run = OrchestrationRun(
        app.config, app.paths, orch, options,
        emit=app.print, console=app.out, err_console=None if app.quiet else app.err,
        environ=app.environ, quiet=app.quiet,
    )  # fmt: skip
    if args.dry_run:
        from orchastration.agents.dryrun import describe_steps, dry_run

        plan = dry_run(run)
        for line in [*describe_steps(run), *plan.lines()]:
            app.print(line)
        return 0
    with recorded(app, kind="orchestration", parallel=run.parallel, selected=[orch.name]) as session:
        outcome = run.run()
        _record(session, outcome)
        render.show(app, render.orchestration_run(outcome))
        if outcome.status == OrchestrationStatus.WAITING:
            app.err.write(
                f"orchastration: orchestration {outcome.name} is waiting for approval: orchastration "
                f"orchestration approve {outcome.name} (or reject ... --comment TEXT), then run it again\n"
            )
        elif outcome.status != OrchestrationStatus.SUCCESS and outcome.message:
            app.err.write(f"orchastration: error: orchestration {outcome.name} {outcome.status}: {outcome.message}\n")
        session.exit_code = exit_code_for([outcome.status])
        return session.exit_code


def _record(session: Any, outcome: Any) -> None:
    """The agents' runs into the session (their timings are the orchestration record's)."""
    from orchastration.agents.session import agent_edges, agent_entries

    for entry, start in agent_entries(outcome.agents, str(outcome.record_path)):
        session.add(entry, start)
    session.edges = agent_edges(outcome.agents)
    session.extra["orchestration"] = {
        "name": outcome.name, "status": str(outcome.status), "record": str(outcome.record_path),
        "message": outcome.message,
    }  # fmt: skip
