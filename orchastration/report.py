"""``report``: one session as one self-contained HTML file (docs/observability.md).

Everything is inline (CSS, SVG; no script, no network): a Gantt of the jobs on their execution slots,
the dependency graph with the critical path marked, and a table of every job with its status,
duration, reasons, cache source, exit code and the tail of its output. Geometry is computed here;
``templates/report/report.html.j2`` (Jinja2, autoescaped; beside, not among, the task templates a
user may override) only lays it out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from orchastration.dataclass_code import dataclass

TAIL_LINES = 20
TAIL_BYTES = 16384  # read at most this much of each log's end
TAILS_BUDGET = 600_000  # characters of log tails in one report (keeps a 1,000-job report well under 2 MB)
GANTT_WIDTH = 1100
BAR_HEIGHT, BAR_GAP = 18, 4
NODE_W, NODE_H, COL_GAP, ROW_GAP, ROWS_PER_COLUMN = 170, 20, 40, 8, 40


@dataclass(frozen=True)
class Report:
    """A written report: where, which session, how many jobs."""

    path: Path
    session: str
    jobs: int
    size: int


def tail(path: object, max_chars: int, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file (at most ``max_chars`` characters), '' if unreadable."""
    if not isinstance(path, str) or max_chars <= 0:
        return ""
    from orchastration.trace import read_end

    data = read_end(path, TAIL_BYTES)
    if not data:
        return ""
    text = data.decode("utf-8", "replace").replace("\r\n", "\n")
    kept = "\n".join(text.rstrip("\n").split("\n")[-lines:])
    if html_length(kept) <= max_chars:
        return kept
    kept = kept[-max_chars:]
    while html_length(kept) > max_chars:  # characters HTML escapes count as their escapes
        kept = kept[len(kept) - len(kept) * max_chars // html_length(kept) :]
    return "…" + kept


def html_length(text: str) -> int:
    """The length of ``text`` once HTML-escaped (``&`` -> ``&amp;``, ``<`` -> ``&lt;``, quotes -> ``&#34;``)."""
    extra = 4 * text.count("&") + 3 * (text.count("<") + text.count(">")) + 4 * (text.count('"') + text.count("'"))
    return len(text) + extra


def depends_on(session: Mapping[str, Any], jobs: Sequence[Mapping[str, Any]], runs_dir: Path) -> dict[str, list[str]]:
    """The ``depends_on`` edges among the session's jobs: the session's own, else (a no-op session
    answered before the config loaded) each job's last record."""
    from orchastration.state import read_json

    names = {str(j["name"]) for j in jobs}
    edges = session.get("edges")
    if not isinstance(edges, dict):
        edges = {}
        for name in names:
            last = read_json(runs_dir / name / "last.json")
            deps = last.get("depends_on") if isinstance(last, dict) else None
            if isinstance(deps, list):
                edges[name] = deps
    return {str(n): [str(d) for d in deps if d in names] for n, deps in edges.items() if n in names}


def topological(names: Sequence[str], edges: Mapping[str, Sequence[str]]) -> list[str]:
    """``names`` dependencies first (Kahn; a name caught in a cycle is appended at the end)."""
    waiting = {n: len(set(edges.get(n, ()))) for n in names}
    users: dict[str, list[str]] = {}
    for n in names:
        for d in set(edges.get(n, ())):
            users.setdefault(d, []).append(n)
    ready = [n for n in names if waiting[n] == 0]
    order: list[str] = []
    while ready:
        n = ready.pop()
        order.append(n)
        for u in users.get(n, ()):
            waiting[u] -= 1
            if waiting[u] == 0:
                ready.append(u)
    placed = set(order)
    return order + [n for n in names if n not in placed]


def critical_path(order: Sequence[str], edges: Mapping[str, Sequence[str]], weight: Mapping[str, int]) -> list[str]:
    """The chain of dependencies with the largest total duration, first job first (empty when no job took time)."""
    total: dict[str, int] = {}
    before: dict[str, str | None] = {}
    for n in order:
        deps = [d for d in edges.get(n, ()) if d in total]
        best = max(deps, key=total.__getitem__, default=None)
        before[n] = best
        total[n] = weight.get(n, 0) + (total[best] if best is not None else 0)
    end = max(reversed(order), key=lambda n: total.get(n, 0), default=None)  # a tie: the chain that goes further
    if end is None or total.get(end, 0) <= 0:
        return []
    path: list[str] = []
    step: str | None = end
    while step is not None:
        path.append(step)
        step = before.get(step)
    return path[::-1]


def gantt(jobs: Sequence[Mapping[str, Any]], origin: int, slots: int, span_us: int) -> dict[str, Any]:
    """Bars of the jobs that ran, one row per execution slot, scaled to ``GANTT_WIDTH`` pixels."""
    scale = GANTT_WIDTH / max(span_us, 1)
    bars = []
    for job in jobs:
        if job.get("start_us") is None:
            continue
        start = (int(job["start_us"]) - origin) * scale
        width = max(1.0, int(job.get("duration_ms") or 0) * 1000 * scale)
        row = min(max(0, int(job.get("slot") or 0)), slots - 1)
        bars.append(
            {"x": round(start, 1), "y": row * (BAR_HEIGHT + BAR_GAP), "w": round(width, 1), "name": job["name"],
             "status": job.get("status"), "ms": job.get("duration_ms"), "label": width > 60}
        )  # fmt: skip
    step = _tick(span_us / 1000)
    ticks = [{"x": round(t * 1000 * scale, 1), "label": _seconds(t)} for t in _range(0, span_us / 1000, step)]
    height = slots * (BAR_HEIGHT + BAR_GAP)
    return {"width": GANTT_WIDTH, "height": height, "bars": bars, "ticks": ticks, "slots": list(range(slots))}


def _tick(span_ms: float) -> float:
    """A round tick interval giving about ten ticks."""
    for step in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000, 300000, 600000):
        if span_ms / step <= 10:
            return step
    return 3600000


def _range(start: float, stop: float, step: float) -> list[float]:
    return [start + i * step for i in range(int((stop - start) // step) + 1)]


def _seconds(ms: float) -> str:
    return f"{ms / 1000:g} s"


def graph(order: Sequence[str], edges: Mapping[str, Sequence[str]], status: Mapping[str, str],
          critical: Sequence[str]) -> dict[str, Any]:  # fmt: skip
    """Nodes placed by depth (a deep level wraps into columns of ``ROWS_PER_COLUMN``), the edges between
    them, the critical path's nodes and edges marked."""
    level: dict[str, int] = {}
    for n in order:
        level[n] = 1 + max((level[d] for d in edges.get(n, ()) if d in level), default=-1)
    by_level: dict[int, list[str]] = {}
    for n in order:
        by_level.setdefault(level[n], []).append(n)
    pos: dict[str, tuple[int, int]] = {}
    column = 0
    for lv in sorted(by_level):
        names = sorted(by_level[lv])
        for i, n in enumerate(names):
            pos[n] = (
                10 + (column + i // ROWS_PER_COLUMN) * (NODE_W + COL_GAP),
                10 + (i % ROWS_PER_COLUMN) * (NODE_H + ROW_GAP),
            )
        column += -(-len(names) // ROWS_PER_COLUMN)
    on_path = set(critical)
    path_edges = set(zip(critical, critical[1:], strict=False))
    nodes = [
        {"x": x, "y": y, "name": n, "short": n if len(n) <= 24 else n[:23] + "…", "status": status.get(n, ""),
         "critical": n in on_path}
        for n, (x, y) in pos.items()
    ]  # fmt: skip
    lines = []
    for n in order:
        for d in edges.get(n, ()):
            if d in pos:
                (x1, y1), (x2, y2) = pos[d], pos[n]
                lines.append({"x1": x1 + NODE_W, "y1": y1 + NODE_H // 2, "x2": x2, "y2": y2 + NODE_H // 2,
                              "critical": (d, n) in path_edges})  # fmt: skip
    width = max((x for x, _ in pos.values()), default=0) + NODE_W + 20
    height = max((y for _, y in pos.values()), default=0) + NODE_H + 20
    return {"width": width, "height": height, "nodes": nodes, "edges": lines, "w": NODE_W, "h": NODE_H}


def job_rows(jobs: Sequence[Mapping[str, Any]], records: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The job table: each job's result, its cache source and the tails of its logs (within the budget)."""
    from orchastration.trace import cache_source

    per_log = max(200, min(4000, TAILS_BUDGET // max(1, 2 * len(jobs))))
    rows = []
    for job in jobs:
        record = records.get(str(job["name"])) or {}
        out = job.get("stdout_path") or (record.get("stdout_path") if "agents" not in record else None)
        err = job.get("stderr_path") or (record.get("stderr_path") if "agents" not in record else None)
        rows.append(
            {"name": job["name"], "status": job.get("status", ""), "ms": job.get("duration_ms") or 0,
             "exit": "-" if job.get("exit_code") is None else job["exit_code"], "reasons": job.get("reasons") or [],
             "cache": cache_source(record) or "", "message": job.get("message") or "",
             "stdout": tail(out, per_log), "stderr": tail(err, per_log), "record": job.get("record") or ""}
        )  # fmt: skip
    return rows


def context(session: Mapping[str, Any], runs_dir: Path) -> dict[str, Any]:
    """Everything the template shows for one session."""
    import shlex

    from orchastration.sessions import session_jobs
    from orchastration.trace import read_records

    jobs = session_jobs(session)
    records = read_records(jobs)
    names = [str(j["name"]) for j in jobs]
    edges = depends_on(session, jobs, runs_dir)
    order = topological(names, edges)
    weight = {str(j["name"]): int(j.get("duration_ms") or 0) for j in jobs}
    critical = critical_path(order, edges, weight)
    origin = int(session.get("start_us") or 0)
    ends = [int(j["start_us"]) + weight[str(j["name"])] * 1000 for j in jobs if j.get("start_us") is not None]
    span = max([int(session.get("duration_ms") or 0) * 1000, *(e - origin for e in ends)])
    slots = max(1, int(session.get("parallel") or 1))
    status = {str(j["name"]): str(j.get("status", "")) for j in jobs}
    return {
        "session": session,
        "command": shlex.join(["orchastration", *session.get("argv", [])]),
        "counts": ", ".join(f"{n} {s}" for s, n in (session.get("counts") or {}).items()) or "no jobs",
        "gantt": gantt(jobs, origin, slots, span),
        "graph": graph(order, edges, status, critical) if jobs else None,
        "critical": critical,
        "all_skipped": bool(jobs) and all(s == "skipped" for s in status.values()),
        "critical_ms": sum(weight.get(n, 0) for n in critical),
        "jobs": job_rows(sorted(jobs, key=_table_order(order)), records),
        "orchestration": orchestration(session),
    }


def _table_order(order: Sequence[str]) -> Any:
    """Sort key of the job table: the jobs that ran by start, then the others dependencies first."""
    index = {n: i for i, n in enumerate(order)}
    return lambda j: (j.get("start_us") is None, j.get("start_us") or 0, index.get(str(j["name"]), 0))


def orchestration(session: Mapping[str, Any]) -> dict[str, Any] | None:
    """An orchestration session's run record: its agents and, if recorded, rounds, gates and cost."""
    from orchastration.state import read_json

    info = session.get("orchestration")
    if not isinstance(info, dict):
        return None
    record = read_json(Path(str(info.get("record")))) if info.get("record") else None
    record = record if isinstance(record, dict) else {}
    extra = {k: record[k] for k in ("rounds", "max_review_rounds", "gates", "cost") if k in record}
    return {**info, "goal": record.get("goal", ""), "task": record.get("task"), "agents": record.get("agents", []),
            "extra": extra}  # fmt: skip


def render(session: Mapping[str, Any], runs_dir: Path) -> str:
    """The HTML of a session's report."""
    import jinja2

    from orchastration.rendering import builtin_dir

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(builtin_dir() / "report")), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )  # fmt: skip
    return env.get_template("report.html.j2").render(**context(session, runs_dir))


def write_report(session: Mapping[str, Any], runs_dir: Path, out: Path) -> Report:
    """Render a session's report and write it to ``out`` atomically (a user file: mode 0644)."""
    from orchastration.sessions import session_jobs
    from orchastration.state import atomic_write_bytes

    data = render(session, runs_dir).encode("utf-8", "surrogateescape")
    atomic_write_bytes(out, data, mode=0o644)
    return Report(out, str(session.get("stamp")), len(session_jobs(session)), len(data))
