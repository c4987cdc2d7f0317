"""Concurrency harness: many invocations at once on one state dir (overlapping and disjoint jobs,
forced reruns, task builds, doc generate into one README, readers), then the books must balance."""

from __future__ import annotations

import json
import random
import subprocess
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

from reliability.common import (
    PY,
    cli_command,
    isolated_env,
    last_json_problems,
    run,
    state_problems,
)

# Each real execution of a job appends exactly one line to journal.log (O_APPEND: atomic lines).
STEP = textwrap.dedent(
    """
    import os, sys, time
    name, out = sys.argv[1:3]
    time.sleep(float(os.environ.get("STEP_SLEEP", "0.05")))
    with open(out, "w", encoding="utf-8") as fh:
        fh.write(name + "\\n")
    with open("journal.log", "a", encoding="utf-8") as fh:
        fh.write(name + "\\n")
    """
)
JOBS = ["a", "b", "c", "d", "e", "f"]  # b, c depend on a; d independent; e, f independent


@dataclass
class Report:
    """What the invocations did and what was found wrong."""

    invocations: int = 0
    seconds: float = 0.0
    waited: int = 0
    ran: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def setup(base: Path) -> tuple[Path, dict[str, str]]:
    """The project: six jobs (a chain and independent ones) and two tasks documenting into one README."""
    root = base / "proj"
    root.mkdir(parents=True)
    (root / "step.py").write_text(STEP, encoding="utf-8")
    (root / "README.md").write_text("# Shared README\n\nby hand\n", encoding="utf-8")
    lines = []
    deps = {"b": ["a"], "c": ["a"]}
    for name in JOBS:
        lines += [
            f"[jobs.{name}]",
            f"command = {json.dumps([PY, 'step.py', name, f'{name}.out'])}",
            f'outputs = ["{name}.out"]',
            f"depends_on = {json.dumps(deps.get(name, []))}",
            "",
        ]
    for task in ("t1", "t2"):
        lines += [
            f"[tasks.{task}]",
            f'description = "task {task}"',
            f"command = {json.dumps([PY, 'step.py', task, f'{task}.out'])}",
            f'outputs = ["{task}.out"]',
            "",
        ]
    lines += ["[orchestrations.o]", 'agents = ["PlannerAgent", "BuilderAgent", "ReviewerAgent", "DocAgent"]', ""]
    (root / "orchastration.toml").write_text("\n".join(lines), encoding="utf-8")
    return root, isolated_env(base)


def invocations(count: int, rng: random.Random) -> list[list[str]]:
    """A mix: overlapping and disjoint job sets, forced reruns, -j, task builds, docs, orchestrations
    of the same tasks, readers."""
    fixed = [
        ["run", "a", "b"],
        ["run", "b", "c"],
        ["run", "d"],
        ["run", "e", "f", "-j", "2"],
        ["run"],
        ["run", "c", "--force"],
        ["run", "d", "--force"],
        ["build", "run", "t1"],
        ["build", "run", "t2"],
        ["build", "run", "t2", "--force"],
        ["doc", "generate", "t1"],
        ["doc", "generate", "t1"],
        ["doc", "generate", "t2"],
        ["orchestration", "run", "o", "--task", "t1"],
        ["orchestration", "run", "o", "--task", "t2", "-j", "2"],
        ["status", "--json"],
        ["why", "c"],
        ["run", "--dry-run"],
    ]
    chosen = fixed[: min(count, len(fixed))]
    pool = [["run", *rng.sample(JOBS, rng.randint(1, 3))] for _ in range(count)]
    pool += [["run", rng.choice(JOBS), "--force"] for _ in range(count)]
    while len(chosen) < count:
        chosen.append(rng.choice(pool))
    rng.shuffle(chosen)
    return chosen


def storm(base: Path, count: int = 20, seed: int = 0) -> Report:
    """Start ``count`` invocations at once, wait for all, and check the books."""
    rng = random.Random(seed)
    root, env = setup(base)
    state = Path(env["ORCHASTRATION_STATE_DIR"])
    argvs = invocations(count, rng)
    report = Report(invocations=len(argvs))
    started = time.monotonic()
    procs = [
        subprocess.Popen(
            [*cli_command(), *argv], cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for argv in argvs
    ]
    results = [(argv, *p.communicate(timeout=300), p.returncode) for argv, p in zip(argvs, procs, strict=True)]
    report.seconds = time.monotonic() - started
    ran_lines: dict[str, int] = {}
    for argv, out, err, code in results:
        if code != 0 or "Traceback" in err:
            report.problems.append(f"{' '.join(argv)} exited {code}: {err.strip()[-400:]}")
        report.waited += "waiting for the state lock" in err
        for line in out.splitlines():
            if line.startswith("job=") and " status=ran " in line:
                name = line.split()[0][4:]
                ran_lines[name] = ran_lines.get(name, 0) + 1
            elif line.startswith("task=") and " exit=0 status=done" in line:
                name = line.split()[0][5:]
                ran_lines[name] = ran_lines.get(name, 0) + 1
    journal = (root / "journal.log").read_text(encoding="utf-8").split()
    for name in [*JOBS, "t1", "t2"]:
        executed = journal.count(name)
        records = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((state / "runs" / name).glob("2*.json"))]
        real = [r for r in records if r.get("status") == "ran"]
        report.ran[name] = executed
        if not (executed == len(real) == ran_lines.get(name, 0)):
            report.problems.append(
                f"{name}: executed {executed} times, {len(real)} 'ran' records, {ran_lines.get(name, 0)} 'ran' lines"
            )
        if name in JOBS and executed < 1:
            report.problems.append(f"{name}: never ran")
    report.problems += state_problems(state) + last_json_problems(state / "runs")
    readme = (root / "README.md").read_text(encoding="utf-8")
    # A task's section exists once its doc was generated (doc generate, or the orchestration's Doc agent);
    # a small storm may not have run either for a task.
    documented = {a[2] for a in argvs if a[:2] == ["doc", "generate"]}
    documented |= {a[4] for a in argvs if a[:2] == ["orchestration", "run"] and "--task" in a}
    for task in ("t1", "t2"):
        want = 1 if task in documented else 0
        if readme.count(f"<!-- orchastration:task:{task}:begin -->") != want:
            report.problems.append(f"README.md: the {task} section is {'missing or duplicated' if want else 'there'}")
    if not readme.startswith("# Shared README\n\nby hand\n"):
        report.problems.append("README.md lost its hand-written text")
    # A dependency forced after its dependent last ran makes the dependent stale (make semantics):
    # that is the only staleness allowed, and one more run clears it.
    stale = _stale(root, env, report)
    odd = {n: r for n, r in stale.items() if any(not x.startswith("dependency ran: ") for x in r)}
    if odd:
        report.problems.append(f"stale after every invocation finished: {odd}")
    catch_up = run(["run"], root, env)
    ran = {line.split()[0][4:] for line in catch_up.out.splitlines() if " status=ran " in line}
    if catch_up.code != 0 or ran != set(stale):
        report.problems.append(f"catch-up run ran {sorted(ran)}, stale were {sorted(stale)}")
    if _stale(root, env, report):
        report.problems.append("still stale after the catch-up run")
    again = run(["run"], root, env)
    if again.code != 0 or "status=ran" in again.out:
        report.problems.append(f"a final run was not a no-op: {again.out.strip()}")
    return report


def _stale(root: Path, env: dict[str, str], report: Report) -> dict[str, list[str]]:
    status = run(["status", "--json"], root, env)
    if status.code != 0:
        report.problems.append(f"status --json exited {status.code}: {status.err.strip()[-300:]}")
        return {}
    return {i["job"]: i["reasons"] for i in json.loads(status.out) if not i["up_to_date"]}
