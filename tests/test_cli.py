"""The CLI skeleton: help everywhere, version, flag placement, exit codes, logs, lazy imports."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_error

from orchastration import __version__
from orchastration.cli.parser import build_parser


def all_command_paths() -> list[list[str]]:
    """Every command and subcommand path in the real parser."""
    paths: list[list[str]] = []

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    paths.append([*prefix, name])
                    walk(sub, [*prefix, name])

    walk(build_parser(), [])
    return paths


def test_command_table_matches_what_modules_register() -> None:
    """COMMAND_OF (used to build only the needed parser) names every top-level command's module."""
    from orchastration.cli.app import COMMAND_MODULES, COMMAND_OF

    registered = {}
    for module in COMMAND_MODULES:
        for path in _paths_of(build_parser(module)):
            if len(path) == 1:
                registered[path[0]] = module
    assert registered == COMMAND_OF


def _paths_of(parser: argparse.ArgumentParser) -> list[list[str]]:
    return [[name] for a in parser._actions if isinstance(a, argparse._SubParsersAction) for name in a.choices]


@pytest.mark.parametrize(
    ("argv", "module"),
    [
        (["run", "a"], "jobs"),
        (["--config", "run", "hash"], "hash"),
        (["--log-level", "debug", "-q", "plan", "list"], "plan"),
        (["--config=x.toml", "status"], "jobs"),
        (["--help"], None),
        (["nope"], None),
        ([], None),
    ],
)
def test_command_module_skips_global_flags(argv: list[str], module: str | None) -> None:
    from orchastration.cli.app import command_module

    assert command_module(argv) == module


def test_no_command_prints_usage_exit_0(run_main) -> None:
    result = run_main([])
    assert result.code == 0
    assert result.out.startswith("usage: orchastration")
    assert "hash" in result.out and "config" in result.out


def test_version(cli) -> None:
    result = cli(["--version"])
    assert (result.code, result.out) == (0, f"orchastration {__version__}\n")


def test_python_dash_m(env, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "orchastration", "--version"], capture_output=True, text=True, env=env)
    assert proc.stdout.strip() == f"orchastration {__version__}"


@pytest.mark.parametrize("path", all_command_paths(), ids=lambda p: " ".join(p))
def test_every_command_has_help(run_main, path: list[str]) -> None:
    result = run_main([*path, "--help"])
    assert result.code == 0, result.err
    assert result.out.startswith(f"usage: orchastration {' '.join(path)}")


def test_help_lists_only_real_commands(run_main) -> None:
    """Every command in --help runs (its own --help works) — no placeholders."""
    top = {p[0] for p in all_command_paths()}
    help_text = run_main(["--help"]).out
    for name in top:
        assert f"    {name} " in help_text or f"    {name}\n" in help_text


def test_unknown_command_is_exit_2(run_main) -> None:
    result = run_main(["frobnicate"])
    assert_error(result, 2, "frobnicate")
    assert result.out == ""


def test_unknown_flag_is_exit_2(run_main) -> None:
    assert_error(run_main(["hash", "--fiel", "x"]), 2, "--fiel")


def test_global_flags_before_and_after_command(run_main, tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[hash]\nalgorithm = "md5"\n')
    (tmp_path / "f").write_text("x")
    before = run_main(["--config", str(cfg), "hash", "--file", "f"])
    after = run_main(["hash", "--file", "f", "--config", str(cfg)])
    assert json.loads(before.out)["algorithm"] == json.loads(after.out)["algorithm"] == "md5"


def test_invalid_log_level_names_flag(run_main, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    assert_error(run_main(["--log-level", "loud", "hash", "--file", "f"]), 2, "--log-level", "loud")


@pytest.mark.parametrize("level", ["DEBUG", "info", "Warn", "warning", "ERROR"])
def test_log_levels_any_case(run_main, tmp_path: Path, level: str) -> None:
    (tmp_path / "f").write_text("x")
    assert run_main(["--log-level", level, "hash", "--file", "f"]).code == 0


def test_json_console_logs_on_stderr_and_log_file(cli, env, tmp_path: Path) -> None:
    """A warning event reaches stderr as JSON and the JSON-lines log file; stdout stays parseable."""
    (tmp_path / "f").write_text("x")
    (tmp_path / "SUMS").write_text("0" * 64 + "  f\n")
    result = cli(["--log-format", "json", "--log-level", "debug", "hash", "--check", "SUMS"])
    assert result.code == 1
    assert result.lines == ["f: FAILED"]
    log_file = Path(env["XDG_CACHE_HOME"]) / "orchastration" / "orchastration.log"
    records = [json.loads(line) for line in log_file.read_text().splitlines()]
    event = next(r for r in records if r["msg"] == "checksum mismatch")
    assert event["level"] == "WARNING" and event["file"] == "f"
    assert event["time"].endswith("Z") and "T" in event["time"]
    console = [json.loads(line) for line in result.err.splitlines() if line.startswith("{")]
    assert any(r["msg"] == "checksum mismatch" and r["file"] == "f" for r in console)


def test_quiet_hides_warnings(cli, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    (tmp_path / "SUMS").write_text("0" * 64 + "  f\n")
    result = cli(["-q", "hash", "--check", "SUMS"])
    assert result.code == 1 and "checksum mismatch" not in result.err


def test_no_color_on_pipe(cli, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    (tmp_path / "SUMS").write_text("0" * 64 + "  f\n")
    assert "\x1b[" not in cli(["hash", "--check", "SUMS"]).err


def test_color_only_on_tty_and_never_with_no_color() -> None:
    from orchastration.logs import use_color

    class Tty:
        def isatty(self) -> bool:
            return True

    assert use_color(Tty(), False, {})  # type: ignore[arg-type]
    assert not use_color(Tty(), False, {"NO_COLOR": "1"})  # type: ignore[arg-type]
    assert not use_color(Tty(), True, {})  # type: ignore[arg-type]


HEAVY = ("doit", "git", "jinja2")


@pytest.mark.parametrize("argv", [["--version"], ["list"], ["plan", "list"], ["config", "validate"], ["--help"]])
def test_startup_commands_do_not_import_heavy_modules(env, tmp_path: Path, argv: list[str]) -> None:
    (tmp_path / "orchastration.toml").write_text('[jobs.a]\ncommand = ["echo", "a"]\n')
    code = (
        "import io, sys\n"
        "from orchastration.cli import main\n"
        f"rc = main({argv!r}, stdout=io.StringIO(), stderr=io.StringIO())\n"
        f"print(rc, sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "0 []"


def test_internal_state_dir_override(run_main, tmp_path: Path) -> None:
    from orchastration.paths import Paths

    assert Paths.resolve(str(tmp_path / "s"), {}).state_dir == tmp_path / "s"
    assert Paths.resolve(None, {"ORCHASTRATION_STATE_DIR": str(tmp_path / "e")}).state_dir == tmp_path / "e"


def test_log_file_rotates_past_its_limit(cli, env, tmp_path: Path) -> None:
    from orchastration.logs import LOG_MAX_BYTES

    log_dir = Path(env["XDG_CACHE_HOME"]) / "orchastration"
    log_dir.mkdir(parents=True)
    log_file = log_dir / "orchastration.log"
    log_file.write_bytes(b"{}\n" * (LOG_MAX_BYTES // 3 + 1))
    (log_dir / "orchastration.log.1").write_text("older\n")
    (tmp_path / "f").write_text("x")
    (tmp_path / "SUMS").write_text("0" * 64 + "  f\n")
    assert cli(["hash", "--check", "SUMS"]).code == 1
    assert (log_dir / "orchastration.log.2").read_text() == "older\n"
    assert (log_dir / "orchastration.log.1").stat().st_size > LOG_MAX_BYTES
    assert "checksum mismatch" in log_file.read_text()


@pytest.mark.parametrize("argv", [["run", "-j", "0"], ["run", "-j", "two"], ["orchestration", "run", "x", "-j", "0"]])
def test_parallelism_must_be_a_positive_whole_number(run_main, argv: list[str]) -> None:
    assert_error(run_main(argv), 2, "-j")


@pytest.mark.parametrize("columns", ["57", "131", None])
def test_help_is_as_wide_as_argparse_makes_it_without_importing_shutil(env, columns: str | None) -> None:
    # cli/parser.py's Formatter measures the terminal itself (shutil and the compression modules it loads
    # cost ~2 ms of every command); the help must wrap exactly where argparse's own formatter would.
    if columns is None:
        env.pop("COLUMNS", None)
    else:
        env["COLUMNS"] = columns
    code = (
        "import argparse, sys\n"
        "from orchastration.cli.parser import Formatter, build_parser\n"
        "text = build_parser('jobs').format_help()\n"
        "loaded = 'shutil' in sys.modules\n"
        "import shutil\n"
        "ours = Formatter('p')._width\n"
        "theirs = argparse.RawDescriptionHelpFormatter('p')._width\n"
        "print(loaded, ours == theirs, ours)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    loaded, same, width = proc.stdout.split()
    assert (loaded, same) == ("False", "True")
    assert int(width) == (int(columns) if columns else 80) - 2  # not a terminal here: $COLUMNS, else 80


@pytest.mark.parametrize(
    "argv",
    [
        ["run"],
        ["-q", "run"],
        ["run", "a", "b.c"],
        ["--config", "c.toml", "--state-dir", "/s", "run", "a"],
        ["--config=c.toml", "--state-dir=/s", "run"],
        ["--no-color", "run", "-q", "a", "b"],
        ["run", "--quiet", "-j", "4"],
        ["run", "-j3", "a", "b"],
        ["run", "a", "b", "--jobs=12"],
        ["run", "--jobs", "007", "x", "--no-color"],
    ],
)
def test_a_plain_run_line_gives_what_the_parser_gives(argv: list[str]) -> None:
    # cli/cmd_jobs.py plain_run_args skips building the parser for the plainest run lines: every
    # attribute (defaults included) must be the parser's.
    from orchastration.cli.cmd_jobs import plain_run_args

    plain = plain_run_args(argv)
    assert plain is not None, argv
    assert vars(plain) == vars(build_parser("jobs").parse_args(argv))


@pytest.mark.parametrize(
    "argv", [["run", "a", "-q", "b"], ["run", "-j", "0"], ["run", "a", "--", "x"], ["run", "--force"], ["list"]]
)
def test_other_run_lines_go_to_the_parser(run_main, argv: list[str]) -> None:
    from orchastration.cli.cmd_jobs import plain_run_args

    assert plain_run_args(argv) is None


def test_job_names_split_by_an_option_are_an_error_even_when_up_to_date(cli, tmp_path: Path) -> None:
    # argparse takes `run`'s job names as one block: `run a -q b` is "unrecognized arguments" (exit 2);
    # the plain-line reader (cli/fast_run.py parse_plain) must leave it to the parser, up to date or not.
    from jobs_helpers import PY, write_config

    make = "open('{0}.txt', 'w').write('x')"
    write_config(tmp_path, {n: {"command": [PY, "-c", make.format(n)], "outputs": [f"{n}.txt"]} for n in "ab"})
    state = str(tmp_path / "state")
    assert cli(["--state-dir", state, "run"], cwd=tmp_path).code == 0
    assert cli(["--state-dir", state, "run", "a", "b"], cwd=tmp_path).out.count("status=skipped") == 2
    assert_error(cli(["--state-dir", state, "run", "a", "-q", "b"], cwd=tmp_path), 2, "unrecognized arguments: b")
