"""Empty logs cost no inode (orchastration/empty_logs.py): a run's log that gets nothing is a hard link to
the runs directory's shared empty file; a log that gets output is a file of its own, and the shared file
stays empty. Real CLI runs, real files."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Result
from jobs_helpers import PY, statuses, write_config

from orchastration.empty_logs import EMPTY_LOG, link_empty, open_for_write, own_file

Cli = Callable[..., Result]
POSIX_ONLY = pytest.mark.skipif(os.name != "posix", reason="the shared file is read-only on POSIX only")


def _run(cli: Cli, root: Path, state: Path, *args: str) -> Result:
    result = cli(["--state-dir", str(state), "run", *args], cwd=root)
    assert result.code == 0, (result.out, result.err)
    return result


def _logs(state: Path, job: str) -> tuple[Path, Path]:
    record = json.loads((state / "runs" / job / "last.json").read_text(encoding="utf-8"))
    return Path(record["stdout_path"]), Path(record["stderr_path"])


def _project(tmp_path: Path, cache: Path | None = None) -> Path:
    root = tmp_path / "proj"
    root.mkdir(parents=True)
    (root / "in.txt").write_text("in\n")
    write_config(
        root,
        {
            "quiet": {"command": [PY, "-c", "open('q.txt', 'w').write('q')"], "inputs": ["in.txt"],
                      "outputs": ["q.txt"]},
            "talks": {"command": [PY, "-c", "print('hello out'); open('t.txt', 'w').write('t')"],
                      "inputs": ["in.txt"], "outputs": ["t.txt"]},
            "warns": {"command": [PY, "-c", "import sys; print('careful', file=sys.stderr)"], "always_run": True},
        },
        "" if cache is None else f'[cache]\ndir = "{cache.as_posix()}"\n',
    )  # fmt: skip
    return root


def test_empty_logs_are_links_to_one_empty_file_and_logs_with_output_are_their_own(cli: Cli, tmp_path: Path) -> None:
    root, state = _project(tmp_path), tmp_path / "state"
    result = _run(cli, root, state)
    assert statuses(result.out) == {"quiet": "ran", "talks": "ran", "warns": "ran"}
    shared = state / "runs" / EMPTY_LOG
    assert shared.is_file() and shared.stat().st_size == 0
    q_out, q_err = _logs(state, "quiet")
    t_out, t_err = _logs(state, "talks")
    w_out, w_err = _logs(state, "warns")
    for empty in (q_out, q_err, t_err, w_out):
        assert empty.is_file() and empty.read_bytes() == b"", empty
        assert os.path.samefile(empty, shared), empty
    assert t_out.read_text() == "hello out\n" and t_out.stat().st_nlink == 1
    assert w_err.read_text() == "careful\n" and w_err.stat().st_nlink == 1
    assert shared.stat().st_size == 0  # nothing was written through a link
    assert shared.stat().st_nlink >= 5
    # The logs command reads either kind.
    shown = cli(["--state-dir", str(state), "logs", "talks"], cwd=root)
    assert shown.code == 0 and "hello out" in shown.out, shown
    # A second run of the job that prints: new logs, the shared file still empty.
    again = _run(cli, root, state, "--force", "talks")
    assert statuses(again.out)["talks"] == "ran"
    assert shared.stat().st_size == 0 and _logs(state, "talks")[0].read_text() == "hello out\n"


def test_restored_empty_logs_are_links_too(cli: Cli, tmp_path: Path, env: dict[str, str]) -> None:
    env.pop("ORCHASTRATION_NO_CACHE", None)  # the isolated environment turns the cache off
    cache = tmp_path / "cache"
    first = _project(tmp_path / "one", cache)
    _run(cli, first, tmp_path / "state-one")
    second = tmp_path / "two"
    second.mkdir()
    (second / "proj").mkdir()
    for name in ("in.txt", "orchastration.toml"):
        (second / "proj" / name).write_bytes((first / name).read_bytes())
    state = tmp_path / "state-two"
    result = _run(cli, second / "proj", state)
    assert statuses(result.out) == {"quiet": "restored", "talks": "restored", "warns": "ran"}
    shared = state / "runs" / EMPTY_LOG
    q_out, q_err = _logs(state, "quiet")
    t_out, t_err = _logs(state, "talks")
    assert os.path.samefile(q_out, shared) and os.path.samefile(q_err, shared) and os.path.samefile(t_err, shared)
    assert t_out.read_text() == "hello out\n" and t_out.stat().st_nlink == 1
    assert shared.stat().st_size == 0


@POSIX_ONLY
def test_the_shared_file_is_read_only_and_prune_leaves_it(cli: Cli, tmp_path: Path) -> None:
    root, state = _project(tmp_path), tmp_path / "state"
    for _ in range(3):
        _run(cli, root, state, "--force", "quiet")
    shared = state / "runs" / EMPTY_LOG
    assert shared.stat().st_mode & 0o777 == 0o400
    pruned = cli(["--state-dir", str(state), "prune", "--keep", "1"], cwd=root)
    assert pruned.code == 0, pruned
    assert shared.is_file() and shared.stat().st_size == 0
    assert len([p for p in (state / "runs" / "quiet").glob("*.json") if p.name != "last.json"]) == 1


def test_open_for_write_never_writes_through_a_link(tmp_path: Path) -> None:
    shared = tmp_path / EMPTY_LOG
    log = tmp_path / "run.stdout.log"
    link_empty(log, shared)  # the shared file is made on first use
    assert os.path.samefile(log, shared)
    with pytest.raises(FileExistsError):
        link_empty(log, shared)  # a reservation: a taken name is refused
    fd = open_for_write(log)
    try:
        os.write(fd, b"output")
    finally:
        os.close(fd)
    assert log.read_bytes() == b"output" and shared.read_bytes() == b""
    assert not os.path.samefile(log, shared)
    assert sorted(p.name for p in tmp_path.iterdir()) == [EMPTY_LOG, "run.stdout.log"]  # no temp left
    link_empty(log, shared, exist_ok=True)  # a log already there (with output) is left as it is
    assert log.read_bytes() == b"output" and not os.path.samefile(log, shared)


def test_own_file_is_put_in_place_of_a_link_and_written_after(tmp_path: Path) -> None:
    """A record goes into the unit's ``.incomplete`` mark (a link to the shared empty file) through a
    file of its own renamed over it first (written after: a rename over a name with data pending costs
    its flush on ext4): never through the link, no temp left; a temp a killed process of the same id
    left is replaced."""
    import threading

    shared, mark = tmp_path / EMPTY_LOG, tmp_path / ".incomplete"
    link_empty(mark, shared)
    stale = tmp_path / f".incomplete.{os.getpid()}-{threading.get_ident()}.tmp"
    stale.write_bytes(b"half a record from a killed run")
    fd = own_file(mark)
    try:
        assert mark.read_bytes() == b"" and not os.path.samefile(mark, shared)
        os.write(fd, b'{"status": "ran"}\n')
    finally:
        os.close(fd)
    assert mark.read_bytes() == b'{"status": "ran"}\n' and shared.read_bytes() == b""
    assert os.stat(shared).st_nlink == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".incomplete", EMPTY_LOG])
    if os.name == "posix":
        assert os.stat(mark).st_mode & 0o777 == 0o600


def test_without_hard_links_an_empty_log_is_a_file_of_its_own(tmp_path: Path) -> None:
    """A shared path that cannot be linked to (here a directory; on some file systems, any file) and
    cannot be renewed: the log is still made, as a plain empty file."""
    shared = tmp_path / EMPTY_LOG
    shared.mkdir()
    log = tmp_path / "run.stderr.log"
    link_empty(log, shared)
    assert log.is_file() and log.read_bytes() == b"" and log.stat().st_nlink == 1
    with pytest.raises(FileNotFoundError):
        link_empty(tmp_path / "missing" / "x.log", shared)  # a missing directory is the caller's to make


def test_many_threads_claiming_first_runs_at_once_all_get_their_slot(tmp_path: Path) -> None:
    """The first runs of many jobs at ``-j 8``: each thread finds neither its run directory nor the
    shared file; one makes the shared file while another has just failed to link to it. That one
    took the missing file for a missing directory and failed its job (``cannot write
    runs/.empty.log: No such file or directory``, seen by scripts/bench.py's 16 x sleep at -j 8)."""
    import threading

    from orchastration.state import claim_run_slot

    for attempt in range(40):
        runs = tmp_path / f"state{attempt}" / "runs"
        gate = threading.Barrier(16)
        errors: list[BaseException] = []

        def claim(
            i: int, runs: Path = runs, gate: threading.Barrier = gate, errors: list[BaseException] = errors
        ) -> None:
            gate.wait()
            try:
                claim_run_slot(runs / f"s{i}", empty=runs / EMPTY_LOG)
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

        threads = [threading.Thread(target=claim, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors, errors
        assert len(list(runs.glob("s*/*.stdout.log"))) == 16


def test_a_failed_link_is_reported_naming_the_log(tmp_path: Path) -> None:
    """A log whose directory went away: the error names the log, not the shared file it linked to."""
    from orchastration.pipes import write_error

    shared = tmp_path / EMPTY_LOG
    shared.write_text("")
    log = tmp_path / "gone" / "run.stderr.log"
    with pytest.raises(FileNotFoundError) as caught:
        link_empty(log, shared)
    assert write_error(None, caught.value) == f"cannot write {log}: No such file or directory"


def test_the_incomplete_mark_is_a_link_while_the_job_runs_and_the_record_its_own_file(cli: Cli, tmp_path: Path) -> None:
    # The mark a run leaves until it ends well costs no inode either; the record written into it at the
    # end is a file of its own (the shared file stays empty), and a killed run's mark still says so.
    root, state = tmp_path / "proj", tmp_path / "state"
    root.mkdir()
    mark = state / "runs" / "look" / ".incomplete"
    probe = f"import os; st = os.stat({str(mark)!r}); print(st.st_nlink, st.st_size)"
    write_config(root, {"look": {"command": [PY, "-c", probe], "always_run": True}})
    _run(cli, root, state)
    out, _ = _logs(state, "look")
    links, size = out.read_text().split()
    shared = state / "runs" / EMPTY_LOG
    assert int(links) >= 3 and size == "0"  # while it ran: the shared file (with its two logs)
    assert not mark.exists()
    record = state / "runs" / "look" / "last.json"
    assert record.stat().st_nlink == 2 and not os.path.samefile(record, shared)  # the record and last.json
    assert json.loads(record.read_text(encoding="utf-8"))["status"] == "ran"
    assert shared.stat().st_size == 0


def test_a_silent_run_links_only_its_stderr_log_at_the_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The run's slot is its stdout log, already a link when the run starts (state.claim_run_slot); at the
    # end only the stderr log is linked: no second, failing link of the slot (a system call a job, taken
    # with the directory locked).
    from orchastration.process import run_process
    from orchastration.state import claim_run_slot

    runs = tmp_path / "runs"
    runs.mkdir()
    shared = runs / EMPTY_LOG
    linked: list[str] = []
    real_link = os.link

    def link(src: str | Path, dst: str | Path, *args: object, **kw: object) -> None:
        linked.append(os.fspath(dst))
        real_link(src, dst)

    monkeypatch.setattr(os, "link", link)
    run_id, _ = claim_run_slot(runs / "job", empty=shared)
    out, err = runs / "job" / f"{run_id}.stdout.log", runs / "job" / f"{run_id}.stderr.log"
    assert os.path.samefile(out, shared)
    linked.clear()
    result = run_process([PY, "-c", "pass"], cwd=tmp_path, base_env=dict(os.environ), stdout_path=out,
                         stderr_path=err, empty_log=shared)  # fmt: skip
    assert result.exit_code == 0, result
    assert linked == [str(err)]
    assert os.path.samefile(out, shared) and os.path.samefile(err, shared)


def test_the_shared_empty_file_is_the_runs_directorys_whatever_the_unit(tmp_path: Path) -> None:
    from orchastration.empty_logs import shared_empty

    runs = tmp_path / "state" / "runs"
    assert shared_empty(runs / "a") == runs / EMPTY_LOG == shared_empty(runs / "b.c")
    assert shared_empty(runs / "a") is shared_empty(runs / "b")  # made once a runs directory
    assert shared_empty(tmp_path / "other" / "a") == tmp_path / "other" / EMPTY_LOG
