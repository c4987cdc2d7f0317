"""Crash harness: SIGKILL ``run``, ``orchestration run`` and ``doc generate`` at random moments, then
check that the state is sound, that nothing unfinished counts as up to date, that nothing finished
before the kill runs again for lack of state, and that a rerun heals.

Each scenario owns a project directory. ``iteration(rng)`` changes some inputs, starts the command,
kills it after a random delay (uniform over the length of a whole run), ends or waits for the
commands it left behind, checks, reruns to completion and checks again. It returns the problems
found (empty: the kill point was survived).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reliability.common import (
    PY,
    Done,
    isolated_env,
    last_json_problems,
    run,
    run_killed,
    settle_orphans,
    state_problems,
)

# The job command: expands its input globs, writes <name>:<sha256 of the inputs> LINES times to its
# output *in place and slowly* (a kill tears it), and journals its start and end.
LINES = 400
WORK = textwrap.dedent(
    f"""
    import glob, hashlib, os, sys, time
    name, out, *patterns = sys.argv[1:]
    def journal(event):
        with open("journal.log", "a", encoding="utf-8") as fh:
            fh.write(f"{{event}} {{name}} {{os.getpid()}}\\n")
    journal("start")
    files = sorted({{f for p in patterns for f in glob.glob(p, recursive=True) if os.path.isfile(f)}})
    data = b"".join(open(f, "rb").read() for f in files)
    payload = (name + ":" + hashlib.sha256(data).hexdigest() + "\\n").encode() * {LINES}
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "wb") as fh:
        for i in range(0, len(payload), 4096):
            fh.write(payload[i : i + 4096])
            fh.flush()
            time.sleep(0.004)
    journal("end")
    """
)


def expected_output(root: Path, name: str, patterns: list[str]) -> bytes:
    """What ``work.py`` writes for ``name`` from the current inputs."""
    files = sorted({f for p in patterns for f in root.glob(p) if f.is_file()}, key=lambda f: str(f.relative_to(root)))
    data = b"".join(f.read_bytes() for f in files)
    return (name + ":" + hashlib.sha256(data).hexdigest() + "\n").encode() * LINES


@dataclass
class Outcome:
    """One kill point: was the command killed mid-run, and what went wrong."""

    killed: bool
    problems: list[str] = field(default_factory=list)
    signal: str = ""


class Scenario:
    """A project, a command to kill, and the checks after the kill."""

    name = "scenario"

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "proj"
        self.root.mkdir(parents=True, exist_ok=True)
        self.env = isolated_env(base)
        self.state = Path(self.env["ORCHASTRATION_STATE_DIR"])
        self.full_seconds = 1.0
        self.iterations = 0
        self.term_problems: list[str] = []

    def cli(self, *argv: str) -> Done:
        return run(argv, self.root, self.env)

    def journal(self) -> list[tuple[str, str, int]]:
        path = self.root / "journal.log"
        if not path.exists():
            return []
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            event, name, pid = line.split()
            out.append((event, name, int(pid)))
        return out

    def kill_at(self, argv: list[str], rng: random.Random) -> tuple[Done, list[tuple[str, str, int]]]:
        """Run ``argv``, kill it at a random point, settle what it left; the journal lines it made.

        One kill in four is a SIGTERM (POSIX): the CLI must stop its commands and exit 130.
        """
        before = len(self.journal())
        delay = rng.uniform(0.0, self.full_seconds * 1.15)
        term = os.name == "posix" and rng.random() < 0.25
        done = run_killed(argv, self.root, self.env, delay, signal.SIGTERM if term else None)
        done.signal = "SIGTERM" if term and done.killed else ("SIGKILL" if done.killed else "")
        lines = self.journal()[before:]
        ended = {pid for event, _, pid in lines if event == "end"}
        orphans = [pid for event, _, pid in lines if event == "start" and pid not in ended]
        left = settle_orphans(orphans, kill=not term and rng.random() < 0.5, timeout=10 if term else 30)
        if term and left:
            self.term_problems.append(f"SIGTERM left commands running: {left}")
            settle_orphans(left, kill=True)
        return done, self.journal()[before:]

    def check_codes(self, done: Done, allowed: tuple[int, ...] = (0, 1)) -> list[str]:
        problems, self.term_problems = self.term_problems, []
        if done.signal == "SIGTERM":
            # 130 (interrupted), 0 (it had just finished), or -15 (it had not yet started Python's handler)
            if done.code not in (0, 130, -signal.SIGTERM) or "Traceback" in done.err:
                problems.append(f"SIGTERM: exit {done.code}: {done.err.strip()[-500:]}")
            return problems
        if done.killed:
            return problems
        if done.code not in allowed or "Traceback" in done.err:
            problems.append(f"unkilled run ended {done.code}: {done.err.strip()[-500:]}")
        return problems


def _new_records(directory: Path, since: str) -> list[dict[str, Any]]:
    found = []
    for path in sorted(directory.glob("2*.json")):
        if path.stem > since:
            try:
                found.append(json.loads(path.read_text(encoding="utf-8")))
            except ValueError:
                found.append({"status": "<torn>"})
    return found


def _stamp_now() -> str:
    from orchastration.state import stamp, utc_now

    return stamp(utc_now())


JOBS: dict[str, dict[str, Any]] = {
    "a": {"patterns": ["src/*.txt"], "depends_on": []},
    "b": {"patterns": ["build/a.out"], "depends_on": ["a"]},
    "c": {"patterns": ["build/b.out", "src/c.cfg"], "depends_on": ["b"]},
    "e": {"patterns": ["src/e/**/*.txt"], "depends_on": []},
    "f": {"patterns": ["build/a.out", "build/e.out"], "depends_on": ["a", "e"]},
    "g": {"patterns": ["build/c.out"], "depends_on": []},  # ordered after c through the file only
}


class JobsScenario(Scenario):
    """Dependent jobs (a chain, a diamond, an implicit file dependency) killed mid-``run``."""

    name = "jobs"

    def setup(self) -> None:
        (self.root / "work.py").write_text(WORK, encoding="utf-8")
        (self.root / "src" / "e").mkdir(parents=True, exist_ok=True)
        for i in range(3):
            (self.root / "src" / f"s{i}.txt").write_text(f"source {i}\n", encoding="utf-8")
            (self.root / "src" / "e" / f"e{i}.txt").write_text(f"e {i}\n", encoding="utf-8")
        (self.root / "src" / "c.cfg").write_text("cfg\n", encoding="utf-8")
        lines = []
        for name, spec in JOBS.items():
            lines += [
                f"[jobs.{name}]",
                f"command = {json.dumps([PY, 'work.py', name, f'build/{name}.out', *spec['patterns']])}",
                f"inputs = {json.dumps(spec['patterns'])}",
                f'outputs = ["build/{name}.out"]',
                f"depends_on = {json.dumps(spec['depends_on'])}",
                "",
            ]
        (self.root / "orchastration.toml").write_text("\n".join(lines), encoding="utf-8")
        first = self.cli("run")
        assert first.code == 0, first.err
        self.full_seconds = max(self.cli("run", "--force", *JOBS).seconds, 0.3)

    def mutate(self, rng: random.Random) -> None:
        choice = rng.random()
        src = self.root / "src"
        if choice < 0.15:
            (src / "e" / f"n{self.iterations}.txt").write_text(f"new {rng.random()}\n", encoding="utf-8")
        elif choice < 0.25:
            extra = sorted((src / "e").glob("n*.txt"))
            if extra:
                rng.choice(extra).unlink()
        candidates = [*sorted(src.glob("*.txt")), src / "c.cfg", *sorted((src / "e").glob("e*.txt"))]
        for path in rng.sample(candidates, rng.randint(1, 2)):
            path.write_text(f"{path.name} {rng.random()}\n", encoding="utf-8")

    def argv(self, rng: random.Random) -> list[str]:
        argv = ["run"]
        if rng.random() < 0.4:
            argv += ["-j", str(rng.choice([2, 3]))]
        if rng.random() < 0.3:
            argv += rng.sample(sorted(JOBS), rng.randint(1, 3))
        if rng.random() < 0.2:
            argv.append("--keep-going")
        if rng.random() < 0.15:
            argv.append("--force")
        return argv

    def status(self) -> tuple[dict[str, dict[str, Any]], list[str]]:
        res = self.cli("status", "--json")
        if res.code != 0:
            return {}, [f"status --json exited {res.code}: {res.err.strip()[-300:]}"]
        return {item["job"]: item for item in json.loads(res.out)}, []

    def uptodate_problems(self, stale_required: set[str]) -> list[str]:
        """Up to date => the output is what the current inputs make; unfinished => not up to date."""
        status, problems = self.status()
        for name, item in status.items():
            if not item["up_to_date"]:
                continue
            if name in stale_required:
                problems.append(f"job {name}: its last run never finished, yet it is reported up to date")
            out = self.root / "build" / f"{name}.out"
            want = expected_output(self.root, name, JOBS[name]["patterns"])
            if not out.exists() or out.read_bytes() != want:
                size = out.stat().st_size if out.exists() else None
                problems.append(f"job {name}: up to date but its output is wrong (size {size}, want {len(want)})")
        return problems

    def lost_work_problems(self, finished: set[str]) -> list[str]:
        """A job whose record says it finished before the kill must not run again for lack of state
        (it may for a real reason: a producer left out of the killed run runs now and changes its input)."""
        plan = self.cli("run", "--dry-run", "--json")
        if plan.code != 0:
            return [f"run --dry-run exited {plan.code}: {plan.err.strip()[-300:]}"]
        lost = ("last run interrupted", "state forgotten", "never run")
        return [
            f"job {item['job']}: finished before the kill, yet it would run again: {item['reasons']}"
            for item in json.loads(plan.out)
            if item["job"] in finished and item["would_run"] and set(item["reasons"]) & set(lost)
        ]

    def iteration(self, rng: random.Random) -> Outcome:
        self.iterations += 1
        self.mutate(rng)
        since = _stamp_now()
        done, lines = self.kill_at(self.argv(rng), rng)
        outcome = Outcome(done.killed, self.check_codes(done), done.signal)
        outcome.problems += state_problems(self.state)
        started = {name for event, name, _ in lines if event == "start"}
        unfinished = {
            n
            for n in started
            if not any(r.get("status") == "ran" for r in _new_records(self.state / "runs" / n, since))
        }
        outcome.problems += self.uptodate_problems(unfinished)
        outcome.problems += self.lost_work_problems(started - unfinished)
        rerun = self.cli("run")
        if rerun.code != 0:
            outcome.problems.append(f"rerun exited {rerun.code}: {rerun.err.strip()[-500:]}")
        for name in unfinished:
            if f"job={name} status=ran" not in rerun.out:
                outcome.problems.append(f"job {name}: unfinished before, but the rerun did not run it")
        outcome.problems += state_problems(self.state) + last_json_problems(self.state / "runs")
        status, problems = self.status()
        outcome.problems += problems
        outcome.problems += [
            f"job {n}: stale after the rerun: {i['reasons']}" for n, i in status.items() if not i["up_to_date"]
        ]
        outcome.problems += self.uptodate_problems(set())
        again = self.cli("run")
        if again.code != 0 or "status=ran" in again.out:
            outcome.problems.append(f"second rerun was not a no-op: {again.code} {again.out.strip()}")
        return outcome


class OrchestrationScenario(Scenario):
    """Planner -> Builder -> command agent -> Reviewer -> Doc, killed mid-``orchestration run``."""

    name = "orchestration"
    PREFIX = "# My project\n\nHand-written text the tool must never lose.\n" + "lorem ipsum dolor\n" * 4000

    def setup(self) -> None:
        (self.root / "work.py").write_text(WORK, encoding="utf-8")
        (self.root / "src").mkdir(exist_ok=True)
        (self.root / "src" / "a.txt").write_text("a\n", encoding="utf-8")
        check = (
            "import hashlib,glob,sys; d=b''.join(open(f,'rb').read() for f in sorted(glob.glob('src/*.txt'))); "
            f"want=('o:'+hashlib.sha256(d).hexdigest()+'\\n').encode()*{LINES}; "
            "sys.exit(open('dist/out.txt','rb').read()!=want)"
        )
        note = (
            "import json,os; json.dump({'note.step': os.environ['ORCHASTRATION_STEP']}, "
            "open(os.environ['ORCHASTRATION_CONTEXT_OUT'],'w'))"
        )
        config = f"""
[tasks.o]
description = "crash test task"
command = {json.dumps([PY, "work.py", "o", "dist/out.txt", "src/*.txt"])}
inputs = ["src/*.txt"]
outputs = ["dist/out.txt"]
review_command = {json.dumps([PY, "-c", check])}

[agents.Note]
command = {json.dumps([PY, "-c", note])}

[orchestrations.o]
agents = ["PlannerAgent", "BuilderAgent", "Note", "ReviewerAgent", "DocAgent"]
"""
        (self.root / "orchastration.toml").write_text(config, encoding="utf-8")
        (self.root / "README.md").write_text(self.PREFIX, encoding="utf-8")
        first = self.cli("orchestration", "run", "o", "--goal", "g0")
        assert first.code == 0, first.out + first.err
        self.full_seconds = max(self.cli("orchestration", "run", "o", "--force", "--goal", "g0").seconds, 0.3)

    def readme_problems(self) -> list[str]:
        data = (self.root / "README.md").read_text(encoding="utf-8")
        if not data.startswith(self.PREFIX):
            return [f"README.md lost hand-written text (now {len(data)} characters)"]
        rest = data[len(self.PREFIX) :]
        begin, end = "<!-- orchastration:task:o:begin -->", "<!-- orchastration:task:o:end -->"
        if rest and (rest.count(begin) != 1 or rest.count(end) != 1 or not rest.rstrip("\n").endswith(end)):
            return [f"README.md section torn or duplicated: {rest[-200:]!r}"]
        return []

    def doc_problems(self) -> list[str]:
        doc = self.root / "docs" / "tasks" / "o.md"
        if doc.exists():
            text = doc.read_text(encoding="utf-8")
            if not text.startswith("# Task: o") or "## Status" not in text or not text.endswith("\n"):
                return [f"docs/tasks/o.md torn: {text[-200:]!r}"]
        return []

    def iteration(self, rng: random.Random) -> Outcome:
        self.iterations += 1
        (self.root / "src" / "a.txt").write_text(f"a {rng.random()}\n", encoding="utf-8")
        since = _stamp_now()
        argv = ["orchestration", "run", "o", "--goal", f"g{self.iterations}"]
        if rng.random() < 0.15:
            argv.append("--force")
        done, lines = self.kill_at(argv, rng)
        outcome = Outcome(done.killed, self.check_codes(done), done.signal)
        outcome.problems += state_problems(self.state) + self.readme_problems() + self.doc_problems()
        build_started = any(event == "start" for event, _, _ in lines)
        built = any(r.get("status") == "ran" for r in _new_records(self.state / "runs" / "o", since))
        rerun = self.cli("orchestration", "run", "o", "--goal", "again")
        if rerun.code != 0 or "orchestration=o status=success" not in rerun.out:
            outcome.problems.append(
                f"rerun failed ({rerun.code}): {rerun.out.strip()[-400:]} {rerun.err.strip()[-400:]}"
            )
        if build_started and not built and "task=o exit=0 status=done" not in rerun.out:
            outcome.problems.append("the build never finished, yet the rerun did not build")
        outcome.problems += state_problems(self.state) + self.readme_problems() + self.doc_problems()
        record = json.loads((self.state / "tasks" / "o.json").read_text(encoding="utf-8"))
        if record.get("status") != "done":
            outcome.problems.append(f"task record status {record.get('status')!r} after a good rerun")
        if (self.root / "README.md").read_text(encoding="utf-8").count("orchastration:task:o:begin") != 1:
            outcome.problems.append("README.md lacks its one section after a good rerun")
        again = self.cli("orchestration", "run", "o", "--goal", "again")
        if again.code != 0 or "task=o exit=" in again.out:
            outcome.problems.append(f"second rerun rebuilt or failed ({again.code}): {again.out.strip()[-300:]}")
        return outcome


class DocScenario(Scenario):
    """``doc generate`` into a large README with another task's section, killed mid-write."""

    name = "doc"
    PREFIX = "# Big README\n\n" + "".join(f"line {i}: text the user wrote by hand\n" for i in range(60000))
    SUFFIX = "\n## Notes after the sections\n\nKeep me.\n"

    def write_config(self, version: int) -> None:
        config = f"""
[tasks.t]
description = "version {version}"
command = ["echo", "t"]
outputs = ["out{version % 3}.txt"]

[tasks.other]
description = "the other task"
command = ["echo", "other"]
"""
        (self.root / "orchastration.toml").write_text(config, encoding="utf-8")

    def setup(self) -> None:
        self.write_config(0)
        (self.root / "README.md").write_text(self.PREFIX, encoding="utf-8")
        assert self.cli("doc", "generate", "other").code == 0
        with (self.root / "README.md").open("a", encoding="utf-8") as fh:
            fh.write(self.SUFFIX)
        first = self.cli("doc", "generate", "t")
        assert first.code == 0, first.err
        self.full_seconds = max(self.cli("doc", "generate", "t").seconds, 0.2)

    def iteration(self, rng: random.Random) -> Outcome:
        self.iterations += 1
        self.write_config(self.iterations)
        readme, doc = self.root / "README.md", self.root / "docs" / "tasks" / "t.md"
        old_readme, old_doc = readme.read_bytes(), doc.read_bytes()
        done, _ = self.kill_at(["doc", "generate", "t"], rng)
        outcome = Outcome(done.killed, self.check_codes(done, (0,)), done.signal)
        mid_readme, mid_doc = readme.read_bytes(), doc.read_bytes()
        outcome.problems += state_problems(self.state)
        rerun = self.cli("doc", "generate", "t")
        if rerun.code != 0:
            outcome.problems.append(f"rerun exited {rerun.code}: {rerun.err.strip()}")
        new_readme, new_doc = readme.read_bytes(), doc.read_bytes()
        if mid_readme not in (old_readme, new_readme):
            outcome.problems.append(f"README.md after the kill is neither old nor new ({len(mid_readme)} bytes)")
        if mid_doc not in (old_doc, new_doc):
            outcome.problems.append(f"docs/tasks/t.md after the kill is neither old nor new ({len(mid_doc)} bytes)")
        text = new_readme.decode("utf-8")
        if not text.startswith(self.PREFIX) or self.SUFFIX not in text or f"version {self.iterations}" not in text:
            outcome.problems.append("README.md after the rerun lost text or lacks the new section")
        if text.count("orchastration:task:t:begin") != 1 or text.count("orchastration:task:other:begin") != 1:
            outcome.problems.append("README.md sections duplicated or lost")
        return outcome


class RestoreScenario(JobsScenario):
    """Fresh clones of the jobs project restoring from a warm output cache (``engine/first_pass.py``),
    killed mid-``run``: what a record says was restored is up to date and right, nothing restored runs
    again for lack of state, and a rerun restores the rest without running a single command."""

    name = "restore"

    def setup(self) -> None:
        self.env.pop("ORCHASTRATION_NO_CACHE", None)
        self.source, self.source_env = self.root, dict(self.env)
        super().setup()
        text = (self.root / "orchastration.toml").read_text(encoding="utf-8")
        cache = (self.base / "cache").as_posix()
        (self.root / "orchastration.toml").write_text(f'[cache]\ndir = "{cache}"\n\n{text}', encoding="utf-8")
        assert self.cli("run", "--force", *JOBS).code == 0  # fills the cache
        self.clone()  # how long a clone's whole restore takes: the kills are spread over it
        self.full_seconds = max(self.cli("run").seconds, 0.1)
        self.root, self.env = self.source, dict(self.source_env)

    def clone(self) -> None:
        """A new checkout of the source project with its own state dir (the cache stays warm)."""
        self.root, self.env = self.source, dict(self.source_env)
        self.mutate(random.Random(self.iterations))
        built = self.cli("run")
        assert built.code == 0, built.err
        root = self.base / f"clone{self.iterations}"
        for path in [self.root / "work.py", self.root / "orchastration.toml", *sorted(self.root.glob("src/**/*"))]:
            target = root / path.relative_to(self.root)
            if path.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(path.read_bytes())
        self.root, self.state = root, self.base / f"state-clone{self.iterations}"
        self.env["ORCHASTRATION_STATE_DIR"] = str(self.state)

    def iteration(self, rng: random.Random) -> Outcome:
        self.iterations += 1
        self.clone()
        done, lines = self.kill_at(["run", *(["-j", "2"] if rng.random() < 0.3 else [])], rng)
        outcome = Outcome(done.killed, self.check_codes(done), done.signal)
        outcome.problems += [f"a command ran in a clone: {line}" for line in lines]
        outcome.problems += state_problems(self.state)
        restored = set()
        for name in JOBS:
            if any(r.get("status") == "restored" for r in _new_records(self.state / "runs" / name, "")):
                restored.add(name)
        outcome.problems += self.uptodate_problems(set())
        outcome.problems += self.lost_work_problems(restored)
        rerun = self.cli("run")
        if rerun.code != 0 or "status=ran" in rerun.out:
            outcome.problems.append(f"the rerun ran a command or failed: {rerun.code} {rerun.out.strip()}")
        outcome.problems += [f"job {n}: restored before, restored again" for n in restored
                             if f"job={n} status=restored" in rerun.out]  # fmt: skip
        outcome.problems += state_problems(self.state) + last_json_problems(self.state / "runs")
        status, problems = self.status()
        outcome.problems += problems
        outcome.problems += [f"job {n}: stale after the rerun: {i['reasons']}" for n, i in status.items()
                             if not i["up_to_date"]]  # fmt: skip
        outcome.problems += self.uptodate_problems(set())
        if self.journal():
            outcome.problems.append(f"commands ran in the clone: {self.journal()}")
        return outcome


SCENARIOS: dict[str, type[Scenario]] = {
    "jobs": JobsScenario,
    "restore": RestoreScenario,
    "orchestration": OrchestrationScenario,
    "doc": DocScenario,
}


@dataclass
class Summary:
    """Figures of a harness run."""

    points: int = 0
    killed: int = 0
    terminated: int = 0  # of the killed: by SIGTERM rather than SIGKILL
    problems: list[str] = field(default_factory=list)


def run_scenario(kind: str, base: Path, points: int, seed: int, summary: Summary | None = None) -> Summary:
    """Set up one scenario under ``base`` and survive ``points`` kill points."""
    summary = summary or Summary()
    scenario: Any = SCENARIOS[kind](base)
    scenario.setup()
    rng = random.Random(seed)
    for i in range(points):
        outcome = scenario.iteration(rng)
        summary.points += 1
        summary.killed += outcome.killed
        summary.terminated += outcome.signal == "SIGTERM"
        summary.problems += [f"{kind} #{i + 1} (seed {seed}): {p}" for p in outcome.problems]
    return summary
