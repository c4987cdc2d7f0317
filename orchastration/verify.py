"""``verify``: re-hash the outputs of each job's (or task build's) last successful run against its record.

The up-to-date check trusts an unchanged ``(mtime_ns, size)`` (docs/jobs.md); ``verify`` never does:
every output the record lists is read and hashed with the record's own algorithm, so an edit that kept
size and mtime shows as ``CHANGED`` (docs/observability.md). Nothing here prints.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchastration.dataclass_code import dataclass
from orchastration.parallel import ordered_map
from orchastration.state import read_json

if TYPE_CHECKING:
    from orchastration.config import Config
    from orchastration.paths import Paths

# Record statuses of a run whose outputs are what the record lists: the command ran and succeeded, or
# an output cache restored them (the cache's ``ResultStore`` records ``restored``).
SUCCESSFUL = frozenset({"ran", "restored"})


class VerifyState(StrEnum):
    """The verdict on one output, or why a job has none to give."""

    OK = "OK"
    CHANGED = "CHANGED"
    MISSING = "MISSING"
    NO_RUN = "NO_RUN"  # no successful run recorded
    NO_OUTPUTS = "NO_OUTPUTS"  # the last successful run recorded no outputs


FAILING = frozenset({VerifyState.CHANGED, VerifyState.MISSING})


@dataclass(frozen=True)
class Target:
    """A job or a task build to verify: its kind (``job`` / ``task``), name and record directory."""

    kind: str
    name: str
    record_dir: Path
    named: bool = True  # asked for by name (a named one without a successful run fails verify)


@dataclass(frozen=True)
class OutputCheck:
    """One line of ``verify``: an output of a target's last successful run and its state now."""

    kind: str
    name: str
    output: str | None  # as the record shows it (relative to the working dir when inside it)
    state: VerifyState
    record: str | None  # the record checked against
    detail: str = ""  # why an output counts as changed when it could not be read
    named: bool = True  # its target was named on the command line

    @property
    def failed(self) -> bool:
        """CHANGED or MISSING, or a target named on the command line with no successful run."""
        return self.state in FAILING or (self.state is VerifyState.NO_RUN and self.named)


def targets(config: Config, paths: Paths, names: Sequence[str]) -> list[Target]:
    """The jobs and task builds ``names`` name (a name that is neither is a usage error naming it),
    or, without names, every configured job and every task that has a build record."""
    runs = paths.runs_dir
    if not names:
        jobs = [Target("job", n, runs / n, named=False) for n in sorted(config.jobs)]
        built = [n for n in sorted(config.tasks) if os.path.exists(runs / n / "last.json")]
        return jobs + [Target("task", n, runs / n, named=False) for n in built]
    chosen = []
    for name in dict.fromkeys(names):
        if name not in config.jobs and name in config.tasks:
            chosen.append(Target("task", name, runs / name))
        else:
            chosen.append(Target("job", config.job(name).name, runs / name))  # unknown: the job lookup's error
    return chosen


def last_success(record_dir: Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest successful run record in ``record_dir`` (``last.json`` when the newest run succeeded,
    which is the usual case: one read), else the newest ``<stamp>.json`` that did; None if none did."""
    last = read_json(record_dir / "last.json")
    if isinstance(last, dict) and _successful(last) and isinstance(last.get("run_id"), str):
        return record_dir / f"{last['run_id']}.json", last
    newest = last.get("run_id") if isinstance(last, dict) else None
    for stamp in sorted(record_stamps(record_dir), reverse=True):
        if isinstance(newest, str) and stamp >= newest:
            continue  # last.json already said how the newest run ended
        record = read_json(record_dir / f"{stamp}.json")
        if isinstance(record, dict) and _successful(record):
            return record_dir / f"{stamp}.json", record
    return None


def _successful(record: Mapping[str, Any]) -> bool:
    """A run of a unit (job or task build: it has a ``run_id``) that succeeded."""
    return record.get("status") in SUCCESSFUL and "run_id" in record and isinstance(record.get("outputs"), dict)


def record_stamps(directory: Path) -> list[str]:
    """The ``<stamp>`` of every ``<stamp>.json`` record in ``directory`` (unsorted; none if it is absent)."""
    from orchastration.state import is_stamp

    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return [n[:-5] for n in names if n.endswith(".json") and is_stamp(n[:-5])]


def verify(targets: Sequence[Target]) -> list[OutputCheck]:
    """Every output of each target's last successful run, re-hashed and compared, in target order
    (outputs sorted as the record lists them)."""
    found = [(target, last_success(target.record_dir)) for target in targets]
    work = [(hit[1], out) for _, hit in found if hit is not None for out in sorted(hit[1]["outputs"])]
    states = iter(ordered_map(_check_one, work))
    checks: list[OutputCheck] = []
    for target, hit in found:
        if hit is None:
            checks.append(OutputCheck(target.kind, target.name, None, VerifyState.NO_RUN, None, named=target.named))
            continue
        path, record = str(hit[0]), hit[1]
        if not record["outputs"]:
            checks.append(OutputCheck(target.kind, target.name, None, VerifyState.NO_OUTPUTS, path))
        for out in sorted(record["outputs"]):
            state, detail = next(states)
            checks.append(OutputCheck(target.kind, target.name, out, state, path, detail))
    return checks


def _check_one(work: tuple[Mapping[str, Any], str]) -> tuple[VerifyState, str]:
    return _check(*work)


def _check(record: Mapping[str, Any], output: str) -> tuple[VerifyState, str]:
    """One output of a record: OK, CHANGED (another hash, or unreadable: nothing vouches for it) or MISSING."""
    from orchastration.errors import InputError
    from orchastration.hashing import hash_file

    expected = record["outputs"][output]
    path = os.path.join(str(record.get("working_dir", "")), output)  # an absolute output stays as it is
    if not os.path.lexists(path):
        return VerifyState.MISSING, ""
    if expected is None:  # the run made nothing here; something appeared since
        return VerifyState.CHANGED, "not made by the run"
    try:
        actual = hash_file(path, str(record.get("hash_algorithm", "sha256")))
    except InputError as exc:
        if not os.path.exists(path):  # a dangling symlink: nothing to read there
            return VerifyState.MISSING, ""
        return VerifyState.CHANGED, str(exc).rpartition(": ")[2]
    except ValueError as exc:  # an algorithm this Python lacks
        return VerifyState.CHANGED, f"cannot hash: {exc}"
    return (VerifyState.OK, "") if actual == expected else (VerifyState.CHANGED, "")


def exit_code(checks: Iterable[OutputCheck]) -> int:
    """1 if any output is CHANGED or MISSING or a named target has no successful run, else 0."""
    from orchastration.errors import EXIT_FAILED, EXIT_OK

    return EXIT_FAILED if any(c.failed for c in checks) else EXIT_OK
