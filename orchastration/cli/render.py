"""The one renderer: every command's result value becomes an ``Output`` here (text lines and JSON value).

A handler computes its result, asks this module for the ``Output`` of that result, and shows it;
``show`` writes the lines with ``App.print`` or the JSON value with ``App.print_json`` (the one
JSON writer). Handlers build no output strings or JSON shapes themselves. Each function is named
after the result it renders and takes that result's own type, e.g. ``agent list``::

    def run_list(app: App) -> int:
        render.show(app, render.agents(build_registry(app.config).infos()), as_json=app.args.json)
        return 0

To render a new result (say ``status`` for jobs), add one function beside the others::

    def job_states(states: Sequence[JobState]) -> Output:
        \"\"\"``status``: one line a job; ``--json``: one object a job.\"\"\"
        return Output(
            lines=[f"{s.name}: {s.status}" for s in states] or ["no jobs configured"],
            data=[{"name": s.name, "status": s.status} for s in states],
        )

and call ``render.show(app, render.job_states(states), as_json=app.args.json)``. A result with only
a text form leaves ``data`` out; a JSON-lines result (``hash --file``) sets ``compact=True`` and is
shown with ``as_json=True``. Status words come from ``outcomes.py`` enums, which print as their values.
Both forms are built every time (cheap for these results); a renderer whose unused form would be
costly (thousands of rows) can take ``as_json`` itself and leave the other form empty.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from orchastration.dataclass_code import dataclass

if TYPE_CHECKING:
    from pathlib import Path

    from orchastration.agents.pipeline import OrchestrationOutcome
    from orchastration.agents.registry import AgentInfo
    from orchastration.cli.app import App
    from orchastration.config import Config, JobConfig, OrchestrationConfig, TaskConfig
    from orchastration.engine.units import PlanItem, UnitResult
    from orchastration.hashing import CheckResult
    from orchastration.jobs import JobStatus
    from orchastration.workflow import BranchOutcome, BuildOutcome, DocOutcome, IssueOutcome, TaskRecord


@dataclass(frozen=True)
class Output:
    """One result in both forms: its text ``lines``, and ``data``, the value ``--json`` prints."""

    lines: Sequence[str] = ()
    data: Any = None
    compact: bool = False  # JSON on one line (a JSON-lines stream such as `hash --file`)


def show(app: App, output: Output, as_json: bool = False) -> None:
    """Write ``output`` to stdout: its JSON value (``--json``) or its text lines."""
    if as_json:
        app.print_json(output.data, compact=output.compact)
        return
    for line in output.lines:
        app.print(line)


def _listing(what: str, empty: str, entries: Iterable[tuple[str, str]]) -> list[str]:
    """``available <what>:`` and a ``- name: detail`` line each, or the ``empty`` line."""
    lines = [f"- {name}: {detail}" for name, detail in entries]
    return [f"available {what}:", *lines] if lines else [empty]


# -- jobs ---------------------------------------------------------------------------------------
NO_JOBS = "no jobs configured"


def jobs(configs: Sequence[JobConfig]) -> Output:
    """``list``: ``name - description`` a job; ``--json``: each job's settings (env names only)."""
    return Output(
        lines=[f"{j.name} - {j.description}" if j.description else j.name for j in configs] or [NO_JOBS],
        data=[_job_json(j) for j in configs],
    )


def _job_json(job: JobConfig) -> dict[str, Any]:
    command = job.command if isinstance(job.command, str) else list(job.command)
    return {
        "name": job.name, "description": job.description, "command": command, "shell": job.shell,
        "working_dir": str(job.working_dir), "timeout_seconds": job.timeout_seconds, "env_names": sorted(job.env),
        "inputs": list(job.inputs), "outputs": list(job.outputs), "depends_on": list(job.depends_on),
        "always_run": job.always_run,
    }  # fmt: skip


def result_line(result: UnitResult) -> str:
    """``job=<name> status=<status> exit=<code> duration_ms=<ms>`` (+ a message for failures).
    (``cli/fast_run.py`` writes the same words for ``skipped`` without loading this module.)"""
    exit_code = "-" if result.exit_code is None else str(result.exit_code)
    line = f"job={result.name} status={result.status} exit={exit_code} duration_ms={result.duration_ms}"
    if result.status not in ("ran", "skipped") and result.message:
        line += f" message={result.message!r}" if " " in result.message else f" message={result.message}"
    return line


# The summary's failed count: every way a job can fail (not_run jobs never started, and are not counted).
_FAILED = ("failed", "timeout", "interrupted")


def run_summary(statuses: Sequence[str], seconds: float) -> str:
    """The line after a run of two or more jobs: ``ran 3, skipped 7, failed 1, restored 0 in 1.24 s``
    (``restored``: taken from the output cache). ``cli/fast_run.py`` writes the no-op run's line itself."""
    ran, skipped = statuses.count("ran"), statuses.count("skipped")
    failed, restored = sum(statuses.count(s) for s in _FAILED), statuses.count("restored")
    return f"ran {ran}, skipped {skipped}, failed {failed}, restored {restored} in {seconds:.2f} s"


def job_plan(items: Sequence[PlanItem]) -> Output:
    """``run --dry-run``: ``would-run reason=...`` or ``up-to-date`` a job; ``--json``: the ordered plan."""
    return Output(
        lines=[f"job={i.name} would-run reason={'; '.join(i.reasons)}" if i.would_run else f"job={i.name} up-to-date"
               for i in items],
        data=[{"job": i.name, "would_run": i.would_run, "reasons": list(i.reasons)} for i in items],
    )  # fmt: skip


def job_statuses(statuses: Sequence[JobStatus]) -> Output:
    """``status``: each job's last run and whether it is up to date now."""
    return Output(lines=[_status_line(s) for s in statuses] or [NO_JOBS], data=[_status_json(s) for s in statuses])


def _status_line(st: JobStatus) -> str:
    if st.last is None:  # never run, or the only runs were killed before they wrote a record
        if not st.reasons or st.reasons == ("never run",):
            return f"{st.name} - no runs recorded"
        return f"{st.name} - no completed run, stale: {', '.join(st.reasons)}"
    verdict = "up-to-date" if not st.reasons else f"stale: {', '.join(st.reasons)}"
    last = st.last
    start = last.get("start_time")
    return f"{st.name} - exit={last.get('exit_code')} duration_ms={last.get('duration_ms')} start={start} {verdict}"


def _status_json(st: JobStatus) -> dict[str, Any]:
    last = st.last or {}
    fields = ("status", "exit_code", "duration_ms", "start_time", "end_time")
    last_run = {k: last.get(k) for k in fields} | {"record": st.record} if st.last else None
    return {"job": st.name, "last_run": last_run, "up_to_date": not st.reasons, "reasons": list(st.reasons)}


# -- agent / orchestration ---------------------------------------------------------------------
def agents(infos: Sequence[AgentInfo]) -> Output:
    """``agent list``: built-ins, then command agents, with their capabilities."""
    return Output(
        lines=_listing(
            "agents", "no agents registered",
            ((i.name, "; ".join(i.capabilities) or "(no capabilities listed)") for i in infos),
        ),
        data=[{"name": i.name, "kind": i.kind, "capabilities": list(i.capabilities), "description": i.description}
              for i in infos],
    )  # fmt: skip


def orchestrations(items: Sequence[OrchestrationConfig]) -> Output:
    """``orchestration list``: name and description (JSON: steps and review rounds too)."""
    return Output(
        lines=_listing(
            "orchestrations", "no orchestrations configured",
            ((o.name, o.description or "(no description)") for o in items),
        ),
        data=[{"name": o.name, "description": o.description, "steps": [list(s) for s in o.steps],
               "max_review_rounds": o.max_review_rounds} for o in items],
    )  # fmt: skip


def orchestration_run(outcome: OrchestrationOutcome) -> Output:
    """``orchestration run``: the one result line."""
    return Output([f"orchestration={outcome.name} status={outcome.status} record={outcome.record_path}"])


# -- tasks: plan, build, doc, git ---------------------------------------------------------------
def tasks(rows: Sequence[tuple[TaskConfig, str]]) -> Output:
    """``plan list``: each configured task with its current status."""
    return Output(
        lines=[f"{t.name} - {t.description} [{s}]" if t.description else f"{t.name} - [{s}]" for t, s in rows]
        or ["no tasks configured"],
        data=[{"name": t.name, "description": t.description, "repo": t.repo, "status": s,
               "working_dir": str(t.working_dir)} for t, s in rows],
    )  # fmt: skip


def task_planned(record: TaskRecord) -> Output:
    """``plan create``."""
    return Output([f"task={record.name} status={record.status}"])


def task_record(record: TaskRecord) -> Output:
    """``plan status``: one line, or (``--json``) the whole record."""
    return Output([f"{record.name} status={record.status} last_run={record.last_run or '-'}"], record.to_dict())


def build(outcome: BuildOutcome) -> Output:
    """``build run`` (and the Builder agent's line per task)."""
    if outcome.skipped:
        return Output([f"task={outcome.task.name} status={outcome.build}"])
    return Output([f"task={outcome.task.name} exit={outcome.exit_code} status={outcome.status}"])


def doc(outcome: DocOutcome) -> Output:
    """``doc generate``."""
    return Output([f"task={outcome.task.name} status={outcome.status} doc={outcome.doc_path}"])


def branch(outcome: BranchOutcome) -> Output:
    """``git branch create``."""
    return Output([f"task={outcome.task.name} branch={outcome.branch}"])


def issue(name: str, outcome: IssueOutcome) -> Output:
    """``git issue create``: the URL, or (dry run) the rendered title and body."""
    if outcome.url is not None:
        return Output([f"task={name} issue={outcome.url}"])
    return Output(["title: " + outcome.title, "body:", *outcome.body.removesuffix("\n").split("\n")])


# -- hash ---------------------------------------------------------------------------------------
def file_hash(path: str, algorithm: str, digest: str) -> Output:
    """``hash --file``: one compact JSON line a file."""
    return Output(data={"file": path, "algorithm": algorithm, "hash": digest}, compact=True)


def check(result: CheckResult) -> Output:
    """``hash --check``, one manifest entry: ``<path>: OK`` or ``<path>: FAILED [why]``."""
    return Output([f"{result.path}: {result.status}{' ' + result.detail if result.detail else ''}"])


# -- config -------------------------------------------------------------------------------------
def config_path(config: Config, state_dir: Path) -> Output:
    """``config path``: the file in use, why, and the state dir it uses."""
    return Output([config.display_path, f"reason: {config.reason}", f"state: {state_dir}"])


def config_show(config: Config, data: dict[str, Any]) -> Output:
    """``config show``: the effective config as TOML under a comment naming the file, or as JSON."""
    lines = [f"# {config.display_path} ({config.reason})", *toml_text(data).removesuffix("\n").split("\n")]
    return Output(lines, {"path": str(config.path) if config.path else None, "config": data})


def config_valid(config: Config) -> Output:
    """``config validate`` when valid: the file and what it defines."""
    counts = ", ".join(
        _plural(len(table), word)
        for table, word in ((config.jobs, "job"), (config.tasks, "task"), (config.orchestrations, "orchestration"))
    )
    return Output([f"{config.display_path}: valid ({counts})"])


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def toml_text(data: dict[str, Any]) -> str:
    """Render nested plain data as TOML (tables for sections and named entries)."""
    lines: list[str] = []

    def emit(prefix: str, table: dict[str, Any]) -> None:
        scalars = {k: v for k, v in table.items() if not isinstance(v, dict) or k == "env"}
        nested = {k: v for k, v in table.items() if isinstance(v, dict) and k != "env"}
        if scalars or not nested:
            lines.append(f"\n[{prefix}]")
            lines.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in scalars.items())
        for key, sub in nested.items():
            emit(f"{prefix}.{_toml_key(key)}", sub)

    for name, section in data.items():
        emit(name, section)
    return "\n".join(lines).lstrip("\n") + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(type(value))


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


# -- sessions (docs/observability.md) -----------------------------------------------------------
def sessions(records: Sequence[dict[str, Any]]) -> Output:
    """``history``: ``<stamp>  <seconds> s  exit=<code>  <counts>  <command line>`` a session, newest
    first; ``--json``: one object a session."""
    import shlex

    def counts(c: dict[str, int]) -> str:
        return ", ".join(f"{n} {s}" for s, n in c.items()) or "no jobs"

    rows = [
        {
            "stamp": r.get("stamp"),
            "kind": r.get("kind"),
            "command": shlex.join(["orchastration", *r.get("argv", [])]),
            "argv": r.get("argv", []),
            "start_time": r.get("start_time"),
            "end_time": r.get("end_time"),
            "duration_ms": r.get("duration_ms"),
            "exit_code": r.get("exit_code"),
            "counts": r.get("counts") or {},
            "error": r.get("error") or "",
        }  # fmt: skip
        for r in records
    ]
    lines = [
        f"{r['stamp']}  {(r['duration_ms'] or 0) / 1000:.2f} s  exit={_or_dash(r['exit_code'])}"
        f"  {counts(r['counts'])}  {r['command']}"
        for r in rows
    ]
    return Output(lines=lines or ["no sessions recorded"], data=rows)


def _or_dash(value: Any) -> str:
    return "-" if value is None else str(value)
