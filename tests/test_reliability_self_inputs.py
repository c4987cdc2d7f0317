"""Regression: a job or task whose outputs match its own input globs reruns without a doit cycle,
and a real loop through files between two jobs is a config error naming them, before anything runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conftest import Result, assert_error
from jobs_helpers import PY, statuses, write_config

Cli = Callable[..., Result]

# Writes app/b.py from every other app/*.py: its output matches its own input glob.
GEN = (
    "import glob; open('app/b.py','w').write(''.join(open(p).read() "
    "for p in sorted(glob.glob('app/*.py')) if not p.endswith('b.py')))"
)


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "app").mkdir(parents=True)
    (root / "app" / "a.py").write_text("a = 1\n")
    return root


def test_job_output_inside_its_own_input_glob(cli: Cli, tmp_path: Path) -> None:
    root = _project(tmp_path)
    write_config(root, {"j": {"command": [PY, "-c", GEN], "inputs": ["app/*.py"], "outputs": ["app/b.py"]}})
    for expected in ("ran", "skipped", "skipped"):
        res = cli(["run", "j"], cwd=root)
        assert res.code == 0, res.err
        assert "Traceback" not in res.err and "internal error" not in res.err
        assert statuses(res.out) == {"j": expected}
    assert cli(["why", "j"], cwd=root).out.strip() == "up-to-date"
    # A real input edit still reruns it; editing its own output by hand does too (as an output).
    (root / "app" / "a.py").write_text("a = 2\n")
    assert cli(["why", "j"], cwd=root).out.splitlines() == ["input changed: app/a.py"]
    assert statuses(cli(["run", "j"], cwd=root).out) == {"j": "ran"}
    assert (root / "app" / "b.py").read_text() == "a = 2\n"
    (root / "app" / "b.py").write_text("tampered\n")
    assert cli(["why", "j"], cwd=root).out.splitlines() == ["output changed: app/b.py"]
    assert statuses(cli(["run", "j"], cwd=root).out) == {"j": "ran"}


def test_task_output_inside_its_own_input_glob(cli: Cli, tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "orchastration.toml").write_text(
        f'[tasks.t]\ncommand = ["{PY}", "-c", "{GEN}"]\ninputs = ["app/*.py"]\noutputs = ["app/b.py"]\n'.replace(
            "\\", "\\\\"
        ),
        encoding="utf-8",
    )
    first = cli(["build", "run", "t"], cwd=root)
    assert first.code == 0, first.err
    assert first.out.strip().endswith("task=t exit=0 status=done")
    for _ in range(2):
        again = cli(["build", "run", "t"], cwd=root)
        assert again.code == 0, again.err
        assert again.out.strip() == "task=t status=up-to-date"


def test_loop_through_files_is_a_config_error_and_runs_nothing(cli: Cli, tmp_path: Path) -> None:
    root = _project(tmp_path)
    write_config(
        root,
        {
            "c1": {"command": [PY, "-c", "open('x.txt','w').write('1')"], "inputs": ["y.txt"], "outputs": ["x.txt"]},
            "c2": {"command": [PY, "-c", "open('y.txt','w').write('1')"], "inputs": ["x.txt"], "outputs": ["y.txt"]},
            "ok": {"command": [PY, "-c", "open('ok.txt','w').write('1')"], "outputs": ["ok.txt"]},
        },
    )
    res = cli(["run"], cwd=root)
    assert_error(res, 2, "dependency cycle", "c1 -> c2 -> c1")
    assert not (root / "ok.txt").exists() and not (root / "x.txt").exists()


def test_input_produced_by_another_selected_job_orders_it_first(cli: Cli, tmp_path: Path) -> None:
    """Without depends_on, a literal input another job of the same run outputs makes that job run first."""
    root = _project(tmp_path)
    write_config(
        root,
        {
            "use": {
                "command": [PY, "-c", "open('use.txt','w').write(open('gen.txt').read() * 2)"],
                "inputs": ["gen.txt"],
                "outputs": ["use.txt"],
            },
            "gen": {"command": [PY, "-c", "open('gen.txt','w').write('g')"], "outputs": ["gen.txt"]},
        },
    )
    res = cli(["run", "use", "gen"], cwd=root)
    assert res.code == 0, res.err
    assert [line.split()[0] for line in res.out.splitlines()] == ["job=gen", "job=use"]
    assert (root / "use.txt").read_text() == "gg"


def test_missing_input_fails_the_job_even_when_another_input_is_new(cli: Cli, tmp_path: Path) -> None:
    """doit, collecting every reason, let a 'changed' input turn 'input missing' into a run."""
    root = _project(tmp_path)
    (root / "present.txt").write_text("x\n")
    write_config(
        root,
        {"g": {"command": [PY, "-c", "open('o.txt','w').close()"], "inputs": ["gone.txt", "present.txt"]}},
    )
    res = cli(["run", "g"], cwd=root)
    assert res.code == 1, (res.out, res.err)
    assert "job=g status=failed" in res.out and "input missing: gone.txt" in res.out
    assert not (root / "o.txt").exists()


def test_missing_input_with_braces_in_its_name(cli: Cli, tmp_path: Path) -> None:
    """doit formats a missing file's name twice: '{' or '}' in it used to be an internal error."""
    root = _project(tmp_path)
    write_config(root, {"g": {"command": [PY, "-c", "pass"], "inputs": ["{", "a}b", "{x}.txt"]}})
    dry = cli(["run", "--dry-run"], cwd=root)
    assert dry.code == 0, dry.err
    assert "input missing: {x}.txt" in dry.out
    res = cli(["run", "g"], cwd=root)
    assert res.code == 1 and "internal error" not in res.err, res.err
    assert "input missing: a}b" in res.out and "input missing: {" in res.out
    (root / "{").write_text("1")
    (root / "a}b").write_text("2")
    (root / "{x}.txt").write_text("3")
    ok = cli(["run", "g"], cwd=root)
    assert ok.code == 0 and "job=g status=ran" in ok.out, (ok.out, ok.err)
    assert cli(["why", "g"], cwd=root).out.strip() == "up-to-date"
