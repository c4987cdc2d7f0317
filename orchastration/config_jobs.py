"""The ``[jobs.*]`` tables before validation: ``${...}`` expanded, dotenv files merged into ``env``,
``foreach`` jobs generated, groups resolved; and the job graph checked after it (docs/configuration.md).

``config_schema.parse_config`` calls ``prepare_jobs`` on the raw tables, validates each table it
returns as an ordinary job, then calls ``check_job_graph``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from orchastration.config_model import GroupConfig, JobConfig, suggest
from orchastration.config_vars import Expander, dotenv_paths, read_dotenv, read_vars
from orchastration.dataclass_code import dataclass, field
from orchastration.errors import ConfigError, InputError

Fail = Callable[[str, str], ConfigError]
EXPANDED = ("command", "working_dir", "inputs", "outputs", "env")  # the keys where ${...} expands
NEW_KEYS = ("dotenv", "foreach", "after")
GROUP_KEYS = ("description", "depends_on")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass
class PreparedJobs:
    """Job tables ready for the schema, and what they cannot say themselves."""

    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    after: dict[str, tuple[str, ...]] = field(default_factory=dict)
    groups: dict[str, GroupConfig] = field(default_factory=dict)
    volatile: bool = False


def prepare_jobs(
    fail: Fail, data: Mapping[str, Any], jobs: Mapping[str, dict[str, Any]], base_dir: Path, environ: Mapping[str, str]
) -> PreparedJobs:
    """``jobs`` (name -> raw table, names checked) with vars expanded, dotenv merged and foreach jobs
    generated; groups and foreach names in ``depends_on``/``after`` replaced by their jobs."""
    out = PreparedJobs()
    expander = read_vars(fail, data.get("vars", {}), environ)
    top = dotenv_paths(fail, data["dotenv"], "dotenv") if "dotenv" in data else []
    top_values = read_dotenv(fail, top, "dotenv", base_dir, environ)
    out.volatile = bool(top)
    for name, tbl in jobs.items():
        if "command" not in tbl and "depends_on" in tbl and "foreach" not in tbl:
            out.groups[name] = _group(fail, name, tbl)
            continue
        generated = _prepare_job(fail, expander, name, tbl, base_dir, (environ, top_values))
        out.volatile = out.volatile or "dotenv" in tbl or "foreach" in tbl
        if "foreach" in tbl:
            out.groups[name] = GroupConfig(name, tuple(generated), str(tbl.get("description", "")), report=False)
        for new_name, new_tbl in generated.items():
            if new_name in jobs and new_name != name:
                raise fail(f"jobs.{name}.foreach", f"generates job '{new_name}', which is also configured")
            out.tables[new_name] = new_tbl
    out.volatile = out.volatile or expander.volatile
    _resolve(fail, out)
    return out


def _group(fail: Fail, name: str, tbl: dict[str, Any]) -> GroupConfig:
    """A job with ``depends_on`` and no command: a name for its dependencies."""
    for key in tbl:
        if key not in GROUP_KEYS:
            raise fail(
                f"jobs.{name}.{key}", "a job with no command is a group: it takes only description and depends_on"
            )
    deps = tbl["depends_on"]
    if not isinstance(deps, list) or not deps or not all(isinstance(d, str) for d in deps):
        raise fail(f"jobs.{name}.depends_on", "a group (a job with no command) needs a list of job names")
    description = tbl.get("description", "")
    if not isinstance(description, str):
        raise fail(f"jobs.{name}.description", "expected a string")
    return GroupConfig(name, tuple(deps), description)


def _prepare_job(
    fail: Fail,
    expander: Expander,
    name: str,
    tbl: dict[str, Any],
    base_dir: Path,
    inherited: tuple[Mapping[str, str], Mapping[str, str]],
) -> dict[str, dict[str, Any]]:
    """One job table as the tables it stands for: itself, or one per ``foreach`` match.
    ``inherited``: the environment and the top-level dotenv variables."""
    key = f"jobs.{name}"
    environ, top_values = inherited
    if not top_values and not any(k in tbl for k in NEW_KEYS) and not _has_reference(tbl):
        return {name: tbl}  # the common case: nothing to do
    outer = {**environ, **top_values}
    wd_raw = tbl.get("working_dir", ".")
    wd = wd_raw if not isinstance(wd_raw, str) else expander.expand(wd_raw, f"{key}.working_dir", outer)
    from orchastration.paths import expand_home

    wd_path = base_dir / expand_home(wd, outer) if isinstance(wd, str) else base_dir
    files = dotenv_paths(fail, tbl["dotenv"], f"{key}.dotenv") if "dotenv" in tbl else []
    secrets = {**top_values, **read_dotenv(fail, files, f"{key}.dotenv", wd_path, outer)}
    environ = {**environ, **secrets}
    items = [("", {})] if "foreach" not in tbl else _foreach(fail, expander, key, tbl["foreach"], wd_path, environ)
    out: dict[str, dict[str, Any]] = {}
    for suffix, local in items:
        new = {k: v for k, v in tbl.items() if k not in NEW_KEYS}
        for k in EXPANDED:
            if k in new and k != "working_dir":
                new[k] = expander.expand_value(new[k], f"{key}.{k}", environ, local)
        if "working_dir" in new:
            new["working_dir"] = wd
        if local and isinstance(new.get("description"), str):
            new["description"] = new["description"].replace("${item}", local["item"]).replace("${stem}", local["stem"])
        if secrets:  # the job's dotenv variables, under its own env (docs/configuration.md: precedence)
            env = new.get("env", {})
            new["env"] = {**secrets, **env} if isinstance(env, dict) else env
        if "after" in tbl:
            new["_after"] = tbl["after"]
        out[f"{name}.{suffix}" if suffix else name] = new
    return out


def _has_reference(tbl: Mapping[str, Any]) -> bool:
    return any("$" in repr(tbl[k]) for k in EXPANDED if k in tbl)


def _foreach(
    fail: Fail, expander: Expander, key: str, raw: Any, wd: Path, environ: Mapping[str, str]
) -> list[tuple[str, dict[str, str]]]:
    """(name suffix, {item, stem}) per file the pattern matches (the input vocabulary), sorted."""
    from orchastration import patterns

    if not isinstance(raw, str) or not raw.strip():
        raise fail(f"{key}.foreach", 'expected a file pattern such as "src/*.c"')
    pattern = expander.expand(raw, f"{key}.foreach", environ)
    try:
        matches = patterns.expand(*patterns.split_patterns(wd, [pattern]))
    except InputError as exc:
        raise fail(f"{key}.foreach", str(exc)) from None
    seen: dict[str, str] = {}
    out = []
    for path in matches:
        item = os.path.relpath(path, wd)
        stem = _UNSAFE.sub("_", Path(path).stem)
        if stem in seen:
            raise fail(f"{key}.foreach", f"'{seen[stem]}' and '{item}' would both make job '{key[5:]}.{stem}'")
        seen[stem] = item
        out.append((stem, {"item": item, "stem": Path(path).stem}))
    return out


def _resolve(fail: Fail, out: PreparedJobs) -> None:
    """Group and foreach names in ``depends_on``/``after`` become the jobs they stand for."""
    members: dict[str, tuple[str, ...]] = {}

    def expand(name: str, trail: tuple[str, ...]) -> tuple[str, ...]:
        if name not in out.groups:
            return (name,)
        if name in trail:
            raise fail(
                f"jobs.{name}.depends_on", f"dependency cycle: {' -> '.join([*trail[trail.index(name) :], name])}"
            )
        if name not in members:
            found = [m for dep in out.groups[name].members for m in expand(dep, (*trail, name))]
            members[name] = tuple(dict.fromkeys(found))
        return members[name]

    for name in list(out.groups):
        out.groups[name] = replace(out.groups[name], members=expand(name, ()))
    for name, tbl in out.tables.items():
        deps = tbl.get("depends_on")
        if isinstance(deps, list) and all(isinstance(d, str) for d in deps) and any(d in out.groups for d in deps):
            tbl["depends_on"] = list(dict.fromkeys(m for d in deps for m in expand(d, ())))
        if "_after" in tbl:
            after = tbl.pop("_after")
            key = f"jobs.{name}.after"
            if not isinstance(after, list) or not all(isinstance(a, str) for a in after):
                raise fail(key, "expected a list of job names")
            for i, a in enumerate(after):
                if a not in out.tables and a not in out.groups:
                    raise fail(f"{key}[{i}]", f"unknown job '{a}'{suggest(a, [*out.tables, *out.groups])}")
            out.after[name] = tuple(dict.fromkeys(m for a in after for m in expand(a, ()) if m != name))


def check_job_graph(fail: Fail, jobs: dict[str, JobConfig], prepared: PreparedJobs) -> dict[str, JobConfig]:
    """Every dependency exists, and no cycle runs through ``depends_on`` and ``after`` (the error names
    the jobs); the jobs with their ``after`` set."""
    known = [*jobs, *prepared.groups]
    for job in jobs.values():
        for i, dep in enumerate(job.depends_on):
            if dep not in jobs:
                raise fail(f"jobs.{job.name}.depends_on[{i}]", f"unknown job '{dep}'{suggest(dep, known)}")
            if dep == job.name:
                raise fail(f"jobs.{job.name}.depends_on[{i}]", "a job cannot depend on itself")
    for name, after in prepared.after.items():
        jobs[name] = replace(jobs[name], after=after)
    for name, group in prepared.groups.items():
        for i, dep in enumerate(group.members):
            if dep not in jobs:
                raise fail(f"jobs.{name}.depends_on[{i}]", f"unknown job '{dep}'{suggest(dep, known)}")
    _check_cycles(fail, jobs)
    return jobs


def _check_cycles(fail: Fail, jobs: Mapping[str, JobConfig]) -> None:
    """No loop through ``depends_on`` and ``after``: an iterative depth-first search (a chain of
    10,000 jobs needs no recursion)."""
    state: dict[str, int] = {}  # 1 = visiting, 2 = done

    def edges(name: str) -> Any:
        return iter((*jobs[name].depends_on, *jobs[name].after))

    for root in sorted(jobs):
        if root in state:
            continue
        state[root] = 1
        trail = [root]
        stack = [edges(root)]
        while stack:
            name = trail[-1]
            for dep in stack[-1]:
                if state.get(dep) == 1:
                    cycle = trail[trail.index(dep) :] + [dep]
                    where = "after" if dep in jobs[name].after and dep not in jobs[name].depends_on else "depends_on"
                    raise fail(f"jobs.{name}.{where}", f"dependency cycle: {' -> '.join(cycle)}")
                if dep not in state:
                    state[dep] = 1
                    trail.append(dep)
                    stack.append(edges(dep))
                    break
            else:
                state[trail.pop()] = 2
                stack.pop()
