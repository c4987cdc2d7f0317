"""Shell completion: scripts sourced in real shells, the names helper, and the parser introspection."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Result, assert_error, cli_command

from orchastration.cli.parser import build_parser
from orchastration.completion.table import command_table, value_kind

CONFIG = """\
[jobs.build]
command = ["true"]
[jobs.bundle]
command = ["true"]
[jobs.test]
command = ["true"]
[tasks.sample_task]
command = ["true"]
[tasks.other_task]
command = ["true"]
[orchestrations.hello_multi_agent]
agents = ["PlannerAgent"]
[agents.LintAgent]
command = ["true"]
"""

BASH_DRIVER = """\
source "$1"
shift
COMP_WORDS=("$@")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
_orchastration "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\\n' "${COMPREPLY[@]}"
"""


def top_commands() -> list[str]:
    """The top-level commands, from the real parser."""
    return [name for name, _ in command_table(build_parser())[0].subcommands]


def has_command(*path: str) -> bool:
    return any(c.path == " ".join(("orchastration", *path)) for c in command_table(build_parser()))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A directory with an orchastration.toml holding jobs, tasks, an orchestration and an agent."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "orchastration.toml").write_text(CONFIG)
    return root


@pytest.fixture
def shell_env(env: dict[str, str]) -> dict[str, str]:
    """The isolated environment with the installed ``orchastration`` first on PATH."""
    bin_dir = str(Path(cli_command()[0]).parent)
    return {**env, "PATH": bin_dir + os.pathsep + env.get("PATH", "")}


@pytest.fixture
def script(cli: Callable[..., Result], tmp_path: Path) -> Callable[[str], Path]:
    """The completion script of a shell, printed by the installed CLI and saved to a file."""

    def make(shell: str) -> Path:
        result = cli(["completion", shell])
        assert result.code == 0, result.err
        path = tmp_path / f"completion.{shell}"
        path.write_text(result.out)
        return path

    return make


@pytest.fixture
def bash_complete(script: Callable[[str], Path], shell_env: dict[str, str], project: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Complete a command line in a real bash with the sourced script; return COMPREPLY."""
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    driver = tmp_path / "driver.bash"
    driver.write_text(BASH_DRIVER)
    source = script("bash")

    def complete(line: str, cwd: Path = project) -> list[str]:
        words = line.split(" ")
        proc = subprocess.run(["bash", "--norc", "--noprofile", str(driver), str(source), *words], cwd=cwd,
                              env=shell_env, capture_output=True, text=True, timeout=60)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        return [w for w in proc.stdout.splitlines() if w]

    return complete


def test_bash_completes_commands_from_a_prefix(bash_complete: Callable[[str], list[str]]) -> None:
    expected = sorted(name for name in top_commands() if name.startswith("ru"))
    assert sorted(bash_complete("orchastration ru")) == expected
    if has_command("run"):
        assert "run" in bash_complete("orchastration ru")
    assert sorted(bash_complete("orchastration co")) == ["completion", "config"]
    assert bash_complete("orchastration config ") == ["path", "show", "validate"]
    assert sorted(bash_complete("orchastration ")) == sorted(top_commands())


def test_bash_completes_job_names_for_run(bash_complete: Callable[[str], list[str]]) -> None:
    if not has_command("run"):
        pytest.skip("no `run` command in `orchastration --help` yet (the jobs commands have not landed)")
    assert bash_complete("orchastration run ") == ["build", "bundle", "test"]
    assert bash_complete("orchastration run bu") == ["build", "bundle"]
    # JOB [JOB ...]: names keep coming after the first one.
    assert bash_complete("orchastration run build ") == ["build", "bundle", "test"]
    assert bash_complete("orchastration run --force t") == ["test"]
    # -j takes a count: no names for it, and the names go on after it.
    assert bash_complete("orchastration run -j ") == []
    assert bash_complete("orchastration run -j 2 ") == ["build", "bundle", "test"]
    # After `--` the words are the job's arguments: files, not job names nor flags.
    assert bash_complete("orchastration run test -- ") == ["orchastration.toml"]
    assert bash_complete("orchastration run test -- --fo") == []
    assert bash_complete("orchastration logs ") == ["build", "bundle", "test"]
    assert "--stderr" in bash_complete("orchastration logs test --")
    assert bash_complete("orchastration status b") == ["build", "bundle"]


def test_bash_completes_task_and_orchestration_names(bash_complete: Callable[[str], list[str]]) -> None:
    assert bash_complete("orchastration plan create ") == ["other_task", "sample_task"]
    assert bash_complete("orchastration build run s") == ["sample_task"]
    # One TASK only: nothing after it.
    assert bash_complete("orchastration plan create sample_task ") == []
    if has_command("orchestration", "run"):
        assert bash_complete("orchastration orchestration run ") == ["hello_multi_agent"]
        assert bash_complete("orchastration orchestration run hello_multi_agent --task ") == [
            "other_task",
            "sample_task",
        ]


def test_bash_completes_flags_and_their_values(bash_complete: Callable[[str], list[str]], project: Path) -> None:
    flags = bash_complete("orchastration hash --")
    assert {"--file", "--check", "--algo", "--config", "--help"} <= set(flags)
    assert "--json" not in flags
    assert "--show-env" in bash_complete("orchastration config show --")
    assert bash_complete("orchastration --log-format ") == ["text", "json"]
    assert bash_complete("orchastration hash --algo sha5") == ["sha512"]
    assert bash_complete("orchastration completion ") == ["bash", "zsh", "fish", "powershell"]
    # Hidden flags stay hidden.
    assert "--names" not in bash_complete("orchastration completion --")
    # Paths complete after a flag that takes a file, also as --flag=value (bash splits at '=').
    assert bash_complete("orchastration hash --file orch") == ["orchastration.toml"]
    assert bash_complete("orchastration --config = orch") == ["orchastration.toml"]


def test_bash_reads_names_from_the_config_given_on_the_line(
    bash_complete: Callable[..., list[str]], project: Path, tmp_path: Path
) -> None:
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "other.toml").write_text('[tasks.from_other]\ncommand = ["true"]\n')
    assert bash_complete(f"orchastration --config {other / 'other.toml'} plan create ", cwd=other) == ["from_other"]
    # Global flags also count after the command.
    assert bash_complete(f"orchastration plan create --config {other / 'other.toml'} ", cwd=other) == ["from_other"]
    # No config here at all: no names, no error text in the completions.
    assert bash_complete("orchastration plan create ", cwd=other) == []


def test_bash_script_registers_the_function(script: Callable[[str], Path], shell_env: dict[str, str]) -> None:
    proc = subprocess.run(["bash", "--norc", "-c", f"source {script('bash')} && complete -p orchastration"],
                          env=shell_env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "complete -F _orchastration orchastration"


ZSH_DRIVER = """\
autoload -Uz compinit && compinit -u -D
source "$1"
shift
cur=$1
shift
_orchastration_walk "$cur" "$@"
print -r -- "$_orchastration_path|$_orchastration_kind|$_orchastration_config"
"""


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_script_loads_and_walks_the_line(script: Callable[[str], Path], shell_env: dict[str, str],
                                            tmp_path: Path) -> None:  # fmt: skip
    driver = tmp_path / "driver.zsh"
    driver.write_text(ZSH_DRIVER)
    source = script("zsh")

    def walk(cur: str, *words: str) -> str:
        proc = subprocess.run(["zsh", "-f", str(driver), str(source), cur, *words], env=shell_env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert proc.returncode == 0 and not proc.stderr, proc.stderr
        return proc.stdout.strip()

    assert walk("") == "orchastration|subcmds|"
    assert walk("", "plan", "create") == "orchastration plan create|tasks|"
    assert walk("", "--config", "x.toml", "build", "run") == "orchastration build run|tasks|x.toml"
    assert walk("--", "config", "show") == "orchastration config show|opts|"
    assert walk("", "--log-format") == "orchastration|choice:text,json|"
    assert walk("--config=orch", "hash") == "orchastration hash|file|"
    if has_command("run"):
        assert walk("", "run", "build") == "orchastration run|jobs|"


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_script_offers_commands_flags_and_names(script: Callable[[str], Path], shell_env: dict[str, str],
                                                     project: Path) -> None:  # fmt: skip
    source = script("fish")

    def candidates(cur: str, *words: str) -> list[str]:
        quoted = " ".join(f"'{w}'" for w in (cur, *words))
        proc = subprocess.run(["fish", "-c", f"source {source}; __orchastration_candidates {quoted}"],
                              cwd=project, env=shell_env, capture_output=True, text=True, timeout=60)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        return [line.split("\t")[0] for line in proc.stdout.splitlines()]

    assert sorted(candidates("")) == sorted(top_commands())
    assert candidates("", "plan", "create") == ["other_task", "sample_task"]
    assert candidates("", "--log-format") == ["text", "json"]
    assert candidates("--log-format=") == ["--log-format=text", "--log-format=json"]
    assert "--show-env" in candidates("--", "config", "show")
    if has_command("run"):
        assert candidates("", "run") == ["build", "bundle", "test"]


def test_powershell_script_holds_every_command_and_flag(cli: Callable[..., Result]) -> None:
    result = cli(["completion", "powershell"])
    assert result.code == 0, result.err
    assert "Register-ArgumentCompleter -Native -CommandName 'orchastration', 'orchastration.exe'" in result.out
    for command in command_table(build_parser()):
        assert f"'{command.path}' = @(" in result.out or not (command.subcommands or command.options)
        for flag, kind in command.option_kinds:
            assert f"$optKinds['{command.path} {flag}'] = '{kind}'" in result.out


def test_names_helper_prints_sorted_names(cli: Callable[..., Result], project: Path) -> None:
    assert cli(["completion", "--names", "jobs"], cwd=project).lines == ["build", "bundle", "test"]
    assert cli(["completion", "--names", "tasks"], cwd=project).lines == ["other_task", "sample_task"]
    assert cli(["completion", "--names", "orchestrations"], cwd=project).lines == ["hello_multi_agent"]
    agents = cli(["completion", "--names", "agents"], cwd=project).lines
    assert agents == sorted(["BuilderAgent", "DocAgent", "LintAgent", "PlannerAgent", "ReviewerAgent"])


def test_names_helper_imports_no_heavy_module(project: Path, env: dict[str, str]) -> None:
    code = (
        "import sys; from orchastration.cli import main; rc = main(['completion', '--names', 'jobs']);"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'doit', 'jinja2', 'git'});"
        "print('heavy=' + ','.join(heavy)); sys.exit(rc)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=project, env=env, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["build", "bundle", "test", "heavy="]


def test_completion_usage_errors(cli: Callable[..., Result], project: Path) -> None:
    assert_error(cli(["completion"]), 2, "give a shell", "bash")
    assert_error(cli(["completion", "tcsh"]), 2, "tcsh")
    assert_error(cli(["completion", "bash", "--names", "jobs"]), 2, "not both")
    (project / "orchastration.toml").write_text("[jobs.x]\ncomand = []\n")
    assert_error(cli(["completion", "--names", "jobs"], cwd=project), 2, "jobs.x.comand")


def test_introspection_follows_the_parser() -> None:
    """A new command, its flags and an explicit completer show up without touching completion code."""
    parser = argparse.ArgumentParser(prog="orchastration")
    parser.add_argument("--config", metavar="PATH")
    sub = parser.add_subparsers()
    deploy = sub.add_parser("deploy", help="deploy things")
    deploy.add_argument("--target-dir")
    deploy.add_argument("--mode", choices=["fast", "safe"])
    deploy.add_argument("jobs", metavar="JOB", nargs="+")
    explicit = deploy.add_argument("--via")
    explicit.completer = "orchestrations"  # type: ignore[attr-defined]
    deploy.add_argument("--secret", help=argparse.SUPPRESS)
    sub.add_parser("hidden", help=argparse.SUPPRESS)
    table = {c.path: c for c in command_table(parser)}
    assert [name for name, _ in table["orchastration"].subcommands] == ["deploy"]
    cmd = table["orchastration deploy"]
    kinds = dict(cmd.option_kinds)
    assert kinds["--target-dir"] == "dir"
    assert kinds["--mode"] == "choice:fast,safe"
    assert kinds["--via"] == "orchestrations"
    assert "--secret" not in kinds
    assert cmd.positionals == ("jobs...",)
    assert dict(table["orchastration"].option_kinds)["--config"] == "file"


def test_value_kind_guesses_names_from_metavar_and_command() -> None:
    parser = argparse.ArgumentParser()
    assert value_kind(parser.add_argument("task", metavar="TASK"), "orchastration plan create") == "tasks"
    assert value_kind(parser.add_argument("name", metavar="NAME"), "orchastration orchestration run") == (
        "orchestrations"
    )
    assert value_kind(parser.add_argument("other", metavar="NAME"), "orchastration hash") == "none"
    assert value_kind(parser.add_argument("--goal", metavar="TEXT"), "orchastration orchestration run") == "none"
    # `-j N, --jobs N` is a count: the metavar wins over the dest.
    assert value_kind(parser.add_argument("-j", "--jobs", metavar="N"), "orchastration run") == "none"
    assert value_kind(parser.add_argument("--state-dir", metavar="PATH"), "orchastration") == "dir"
    assert value_kind(parser.add_argument("--file", dest="files", metavar="PATH"), "orchastration hash") == "file"
