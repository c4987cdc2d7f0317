"""Jobs: the config's ``[jobs.*]`` compiled to engine units, and run / status / why / clean / forget.

Nothing here prints; results are values the CLI renders.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from orchastration.dataclass_code import dataclass

if TYPE_CHECKING:
    from orchastration.config import Config, JobConfig
    from orchastration.engine.fastpath import Summaries
    from orchastration.engine.units import PlanItem, Unit, UnitResult
    from orchastration.executors import ExecutorChoice
    from orchastration.outcomes import CleanStatus
    from orchastration.paths import Paths


def job_unit(job: JobConfig, paths: Paths, runs_dir: Path | None = None, args: Sequence[str] = ()) -> Unit:
    """One job as an engine unit (its records go to ``state/runs/<job>/``); ``args`` (``run JOB -- ARGS``)
    are appended to its command (``units.with_args``) and recorded."""
    from dataclasses import replace

    from orchastration.engine.units import command_unit, with_args

    unit = command_unit(
        job,
        depends_on=job.depends_on,
        always_run=job.always_run,
        record_dir=(runs_dir or paths.runs_dir) / job.name,
        extra_record={"job_name": job.name, **({"args": list(args)} if args else {})},
        after=job.after,
    )
    return replace(unit, command=with_args(unit.command, args, os.name == "nt")) if args else unit


def job_units(config: Config, paths: Paths, args: Mapping[str, Sequence[str]] | None = None) -> list[Unit]:
    """Every configured job as a unit, in sorted order (``args``: extra arguments of some jobs)."""
    runs_dir = paths.runs_dir
    extra = args or {}
    return [job_unit(config.jobs[name], paths, runs_dir, extra.get(name, ())) for name in sorted(config.jobs)]


def select(config: Config, names: Sequence[str]) -> list[str]:
    """The jobs named (each checked: unknown -> usage error with suggestions), or all when none."""
    if not names:
        return sorted(config.jobs)
    chosen: list[str] = []
    for name in names:
        if name in config.groups:  # a group or foreach job: the jobs it stands for
            chosen.extend(config.groups[name].members)
        else:
            chosen.append(config.job(name).name)
    return list(dict.fromkeys(chosen))


def config_bytes(config: Config) -> bytes:
    """The config file's bytes (for the summary key), or nothing for built-in defaults."""
    if config.path is None:
        return b""
    try:
        return config.path.read_bytes()
    except OSError:
        return b""


def run(
    config: Config,
    paths: Paths,
    names: Sequence[str],
    *,
    environ: Mapping[str, str],
    parallel: int | None = 1,
    force: bool = False,
    keep_going: bool = False,
    dry_run: bool = False,
    console: IO[str] | None = None,
    err_console: IO[str] | None = None,
    on_result: Callable[[UnitResult], None] | None = None,
    on_start: Callable[[str], None] | None = None,
    on_lock_wait: Callable[[], None] | None = None,
    summaries: Summaries | None = None,
    args: Mapping[str, Sequence[str]] | None = None,
    executor: ExecutorChoice | None = None,
    no_cache: bool = False,
    cache_mode: str | None = None,
) -> list[UnitResult]:
    """Run the jobs ``names`` (every job when empty) and what they depend on; results as they finish
    (also to ``on_result``). An empty list: no jobs are configured. The up-to-date summary of the
    last run of these names answers for the jobs it still vouches for (``summaries``: the reader the
    no-op test already used), unless ``ORCHASTRATION_NO_FASTPATH`` is set in ``environ`` or ``args``
    (extra arguments by job name, ``run JOB -- ARGS``) are given: doit decides those runs.
    ``executor``: where the commands run (default: ``[executor]``; ``executors.choose``);
    ``parallel`` None: 1 locally, the cluster's worker threads on dask. Jobs doit must run are
    restored from the output cache when it holds them (docs/cache.md; ``no_cache``, ``cache_mode``:
    the run's flags)."""
    from orchastration.cache.settings import open_store
    from orchastration.engine import fastpath, run_units
    from orchastration.executors import ExecutorChoice, choose, opened, run_closure

    chosen = select(config, names)
    if not chosen:
        return []
    # A config whose jobs depend on more than its bytes (environment, dotenv, foreach) gets no summary,
    # nor a run with job arguments, nor one naming a group (the no-op answer knows units, not groups).
    quick = not fastpath.disabled(environ) and not config.volatile and not any(n in config.groups for n in names)
    key = fastpath.jobs_key(config.path, config_bytes(config), names, environ) if quick and not args else None
    units = job_units(config, paths, args)
    forced = chosen if force else ()
    store = None if dry_run else open_store(config, environ, no_cache=no_cache, mode=cache_mode, forced=forced)
    cached: dict[str, Any] = {} if store is None else {"store": store}
    choice = ExecutorChoice() if dry_run else executor or choose(config, environ)
    scope = run_closure(units, chosen) if choice.kind == "dask" else []  # what the cluster is checked for
    with opened(choice, scope, config.placement, None if dry_run else parallel) as (ex, slots):
        results = run_units(
            units, chosen, paths=paths, hash_algorithm=config.hash.algorithm, environ=environ,
            force=force, parallel=slots, keep_going=keep_going, dry_run=dry_run, console=console,
            err_console=err_console, on_result=on_result, on_start=on_start, on_lock_wait=on_lock_wait,
            summaries=summaries, summary_key=key, executor=ex, **cached,
        )  # fmt: skip
    from orchastration.job_groups import group_results

    for result in group_results(config, names, results, dry_run):
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def plan(
    config: Config,
    paths: Paths,
    names: Sequence[str],
    *,
    force: bool = False,
    args: Mapping[str, Sequence[str]] | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[PlanItem] | None:
    """What a ``run`` of ``names`` (every job when empty) would run, in order, with the reasons;
    None when no jobs are configured. With ``environ`` (the run's), a job the output cache would
    restore says so (``would restore from cache``)."""
    from orchastration.engine import plan as engine_plan

    chosen = select(config, names)
    if not chosen:
        return None
    units = job_units(config, paths, args)
    items = engine_plan(units, chosen, paths=paths, hash_algorithm=config.hash.algorithm, force=force)
    if environ is None:
        return items
    from orchastration.cache.preview import annotate

    return annotate(items, units, config, environ, forced=chosen if force else ())


def cached_config(
    explicit: str | os.PathLike[str] | None, environ: Mapping[str, str], cwd: Path, paths: Paths
) -> Config:
    """``load_config``, memoised by the config file's bytes in the user cache dir (``Paths.config_cache_dir``).

    Parsing and validating a TOML file of 1,000 jobs costs ~100 ms; unpickling the validated
    model ~5 ms. The key covers everything the model depends on: the file's path and bytes, the
    home directory (``~`` in working_dir), the tool and Python versions. Only valid configs are
    cached, so errors are always reported from a fresh parse; a config with env values is never
    cached (they may be secrets).
    """
    import hashlib
    import pickle
    import sys

    from orchastration import __version__
    from orchastration.config import find_config, load_config
    from orchastration.paths import home_key

    path, _ = find_config(explicit, environ, cwd, paths.user_config)
    if path is None:
        return load_config(explicit, environ=environ, cwd=cwd, user_config=paths.user_config)
    try:
        data = path.read_bytes()
    except OSError:
        return load_config(explicit, environ=environ, cwd=cwd, user_config=paths.user_config)
    import orchastration.config as config_module

    h = hashlib.sha256(data)
    # The code that builds the model is part of the key too (a development tree changes it
    # without a version bump): the stat of config.py and the modules that validate and model it.
    code = config_module.__file__ or ""
    modules = ("config_schema.py", "config_model.py", "config_executor.py", "config_agents.py")
    sources = [code, *(os.path.join(os.path.dirname(code), f) for f in modules)]
    try:
        stamps = [f"{st.st_mtime_ns}:{st.st_size}" for st in map(os.stat, sources)]
    except OSError:  # a frozen binary: the version alone identifies the code
        stamps = []
    for part in (str(path), os.path.expanduser("~"), home_key(environ), __version__, sys.version, *stamps):
        h.update(b"\0" + part.encode("utf-8", "surrogateescape"))
    cache = paths.config_cache_dir / f"{h.hexdigest()[:32]}.pickle"
    try:
        config = pickle.loads(cache.read_bytes())
        from orchastration.config import Config

        if isinstance(config, Config):
            return config
    except Exception:  # absent, stale or unreadable: parse afresh
        pass
    config = load_config(explicit, environ=environ, cwd=cwd, user_config=paths.user_config)
    if _has_env_values(config) or config.volatile:  # volatile: the file's bytes do not decide the model
        return config  # env values may be secrets: never copy them into a cache
    try:
        from orchastration.state import atomic_write_bytes

        _drop_old(cache.parent)
        # A cache: atomic, not synced (lost to a power cut, the config is parsed again).
        atomic_write_bytes(cache, pickle.dumps(config, protocol=pickle.HIGHEST_PROTOCOL), sync=False)
    except OSError:
        pass  # a read-only cache dir only costs speed
    return config


def _has_env_values(config: Config) -> bool:
    tables: list[Mapping[str, Any]] = [config.jobs, config.tasks, config.agents]
    return any(getattr(item, "env", None) for table in tables for item in table.values())


def _drop_old(directory: Path, keep: int = 32) -> None:
    """Keep the cache small: only the most recently written entries (of every project of this user)."""
    try:
        entries = sorted(directory.iterdir(), key=lambda p: p.stat().st_mtime)
    except OSError:
        return
    for old in entries[:-keep]:
        with contextlib.suppress(OSError):
            old.unlink()


@dataclass(frozen=True)
class JobStatus:
    """A job's last run (its record, and where that is) and the current up-to-date verdict."""

    name: str
    last: Mapping[str, Any] | None
    record: str | None
    reasons: tuple[str, ...]


def status(config: Config, paths: Paths, names: Sequence[str] = ()) -> list[JobStatus]:
    """The last record of the jobs ``names`` (each checked; none: every job) and whether each is up
    to date now."""
    from orchastration.state import read_json

    names = select(config, names)
    if not names:
        return []
    items: dict[str, PlanItem] = {i.name: i for i in plan(config, paths, names) or []}
    out = []
    for name in names:
        last_path = paths.runs_dir / name / "last.json"
        last = read_json(last_path)
        if isinstance(last, dict):
            record = str(paths.runs_dir / name / f"{last.get('run_id', 'last')}.json")
            out.append(JobStatus(name, last, record, items[name].reasons))
        else:
            out.append(JobStatus(name, None, None, items[name].reasons))
    return out


@dataclass(frozen=True)
class CleanResult:
    """What ``clean`` did with one declared output."""

    job: str
    path: str  # as declared
    action: CleanStatus
    detail: str = ""


def clean(config: Config, names: Sequence[str]) -> list[CleanResult]:
    """Delete the declared outputs of ``names`` — files, directory trees, and what output globs match —
    never anything outside the job's working_dir, nor through a symlinked directory, even one swapped
    in while this runs (``removal.remove_inside``)."""
    results = []
    for name in names:
        job = config.job(name)
        root = os.path.normpath(os.path.expanduser(str(job.working_dir)))
        for out in job.outputs:
            results.extend(_clean_output(name, root, out))
    return results


def _clean_output(job: str, root: str, out: str) -> list[CleanResult]:
    """Delete one declared output (a glob: each file it matches)."""
    from orchastration.outcomes import CleanStatus
    from orchastration.patterns import abs_path, display_path, files_matching, is_glob
    from orchastration.removal import Removal, relative_parts, remove_inside

    target = abs_path(root, out)
    if relative_parts(root, target) is None:
        return [CleanResult(job, out, CleanStatus.REFUSED, "outside the job's working_dir")]
    found = sorted(files_matching(target)) if is_glob(out) else [target]
    results = []
    for path in found:
        shown = display_path(root, path) if path != target else out
        parts = relative_parts(root, path)
        if parts is None:
            results.append(CleanResult(job, shown, CleanStatus.REFUSED, "outside the job's working_dir"))
            continue
        done, why = remove_inside(root, parts)
        if done is Removal.REMOVED:
            results.append(CleanResult(job, shown, CleanStatus.REMOVED))
        elif done is Removal.ABSENT:
            results.append(CleanResult(job, shown, CleanStatus.ABSENT))
        elif done is Removal.LINKED:
            results.append(CleanResult(job, shown, CleanStatus.REFUSED, "reached through a symlinked directory"))
        else:
            results.append(CleanResult(job, shown, CleanStatus.KEPT, why))
    return results


def forget(config: Config, paths: Paths, names: Sequence[str] | None) -> list[str]:
    """Drop the up-to-date state of ``names`` (all jobs when None); returns the names forgotten."""
    from orchastration.engine import forget as engine_forget

    chosen = sorted(config.jobs) if names is None else list(names)
    engine_forget(chosen, paths=paths)
    return chosen
