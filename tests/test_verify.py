"""``verify``: the outputs of each job's last successful run re-hashed against its record, through the
installed CLI (docs/observability.md)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from conftest import Result, assert_error
from jobs_helpers import records, toml_value

PY = sys.executable
Cli = Callable[..., Result]

# gen writes a file and a directory output; use depends on it; flaky fails while the file "fail" exists.
MAKE = "import os, pathlib; pathlib.Path('out.txt').write_text('hello\\n'); os.makedirs('d', exist_ok=True); " \
    "pathlib.Path('d/a.txt').write_text('a\\n')"  # fmt: skip
USE = "import pathlib; pathlib.Path('use.txt').write_text(pathlib.Path('out.txt').read_text().upper())"
FLAKY = "import os, sys, pathlib; os.path.exists('fail') and sys.exit(3); pathlib.Path('flaky.txt').write_text('ok')"


def write_project(root: Path, algorithm: str = "sha256") -> Path:
    root.mkdir(exist_ok=True)
    text = f"""
[hash]
algorithm = "{algorithm}"

[jobs.gen]
command = {toml_value([PY, "-c", MAKE])}
outputs = ["out.txt", "d"]

[jobs.use]
command = {toml_value([PY, "-c", USE])}
inputs = ["out.txt"]
outputs = ["use.txt"]
depends_on = ["gen"]

[jobs.flaky]
command = {toml_value([PY, "-c", FLAKY])}
outputs = ["flaky.txt"]

[jobs.never]
command = {toml_value([PY, "-c", "pass"])}
outputs = ["never.txt"]

[jobs.quiet]
command = {toml_value([PY, "-c", "pass"])}

[tasks.pack]
command = {toml_value([PY, "-c", "import pathlib; pathlib.Path('pack.txt').write_text('packed')"])}
outputs = ["pack.txt"]
"""
    (root / "orchastration.toml").write_text(text, encoding="utf-8")
    return root


def ran(cli: Cli, root: Path, *args: str) -> Result:
    result = cli(["run", *args], cwd=root)
    assert result.code == 0, (result.out, result.err)
    return result


def test_ok_then_a_same_size_same_mtime_edit_is_changed_and_a_deletion_missing(cli: Cli, tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj")
    ran(cli, root, "gen", "use", "quiet")
    ok = cli(["verify"], cwd=root)
    assert ok.code == 0, (ok.out, ok.err)
    assert ok.lines == [
        "job=flaky no successful run",
        "job=gen output=d/a.txt OK",
        "job=gen output=out.txt OK",
        "job=never no successful run",
        "job=quiet no outputs recorded",
        "job=use output=use.txt OK",
        "verified 3 outputs of 5 jobs: 3 OK",
    ]

    # An edit that keeps the size and the mtime (to the nanosecond): the up-to-date check trusts
    # (mtime_ns, size) by design and says up-to-date; verify reads the content and says CHANGED.
    out = root / "out.txt"
    before = out.stat()
    out.write_text("HELLO\n")
    os.utime(out, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = out.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert cli(["why", "gen"], cwd=root).lines == ["up-to-date"]
    changed = cli(["verify", "gen"], cwd=root)
    assert changed.code == 1, (changed.out, changed.err)
    assert changed.lines == [
        "job=gen output=d/a.txt OK",
        "job=gen output=out.txt CHANGED",
        "verified 2 outputs of 1 job: 1 OK, 1 CHANGED",
    ]

    (root / "use.txt").unlink()
    (root / "d" / "a.txt").unlink()
    missing = cli(["verify", "use", "gen"], cwd=root)
    assert missing.code == 1
    assert missing.lines == [
        "job=use output=use.txt MISSING",
        "job=gen output=d/a.txt MISSING",
        "job=gen output=out.txt CHANGED",
        "verified 3 outputs of 2 jobs: 1 CHANGED, 2 MISSING",
    ]

    # Verifying changes nothing: the same answer twice, and the edit still unseen by the up-to-date check.
    assert cli(["verify", "use", "gen"], cwd=root).lines == missing.lines
    assert (out.stat().st_mtime_ns, out.read_text()) == (before.st_mtime_ns, "HELLO\n")


def test_json_shape(cli: Cli, tmp_path: Path, state_dir: Path) -> None:
    root = write_project(tmp_path / "proj")
    ran(cli, root, "gen")
    (root / "out.txt").write_text("other\n")
    result = cli(["verify", "gen", "never", "--json"], cwd=root)
    assert result.code == 1, result.err
    record = str(records(state_dir, "gen")[-1])
    assert json.loads(result.out) == [
        {"job": "gen", "output": "d/a.txt", "state": "OK", "record": record},
        {"job": "gen", "output": "out.txt", "state": "CHANGED", "record": record},
        {"job": "never", "output": None, "state": "NO_RUN", "record": None},
    ]


def test_no_successful_run_exit_codes_and_unknown_names(cli: Cli, tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj")
    # Not named: listed, and no failure (nothing recorded, nothing to contradict).
    everything = cli(["verify"], cwd=root)
    assert everything.code == 0, everything.err
    assert "job=never no successful run" in everything.lines
    # Named: nothing vouches for its outputs, so verify fails.
    named = cli(["verify", "never"], cwd=root)
    assert (named.code, named.lines) == (1, ["job=never no successful run", "verified 0 outputs of 1 job: none"])
    assert_error(cli(["verify", "gen", "nope"], cwd=root), 2, "unknown job 'nope'")


def test_checks_against_the_last_successful_run_when_the_newest_failed(
    cli: Cli, tmp_path: Path, state_dir: Path
) -> None:
    root = write_project(tmp_path / "proj")
    ran(cli, root, "flaky")
    good = records(state_dir, "flaky")[-1]
    (root / "fail").write_text("")
    assert cli(["run", "flaky", "--force"], cwd=root).code == 1
    result = cli(["verify", "flaky", "--json"], cwd=root)
    assert result.code == 0, result.err
    assert json.loads(result.out) == [{"job": "flaky", "output": "flaky.txt", "state": "OK", "record": str(good)}]


def test_uses_the_records_hash_algorithm(cli: Cli, tmp_path: Path, state_dir: Path) -> None:
    root = write_project(tmp_path / "proj", algorithm="md5")
    ran(cli, root, "gen")
    assert json.loads((state_dir / "runs" / "gen" / "last.json").read_text())["hash_algorithm"] == "md5"
    write_project(root, algorithm="sha512")  # the config moved on; the record still says md5
    assert cli(["verify", "gen"], cwd=root).code == 0
    (root / "d" / "a.txt").write_text("b\n")
    result = cli(["verify", "gen"], cwd=root)
    assert result.code == 1 and "job=gen output=d/a.txt CHANGED" in result.lines


def test_task_builds_are_verified_too(cli: Cli, tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj")
    assert "task=pack" not in cli(["verify"], cwd=root).out  # never built: not listed unless named
    assert cli(["verify", "pack"], cwd=root).lines[0] == "task=pack no successful run"
    assert cli(["build", "run", "pack"], cwd=root).code == 0
    assert "task=pack output=pack.txt OK" in cli(["verify"], cwd=root).lines
    (root / "pack.txt").write_text("PACKED")
    result = cli(["verify", "pack", "--json"], cwd=root)
    assert result.code == 1
    assert [(e["task"], e["output"], e["state"]) for e in json.loads(result.out)] == [("pack", "pack.txt", "CHANGED")]


def test_unreadable_output_is_changed_with_the_reason(cli: Cli, tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj")
    ran(cli, root, "gen")
    (root / "out.txt").unlink()
    (root / "out.txt").mkdir()  # a directory where the record has a file: nothing to hash
    result = cli(["verify", "gen"], cwd=root)
    assert result.code == 1
    assert "job=gen output=out.txt CHANGED (is a directory, not a file)" in result.lines


def test_many_outputs_are_hashed_in_threads_and_reported_in_order(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "many"
    root.mkdir()
    make = "import os; os.makedirs('d', exist_ok=True); [open(f'd/{i:02d}.txt', 'w').write(str(i) * 5000) " \
        "for i in range(40)]"  # fmt: skip
    (root / "orchastration.toml").write_text(
        f'[jobs.many]\ncommand = {toml_value([PY, "-c", make])}\noutputs = ["d"]\n'
    )
    ran(cli, root)
    (root / "d" / "17.txt").write_text("x")
    (root / "d" / "33.txt").unlink()
    result = cli(["verify"], cwd=root)
    assert result.code == 1
    expected = {17: "CHANGED", 33: "MISSING"}
    assert result.lines == [
        *(f"job=many output=d/{i:02d}.txt {expected.get(i, 'OK')}" for i in range(40)),
        "verified 40 outputs of 1 job: 38 OK, 1 CHANGED, 1 MISSING",
    ]
