"""``graph [JOB ...] [--format text|mermaid|dot]``: the job dependency graph (docs/jobs.md)."""

from __future__ import annotations

from orchastration.cli.app import App
from orchastration.cli.parser import SubParsers, add_command


def register(sub: SubParsers) -> None:
    p = add_command(
        sub, "graph", "show the job dependency graph (depends_on solid, after dashed, file edges dotted)", run
    )
    p.add_argument("jobs", nargs="*", metavar="JOB", help="jobs to show with what they need (default: every job)")
    p.add_argument("--format", choices=("text", "mermaid", "dot"), default="text", help="output format (default: text)")
    p.add_argument("--json", action="store_true", help="the jobs and edges as JSON")


def run(app: App) -> int:
    from orchastration.cli.cmd_jobs import job_config
    from orchastration.job_graph import job_graph, render

    config = job_config(app)
    graph = job_graph(config, app.args.jobs)
    if app.args.json:
        app.print_json(
            {"jobs": list(graph.nodes), "edges": [{"from": s, "to": d, "kind": k} for s, d, k in graph.edges]}
        )
        return 0
    if not graph.nodes:
        from orchastration.cli.render import NO_JOBS

        app.print(NO_JOBS)
        return 0
    for line in render(graph, app.args.format):
        app.print(line)
    return 0
