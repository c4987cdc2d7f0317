"""Every command shown in README.md and USAGE.md runs, through the installed CLI, and prints what the docs say.

USAGE.md: its ```console blocks are one shell session (conventions in tests/doccmds.py): ``$`` lines are run in
order by bash in a temporary home (``/home/me`` in the doc) holding a copy of the repository's ``configs/``
and README.md, and each command's stdout+stderr must match the lines shown under it, where ``...`` elides
lines or text, and durations, ISO times and record stamps may differ. A non-zero exit must be shown with
``$ echo $?``. ``python tests/doccmds.py`` rewrites the outputs that no longer match.

README.md: each ``orchastration ...`` line of its ```bash blocks is listed in ``README_RUNS`` (the test fails
when the README gains, loses or changes such a line). Each entry lists the invocations that exercise the line
on a copy of the example config: ``AS_WRITTEN`` runs the README line itself, word for word; placeholders
(``JOB``, ``TASK``, ``[--flag]``) are filled in, and every flag the line shows must appear in one of its runs.
Each run's exit code is checked, and each regex (MULTILINE, over stdout+stderr) must match. Shell lines
(``source <(orchastration completion bash)``) run in that shell (bash, zsh, fish) where it is installed;
a stub ``gh`` on PATH stands in for GitHub.
The quick start's ``pip install`` is not run; its orchastration command is, on a fresh copy of ``configs/``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import doccmds
import pytest
from conftest import Result, cli_command

REPO = Path(__file__).resolve().parent.parent
USAGE = REPO / "USAGE.md"
README = REPO / "README.md"

posix_only = pytest.mark.skipif(
    os.name != "posix" or shutil.which("bash") is None, reason="the docs' sessions use bash and POSIX tools"
)


# ---------------------------------------------------------------- the harness itself


def test_harness_matches_wildcards_and_volatile_values() -> None:
    shown = ["job=build status=ran exit=0 duration_ms=3", "...", "record=/home/me/x/20261124T101500.123456Z.json"]
    actual = [
        "job=build status=ran exit=0 duration_ms=117",
        "anything",
        "else",
        "record=/home/me/x/20300101T000000.000001Z.json",
    ]
    assert doccmds.matches(shown, actual)
    assert doccmds.matches(
        ["start=2026-11-24T10:21:47.956108Z up-to-date"], ["start=2031-01-02T03:04:05.1Z up-to-date"]
    )
    assert doccmds.matches(["wrote .../orchastration.toml"], ["wrote /home/me/demo/orchastration.toml"])
    assert doccmds.matches(["b", "a"], ["a", "b"], any_order=True)
    assert doccmds.Command(1, "orchastration run -j 2   # lines in any order").any_order
    assert not doccmds.Command(1, "echo '# any order'").any_order
    assert not doccmds.matches(["b", "a"], ["a", "b"])
    assert not doccmds.matches(["job=build status=ran"], ["job=build status=skipped"])
    assert not doccmds.matches(["exit=0 duration_ms=3"], ["exit=1 duration_ms=3"])
    assert not doccmds.matches(["a"], ["a", "unexpected extra line"])
    assert not doccmds.matches(["a", "b"], ["a", "b", "c"], any_order=True)


@posix_only
def test_harness_parses_blocks_and_reports_mismatches(tmp_path: Path) -> None:
    doc = "\n".join(
        [
            "text, not run",
            "```bash",
            "$ echo not a console block",
            "```",
            "```console",
            "$ echo one; echo two >&2",
            "one",
            "two",
            "$ false",
            "$ echo wrong",
            "right",
            "```",
            "````console",
            "$ printf '```\\n'",
            "```",
            "````",
        ]
    )
    commands = doccmds.parse_console_blocks(doc)
    assert [(c.line, c.text) for c in commands] == [
        (6, "echo one; echo two >&2"), (9, "false"), (10, "echo wrong"), (14, "printf '```\\n'"),
    ]  # fmt: skip
    home = tmp_path / "home"
    home.mkdir()
    outcomes = doccmds.run_session(commands, ["true"], doccmds.session_env(os.environ, home), home)
    assert [(o.output, o.code) for o in outcomes] == [(["one", "two"], 0), ([], 1), (["wrong"], 0), (["```"], 0)]
    problems = doccmds.mismatches(commands, outcomes)
    assert len(problems) == 2
    assert "USAGE.md:9: $ false" in problems[0] and "echo $?" in problems[0]
    assert "USAGE.md:10: $ echo wrong" in problems[1] and "right" in problems[1]
    fixed = doccmds.rewrite(doc, commands, outcomes)
    assert "$ echo wrong\nwrong\n```" in fixed and "right" not in fixed


# ---------------------------------------------------------------- USAGE.md


@posix_only
@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="USAGE.md makes a manifest with sha256sum")
def test_usage_walkthrough_output_matches(env: dict[str, str], tmp_path: Path) -> None:
    home = Path(env["HOME"])
    doccmds.prepare_clone(REPO, home)
    commands = doccmds.parse_console_blocks(USAGE.read_text(encoding="utf-8"))
    assert len(commands) > 60
    outcomes = doccmds.run_session(commands, cli_command(), doccmds.session_env(env, home), home, timeout=180)
    problems = doccmds.mismatches(commands, outcomes)
    assert not problems, "\n\n".join(problems) + "\n\n(refresh with: python tests/doccmds.py)"


def _command_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every runnable command of the parser: ('run',), ('config', 'path'), ..."""
    paths: set[tuple[str, ...]] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                deeper = _command_paths(sub, (*prefix, name))
                paths |= deeper or {(*prefix, name)}
    return paths


def test_usage_shows_every_command_and_runs_all_it_shows() -> None:
    from orchastration.cli.parser import build_parser

    text = USAGE.read_text(encoding="utf-8")
    shown = [shlex.split(c.text, comments=True) for c in doccmds.parse_console_blocks(text)]
    invoked = [argv[argv.index("orchastration") + 1 :] for argv in shown if "orchastration" in argv]
    for path in sorted(_command_paths(build_parser())):
        assert any(_has_path(argv, path) for argv in invoked), f"USAGE.md never runs 'orchastration {' '.join(path)}'"
    # Commands outside console blocks would not be checked: only the (unrunnable) install steps may be.
    for _fence, lang, body in re.findall(r"^(`{3,})(\w*)\n(.*?)^\1$", text, flags=re.S | re.M):
        for line in body.splitlines() if lang != "console" else ():
            assert not COMMAND_WORD.search(line), f"USAGE.md: a command outside a console block is never run: {line}"


def _has_path(argv: list[str], path: tuple[str, ...]) -> bool:
    words = [a for a in argv if not a.startswith("-")]
    return any(tuple(words[i : i + len(path)]) == path for i in range(len(words)))


# ---------------------------------------------------------------- README.md


@dataclass(frozen=True)
class Run:
    """One invocation exercising a README line: its arguments (None: the line as written), exit code, regexes."""

    args: str | None
    expect: tuple[str, ...] = ()
    code: int = 0
    cwd: str = "clone"  # "clone" (the copy of the repository) or "empty" (a new directory)
    shell: str | None = None  # run ``args`` (or the line) with this shell, the installed CLI on PATH

    def argv(self, line: str) -> list[str]:
        return shlex.split(line)[1:] if self.args is None else shlex.split(self.args)


def R(args: str | None = None, *expect: str, code: int = 0, cwd: str = "clone", shell: str | None = None) -> Run:  # noqa: N802
    return Run(args, expect, code, cwd, shell)


AS_WRITTEN = None
COMMAND_WORD = re.compile(r"(?:^|[;&|(]|\$ )\s*orchastration\s")  # `orchastration` where a shell runs it
TASK_LINE = r"\Atask=sample_task exit=0 status=done\n\Z"

# (README line, its runs), in an order that works: state carries over from run to run (the jobs section's
# lines come after `forget --all`, so they see what a first run sees). A line the README shows twice is listed twice.
# fmt: off
README_RUNS: list[tuple[str, list[Run]]] = [
    ("source <(orchastration completion bash)", [
        R("source <(orchastration completion bash) && complete -p orchastration",
          r"\Acomplete -F _orchastration orchastration\n\Z", shell="bash"),
        # The line's comment: "zsh, after compinit: source <(orchastration completion zsh)".
        R("completion zsh", r"^typeset -gA _orchastration_subcmds"),
        R("autoload -Uz compinit && compinit -u && source <(orchastration completion zsh)"
          " && print -r -- ${+functions[_orchastration]}", r"\A1\n\Z", shell="zsh"),
    ]),
    ("orchastration completion fish | source", [
        R("completion fish", r"^complete -c orchastration "),
        R("orchastration completion fish | source; complete -C 'orchastration ru'", r"\Arun\trun jobs", shell="fish"),
        # The line's comment: "PowerShell: orchastration completion powershell | Out-String | Invoke-Expression".
        R("completion powershell", r"^Register-ArgumentCompleter -Native -CommandName 'orchastration'"),
    ]),
    ("orchastration --help", [R(AS_WRITTEN, r"^usage: orchastration", r"^\s+orchestration\s+run pipelines")]),
    ("orchastration --version", [R(AS_WRITTEN, r"\Aorchastration \d+\.\d+\.\d+\S*\n\Z")]),
    ("orchastration init", [R(AS_WRITTEN, r"^wrote .*orchastration\.toml$", cwd="empty")]),
    ("orchastration config path", [R(AS_WRITTEN, r"config\.example\.toml$", r"^reason: \$ORCHASTRATION_CONFIG$")]),
    ("orchastration config show [--json]", [
        R("config show", r"^\[jobs\.build\]$", r'^env = \{ SAMPLE_ENV = "\*\*\*" \}$'),
        R("config show --json", r'^  "config": \{$', r'^\s+"SAMPLE_ENV": "\*\*\*"$'),
    ]),
    ("orchastration config validate", [
        R(AS_WRITTEN, r"config\.example\.toml: valid \(3 jobs, 4 tasks, 3 orchestrations\)$"),
        R("--config typo.toml config validate",
          r"^orchastration: error: .*typo\.toml: jobs\.oops\.comand: unknown key", code=2),
    ]),
    ("orchastration hash --file ./path/to/file [--algo sha512]", [
        R("hash --file ./configs/sample/src/a.txt",
          r'^\{"file":"/[^"]*/a\.txt","algorithm":"sha256","hash":"b6a98d9ce9a2d914[0-9a-f]{48}"\}$'),
        R("hash --file ./configs/sample/src/a.txt --algo sha512",
          r'^\{"file":"/[^"]*/a\.txt","algorithm":"sha512","hash":"[0-9a-f]{128}"\}$'),
    ]),
    ("orchastration hash --check SHA256SUMS", [
        R(AS_WRITTEN, r"\Aconfigs/sample/src/a\.txt: OK\nconfigs/sample/src/b\.txt: OK\n\Z"),
        R("hash --check BAD.SUMS", r"^configs/sample/src/a\.txt: FAILED$", code=1),
    ]),
    ("orchastration list", [R(AS_WRITTEN, r"\Abuild - .*\ncodegen - .*\nsample - List current directory\n\Z")]),
    ("orchastration run [JOB ...] [-j N] [--force] [--dry-run] [--keep-going]", [
        R("run --dry-run", r"^job=codegen would-run reason=never run$", r"^job=sample would-run reason=always_run"),
        R("run -j 2 --keep-going", r"^\[sample\] total", r"^job=sample status=ran exit=0 duration_ms=\d+$",
          r"^job=codegen status=ran ", r"^job=build status=ran "),
        R("run build --force", r"^job=codegen status=skipped ", r"^job=build status=ran exit=0 "),
        R("run codegen sample --dry-run", r"\Ajob=codegen up-to-date\njob=sample would-run reason=always_run\n\Z"),
    ]),
    ("orchastration status [JOB ...]", [
        R("status", r"^build - exit=0 duration_ms=\d+ start=\S+Z up-to-date$",
          r"^sample - exit=0 .* stale: always_run$"),
        R("status build", r"\Abuild - exit=0 duration_ms=\d+ start=\S+Z up-to-date\n\Z"),
        # The line's comment: "logs JOB: its output".
        R("logs sample --stdout", r"^total \d+$"),
    ]),
    ("orchastration why JOB", [R("why build", r"\Aup-to-date\n\Z")]),
    ("orchastration clean JOB|--all", [
        R("clean build", r"\Ajob=build removed dist/app\.txt\n\Z"),
        R("clean --all", r"^job=codegen removed dist/manifest\.txt$"),
        # The line's comment: "forget JOB|--all: drop up-to-date state".
        R("forget codegen", r"\Ajob=codegen forgotten\n\Z"),
        R("forget --all", r"^job=build forgotten$"),
        R("why codegen", r"^state forgotten$"),
    ]),
    ("orchastration plan list | plan create TASK | plan status TASK", [
        R("plan list", r"^sample_task - Example task definition \[planned\]$"),
        R("plan status sample_task", r"has not been planned yet", code=2),
        R("plan create sample_task", r"\Atask=sample_task status=planned\n\Z"),
        R("plan status sample_task", r"\Asample_task status=planned last_run=\S+Z\n\Z"),
    ]),
    ("orchastration build run TASK [--force]", [
        R("build run sample_task", TASK_LINE),
        R("build run sample_task", r"\Atask=sample_task status=up-to-date\n\Z"),
        R("build run sample_task --force", TASK_LINE),
    ]),
    ("orchastration doc generate TASK", [
        R("doc generate sample_task", r"\Atask=sample_task status=done doc=/\S+/docs/tasks/sample_task\.md\n\Z"),
    ]),
    ("orchastration git branch create TASK [--base REF]", [
        R("git branch create sample_task --base HEAD", r"\Atask=sample_task branch=task/sample_task\n\Z"),
        R("git branch create sample_task", r"already exists", code=2),
    ]),
    ("orchastration git issue create TASK [--dry-run]", [
        R("git issue create sample_task --dry-run", r"\Atitle: Task: sample_task\nbody:\nExample task definition\n\Z"),
        R("git issue create sample_task", r"\Atask=sample_task issue=https://github\.com/example/sample/issues/7\n\Z"),
    ]),
    ("orchastration agent list", [
        R(AS_WRITTEN, r"\Aavailable agents:\n", r"^- PlannerAgent: Create a structured task plan from a goal$",
          r"^- SizeAgent: Measure the build outputs$"),
    ]),
    ('orchastration orchestration list | show NAME | run NAME --goal "..." [-j N] [--force] [--dry-run]', [
        R("orchestration list", r"\Aavailable orchestrations:\n- coding_agent: .*\n- hello_multi_agent: "),
        R("orchestration show hello_multi_agent", r"^  step 4: \[ DocAgent \]$"),
        R("orchestration run parallel_example --goal 'Build it' -j 2 --dry-run",
          r"^agent=PlannerAgent step=1 would-run reason=never run$"),
        R("orchestration run parallel_example --goal 'Build it' -j 2",
          r"^agent=SizeAgent step=3 status=success ", r"^orchestration=parallel_example status=success "),
        R("orchestration run parallel_example --goal 'Build it'", r"^agent=DocAgent step=4 status=skipped "),
        R("orchestration run parallel_example --goal 'Build it' --force", r"^agent=DocAgent step=4 status=success "),
    ]),
    # The jobs section: forget --all above left nothing up to date, as on a first run.
    ("orchastration run build -j 4", [
        R(AS_WRITTEN, r"\Ajob=codegen status=ran exit=0 duration_ms=\d+\n"
                      r"job=build status=ran exit=0 duration_ms=\d+\n"
                      r"ran 2, skipped 0, failed 0, restored 0 in \d+\.\d\d s\n\Z"),
        R("run build -j 4", r"\Ajob=codegen status=skipped .*\njob=build status=skipped .*\n"  # "skipped next time"
                            r"ran 0, skipped 2, failed 0, restored 0 in \d+\.\d\d s\n\Z"),
    ]),
    ("orchastration why build", [R(AS_WRITTEN, r"\Aup-to-date\n\Z")]),
    ("orchastration run build --dry-run", [
        R(AS_WRITTEN, r"\Ajob=codegen up-to-date\njob=build up-to-date\n\Z"),
        R("forget codegen"),
        R(AS_WRITTEN, r"\Ajob=codegen would-run reason=state forgotten\n"
                      r"job=build would-run reason=dependency will run: codegen\n\Z"),
    ]),
    # The tasks section, on the task the orchestration section builds.
    ("orchastration plan create TASK", [
        R("plan create hello_multi_agent", r"\Atask=hello_multi_agent status=planned\n\Z"),
    ]),
    ("orchastration build run TASK", [
        R("build run hello_multi_agent", r"\Atask=hello_multi_agent exit=0 status=done\n\Z"),
    ]),
    ("orchastration doc generate TASK", [
        R("doc generate hello_multi_agent", r"\Atask=hello_multi_agent status=done doc=/\S+/hello_multi_agent\.md\n\Z"),
    ]),
    ("orchastration orchestration show parallel_example", [
        R(AS_WRITTEN, r"^  step 3: \[ ReviewerAgent \| SizeAgent \]   \(parallel\)$"),
        # The line's comment: "(--format mermaid|dot)".
        R("orchestration show parallel_example --format mermaid", r"\Aflowchart LR\n"),
        R("orchestration show parallel_example --format dot", r'\Adigraph "parallel_example" \{\n'),
    ]),
    ('orchastration orchestration run hello_multi_agent --goal "Implement login endpoint"', [
        R(AS_WRITTEN, r"^agent=ReviewerAgent step=3 status=success ",
          r"^orchestration=hello_multi_agent status=success record=/\S+\.json$"),
    ]),
]
# fmt: on
QUICK_START = (
    'orchastration --config configs/config.example.toml orchestration run hello_multi_agent --goal "Build the sample"'
)


def readme_commands() -> list[str]:
    """Each README.md ```bash line running ``orchastration``, from the ``&&`` step that does, comment dropped.

    (``./dist/orchastration`` lines are the built binary: tests/test_distribution.py runs it.)
    """
    text = README.read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.splitlines():
            steps = re.sub(r"\s+#\s.*$", "", line).split("&&")
            first = next((i for i, step in enumerate(steps) if COMMAND_WORD.search(step)), None)
            if first is not None:
                found.append("&&".join(steps[first:]).strip())
    return found


def _flags(text: str) -> set[str]:
    return {f.rstrip("]|") for f in re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", text)}


def test_readme_commands_are_all_covered() -> None:
    commands = readme_commands()
    assert sorted(c for c in commands if c != QUICK_START) == sorted(line for line, _ in README_RUNS), (
        "README.md's orchastration lines changed: update README_RUNS in tests/test_docs_commands.py"
    )
    assert QUICK_START in commands
    for line, runs in README_RUNS:
        shown = _flags(line)
        used = set().union(*(_flags(shlex.join(r.argv(line))) for r in runs))
        assert shown <= used, f"README line {line!r}: flags never exercised: {sorted(shown - used)}"


def _workspace(env: dict[str, str], tmp_path: Path) -> Path:
    """A copy of the repository's configs/ with a manifest, a typo config, a git repo and a stub ``gh``."""
    clone = doccmds.prepare_clone(REPO, tmp_path / "ws")
    lines = [f"{hashlib.sha256((clone / p).read_bytes()).hexdigest()}  {p}\n"
             for p in ("configs/sample/src/a.txt", "configs/sample/src/b.txt")]  # fmt: skip
    (clone / "SHA256SUMS").write_text("".join(lines))
    (clone / "BAD.SUMS").write_text("0" * 64 + "  configs/sample/src/a.txt\n")
    (clone / "typo.toml").write_text('[jobs.oops]\ncomand = ["true"]\n')
    sample = clone / "configs" / "sample"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"]
    for argv in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "sample"]):
        subprocess.run([*git, *argv], cwd=sample, check=True, capture_output=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$GH_ARGV"\ncat > "$GH_STDIN"\n'
                  'echo https://github.com/example/sample/issues/7\n')  # fmt: skip
    gh.chmod(0o755)
    env.update(
        ORCHASTRATION_CONFIG=str(clone / "configs" / "config.example.toml"),
        PATH=f"{bin_dir}{os.pathsep}{env['PATH']}",
        GH_ARGV=str(tmp_path / "gh.argv"),
        GH_STDIN=str(tmp_path / "gh.stdin"),
    )
    return clone


def _shell(shell: str, script: str, env: dict[str, str], cwd: Path) -> Result:
    """``shell -c script`` with the installed CLI first on PATH."""
    bin_dir = Path(cli_command()[0]).parent
    path = f"{bin_dir}{os.pathsep}{env['PATH']}"
    proc = subprocess.run([shell, "-c", script], cwd=cwd, env={**env, "PATH": path}, capture_output=True, text=True)
    return Result(proc.returncode, proc.stdout, proc.stderr)


@posix_only
def test_readme_commands_run_and_print_what_the_readme_says(
    cli: Callable[..., Result], env: dict[str, str], tmp_path: Path
) -> None:
    clone = _workspace(env, tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    for line, runs in README_RUNS:
        for run in runs:
            argv = run.argv(line)
            if run.shell:
                if not shutil.which(run.shell) or len(cli_command()) != 1:
                    continue  # that shell is not installed, or the CLI is not a script to put on PATH
                res = _shell(run.shell, run.args or line, env, clone)
            else:
                res = cli(argv, cwd=empty if run.cwd == "empty" else clone)
            both = res.out + res.err
            shown = f"{run.shell} -c {run.args or line}" if run.shell else f"orchastration {shlex.join(argv)}"
            where = f"README {line!r}: {shown}\n{both}"
            assert res.code == run.code, where
            assert "Traceback" not in res.err, where
            for pattern in run.expect:
                assert re.search(pattern, both, re.M), f"{where}\nexpected /{pattern}/"
    # The stub gh saw what `git issue create` documents: gh issue create --title ... --body-file -
    assert Path(env["GH_ARGV"]).read_text().splitlines() == [
        "issue", "create", "--title", "Task: sample_task", "--body-file", "-",
    ]  # fmt: skip
    assert Path(env["GH_STDIN"]).read_text().strip() == "Example task definition"
    assert (clone / "orchastration.toml").exists() is False  # init wrote into the empty directory only
    assert (empty / "orchastration.toml").is_file()


@posix_only
def test_readme_quick_start_runs_the_example_pipeline(
    cli: Callable[..., Result], env: dict[str, str], tmp_path: Path, state_dir: Path
) -> None:
    """The quick start's orchastration command, as written, on a fresh copy of configs/ (pip install not run)."""
    clone = doccmds.prepare_clone(REPO, tmp_path / "ws")
    res = cli(shlex.split(QUICK_START)[1:], cwd=clone)
    assert res.code == 0, (res.out, res.err)
    statuses = [line.split()[:3] for line in res.lines if line.startswith("agent=")]
    assert statuses == [
        ["agent=PlannerAgent", "step=1", "status=success"], ["agent=BuilderAgent", "step=2", "status=success"],
        ["agent=ReviewerAgent", "step=3", "status=success"], ["agent=DocAgent", "step=4", "status=success"],
    ]  # fmt: skip
    # What the README says it leaves behind:
    sample = clone / "configs" / "sample"
    assert (sample / "dist" / "orchestration.txt").is_file()
    assert (sample / "docs" / "tasks" / "hello_multi_agent.md").is_file()
    record = Path(res.lines[-1].split("record=", 1)[1])
    assert record.is_file() and record.parent == state_dir / "orchestrations" / "hello_multi_agent"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))


# ---------------------------------------------------------------- docs/architecture.md


def test_architecture_names_every_module_and_only_real_ones() -> None:
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    package = REPO / "orchastration"
    modules = {p.relative_to(package).as_posix() for p in package.rglob("*.py")}
    for module in sorted(modules):
        if not module.endswith("__init__.py") and not module.startswith("cli/cmd_"):  # cli/cmd_*.py: one row
            assert Path(module).name in text, f"docs/architecture.md does not mention orchastration/{module}"
    for named in set(re.findall(r"`((?:[a-z_]+/)?[a-z_]+\.py)`", text)):
        assert any(m == named or m.endswith("/" + named) for m in modules) or (REPO / named).exists(), named
    assert "cli/cmd_*.py" in text and "```mermaid\nflowchart" in text
