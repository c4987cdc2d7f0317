"""The local output cache (docs/cache.md): two clones sharing one cache directory, keys, corrupt and
partial entries, signatures, ``cache stats|prune|clear``, and the config keys."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Result, assert_error
from jobs_helpers import PY, statuses, write_config

# Each job writes a marker (proof its command ran) and its output from its inputs.
MAKE = "import sys,pathlib; o,m,*i=sys.argv[1:]; pathlib.Path(m).write_text('ran'); " \
    "pathlib.Path(o).parent.mkdir(parents=True, exist_ok=True); " \
    "pathlib.Path(o).write_bytes(b''.join(pathlib.Path(p).read_bytes() for p in i) + b'!'); " \
    "print('made', o); print('note', o, file=sys.stderr)"  # fmt: skip


def job(output: str, marker: str, *inputs: str, **more: object) -> dict[str, object]:
    return {"command": [PY, "-c", MAKE, output, marker, *inputs], "inputs": list(inputs), "outputs": [output], **more}


def make_project(root: Path, cache_dir: Path, extra: str = "") -> Path:
    """gen (src/a.txt) -> use (dist/gen.txt); side (src/b.txt) alone."""
    root.mkdir(parents=True)
    (root / "src").mkdir()
    (root / "src" / "a.txt").write_text("alpha\n")
    (root / "src" / "b.txt").write_text("beta\n")
    jobs = {
        "gen": job("dist/gen.txt", "m-gen", "src/a.txt"),
        "use": job("dist/use.txt", "m-use", "dist/gen.txt", depends_on=["gen"]),
        "side": job("dist/side.bin", "m-side", "src/b.txt"),
    }
    write_config(root, jobs, f'[cache]\ndir = "{cache_dir.as_posix()}"\n{extra}')
    return root


Cli = Callable[..., Result]


@pytest.fixture(autouse=True)
def cache_on(env: dict[str, str]) -> None:
    """The isolated environment turns the cache off for every other test."""
    env.pop("ORCHASTRATION_NO_CACHE", None)


def run(cli: Cli, root: Path, *args: str) -> Result:
    result = cli(["--state-dir", str(root.parent / f"state-{root.name}"), "run", *args], cwd=root)
    assert result.code == 0, (result.out, result.err)
    return result


def markers(root: Path) -> set[str]:
    return {p.name for p in root.glob("m-*")}


def last_record(root: Path, name: str) -> dict[str, object]:
    data = json.loads((root.parent / f"state-{root.name}" / "runs" / name / "last.json").read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture
def clones(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Two copies of one project in different directories, one cache dir."""
    cache = tmp_path / "shared-cache"
    first = make_project(tmp_path / "one" / "proj", cache)
    second = tmp_path / "two" / "clone"
    second.parent.mkdir()
    shutil.copytree(first, second)
    return first, second, cache


def test_second_clone_restores_everything_and_runs_nothing(cli: Cli, clones: tuple[Path, Path, Path]) -> None:
    first, second, _ = clones
    assert statuses(run(cli, first).out) == {"gen": "ran", "use": "ran", "side": "ran"}
    assert markers(first) == {"m-gen", "m-use", "m-side"}
    result = run(cli, second)
    assert statuses(result.out) == {"gen": "restored", "use": "restored", "side": "restored"}
    assert "job=gen status=restored exit=0 duration_ms=" in result.out
    assert markers(second) == set()  # no command ran
    for out in ("dist/gen.txt", "dist/use.txt", "dist/side.bin"):
        assert (second / out).read_bytes() == (first / out).read_bytes()
    # The captured output is replayed, and written to the run's log files.
    assert "made dist/gen.txt" in result.out and "note dist/gen.txt" in result.err
    record = last_record(second, "gen")
    assert record["status"] == "restored" and record["exit_code"] == 0
    cache = record["cache"]
    assert isinstance(cache, dict) and cache["source"] == "local" and len(cache["key"]) == 64
    key = str(cache["key"])
    assert (clones[2] / "v1" / "entries" / key[:2] / f"{key}.json").is_file()
    assert "made dist/gen.txt" in Path(str(record["stdout_path"])).read_text()
    # Restored jobs are up to date: the next run skips them.
    assert statuses(run(cli, second).out) == {"gen": "skipped", "use": "skipped", "side": "skipped"}


def test_an_edited_input_misses_only_its_job_and_dependents(cli: Cli, clones: tuple[Path, Path, Path]) -> None:
    first, second, _ = clones
    run(cli, first)
    (second / "src" / "a.txt").write_text("changed\n")
    result = run(cli, second)
    assert statuses(result.out) == {"gen": "ran", "use": "ran", "side": "restored"}
    assert markers(second) == {"m-gen", "m-use"}
    assert (second / "dist" / "gen.txt").read_bytes() == b"changed\n!"


def test_a_dependency_key_change_misses_the_dependent(cli: Cli, clones: tuple[Path, Path, Path]) -> None:
    """``use`` declares ``depends_on = gen``: a changed command of gen changes use's key too, even
    when gen's output happens to be the same bytes."""
    first, second, _ = clones
    run(cli, first)
    config = second / "orchastration.toml"
    config.write_text(config.read_text().replace('"m-gen"', '"m-gen2"'))
    result = run(cli, second)
    assert statuses(result.out) == {"gen": "ran", "use": "ran", "side": "restored"}


def test_no_cache_and_cache_false(cli: Cli, env: dict[str, str], clones: tuple[Path, Path, Path]) -> None:
    first, second, cache = clones
    run(cli, first, "--no-cache")
    assert not (cache / "v1").exists()  # --no-cache stores nothing
    run(cli, first, "--force")
    config = second / "orchastration.toml"
    config.write_text(config.read_text().replace("[jobs.side]", "[jobs.side]\ncache = false"))
    result = run(cli, second, "--no-cache", "gen")
    assert statuses(result.out) == {"gen": "ran"}
    result = run(cli, second)
    assert statuses(result.out) == {"gen": "skipped", "use": "restored", "side": "ran"}
    env["ORCHASTRATION_NO_CACHE"] = "1"  # the same as --no-cache
    (second / "dist" / "use.txt").unlink()
    assert statuses(run(cli, second).out) == {"gen": "skipped", "use": "ran", "side": "skipped"}


def _entries(cache: Path) -> list[Path]:
    return sorted((cache / "v1" / "entries").glob("*/*.json"))


def test_corrupt_and_partial_entries_are_misses(cli: Cli, clones: tuple[Path, Path, Path]) -> None:
    first, second, cache = clones
    for root in (first, second):  # outputs too big to live in the manifest: in the blob store
        (root / "src" / "a.txt").write_text("alpha\n" * 5000)
        (root / "src" / "b.txt").write_text("beta\n" * 5000)
    run(cli, first)
    manifests = {json.loads(p.read_text())["outputs"].popitem()[0]: p for p in _entries(cache)}
    manifests["dist/gen.txt"].write_text('{"format": 1, "key": "trunc')  # torn manifest
    side = json.loads(manifests["dist/side.bin"].read_text())
    blob = side["outputs"]["dist/side.bin"]["sha256"]
    (cache / "v1" / "blobs" / blob[:2] / blob).write_bytes(b"bit rot")  # corrupt blob
    use = json.loads(manifests["dist/use.txt"].read_text())
    blob = use["outputs"]["dist/use.txt"]["sha256"]
    (cache / "v1" / "blobs" / blob[:2] / blob).unlink()  # partial entry: a blob missing
    result = run(cli, second)
    assert statuses(result.out) == {"gen": "ran", "use": "ran", "side": "ran"}
    assert "gen: local cache corrupt or partial entry" in result.err
    assert "side: cache entry not restored" in result.err and "corrupt" in result.err
    assert "use: cache entry not restored: partial entry" in result.err
    assert not list(second.glob("dist/*.restore")), "no temp file left behind"
    assert (second / "dist" / "side.bin").read_bytes() == b"beta\n" * 5000 + b"!"


def test_small_files_live_in_the_manifest(cli: Cli, clones: tuple[Path, Path, Path]) -> None:
    """Small outputs and logs are inline (one file per entry); a flipped inline byte is a miss."""
    first, second, cache = clones
    run(cli, first)
    assert not list((cache / "v1" / "blobs").glob("*/*"))
    for path in _entries(cache):
        data = json.loads(path.read_text())
        if "dist/gen.txt" in data["outputs"]:
            data["outputs"]["dist/gen.txt"]["inline"] = "AAAA"
            path.write_text(json.dumps(data))
    result = run(cli, second)
    assert statuses(result.out) == {"gen": "ran", "use": "restored", "side": "restored"}
    assert "gen: local cache corrupt entry" in result.err


def test_entries_outside_declared_outputs_are_never_restored(cli: Cli, clones: tuple[Path, Path, Path]) -> None:
    first, second, cache = clones
    run(cli, first)
    for path in _entries(cache):
        data = json.loads(path.read_text())
        data["outputs"] = {"../evil.txt": next(iter(data["outputs"].values()))}
        path.write_text(json.dumps(data))
    result = run(cli, second)
    assert set(statuses(result.out).values()) == {"ran"}
    assert not (second.parent / "evil.txt").exists()


def test_signed_entries(cli: Cli, env: dict[str, str], clones: tuple[Path, Path, Path]) -> None:
    first, second, cache = clones
    env["ORCHASTRATION_CACHE_SECRET"] = "ci-secret"
    run(cli, first)
    assert all("signature" in json.loads(p.read_text()) for p in _entries(cache))
    env["ORCHASTRATION_CACHE_SECRET"] = "someone-else"
    result = run(cli, second, "side")
    assert statuses(result.out) == {"side": "ran"}
    assert "side: local cache entry has no valid signature: not restored" in result.err
    env["ORCHASTRATION_CACHE_SECRET"] = "ci-secret"
    # A tampered entry (its content hash replaced) fails the signature too.
    for path in _entries(cache):
        data = json.loads(path.read_text())
        if "dist/gen.txt" in data["outputs"]:
            data["outputs"]["dist/gen.txt"]["mode"] = 0o777
            path.write_text(json.dumps(data))
    result = run(cli, second)
    assert statuses(result.out) == {"gen": "ran", "use": "restored", "side": "skipped"}
    assert "gen: local cache entry has no valid signature" in result.err


def test_stats_prune_clear(cli: Cli, clones: tuple[Path, Path, Path]) -> None:
    first, second, cache = clones
    run(cli, first)
    run(cli, second)
    stats = cli(["cache", "stats", "--json"], cwd=second)
    assert stats.code == 0, stats.err
    data = json.loads(stats.out)
    assert data["entries"] == 3 and data["size"] > 0
    assert data["last_run"]["hits"] == 3 and data["last_run"]["misses"] == 0
    text = cli(["cache", "stats"], cwd=second)
    assert "entries: 3" in text.out and "hits=3" in text.out
    pruned = cli(["cache", "prune", "--max-size", "1"], cwd=second)
    assert pruned.code == 0 and "entries: 0" in pruned.out
    assert not list((cache / "v1" / "blobs").glob("*/*"))
    run(cli, first, "--force")
    assert cli(["cache", "clear"], cwd=first).code == 0
    assert json.loads(cli(["cache", "stats", "--json"], cwd=first).out)["entries"] == 0
    assert_error(cli(["cache", "prune", "--max-size", "lots"], cwd=first), 2, "--max-size")


def test_lru_eviction_past_max_size(cli: Cli, tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", tmp_path / "c", extra="max_size = 1500")
    (root / "src" / "b.txt").write_text("b" * 400)
    run(cli, root)
    # Every entry costs its blobs and manifest (small files inline); 1500 bytes cannot hold all three.
    data = json.loads(cli(["cache", "stats", "--json"], cwd=root).out)
    assert 0 < data["size"] <= 1500 and 0 < data["entries"] < 3


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ('[cache]\nmode = "sometimes"', "cache.mode"),
        ('[cache]\nmax_size = "huge"', "cache.max_size"),
        ("[cache]\nenabeld = true", "cache.enabeld: unknown key (did you mean 'enabled'?)"),
        ('[jobs.x]\ncommand = ["true"]\ncache = "yes"', "jobs.x.cache"),
    ],
)
def test_bad_cache_config(cli: Cli, tmp_path: Path, table: str, needle: str) -> None:
    (tmp_path / "orchastration.toml").write_text(table + "\n")
    assert_error(cli(["config", "validate"], cwd=tmp_path), 2, needle)


def test_cache_mode_env_is_checked(cli: Cli, env: dict[str, str], clones: tuple[Path, Path, Path]) -> None:
    env["ORCHASTRATION_CACHE_MODE"] = "sideways"
    assert_error(cli(["run"], cwd=clones[0]), 2, "ORCHASTRATION_CACHE_MODE")


def test_sizes() -> None:
    from orchastration.config_cache import parse_size

    assert parse_size("10GB") == 10 * 1000**3
    assert parse_size("512MiB") == 512 * 1024**2
    assert parse_size("1.5k") == 1500
    assert parse_size(42) == 42
    with pytest.raises(ValueError):
        parse_size("-3")


def test_manifests_are_one_line_of_json_and_indented_ones_still_load() -> None:
    import hashlib
    import json

    from orchastration.cache.entry import Blob, Manifest, dump, load

    data = b"hello\n"
    empty = Blob(hashlib.sha256(b"").hexdigest(), 0o600, 0, b"")
    blob = Blob(hashlib.sha256(data).hexdigest(), 0o644, len(data), data)
    manifest = Manifest("k" * 64, {"dist/a.txt": blob}, empty, empty, 7)
    for secret in (b"", b"s3cret"):
        raw = dump(manifest, secret)
        assert raw.count(b"\n") == 1 and raw.endswith(b"\n")
        assert load(raw, "k" * 64, secret) == manifest
        indented = json.dumps(json.loads(raw), sort_keys=True, indent=1).encode("ascii") + b"\n"
        assert load(indented, "k" * 64, secret) == manifest  # as entries were written before


def test_keys_hold_no_absolute_path_nor_env_value(tmp_path: Path) -> None:
    from orchastration.cache.key import unit_key
    from orchastration.engine.units import Unit

    def unit(root: Path, env: dict[str, str]) -> Unit:
        return Unit("j", ("tool", "x"), False, root / "sub", env, 0, ("a.txt",), ("out",), (), False, root / "r")

    one = unit_key(unit(tmp_path / "one", {"T": "1"}), tmp_path / "one", {str(tmp_path / "one/sub/a.txt"): "h"}, [],
                   "sha256")  # fmt: skip
    two = unit_key(unit(tmp_path / "two", {"T": "1"}), tmp_path / "two", {str(tmp_path / "two/sub/a.txt"): "h"}, [],
                   "sha256")  # fmt: skip
    assert one == two and one is not None
    other_env = unit_key(unit(tmp_path / "two", {"T": "2"}), tmp_path / "two", {str(tmp_path / "two/sub/a.txt"): "h"},
                         [], "sha256")  # fmt: skip
    assert other_env != one
    assert unit_key(unit(tmp_path, {}), tmp_path, {str(tmp_path / "sub/a.txt"): None}, [], "sha256") is None


def test_task_builds_are_cached_like_jobs(cli: Cli, tmp_path: Path) -> None:
    roots = []
    for name in ("one", "two"):
        root = tmp_path / name / "proj"
        (root / "src").mkdir(parents=True)
        (root / "src" / "a.txt").write_text("alpha\n")
        command = [PY, "-c", MAKE, "dist/t.txt", "m-task", "src/a.txt"]
        table = {"command": command, "inputs": ["src/a.txt"], "outputs": ["dist/t.txt"]}
        config = f'[cache]\ndir = "{(tmp_path / "cache").as_posix()}"\n[tasks.t]\n'
        config += "\n".join(f"{k} = {json.dumps(v)}" for k, v in table.items()) + "\n"
        (root / "orchastration.toml").write_text(config)
        roots.append(root)
    for root in roots:
        result = cli(["--state-dir", str(root.parent / "state"), "build", "run", "t"], cwd=root)
        assert result.code == 0 and "task=t exit=0 status=done" in result.out, (result.out, result.err)
    assert markers(roots[0]) == {"m-task"} and markers(roots[1]) == set()
    assert (roots[1] / "dist" / "t.txt").read_bytes() == b"alpha\n!"


def test_dry_run_and_why_say_would_restore(cli: Cli, clones: tuple[Path, Path, Path]) -> None:
    first, second, _ = clones
    run(cli, first)
    state = ["--state-dir", str(second.parent / f"state-{second.name}")]
    plan = cli([*state, "run", "--dry-run"], cwd=second)
    assert plan.code == 0, plan.err
    assert "job=gen would-run reason=never run; would restore from cache" in plan.out
    assert "job=side would-run reason=never run; would restore from cache" in plan.out
    # use's key is known only once gen has run (its input is gen's output): no promise.
    assert "job=use would-run reason=never run; dependency will run: gen\n" in plan.out
    why = cli([*state, "why", "side"], cwd=second)
    assert why.out.splitlines() == ["never run", "would restore from cache"]
    (second / "src" / "b.txt").write_text("edited\n")
    assert cli([*state, "why", "side"], cwd=second).out.splitlines() == ["never run"]
    assert markers(second) == set()


def test_two_runs_storing_the_same_keys_at_once(cli: Cli, tmp_path: Path, env: dict[str, str]) -> None:
    """Two clones built at the same moment store the same keys into one cache: each entry ends whole."""
    import subprocess

    from reliability.common import cli_command

    cache = tmp_path / "cache"
    roots = [make_project(tmp_path / name / "proj", cache) for name in ("a", "b")]
    procs = [
        subprocess.Popen([*cli_command(), "--state-dir", str(r.parent / "state"), "run", "-j", "3"], cwd=r, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for r in roots
    ]  # fmt: skip
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, (out, err)
    assert len(_entries(cache)) == 3
    third = make_project(tmp_path / "c" / "proj", cache)
    result = run(cli, third)
    assert statuses(result.out) == {"gen": "restored", "use": "restored", "side": "restored"}
    assert not list((cache / "v1").rglob(".tmp-*")), "no temp file left behind"


def _first_pass(env: dict[str, str]) -> list[tuple[int, int]]:
    """(units restored, units run) by every run's first pass so far, from the JSON-lines log file."""
    log_file = Path(env["XDG_CACHE_HOME"]) / "orchastration" / "orchastration.log"
    events = [json.loads(line) for line in log_file.read_text().splitlines()]
    return [(e["restored"], e["ran"]) for e in events if e["msg"] == "first pass"]


def test_a_fresh_clone_is_restored_before_doit_is_asked(
    cli: Cli, env: dict[str, str], clones: tuple[Path, Path, Path]
) -> None:
    """Every unit of a fresh clone is restored by the first pass (engine/first_pass.py), doit left
    nothing to decide; the state saved is doit's own: the next run is a no-op."""
    first, second, _ = clones
    run(cli, first)
    assert _first_pass(env) == [(0, 3)]  # a first build: every command run by the pass
    result = run(cli, second)
    assert statuses(result.out) == {"gen": "restored", "use": "restored", "side": "restored"}
    assert _first_pass(env)[-1] == (3, 0)
    assert last_record(second, "use")["reasons"] == ["never run"]
    assert statuses(run(cli, second).out) == {"gen": "skipped", "use": "skipped", "side": "skipped"}
    why = cli(["--state-dir", str(second.parent / "state-clone"), "why", "use"], cwd=second)
    assert why.code == 0 and "up-to-date" in why.out, why


def test_a_unit_restored_by_the_first_pass_reads_its_inputs_once(
    cli: Cli, env: dict[str, str], clones: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first pass reads each input's state (stat, hash) for the lookup; the unit runner
    uses those, not a second read of its own (in process, the real engine, counted)."""
    import io
    from collections import Counter

    from orchastration.cli import main
    from orchastration.engine.uptodate import HashCache

    first, second, _ = clones
    run(cli, first)
    reads: Counter[str] = Counter()
    real = HashCache.try_state

    def counted(self: HashCache, path: str) -> object:
        reads[path] += 1
        return real(self, path)

    monkeypatch.setattr(HashCache, "try_state", counted)
    out, err = io.StringIO(), io.StringIO()
    state = str(second.parent / "state-clone")
    code = main(["--state-dir", state, "run"], stdout=out, stderr=err, environ=env, cwd=second)
    assert code == 0 and statuses(out.getvalue()) == {"gen": "restored", "use": "restored", "side": "restored"}
    assert _first_pass(env)[-1] == (3, 0)
    # dist/gen.txt twice: gen's output once restored, then use's input.
    want = {str(second / "src" / "a.txt"): 1, str(second / "src" / "b.txt"): 1, str(second / "dist" / "gen.txt"): 2}
    assert {p: reads[p] for p in want} == want, reads


def test_a_unit_that_misses_runs_after_its_dependency_restored_in_the_first_pass(
    cli: Cli, env: dict[str, str], clones: tuple[Path, Path, Path]
) -> None:
    first, second, cache = clones
    run(cli, first)
    for path in _entries(cache):  # use's entry is gone: it must run, after gen is restored
        if "dist/use.txt" in json.loads(path.read_text())["outputs"]:
            path.unlink()
    result = run(cli, second)
    assert statuses(result.out) == {"gen": "restored", "use": "ran", "side": "restored"}
    assert _first_pass(env)[-1] == (2, 1)  # use's command run by the pass too, in run order
    assert markers(second) == {"m-use"}
    state = second.parent / "state-clone"
    assert len(list((state / "runs" / "gen").glob("2*.json"))) == 1  # restored once, not again by doit
    stats = cli(["--state-dir", str(state), "cache", "stats", "--json"], cwd=second)
    assert json.loads(stats.out)["last_run"]["hits"] == 2, stats.out
    assert (second / "dist" / "use.txt").read_bytes() == (first / "dist" / "use.txt").read_bytes()
    assert statuses(run(cli, second).out) == {"gen": "skipped", "use": "skipped", "side": "skipped"}


# gen fails when FAIL exists in its working dir (not an input: the key stays the same).
FAILING = (
    "import os,sys,pathlib; o,m,*i=sys.argv[1:]; os.path.exists('FAIL') and sys.exit(3); " + MAKE.split("; ", 1)[1]
)


@pytest.mark.parametrize("keep_going", [False, True])
def test_an_entry_that_goes_bad_after_the_lookup_runs_the_command(
    cli: Cli, clones: tuple[Path, Path, Path], keep_going: bool
) -> None:
    """The first pass's lookup found gen's entry, then its blob did not hash right: its command runs
    (and fails here); without --keep-going the run stops, with it the dependents are not run and
    the rest is restored."""
    first, second, cache = clones
    for root in (first, second):
        (root / "src" / "a.txt").write_text("alpha\n" * 5000)  # gen's output: in the blob store
        text = (root / "orchastration.toml").read_text()
        (root / "orchastration.toml").write_text(text.replace(json.dumps(MAKE), json.dumps(FAILING), 1))
    run(cli, first)
    gen = next(p for p in _entries(cache) if "dist/gen.txt" in json.loads(p.read_text())["outputs"])
    blob = json.loads(gen.read_text())["outputs"]["dist/gen.txt"]["sha256"]
    (cache / "v1" / "blobs" / blob[:2] / blob).write_bytes(b"bit rot")
    (second / "FAIL").write_text("")
    args = ["--state-dir", str(second.parent / "state-clone"), "run", *(["--keep-going"] if keep_going else [])]
    result = cli(args, cwd=second)
    assert result.code == 1, (result.out, result.err)
    found = statuses(result.out)
    assert found["gen"] == "failed" and found["use"] == "not_run", result.out
    assert "gen: cache entry not restored" in result.err
    if keep_going:
        assert found["side"] == "restored"
        assert "job=use status=not_run" in result.out and "dependency failed: gen" in result.out


def _twelve_jobs_built_once(cli: Cli, tmp_path: Path) -> list[Path]:
    """Two clones of a project of twelve independent jobs sharing one cache; the first built."""
    cache = tmp_path / "cache"
    roots = [tmp_path / "one" / "p", tmp_path / "two" / "p"]
    for root in roots:
        (root / "src").mkdir(parents=True)
        jobs = {}
        for i in range(12):
            (root / "src" / f"{i:02d}.txt").write_text(f"input {i}\n")
            jobs[f"a{i:02d}"] = job(f"dist/{i:02d}.txt", f"m-{i:02d}", f"src/{i:02d}.txt")
        write_config(root, jobs, f'[cache]\ndir = "{cache.as_posix()}"\n')
    run(cli, roots[0])
    return roots


def test_leading_misses_run_in_the_first_pass_and_later_hits_are_restored(
    cli: Cli, env: dict[str, str], tmp_path: Path
) -> None:
    """A fresh clone whose first jobs' inputs were edited: those miss and, every job before them
    done by the pass, their commands run there in run order; the hits after them are restored."""
    roots = _twelve_jobs_built_once(cli, tmp_path)
    for i in range(9):  # the first nine miss in the clone
        (roots[1] / "src" / f"{i:02d}.txt").write_text(f"edited {i}\n")
    result = run(cli, roots[1])
    found = statuses(result.out)
    assert [found[f"a{i:02d}"] for i in range(12)] == ["ran"] * 9 + ["restored"] * 3, found
    assert _first_pass(env)[-1] == (3, 9)
    assert markers(roots[1]) == {f"m-{i:02d}" for i in range(9)}


def test_a_cold_cache_out_of_run_order_is_left_to_the_run_after_a_few_misses(
    cli: Cli, env: dict[str, str], tmp_path: Path
) -> None:
    """Once a job is left to doit (here: it ran before), the pass only restores, hashing each later
    job's inputs on the main thread before anything runs; after 8 misses in a row it stops (a cold
    cache would only move that work off the commands' wait). A hit after them is still restored,
    by the runner's own lookup."""
    roots = _twelve_jobs_built_once(cli, tmp_path)
    assert statuses(run(cli, roots[1], "a00").out) == {"a00": "restored"}  # a00 has doit's state now
    before = _first_pass(env)
    for i in range(1, 10):  # the next nine miss
        (roots[1] / "src" / f"{i:02d}.txt").write_text(f"edited {i}\n")
    result = run(cli, roots[1])
    found = statuses(result.out)
    assert [found[f"a{i:02d}"] for i in range(12)] == ["skipped"] + ["ran"] * 9 + ["restored"] * 2, found
    assert _first_pass(env) == before  # the pass gave up before the hits: the runner restored them


def test_with_jobs_in_parallel_each_job_is_restored_as_it_comes_to_run(
    cli: Cli, env: dict[str, str], clones: tuple[Path, Path, Path]
) -> None:
    """``-j 2``: the first pass restores what the local cache holds, a dependent after what it depends
    on (a shared cache's round trips are doit's threads', side by side: test_cache_lookahead.py)."""
    first, second, _ = clones
    run(cli, first)
    result = run(cli, second, "-j", "2")
    assert statuses(result.out) == {"gen": "restored", "use": "restored", "side": "restored"}
    assert _first_pass(env)[-1] == (3, 0)
    assert markers(second) == set()


def test_a_lookup_that_found_nothing_serves_the_restore_after_it_for_the_same_inputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One job at a time, the next unit is looked up on the bookkeeping thread while a command runs
    # (Session.ahead_of -> look_ahead): on a cold cache its restore then takes the miss as it is, with
    # no second key or manifest read; other inputs (an edit since) are looked up again.
    from orchastration.cache.key import Keys
    from orchastration.cache.local import LocalCache
    from orchastration.cache.store import CacheStore
    from orchastration.engine.runner import Launch
    from orchastration.engine.units import Unit
    from orchastration.engine.uptodate import HashCache

    local = LocalCache(tmp_path / "cache")
    reads: list[str] = []
    real_read = local.read_manifest
    monkeypatch.setattr(local, "read_manifest", lambda key: reads.append(key) or real_read(key))
    store = CacheStore(local, Keys(tmp_path, "sha256"))
    job = Unit("j", ("tool",), False, tmp_path, {}, 0, ("a.txt",), ("out",), (), False, tmp_path / "r")
    a = str(tmp_path / "a.txt")
    store.open({"j": job}, {"j": [a]}, HashCache("sha256"))
    launch = Launch({}, tmp_path / "o.log", tmp_path / "e.log")
    store.look_ahead(job, {a: "h1"})
    assert len(reads) == 1
    assert store.restore(job, {a: "h1"}, launch) is None
    assert len(reads) == 1 and store.stats.misses == 1
    store.look_ahead(job, {a: "h1"})
    assert store.restore(job, {a: "h2"}, launch) is None  # edited since the lookup: looked up again
    assert len(reads) == 3 and reads[2] != reads[0] and store.stats.misses == 2


def test_a_hit_touches_its_manifest_unless_it_was_touched_within_the_hour(tmp_path: Path) -> None:
    import os
    import time

    from orchastration.cache.local import TOUCH_AFTER_SECONDS, LocalCache

    local = LocalCache(tmp_path / "cache")
    old, recent = "a" * 64, "b" * 64
    for key in (old, recent):
        local.write_manifest(key, b'{"x": 1}\n')
    now = time.time()
    os.utime(local.manifest_path(old), (now, now - TOUCH_AFTER_SECONDS - 60))
    os.utime(local.manifest_path(recent), (now, now - 600))
    for key in (old, recent):
        assert local.read_manifest(key) == b'{"x": 1}\n'
        local.touch(key)
    assert local.manifest_path(old).stat().st_mtime >= now - 5  # used again: now the newest
    assert abs(local.manifest_path(recent).stat().st_mtime - (now - 600)) < 1  # left as it was
    assert local.read_manifest("c" * 64) is None


def test_a_save_of_large_files_is_slow_and_left_to_the_bookkeeping_thread(tmp_path: Path) -> None:
    """``slow_save``: a run whose outputs and logs come to over SLOW_SAVE_BYTES (or with a shared store
    to push to) is not stored on the jobs' thread while the next command's output waits in its pipes
    (``Flusher.command_started``); small ones, an uncacheable unit or a read-only cache are not slow."""
    from orchastration.cache.key import Keys
    from orchastration.cache.local import LocalCache
    from orchastration.cache.store import SLOW_SAVE_BYTES, CacheStore
    from orchastration.engine.result_store import NO_STORE
    from orchastration.engine.units import Unit

    job = Unit("j", ("tool",), False, tmp_path, {}, 0, (), ("out",), (), False, tmp_path / "r")
    small, big = tmp_path / "small.log", tmp_path / "big.log"
    small.write_bytes(b"x" * 100)
    big.write_bytes(b"x" * (SLOW_SAVE_BYTES + 1))
    store = CacheStore(LocalCache(tmp_path / "cache"), Keys(tmp_path, "sha256"))
    assert not store.slow_save(job, 1000, [small, tmp_path / "missing.log"])
    assert store.slow_save(job, SLOW_SAVE_BYTES + 1, [small])
    assert store.slow_save(job, 0, [big])
    read_only = CacheStore(LocalCache(tmp_path / "cache"), Keys(tmp_path, "sha256"), write=False)
    assert not read_only.slow_save(job, 0, [big])
    uncached = CacheStore(LocalCache(tmp_path / "cache"), Keys(tmp_path, "sha256"), policy={"j": False})
    assert not uncached.slow_save(job, 0, [big])
    assert not NO_STORE.slow_save(job, 0, [big])
