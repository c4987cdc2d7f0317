"""The generic unit of work (one doit task) that jobs and task builds compile into, and its helpers."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchastration import patterns
from orchastration.dataclass_code import dataclass, field

if TYPE_CHECKING:
    from orchastration.config import JobConfig, TaskConfig

INCOMPLETE = ".incomplete"  # marker in a record_dir while a run has not finished well

# UnitResult statuses; "not_run" = never started (a dependency failed, or the run stopped early);
# "restored" = outputs restored from the output cache (docs/cache.md).
RAN, SKIPPED, FAILED, TIMEOUT, INTERRUPTED, NOT_RUN = "ran", "skipped", "failed", "timeout", "interrupted", "not_run"
# A unit's status from how its process ended (orchastration.process.ProcessResult.status).
STATUS_OF_PROCESS = {"ok": RAN, "failed": FAILED, "not_found": FAILED, "timeout": TIMEOUT, "interrupted": INTERRUPTED}


@dataclass(frozen=True)
class Unit:
    """One doit task: a command with its inputs, outputs and dependencies."""

    name: str  # unique; the doit task name
    command: tuple[str, ...] | str
    shell: bool
    working_dir: Path
    env: Mapping[str, str]
    timeout_seconds: float
    inputs: tuple[str, ...]  # globs relative to working_dir
    outputs: tuple[str, ...]  # paths relative to working_dir
    depends_on: tuple[str, ...]  # names of other units
    always_run: bool
    record_dir: Path  # state/runs/<name>/: <timestamp>.json, .stdout.log, .stderr.log, last.json
    extra_record: Mapping[str, Any] = field(default_factory=dict)  # merged into each run record
    after: tuple[str, ...] = ()  # order only: started after these units when they are in the same run

    # Derived once per unit (a run of 1,000 units asks for each several times). cached_property
    # writes the instance dict directly, so it works on a frozen dataclass.
    @cached_property
    def abs_outputs(self) -> tuple[str, ...]:
        """The declared literal outputs (files or directories), absolute: doit's targets."""
        literals, globs = patterns.split_patterns(self.working_dir, self.outputs)
        self.__dict__["output_globs"] = globs  # the other half of the same split (cached_property's slot)
        return literals

    @cached_property
    def output_globs(self) -> tuple[str, ...]:
        """The declared glob outputs (``dist/*.whl``), absolute."""
        literals, globs = patterns.split_patterns(self.working_dir, self.outputs)
        self.__dict__["abs_outputs"] = literals
        return globs

    @cached_property
    def declared_outputs(self) -> list[str]:
        """Every declared output, absolute, sorted: what ``outputs changed`` compares."""
        return sorted({*self.abs_outputs, *self.output_globs})

    @cached_property
    def abs_inputs(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The declared inputs, absolute: (literal paths, glob patterns), each in config order."""
        return patterns.split_patterns(self.working_dir, self.inputs)

    @cached_property
    def signature(self) -> dict[str, str]:
        """See ``signature()``."""
        command = self.command if isinstance(self.command, str) else tuple(self.command)
        return {
            "command": _quick_digest((command, self.shell)),
            "env": env_digest(self.env, self.env_key),
            "working_dir": str(self.working_dir),
        }

    @property
    def env_key(self) -> bytes:
        """The state dir's key for hashing env values (``record_dir`` is ``<state>/runs/<name>/``);
        read only for a unit that has env values."""
        if not self.env:
            return b""
        from orchastration.state import state_key

        return state_key(self.record_dir.parent.parent / "engine")


def command_unit(
    cfg: JobConfig | TaskConfig,
    *,
    depends_on: tuple[str, ...],
    always_run: bool,
    record_dir: Path,
    extra_record: Mapping[str, Any],
    after: tuple[str, ...] = (),
) -> Unit:
    """A configured command (a job, a task's build) as a unit: what both configs share, plus the rest."""
    return Unit(
        name=cfg.name,
        command=cfg.command,
        shell=cfg.shell,
        working_dir=cfg.working_dir,
        env=dict(cfg.env),
        timeout_seconds=cfg.timeout_seconds,
        inputs=cfg.inputs,
        outputs=cfg.outputs,
        depends_on=depends_on,
        always_run=always_run,
        record_dir=record_dir,
        extra_record=extra_record,
        after=after,
    )


def with_args(command: tuple[str, ...] | str, args: Sequence[str], windows: bool) -> tuple[str, ...] | str:
    """``command`` with ``args`` appended (``run JOB -- ARGS``): argv elements as they are; for a shell
    command string each argument quoted for the platform shell (``shlex.quote``; ``list2cmdline`` for
    cmd.exe), so an argument is one word there too. The result is the unit's command, so the
    arguments take part in its signature: new arguments rerun the job, the same ones skip it."""
    if not args:
        return command
    if not isinstance(command, str):
        return (*command, *args)
    if windows:
        import subprocess

        return f"{command} {subprocess.list2cmdline(list(args))}"
    import shlex

    return f"{command} {' '.join(shlex.quote(a) for a in args)}"


@dataclass(frozen=True)
class UnitResult:
    """The outcome of one unit in a run."""

    name: str
    status: str  # ran | skipped | failed | timeout | interrupted | not_run | restored
    exit_code: int | None
    duration_ms: int
    record_path: Path | None
    reasons: tuple[str, ...]
    message: str


@dataclass(frozen=True)
class PlanItem:
    """A unit in run order with why it would run (empty: up to date)."""

    name: str
    reasons: tuple[str, ...]

    @property
    def would_run(self) -> bool:
        return bool(self.reasons)


def digest(value: Any) -> str:
    """A stable sha256 of a JSON-able value (command, env, ...)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _quick_digest(value: tuple[Any, ...]) -> str:
    """sha256 of the ``repr`` of a tuple of strings/bools: stable, and ~5x cheaper than JSON
    (computed for every unit on every run that reaches doit)."""
    return hashlib.sha256(repr(value).encode("utf-8", "surrogatepass")).hexdigest()


def signature(unit: Unit) -> dict[str, str]:
    """What besides files decides up-to-date: command, env (a keyed hash: values may be secrets), working_dir."""
    return dict(unit.signature)


def env_digest(env: Mapping[str, str], key: bytes) -> str:
    """The env as one hash: HMAC-SHA256 under the state dir's random key (``state.state_key``), so a
    stored hash cannot be tested against guessed values (a 6-digit PIN) without the key. An empty env
    holds no secret: its hash is the plain one it always was (such units never rerun over the key)."""
    items = tuple(sorted(env.items()))
    if not items:
        return _quick_digest(items)
    import hmac

    return hmac.new(key, repr(items).encode("utf-8", "surrogatepass"), "sha256").hexdigest()


def env_summary(unit: Unit) -> dict[str, Any]:
    """Env for records and logs: the names and one keyed hash of the values (the signature's), never
    the values; an empty env holds no secret and keeps the plain hash records always showed."""
    return {"env_names": sorted(unit.env), "env_hash": unit.signature["env"] if unit.env else digest([])}


def input_patterns(unit: Unit, listing: patterns.DirListing | None = None) -> tuple[list[str], list[str]]:
    """The unit's inputs, absolute, split as ``patterns.input_patterns`` does."""
    return patterns.input_patterns(*unit.abs_inputs, listing)


def expand_inputs(unit: Unit, listing: patterns.DirListing | None = None) -> list[str]:
    """The unit's input files, absolute and sorted (``patterns.expand``)."""
    return patterns.expand(*unit.abs_inputs, listing)


def output_paths(unit: Unit) -> list[str]:
    """The unit's declared outputs, absolute (literal ones, then globs)."""
    return [*unit.abs_outputs, *unit.output_globs]


def output_files(unit: Unit) -> tuple[list[str], list[str]]:
    """The files the unit's outputs name now, and the declared outputs naming nothing
    (``patterns.output_files``)."""
    return patterns.output_files(unit.abs_outputs, unit.output_globs)


def incomplete_mark(unit: Unit) -> str:
    """The unit's incomplete mark (``INCOMPLETE`` in its record dir). A string: only system calls see
    it, several times a unit of a run, and a ``Path`` join costs ~2 µs where this costs ~0.1."""
    return f"{unit.record_dir}{os.sep}{INCOMPLETE}"


def display_path(unit: Unit, path: str) -> str:
    """A path as the user wrote it: relative to the unit's working_dir when inside it."""
    return patterns.display_path(unit.working_dir, path)


def closure(
    units: Mapping[str, Unit], targets: Sequence[str], producers: Mapping[str, Sequence[str]] | None = None
) -> list[str]:
    """``targets`` and everything they depend on, dependencies first (stable, config order otherwise).

    ``producers`` adds implicit dependencies (see ``literal_producers``), as make builds a
    prerequisite that has a rule even when the target names no dependency.
    """
    order: list[str] = []
    seen: set[str] = set()
    extra = producers or {}
    # Iterative depth-first search (a chain of 10,000 units needs no recursion): each frame is a
    # unit and an iterator over its dependencies; a unit is placed once all of them are.
    for target in targets:
        if target in seen:
            continue
        seen.add(target)
        stack = [(target, iter((*units[target].depends_on, *extra.get(target, ()))))]
        while stack:
            name, deps = stack[-1]
            for dep in deps:
                if dep not in seen:
                    seen.add(dep)
                    stack.append((dep, iter((*units[dep].depends_on, *extra.get(dep, ())))))
                    break
            else:
                stack.pop()
                order.append(name)
    return order


def literal_producers(units: Mapping[str, Unit]) -> dict[str, list[str]]:
    """For each unit, the other units whose declared outputs are among its literal (non-glob) inputs."""
    producer = {path: u.name for u in units.values() for path in u.abs_outputs}
    found: dict[str, list[str]] = {}
    for unit in units.values():
        names = [producer.get(path) for path in unit.abs_inputs[0]]
        deps = [n for n in dict.fromkeys(names) if n is not None and n != unit.name]
        if deps:
            found[unit.name] = deps
    return found


def index(units: Iterable[Unit]) -> dict[str, Unit]:
    """Units by name; a dependency on a unit not in the set is a programming error."""
    table = {u.name: u for u in units}
    for unit in table.values():
        for dep in unit.depends_on:
            if dep not in table:
                raise ValueError(f"unit {unit.name!r} depends on unknown unit {dep!r}")
    return table
