"""Secrets: env values never reach records, logs, caches or ``config show`` (unless ``--show-env``).

A secret is planted in the env of jobs (ran, failed, timed out, not found), a task (build, review,
doc) and a command agent of an orchestration; every command runs with debug JSON logs; then every
file the tool wrote (state dir, log file, working dir) and every output is searched for it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from conftest import Result

Cli = Callable[..., Result]
SECRET = "s3cr3t-Planted-V4lue-9f1c"
PY = sys.executable

USES = "import os; v = os.environ['TOKEN']; open('{out}', 'w').write(str(len(v)))"


def _config(proj: Path) -> None:
    env = f'{{ TOKEN = "{SECRET}", PLAIN = "visible" }}'
    agent = (
        "import json, os; json.dump({'agent.len': len(os.environ['TOKEN'])}, "
        "open(os.environ['ORCHASTRATION_CONTEXT_OUT'], 'w')); print('agent done')"
    )
    text = f"""
[jobs.ok]
command = {json.dumps([PY, "-c", USES.format(out="ok.txt")])}
outputs = ["ok.txt"]
env = {env}

[jobs.fails]
command = {json.dumps([PY, "-c", "import os, sys; sys.exit(len(os.environ['TOKEN']) % 7 + 3)"])}
env = {env}

[jobs.slow]
command = {json.dumps([PY, "-c", "import time; time.sleep(30)"])}
timeout_seconds = 0.5
env = {env}

[jobs.missing]
command = ["no-such-program-xyz"]
env = {env}

[tasks.t]
description = "uses a token"
command = {json.dumps([PY, "-c", USES.format(out="t.txt")])}
outputs = ["t.txt"]
env = {env}
review_command = {json.dumps([PY, "-c", "import os; assert os.environ['TOKEN']"])}

[agents.Secretive]
command = {json.dumps([PY, "-c", agent])}
prompt = "goal {{{{ goal }}}}"
env = {env}

[orchestrations.t]
agents = ["PlannerAgent", "BuilderAgent", "Secretive", "ReviewerAgent", "DocAgent"]
"""
    (proj / "orchastration.toml").write_text(text, encoding="utf-8")


def _files_holding(root: Path, needle: bytes, skip: Path) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and path != skip and needle in path.read_bytes():
            found.append(str(path))
    return found


def test_a_planted_secret_appears_in_no_file_the_tool_wrote(cli: Cli, tmp_path: Path, env: dict[str, str]) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    _config(proj)
    flags = ["--log-level", "debug", "--log-format", "json"]
    commands = [
        (["run", "ok"], 0),
        (["run", "ok"], 0),  # skipped: the no-op summary path
        (["run", "fails", "--keep-going"], 1),
        (["run", "slow"], 1),
        (["run", "missing"], 1),
        (["run", "--dry-run", "--json"], 0),
        (["status", "--json"], 0),
        (["why", "ok"], 0),
        (["list", "--json"], 0),
        (["plan", "create", "t"], 0),
        (["build", "run", "t"], 0),
        (["build", "run", "t", "--force"], 0),
        (["doc", "generate", "t"], 0),
        (["plan", "status", "t", "--json"], 0),
        (["orchestration", "run", "t", "--goal", "ship it", "--force"], 0),
        (["orchestration", "run", "t", "--goal", "ship it", "--dry-run"], 0),
        (["agent", "list", "--json"], 0),
        (["config", "show"], 0),
        (["config", "show", "--json"], 0),
        (["config", "validate"], 0),
    ]
    for argv, code in commands:
        res = cli([*flags, *argv], cwd=proj)
        assert res.code == code, (argv, res.out, res.err)
        assert SECRET not in res.out and SECRET not in res.err, argv
    # The log file, the state dir (records, logs, engine caches), the working dir (outputs, docs).
    state = Path(env["ORCHASTRATION_STATE_DIR"])
    log_file = Path(env["XDG_CACHE_HOME"]) / "orchastration" / "orchastration.log"
    assert log_file.exists() and state.is_dir()
    assert list(state.rglob("*.json")) and (proj / "docs" / "tasks" / "t.md").exists()
    assert _files_holding(tmp_path, SECRET.encode(), skip=proj / "orchastration.toml") == []
    # The names are recorded (so a changed value still reruns), and plain values are not special.
    last = json.loads((state / "runs" / "ok" / "last.json").read_text())
    assert last["env_names"] == ["PLAIN", "TOKEN"] and len(last["env_hash"]) == 64
    assert "visible" not in json.dumps(last)


def test_config_show_reveals_env_values_only_when_asked(cli: Cli, tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    _config(proj)
    for extra in ([], ["--json"]):
        hidden = cli(["config", "show", *extra], cwd=proj)
        assert hidden.code == 0 and SECRET not in hidden.out and "TOKEN" in hidden.out
        shown = cli(["config", "show", "--show-env", *extra], cwd=proj)
        assert shown.code == 0 and SECRET in shown.out


def test_a_changed_secret_reruns_the_job_without_saying_the_value(cli: Cli, tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    _config(proj)
    assert cli(["run", "ok"], cwd=proj).code == 0
    text = (proj / "orchastration.toml").read_text().replace(SECRET, SECRET + "-rotated")
    (proj / "orchastration.toml").write_text(text)
    why = cli(["why", "ok"], cwd=proj)
    assert why.out.strip() == "env changed"
    assert SECRET not in why.out
