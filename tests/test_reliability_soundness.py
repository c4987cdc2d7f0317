"""Sound up-to-date decisions through the installed CLI: an input edited while its job runs is never
trusted (docs/reliability.md), inputs must be regular files, output globs and directories, and a
``clean`` that a symlink swapped in mid-run cannot lead outside the working dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Result, assert_error
from jobs_helpers import age, statuses, write_config
from reliability.common import cli_command

Cli = Callable[..., Result]
PY = sys.executable
posix_only = pytest.mark.skipif(os.name != "posix", reason="FIFOs, devices and symlink races are POSIX tests")

# Copies in.txt to out.txt, says so, then sleeps (the test edits in.txt during the sleep).
SLOW_COPY = (
    "import pathlib, sys, time; pathlib.Path('out.txt').write_bytes(pathlib.Path('in.txt').read_bytes()); "
    "print('copied', flush=True); time.sleep(float(sys.argv[1]))"
)


def _edit_during_run(argv: list[str], root: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the CLI; once the job has copied in.txt, write v2 into in.txt while it sleeps."""
    with subprocess.Popen(
        [*cli_command(), *argv], cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            deadline = time.monotonic() + 30
            while not ((root / "out.txt").exists() and (root / "out.txt").read_text() == "v1\n"):
                assert time.monotonic() < deadline and proc.poll() is None, "the job never copied its input"
                time.sleep(0.02)
            (root / "in.txt").write_text("v2\n")  # same size, new content, mid-run
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_an_input_edited_while_its_job_runs_reruns_the_job(cli: Cli, tmp_path: Path, env: dict[str, str]) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "in.txt").write_text("v1\n")
    age(root / "in.txt")
    job = {"command": [PY, "-c", SLOW_COPY, "1.5"], "inputs": ["in.txt"], "outputs": ["out.txt"]}
    write_config(root, {"copy": job})
    first = _edit_during_run(["run"], root, env)
    assert first.returncode == 0 and statuses(first.stdout) == {"copy": "ran"}, (first.stdout, first.stderr)
    assert (root / "out.txt").read_text() == "v1\n"
    assert cli(["why", "copy"], cwd=root).out.strip() == "input changed: in.txt"
    again = cli(["run", "copy"], cwd=root)
    assert statuses(again.out) == {"copy": "ran"}, (again.out, again.err)
    assert (root / "out.txt").read_text() == "v2\n"
    age(root / "in.txt", root / "out.txt")
    assert statuses(cli(["run", "copy"], cwd=root).out) == {"copy": "skipped"}


def test_an_input_edited_while_a_task_builds_rebuilds_it(cli: Cli, tmp_path: Path, env: dict[str, str]) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "in.txt").write_text("v1\n")
    age(root / "in.txt")
    command = json.dumps([PY, "-c", SLOW_COPY, "1.5"])
    (root / "orchastration.toml").write_text(
        f'[tasks.copy]\ncommand = {command}\ninputs = ["in.txt"]\noutputs = ["out.txt"]\n', encoding="utf-8"
    )
    first = _edit_during_run(["build", "run", "copy"], root, env)
    assert first.returncode == 0 and first.stdout.splitlines()[-1] == "task=copy exit=0 status=done", first.stderr
    again = cli(["build", "run", "copy"], cwd=root)
    assert again.lines[-1] == "task=copy exit=0 status=done", (again.out, again.err)
    assert (root / "out.txt").read_text() == "v2\n"


# ----- clean: a symlink swapped in mid-run never leads it outside ---------------------------------


@posix_only
def test_clean_never_follows_a_directory_swapped_for_a_symlink(cli: Cli, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "proj"
    (root / "sub").mkdir(parents=True)
    names = [f"victim{i}.txt" for i in range(40)]
    for name in names:
        (outside / name).write_text("keep me\n")
    write_config(root, {"j": {"command": ["true"], "outputs": [f"sub/{n}" for n in names]}})
    stop = threading.Event()

    def swap() -> None:
        sub, real = root / "sub", root / "sub.real"
        while not stop.is_set():
            for name in names[:5]:
                (sub / name).write_text("mine\n")
            os.rename(sub, real)
            os.symlink(outside, sub)
            time.sleep(0.0005)
            os.unlink(sub)
            os.rename(real, sub)

    swapper = threading.Thread(target=swap)
    swapper.start()
    try:
        deadline = time.monotonic() + 20
        runs = 0
        while time.monotonic() < deadline and runs < 40:
            res = cli(["clean", "j"], cwd=root, timeout=30)
            assert res.code in (0, 1) and "Traceback" not in res.err, res.err
            runs += 1
            gone = [n for n in names if not (outside / n).exists()]
            assert not gone, f"clean deleted {gone} outside the working dir (run {runs})"
    finally:
        stop.set()
        swapper.join(10)
    assert runs >= 10


# ----- inputs must be regular files -----------------------------------------------------------------


def _special_inputs(root: Path) -> None:
    """A FIFO, a socket, and a directory and a glob that match them."""
    import socket

    (root / "d").mkdir(parents=True)
    (root / "d" / "ok.txt").write_text("ok\n")
    os.mkfifo(root / "pipe")
    os.mkfifo(root / "d" / "pipe.txt")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "sock"))
    sock.close()


@posix_only
@pytest.mark.parametrize(
    ("inputs", "named", "kind"),
    [(["pipe"], "pipe", "a FIFO"), (["/dev/zero"], "/dev/zero", "a character device"), (["sock"], "sock", "a socket"),
     (["d/*.txt"], "d/pipe.txt", "a FIFO"), (["d"], "d/pipe.txt", "a FIFO"), (["d/**/pipe*"], "d/pipe.txt", "a FIFO")],
)  # fmt: skip
def test_an_input_that_is_not_a_regular_file_is_an_error_before_anything_runs(
    cli: Cli, tmp_path: Path, inputs: list[str], named: str, kind: str
) -> None:
    root = tmp_path / "proj"
    _special_inputs(root)
    ran = root / "ran.txt"
    job = {"command": [PY, "-c", f"open({str(ran)!r}, 'a').write('x')"], "inputs": inputs, "outputs": ["o.txt"]}
    write_config(root, {"reads": job, "other": {"command": [PY, "-c", f"open({str(ran)!r}, 'a').write('y')"]}})
    for argv in (["run"], ["run", "reads", "--dry-run"], ["why", "reads"], ["status"], ["run", "-j", "2"]):
        res = cli(argv, cwd=root, timeout=20)
        assert_error(res, 2, f"reads: input {named} is {kind}")
        assert len(res.err.splitlines()) == 1, res.err
    assert not ran.exists()  # nothing ran, not even the unrelated job


@posix_only
def test_a_task_build_refuses_a_fifo_input(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _special_inputs(root)
    (root / "orchastration.toml").write_text(
        '[tasks.t]\ncommand = ["true"]\ninputs = ["pipe"]\noutputs = ["o.txt"]\n', encoding="utf-8"
    )
    assert_error(cli(["build", "run", "t"], cwd=root, timeout=20), 2, "t: input pipe is a FIFO")


# ----- output globs and directories -----------------------------------------------------------------

MAKE_WHEEL = (
    "import pathlib, sys; d = pathlib.Path('dist'); d.mkdir(exist_ok=True); "
    "[(d / n).write_text(pathlib.Path('src.txt').read_text()) for n in sys.argv[1:]]"
)
MAKE_SITE = (
    "import pathlib; s = pathlib.Path('site/sub'); s.mkdir(parents=True, exist_ok=True); "
    "(s.parent / 'index.html').write_text('<p>'); (s / 'b.html').write_text('<b>')"
)


def _outputs_project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "src.txt").write_text("wheel\n")
    age(root / "src.txt")
    write_config(
        root,
        {
            "wheel": {"command": [PY, "-c", MAKE_WHEEL, "a.whl"], "inputs": ["src.txt"], "outputs": ["dist/*.whl"]},
            "nothing": {"command": [PY, "-c", MAKE_WHEEL], "inputs": ["src.txt"], "outputs": ["empty/*.whl"]},
            "site": {"command": [PY, "-c", MAKE_SITE], "inputs": ["src.txt"], "outputs": ["site/"]},
        },
    )
    return root


def test_glob_and_directory_outputs_are_up_to_date_and_their_files_checked(
    cli: Cli, tmp_path: Path, state_dir: Path
) -> None:
    root = _outputs_project(tmp_path)
    first = cli(["run"], cwd=root)
    assert statuses(first.out) == {"wheel": "ran", "nothing": "ran", "site": "ran"}, first.err
    assert "nothing: declared output not created: empty/*.whl" in first.err
    record = json.loads((state_dir / "runs" / "wheel" / "last.json").read_text())
    assert list(record["outputs"]) == ["dist/a.whl"]  # the matched files
    site = json.loads((state_dir / "runs" / "site" / "last.json").read_text())
    assert sorted(site["outputs"]) == ["site/index.html", "site/sub/b.html"]
    nothing = json.loads((state_dir / "runs" / "nothing" / "last.json").read_text())
    assert nothing["outputs"] == {"empty/*.whl": None}
    # a glob that matched nothing reruns, with a true reason; the others are up to date
    assert cli(["why", "nothing"], cwd=root).out.strip() == "output missing: empty/*.whl"
    for job in ("wheel", "site"):
        assert cli(["why", job], cwd=root).out.strip() == "up-to-date"
    assert statuses(cli(["run"], cwd=root).out) == {"wheel": "skipped", "nothing": "ran", "site": "skipped"}
    # an edited or deleted output file reruns its job
    (root / "site" / "sub" / "b.html").write_text("<i>")
    (root / "dist" / "a.whl").unlink()
    assert cli(["why", "site"], cwd=root).out.strip() == "output changed: site/sub/b.html"
    why = cli(["why", "wheel"], cwd=root).out.splitlines()
    assert why == ["output missing: dist/a.whl", "output missing: dist/*.whl"], why
    res = cli(["status", "--json"], cwd=root)
    reasons = {item["job"]: item["reasons"] for item in json.loads(res.out)}
    assert reasons["site"] == ["output changed: site/sub/b.html"]
    assert statuses(cli(["run", "wheel", "site"], cwd=root).out) == {"wheel": "ran", "site": "ran"}


def test_the_summary_sees_an_edit_under_a_directory_output(cli: Cli, tmp_path: Path) -> None:
    root = _outputs_project(tmp_path)
    assert statuses(cli(["run", "site", "wheel"], cwd=root).out) == {"site": "ran", "wheel": "ran"}
    files = [p for p in root.rglob("*") if p.is_file()]
    age(*files, *[p for p in root.rglob("*") if p.is_dir()])
    assert statuses(cli(["run", "site", "wheel"], cwd=root).out) == {"site": "skipped", "wheel": "skipped"}
    assert statuses(cli(["run", "site", "wheel"], cwd=root).out) == {"site": "skipped", "wheel": "skipped"}
    (root / "site" / "sub" / "b.html").write_text("<u>")  # same size, inside the directory output
    (root / "dist" / "b.whl").write_text("extra\n")  # a new file the output glob matches
    again = cli(["run", "site", "wheel"], cwd=root)
    assert statuses(again.out) == {"site": "ran", "wheel": "skipped"}, again.err


def test_clean_deletes_what_output_globs_match_and_directory_outputs(cli: Cli, tmp_path: Path) -> None:
    root = _outputs_project(tmp_path)
    assert cli(["run", "wheel", "site"], cwd=root).code == 0
    (root / "dist" / "keep.txt").write_text("not a wheel\n")
    res = cli(["clean", "wheel", "site"], cwd=root)
    assert res.code == 0, res.err
    assert res.out.splitlines() == ["job=wheel removed dist/a.whl", "job=site removed site/"]
    assert not (root / "site").exists() and (root / "dist" / "keep.txt").exists()
    assert statuses(cli(["run", "wheel", "site"], cwd=root).out) == {"wheel": "ran", "site": "ran"}


def test_a_run_that_did_not_make_a_declared_output_is_not_trusted_when_it_appears_later(
    cli: Cli, tmp_path: Path, state_dir: Path
) -> None:
    # make would rerun a rule whose recipe did not make its target, even once the file exists: the
    # run that left it out never counts as up to date (a detached process, a slow NFS or a hand
    # made the file later), for a literal file, a glob and a directory output alike.
    root = tmp_path / "proj"
    root.mkdir()
    quiet = [PY, "-c", "pass"]
    write_config(
        root,
        {
            "lit": {"command": quiet, "outputs": ["out.txt"]},
            "glob": {"command": quiet, "outputs": ["dist/*.whl"]},
            "dir": {"command": quiet, "outputs": ["site/"]},
            "ok": {"command": [PY, "-c", "open('ok.txt', 'w').write('ok')"], "outputs": ["ok.txt"]},
        },
    )
    first = cli(["run"], cwd=root)
    assert statuses(first.out) == dict.fromkeys(("lit", "glob", "dir", "ok"), "ran"), first.err
    for shown in ("lit: declared output not created: out.txt", "glob: declared output not created: dist/*.whl"):
        assert shown in first.err
    shown = {"lit": "out.txt", "glob": "dist/*.whl", "dir": "site"}
    for job, path in shown.items():
        assert cli(["why", job], cwd=root).out.splitlines() == [f"output missing: {path}"]
    (root / "out.txt").write_text("by hand\n")
    (root / "dist").mkdir()
    (root / "dist" / "a.whl").write_text("by hand\n")
    (root / "site").mkdir()
    (root / "site" / "index.html").write_text("by hand\n")
    age(*[p for p in root.rglob("*")])  # old enough for the up-to-date summary to trust them
    expected = {job: [f"output missing at last run: {path}"] for job, path in shown.items()}
    assert {job: cli(["why", job], cwd=root).out.splitlines() for job in shown} == expected
    plan = json.loads(cli(["run", "--dry-run", "--json"], cwd=root).out)
    assert {item["job"]: item["reasons"] for item in plan if item["would_run"]} == expected
    stale = {item["job"]: item["reasons"] for item in json.loads(cli(["status", "--json"], cwd=root).out)}
    assert stale == {**expected, "ok": []}
    second = cli(["run"], cwd=root)
    assert statuses(second.out) == {"lit": "ran", "glob": "ran", "dir": "ran", "ok": "skipped"}, second.err
    record = json.loads((state_dir / "runs" / "lit" / "last.json").read_text())
    assert record["reasons"] == ["output missing at last run: out.txt"]
    assert list(record["outputs"]) == ["out.txt"]  # there now, so this run counts
    for _ in range(2):  # the second answer comes from the up-to-date summary
        assert set(statuses(cli(["run"], cwd=root).out).values()) == {"skipped"}
