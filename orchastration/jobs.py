"""Jobs: the config's ``[jobs.*]`` compiled to engine units, and run / status / why / clean / forget.

Nothing here prints; results are values the CLI renders.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchastration.config import Config, JobConfig
    from orchastration.engine.units import PlanItem, Unit
    from orchastration.paths import Paths


def job_unit(job: JobConfig, paths: Paths) -> Unit:
    """One job as an engine unit (its records go to ``state/runs/<job>/``)."""
    from orchastration.engine.units import Unit

    return Unit(
        name=job.name,
        command=job.command,
        shell=job.shell,
        working_dir=job.working_dir,
        env=dict(job.env),
        timeout_seconds=job.timeout_seconds,
        inputs=job.inputs,
        outputs=job.outputs,
        depends_on=job.depends_on,
        always_run=job.always_run,
        record_dir=paths.runs_dir / job.name,
        extra_record={"job_name": job.name},
    )


def job_units(config: Config, paths: Paths) -> list[Unit]:
    """Every configured job as a unit, in sorted order."""
    return [job_unit(config.jobs[name], paths) for name in sorted(config.jobs)]


def select(config: Config, names: Sequence[str]) -> list[str]:
    """The jobs named (each checked: unknown -> usage error with suggestions), or all when none."""
    if not names:
        return sorted(config.jobs)
    for name in names:
        config.job(name)
    return list(dict.fromkeys(names))


def fast_key(config_path: Path | None, config_bytes: bytes, names: Sequence[str]) -> str:
    """The no-op summary key of a ``run`` of ``names`` (empty: every job) with this config file."""
    from orchastration.engine.fastpath import make_key

    return make_key(config_bytes, str(config_path or ""), sorted(set(names)) or ["*"], kind="jobs")


def fast_noop(config_path: Path | None, engine_dir: Path, names: Sequence[str]) -> list[str] | None:
    """The jobs of a run that is known to be a no-op (order of the last run), without loading the
    config model or doit; None when doit has to decide."""
    if config_path is None:
        return None
    from orchastration.engine import fastpath

    try:
        data = config_path.read_bytes()
    except OSError:
        return None
    return fastpath.check(engine_dir, fast_key(config_path, data, names))


def config_bytes(config: Config) -> bytes:
    """The config file's bytes (for the summary key), or nothing for built-in defaults."""
    if config.path is None:
        return b""
    try:
        return config.path.read_bytes()
    except OSError:
        return b""


@dataclass(frozen=True)
class JobStatus:
    """A job's last run and the current up-to-date verdict."""

    name: str
    last: Mapping[str, Any] | None
    reasons: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        last = self.last or {}
        return {
            "job": self.name,
            "last_run": (
                {k: last.get(k) for k in ("status", "exit_code", "duration_ms", "start_time", "end_time")}
                | {"record": last.get("_path")}
                if self.last
                else None
            ),
            "up_to_date": not self.reasons,
            "reasons": list(self.reasons),
        }


def status(config: Config, paths: Paths) -> list[JobStatus]:
    """Every job's last record and whether it is up to date now."""
    from orchastration.engine import plan
    from orchastration.state import read_json

    names = sorted(config.jobs)
    if not names:
        return []
    items: dict[str, PlanItem] = {
        i.name: i for i in plan(job_units(config, paths), names, paths=paths, hash_algorithm=config.hash.algorithm)
    }
    out = []
    for name in names:
        last_path = paths.runs_dir / name / "last.json"
        last = read_json(last_path)
        if isinstance(last, dict):
            last["_path"] = str(paths.runs_dir / name / f"{last.get('run_id', 'last')}.json")
        out.append(JobStatus(name, last if isinstance(last, dict) else None, items[name].reasons))
    return out


@dataclass(frozen=True)
class CleanResult:
    """What ``clean`` did with one declared output."""

    job: str
    path: str  # as declared
    action: str  # removed | absent | refused | kept
    detail: str = ""


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return path != root


def clean(config: Config, names: Sequence[str]) -> list[CleanResult]:
    """Delete the declared outputs of ``names``; never anything outside the job's working_dir."""
    results = []
    for name in names:
        job = config.job(name)
        root = job.working_dir.resolve()
        for out in job.outputs:
            target = job.working_dir / os.path.expanduser(out)
            # Resolve the parent (symlinked dirs) but not the file itself: a symlink is removed, not followed.
            real = target.parent.resolve() / target.name
            if not _inside(real, root) or target.name in ("", ".", ".."):
                results.append(CleanResult(name, out, "refused", "outside the job's working_dir"))
                continue
            if not os.path.lexists(real):
                results.append(CleanResult(name, out, "absent"))
            elif real.is_dir() and not real.is_symlink():
                try:
                    real.rmdir()
                except OSError:
                    results.append(CleanResult(name, out, "kept", "a directory that is not empty"))
                    continue
                results.append(CleanResult(name, out, "removed"))
            else:
                real.unlink()
                results.append(CleanResult(name, out, "removed"))
    return results


def forget(config: Config, paths: Paths, names: Sequence[str] | None) -> list[str]:
    """Drop the up-to-date state of ``names`` (all jobs when None); returns the names forgotten."""
    from orchastration.engine import forget as engine_forget

    chosen = sorted(config.jobs) if names is None else list(names)
    engine_forget(chosen, paths=paths)
    return chosen
