"""``prune``: delete old run records and their log files, keeping the newest of every job, task and
orchestration (docs/observability.md). Nothing here prints.

A run is a ``<stamp>``: its record ``<stamp>.json`` and every file named ``<stamp>.*`` beside it (the
``.stdout.log`` / ``.stderr.log`` of a job or task build; an orchestration's output log and its command
agents' logs). Never removed: the newest record of each directory, the one ``last.json`` names, and
the newest successful run of a job or task build (what ``verify`` and ``status`` read; the up-to-date
state in ``engine/`` never depends on old records). A run's logs go first and its record last: a crash
in between leaves an old record without logs, which the next ``prune`` removes (the record is how it
finds the run), never logs nobody can find. Files are removed relative to a directory opened without
following symlinks (``removal.remove_files_inside``): nothing outside the state dir is ever touched.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from orchastration.dataclass_code import dataclass, field
from orchastration.parallel import ordered_map
from orchastration.state import is_stamp, read_json

if TYPE_CHECKING:
    from orchastration.paths import Paths

DEFAULT_KEEP = 20
_STAMP_LEN = 23  # len("20261124T101500.123456Z")


@dataclass(frozen=True)
class Rules:
    """What to keep: the newest ``keep`` records of each directory (None: no count rule) and every
    record younger than ``older_than_days`` (None: no age rule). A record no rule keeps is removed."""

    keep: int | None = DEFAULT_KEEP
    older_than_days: float | None = None

    def cutoff(self, now: datetime) -> datetime | None:
        """Records that started before this are old (None: no age rule)."""
        return None if self.older_than_days is None else now - timedelta(days=self.older_than_days)


@dataclass
class Pruned:
    """What ``prune`` did in one directory of runs."""

    kind: str  # job | task | orchestration
    name: str
    run_ids: list[str] = field(default_factory=list)  # records removed
    files: int = 0  # files removed (records and logs)
    bytes: int = 0  # bytes freed
    kept: int = 0  # records left
    errors: list[str] = field(default_factory=list)  # "<file>: <why>" for each file that stayed


@dataclass(frozen=True)
class PruneResult:
    """Every directory of runs looked at, and the directories not followed (symlinks)."""

    dirs: list[Pruned]
    skipped: list[str]  # state-dir-relative paths of symlinked directories, left alone

    @property
    def removed(self) -> list[Pruned]:
        """The directories where something was removed or could not be."""
        return [d for d in self.dirs if d.run_ids or d.files or d.errors]


@dataclass
class _Run:
    """One ``<stamp>``'s files in a directory."""

    stamp: str
    files: list[str] = field(default_factory=list)
    has_record: bool = False


def prune(
    paths: Paths,
    rules: Rules,
    *,
    now: datetime | None = None,
    on_lock_wait: Callable[[], None] | None = None,
) -> PruneResult:
    """Prune ``runs/`` under the state lock (no job or task build is writing a record meanwhile), then
    each ``orchestrations/<name>/`` under that orchestration's run lock (never both locks at once: a
    running orchestration holds its own lock and then asks for the state lock)."""
    from orchastration.engine.lock import state_lock
    from orchastration.locking import hold

    root = os.path.realpath(paths.state_dir)
    moment = now or datetime.now(UTC)
    dirs: list[Pruned] = []
    skipped: list[str] = []
    runs = list(_run_dirs(root, "runs", skipped))
    if runs:
        with state_lock(paths.engine_dir, on_lock_wait):
            dirs.extend(ordered_map(lambda name: _prune_dir(root, ["runs", name], rules, moment), runs, 4))
    for name in _run_dirs(root, "orchestrations", skipped):
        with hold(paths.engine_dir / "locks" / f"orchestration-{name}.lock", on_lock_wait):
            dirs.append(_prune_dir(root, ["orchestrations", name], rules, moment))
    return PruneResult(dirs, skipped)


def _run_dirs(root: str, top: str, skipped: list[str]) -> Iterator[str]:
    """The directories of runs under ``root/top``, sorted; a symlink (at either level) is noted in
    ``skipped`` and never entered."""
    path = os.path.join(root, top)
    if os.path.islink(path):
        skipped.append(top)
        return
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError:  # absent: nothing recorded yet
        return
    for entry in entries:
        if entry.is_symlink():
            skipped.append(f"{top}/{entry.name}")
        elif entry.is_dir(follow_symlinks=False):
            yield entry.name


def _prune_dir(root: str, parts: list[str], rules: Rules, now: datetime) -> Pruned:
    """Remove the runs of one directory that no rule keeps."""
    directory = os.path.join(root, *parts)
    runs = _runs(directory)
    records = sorted((s for s, r in runs.items() if r.has_record), reverse=True)
    result = Pruned("orchestration" if parts[0] == "orchestrations" else "job", parts[1])
    keep = _kept_by_rules(records, rules, now)
    if len(keep) < len(records):  # something may go: only now read what must stay whatever the rules say
        keep |= _protected(directory, records, parts[0] == "runs")
    oldest_kept = min(keep) if keep else ""
    old = [r for s, r in sorted(runs.items()) if s not in keep and (r.has_record or s < oldest_kept)]
    if old:
        if parts[0] == "runs" and records:
            result.kind = _kind(directory, records[0])
        _remove(root, parts, old, result)
    result.kept = len(records) - len(result.run_ids)
    return result


def _runs(directory: str) -> dict[str, _Run]:
    """The files of each ``<stamp>`` in ``directory`` (regular files and symlinks; directories such as
    an orchestration's ``tmp/`` and files like ``last.json`` belong to no run)."""
    runs: dict[str, _Run] = {}
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return runs
    for entry in entries:
        name = entry.name
        stamp = name[:_STAMP_LEN]
        if name[_STAMP_LEN : _STAMP_LEN + 1] != "." or not is_stamp(stamp) or entry.is_dir(follow_symlinks=False):
            continue
        run = runs.setdefault(stamp, _Run(stamp))
        run.files.append(name)
        if name == f"{stamp}.json":
            run.has_record = True
    return runs


def _kept_by_rules(records: list[str], rules: Rules, now: datetime) -> set[str]:
    """The records (newest first) the count and age rules keep, and always the newest."""
    keep = set(records[:1])
    if rules.keep is not None:
        keep.update(records[: rules.keep])
    cutoff = rules.cutoff(now)
    if cutoff is not None:
        keep.update(s for s in records if _started(s) >= cutoff)
    return keep


def _started(stamp: str) -> datetime:
    """The UTC time a ``<stamp>`` (``YYYYMMDDTHHMMSS.ffffffZ``) names: when the run started. A name of
    that shape that is no date counts as new (kept by the age rule: no rule may guess)."""
    try:
        year, month, day, hour, minute, second, micro = (
            int(stamp[a:b]) for a, b in ((0, 4), (4, 6), (6, 8), (9, 11), (11, 13), (13, 15), (16, 22))
        )
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)
    except ValueError:
        return datetime.max.replace(tzinfo=UTC)


def _protected(directory: str, records: list[str], unit_runs: bool) -> set[str]:
    """Records kept whatever the rules say: the one ``last.json`` names and, for jobs and task builds,
    the newest successful run (``verify`` reads it; ``status`` reads ``last.json``)."""
    from orchastration.verify import last_success

    keep: set[str] = set()
    last = read_json(Path(directory, "last.json"))
    if isinstance(last, dict) and isinstance(last.get("run_id"), str):
        keep.add(last["run_id"])
    if unit_runs:
        found = last_success(Path(directory))
        if found is not None:
            keep.add(found[0].name[: -len(".json")])
    return keep


def _kind(directory: str, newest: str) -> str:
    """``task`` for a task's runs (its records carry ``task_name``), else ``job``."""
    record = read_json(Path(directory, "last.json")) or read_json(Path(directory, f"{newest}.json"))
    return "task" if isinstance(record, dict) and "task_name" in record else "job"


def _remove(root: str, parts: list[str], old: list[_Run], result: Pruned) -> None:
    """Remove each old run's logs, then the records of the runs whose logs all went."""
    from orchastration.removal import remove_files_inside

    logs = [name for run in old for name in run.files if name != f"{run.stamp}.json"]
    done = _tally(remove_files_inside(root, parts, logs), parts, result)
    # A record goes only once all its logs have: else it stays, and the next prune tries again.
    whole = [run for run in old if run.has_record and all(n in done for n in run.files if n != f"{run.stamp}.json")]
    done = _tally(remove_files_inside(root, parts, [f"{run.stamp}.json" for run in whole]), parts, result)
    result.run_ids.extend(run.stamp for run in whole if f"{run.stamp}.json" in done)


def _tally(outcome: dict[str, int | str], parts: list[str], result: Pruned) -> set[str]:
    """Count what went (files, bytes) and note what stayed; the names removed."""
    done = set()
    for name, freed in outcome.items():
        if isinstance(freed, int):
            done.add(name)
            result.files += 1
            result.bytes += freed
        else:
            result.errors.append(f"{'/'.join([*parts, name])}: {freed}")
    return done
