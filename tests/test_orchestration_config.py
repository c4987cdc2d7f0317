"""Orchestration and agent config errors, and bad arguments: one clear line, exit 2, nothing run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Result, assert_error

CASES = [
    ('[orchestrations.o]\nagents = ["PlannerAgent", "BuildrAgent"]\n',
     ["orchestrations.o.agents[1]", "unknown agent 'BuildrAgent'", "did you mean 'BuilderAgent'"]),
    ('[orchestrations.o]\nsteps = [["PlannerAgent"], ["Nobody"]]\n',
     ["orchestrations.o.steps[1]", "unknown agent 'Nobody'"]),
    ('[orchestrations.o]\nsteps = [["PlannerAgent"], []]\n', ["orchestrations.o.steps[1]", "empty step"]),
    ('[orchestrations.o]\nsteps = []\n', ["orchestrations.o.steps", "at least one agent"]),
    ('[orchestrations.o]\nagents = []\n', ["orchestrations.o.agents", "at least one agent"]),
    ('[orchestrations.o]\nagents = ["DocAgent"]\nsteps = [["DocAgent"]]\n', ["orchestrations.o", "not both"]),
    ('[orchestrations.o]\ndescription = "nothing to run"\n', ["orchestrations.o", "needs 'agents'"]),
    ('[orchestrations.o]\nsteps = [["DocAgent", "DocAgent"]]\n', ["orchestrations.o.steps[0]", "twice"]),
    ('[orchestrations.o]\nagents = ["DocAgent"]\nmax_review_rounds = 0\n', ["orchestrations.o.max_review_rounds"]),
    ('[orchestrations.o]\nagent = ["DocAgent"]\n', ["orchestrations.o.agent", "unknown key", "did you mean 'agents'"]),
    ('[agents.DocAgent]\ncommand = ["echo"]\n', ["agents.DocAgent.command", "built-in agents take no settings"]),
    ('[agents.Lint]\ndescription = "no command"\n', ["agents.Lint.command", "required key is missing"]),
    ('[agents.Lint]\ncommand = "ruff check"\n', ["agents.Lint.command", "argv"]),
    ('[agents.Lint]\ncommand = ["ruff"]\noutput_key = ""\n', ["agents.Lint.output_key", "must not be empty"]),
    ('[agents."bad name"]\ncommand = ["ruff"]\n', ["agents.bad name", "invalid name"]),
    ('[agents.Lint]\ncommand = ["ruff"]\ncontext_keys = "goal"\n', ["agents.Lint.context_keys", "list of strings"]),
    ('[agents.Lint]\ncommand = ["ruff"]\ncontext_keys = [""]\n', ["agents.Lint.context_keys[0]", "must not be empty"]),
]  # fmt: skip


@pytest.mark.parametrize(("toml", "needles"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_config_errors(
    toml: str,
    needles: list[str],
    cli: Callable[..., Result],
    run_main: Callable[..., Result],
    tmp_path: Path,
    state_dir: Path,
) -> None:
    (tmp_path / "orchastration.toml").write_text(toml)
    # The installed command, and in-process main() for the other commands that load the config.
    for result in (
        cli(["orchestration", "run", "o"]),
        run_main(["agent", "list"]),
        run_main(["orchestration", "list"]),
    ):
        assert_error(result, 2, "orchastration.toml", *needles)
        assert result.out == ""
    assert not (state_dir / "orchestrations").exists()


BASE = """
[agents.Echo]
command = ["echo", "{{ goal }}"]

[agents.Broken]
command = ["echo", "{{ goal"]

[agents.Lost]
command = ["echo"]
working_dir = "nowhere"

[orchestrations.o]
agents = ["Echo"]

[orchestrations.broken]
agents = ["PlannerAgent", "Broken"]

[orchestrations.lost]
agents = ["Lost"]
"""


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["orchestration", "run", "nope"], ["unknown orchestration 'nope'", "known: broken, lost, o"]),
        (["orchestration", "show", "nope"], ["unknown orchestration 'nope'"]),
        (["orchestration", "run", "o", "--task", "nope"], ["unknown task 'nope'"]),
        (["orchestration", "run", "o", "-j", "0"], ["-j/--jobs", "at least 1"]),
        (["orchestration", "run", "o", "-j", "two"], ["-j/--jobs", "whole number"]),
        (["orchestration", "show", "o", "--format", "png"], ["--format", "invalid choice"]),
        (["orchestration", "run"], ["NAME"]),
        (["orchestration", "run", "broken"], ["orchastration.toml", "agents.Broken.command[1]", "template syntax"]),
        (["orchestration", "run", "lost"], ["agents.Lost.working_dir", "directory not found"]),
        (["orchestration", "run", "broken", "--dry-run"], ["agents.Broken.command[1]"]),
    ],
)
def test_bad_arguments_and_preflight(
    argv: list[str], needles: list[str], cli: Callable[..., Result], tmp_path: Path, state_dir: Path
) -> None:
    (tmp_path / "orchastration.toml").write_text(BASE)
    result = cli(argv)
    assert_error(result, 2, *needles)
    assert not (state_dir / "orchestrations").exists()  # nothing ran, nothing recorded
