"""Hostile names and files, secrets at rest, and the README lock (docs/reliability.md, "Hostile names
and files, secrets at rest"): each test drives the installed CLI on real files."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Result, assert_error
from reliability.common import cli_command, isolated_env

Cli = Callable[..., Result]
PY = sys.executable
POSIX_ONLY = pytest.mark.skipif(os.name != "posix", reason="POSIX file names are bytes; Windows names are UTF-16")


# -- non-UTF-8 file names --------------------------------------------------------------------------
@POSIX_ONLY
def test_a_non_utf8_input_name_is_recorded_and_the_job_is_up_to_date(
    cli: Cli, tmp_path: Path, env: dict[str, str]
) -> None:
    bad = os.fsdecode(b"bad\xff.txt")
    try:
        (tmp_path / bad).write_text("v1\n", encoding="utf-8")
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system refuses non-UTF-8 names")
    copy = [PY, "-c", "import glob; open('out.dat', 'w').write(str(len(glob.glob('*.txt'))))"]
    (tmp_path / "orchastration.toml").write_text(
        f'[jobs.j]\ncommand = {json.dumps(copy)}\ninputs = ["*.txt"]\noutputs = ["out.dat"]\n', encoding="utf-8"
    )
    # A UTF-8 locale that refuses to write surrogates (what most terminals have), not C's escape.
    env["PYTHONIOENCODING"] = "utf-8:strict"
    first = cli(["run"])
    assert first.code == 0 and "job=j status=ran" in first.out, (first.out, first.err)
    assert "Traceback" not in first.err and "Logging error" not in first.err
    for name in (bad, "out.dat"):  # old enough for the up-to-date summary to take the job in
        os.utime(tmp_path / name, (1_700_000_000, 1_700_000_000))
    again = cli(["run"])
    assert again.code == 0 and "job=j status=skipped" in again.out, (again.out, again.err)
    summaries = list((Path(env["ORCHASTRATION_STATE_DIR"]) / "engine" / "fast").glob("*.txt"))
    assert summaries and b"bad\xff.txt" in summaries[0].read_bytes()
    fast = cli(["run"])  # answered from the summary
    assert fast.code == 0 and "job=j status=skipped" in fast.out, (fast.out, fast.err)
    env["ORCHASTRATION_NO_FASTPATH"] = "1"
    assert "job=j status=skipped" in cli(["run"]).out
    # The record is valid UTF-8 JSON; the name maps back to the file's bytes.
    state = Path(env["ORCHASTRATION_STATE_DIR"])
    raw = (state / "runs" / "j" / "last.json").read_bytes()
    record = json.loads(raw.decode("utf-8"))
    assert "\\udcff" in raw.decode("utf-8")
    assert [os.fsencode(name) for name in record["inputs"]] == [b"bad\xff.txt"]
    # Changed: why, the dry run, status --json and the debug log all say it without failing.
    (tmp_path / bad).write_text("v2 longer\n", encoding="utf-8")
    why = cli(["why", "j"])
    assert why.code == 0 and "input changed: bad\\xff.txt" in why.out, (why.out, why.err)
    dry = cli(["run", "--dry-run"])
    assert dry.code == 0 and "bad\\xff.txt" in dry.out, (dry.out, dry.err)
    status = cli(["status", "--json"])
    assert status.code == 0, status.err
    assert json.loads(status.out)[0]["reasons"] == [f"input changed: {bad}"]
    ran = cli(["--log-level", "debug", "run"])
    assert ran.code == 0 and "job=j status=ran" in ran.out, (ran.out, ran.err)
    assert "Logging error" not in ran.err and "Traceback" not in ran.err, ran.err
    log_lines = (Path(env["XDG_CACHE_HOME"]) / "orchastration" / "orchastration.log").read_bytes().decode("utf-8")
    assert any("bad\\udcff.txt" in line for line in log_lines.splitlines())
    assert "job=j status=skipped" in cli(["run"]).out


@POSIX_ONLY
def test_hash_file_and_check_handle_a_non_utf8_name(cli: Cli, tmp_path: Path, env: dict[str, str]) -> None:
    bad = os.fsdecode(b"bad\xff.txt")
    try:
        (tmp_path / bad).write_bytes(b"data\n")
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system refuses non-UTF-8 names")
    env["PYTHONIOENCODING"] = "utf-8:strict"
    out = cli(["hash", "--file", str(tmp_path / bad)], cwd=tmp_path)
    assert out.code == 0, out.err
    line = json.loads(out.out)
    assert os.fsencode(line["file"]).endswith(b"bad\xff.txt") and line["hash"] == hashlib.sha256(b"data\n").hexdigest()
    (tmp_path / "SUMS").write_bytes(hashlib.sha256(b"data\n").hexdigest().encode() + b"  bad\xff.txt\n")
    check = cli(["hash", "--check", "SUMS"], cwd=tmp_path)
    assert check.code == 0 and "bad\\xff.txt: OK" in check.out, (check.out, check.err)


# -- names -----------------------------------------------------------------------------------------
NAME_CASES = {
    "job": '[jobs."build\\n"]\ncommand = ["true"]\n',
    "task": '[tasks."t\\n"]\ncommand = ["true"]\n',
    "agent": '[agents."Bot\\n"]\ncommand = ["true"]\n',
    "orchestration": '[orchestrations."o\\n"]\nagents = ["PlannerAgent"]\n',
    "tab": '[jobs."a\\tb"]\ncommand = ["true"]\n',
    "escape": '[jobs."a\\u001b[31m"]\ncommand = ["true"]\n',
    "depends_on": '[jobs.a]\ncommand = ["true"]\ndepends_on = ["b\\n"]\n[jobs.b]\ncommand = ["true"]\n',
    "steps": '[orchestrations.o]\nsteps = [["PlannerAgent\\n"]]\n',
    "agents list": '[orchestrations.o]\nagents = ["PlannerAgent\\n"]\n',
}


@pytest.mark.parametrize("case", sorted(NAME_CASES))
def test_names_with_control_characters_are_config_errors(cli: Cli, tmp_path: Path, case: str) -> None:
    (tmp_path / "orchastration.toml").write_text(NAME_CASES[case], encoding="utf-8")
    result = cli(["config", "validate"])
    assert_error(result, 2, "orchastration.toml")
    assert len(result.err.strip().splitlines()) == 1, result.err


# -- deep graphs and deep TOML ---------------------------------------------------------------------
def test_a_3000_job_chain_runs_lists_and_explains(cli: Cli, tmp_path: Path) -> None:
    # j0 depends on j1, ... on j2999: validation walks the chain from j0 (sorted first) to the end.
    n = 3000
    lines = []
    for i in range(n):
        lines += [f"[jobs.j{i}]", 'command = ["true"]' if os.name == "posix" else f'command = ["{PY}", "-c", ""]']
        if i + 1 < n:
            lines.append(f'depends_on = ["j{i + 1}"]')
    (tmp_path / "orchastration.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    listed = cli(["list"], timeout=300)
    assert listed.code == 0 and len(listed.out.splitlines()) >= n, listed.err[-500:]
    dry = cli(["run", "--dry-run", "j0"], timeout=300)
    assert dry.code == 0 and len(dry.out.splitlines()) == n, dry.err[-500:]
    ran = cli(["run", "-q", "j0"], timeout=600)
    assert ran.code == 0 and ran.out.count("status=ran") == n, ran.err[-500:]
    why = cli(["why", "j0"], timeout=300)
    assert why.code == 0 and "internal error" not in why.err, why.err[-500:]
    status = cli(["status"], timeout=300)
    assert status.code == 0 and "internal error" not in status.err, status.err[-500:]
    assert cli(["run", "j0"], timeout=300).out.count("status=skipped") == n


def test_a_dependency_cycle_in_a_long_chain_is_a_config_error(cli: Cli, tmp_path: Path) -> None:
    n = 2000
    lines = []
    for i in range(n):
        lines += [f"[jobs.j{i}]", 'command = ["true"]', f'depends_on = ["j{(i + 1) % n}"]']
    (tmp_path / "orchastration.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert_error(cli(["list"], timeout=300), 2, "orchastration.toml", "dependency cycle: j0 -> j1 -> ")


@pytest.mark.parametrize("shape", ["arrays", "inline tables"])
def test_toml_nested_5000_deep_is_a_config_error_naming_the_file(cli: Cli, tmp_path: Path, shape: str) -> None:
    deep = "[" * 5000 + "]" * 5000 if shape == "arrays" else "{a = " * 5000 + "1" + "}" * 5000
    (tmp_path / "orchastration.toml").write_text(f"x = {deep}\n", encoding="utf-8")
    for argv in (["list"], ["config", "validate"], ["run"]):
        assert_error(cli(argv), 2, str(tmp_path / "orchastration.toml"), "nested too deeply")


# -- secrets at rest -------------------------------------------------------------------------------
PIN = "483920"


def _pin_project(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    job = [PY, "-c", "import os; open('out.txt', 'w').write(str(len(os.environ['PIN'])))"]
    (root / "orchastration.toml").write_text(
        f'[jobs.j]\ncommand = {json.dumps(job)}\noutputs = ["out.txt"]\nenv = {{ PIN = "{PIN}" }}\n', encoding="utf-8"
    )


def _state_files(state: Path) -> list[Path]:
    return [p for p in state.rglob("*")]


@POSIX_ONLY
def test_state_is_private_and_env_hashes_are_keyed_per_state_dir(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _pin_project(root)
    hashes = []
    for which in ("one", "two"):
        env = isolated_env(tmp_path / which)
        done = subprocess.run([*cli_command(), "run"], cwd=root, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        state = Path(env["ORCHASTRATION_STATE_DIR"])
        assert stat.S_IMODE(state.stat().st_mode) == 0o700
        for path in _state_files(state):
            mode = stat.S_IMODE(path.lstat().st_mode)
            assert not mode & 0o077, f"{path} is {oct(mode)}"
        record = json.loads((state / "runs" / "j" / "last.json").read_text(encoding="utf-8"))
        hashes.append(record["env_hash"])
        # Nothing in the state dir holds the value, or any plain hash of it a guess could be tested against.
        plain = {
            hashlib.sha256(text.encode()).hexdigest()
            for text in (PIN, repr((("PIN", PIN),)), json.dumps([["PIN", PIN]], separators=(",", ":")))
        }
        for path in _state_files(state):
            if path.is_file():
                data = path.read_bytes()
                assert PIN.encode() not in data or path.suffix == ".log", path
                for digest in plain:
                    assert digest.encode() not in data, (path, digest)
    assert hashes[0] != hashes[1]


def test_a_changed_env_value_still_reruns_and_an_unchanged_one_does_not(cli: Cli, tmp_path: Path) -> None:
    _pin_project(tmp_path)
    assert "status=ran" in cli(["run"]).out
    assert "status=skipped" in cli(["run"]).out
    text = (tmp_path / "orchastration.toml").read_text(encoding="utf-8").replace(PIN, "000000")
    (tmp_path / "orchastration.toml").write_text(text, encoding="utf-8")
    why = cli(["why", "j"])
    assert "env changed" in why.out, why.out
    assert "status=ran" in cli(["run"]).out


# -- doc generate into one README from two state dirs ----------------------------------------------
def test_concurrent_doc_generate_from_two_state_dirs_keeps_every_section(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "README.md").write_text("# Shared\n\nby hand\n", encoding="utf-8")
    tasks = [f"t{i}" for i in range(12)]
    (root / "orchastration.toml").write_text(
        "".join(f'[tasks.{t}]\ndescription = "task {t}"\ncommand = ["true"]\n' for t in tasks), encoding="utf-8"
    )
    link = tmp_path / "link"  # one of the ways in goes through a symlinked working dir
    if os.name == "posix":
        link.symlink_to(root)
    else:
        link = root
    envs = [isolated_env(tmp_path / "a"), isolated_env(tmp_path / "b")]
    procs = [
        subprocess.Popen(
            [*cli_command(), "doc", "generate", task],
            cwd=link if i % 2 else root,
            env=envs[i % 2],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, task in enumerate(tasks)
    ]
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("# Shared\n\nby hand\n")
    missing = [t for t in tasks if readme.count(f"<!-- orchastration:task:{t}:begin -->") != 1]
    assert not missing, readme
