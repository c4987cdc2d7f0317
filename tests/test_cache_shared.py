"""The shared output cache on a real S3-compatible server (moto, started here on 127.0.0.1) through
s3fs: a CI machine writes, a second machine (another clone, an empty local cache) reads; read-only
mode never writes; corrupt entries and a server that goes away mid-run are warnings, never failures."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import Result
from jobs_helpers import PY, statuses
from test_cache import cache_on, make_project, markers

pytest.importorskip("s3fs")
pytest.importorskip("moto")

pytestmark = pytest.mark.slow  # a server per test (and s3fs's import): seconds each
Cli = Callable[..., Result]
__all__ = ["cache_on"]  # the autouse fixture: the cache on
BUCKET = "team-cache"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A moto S3 server subprocess."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.url + "/moto-api/", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def s3(env: dict[str, str]) -> Iterator[Server]:
    """A fresh server with one bucket; always stopped."""
    server = Server()
    try:
        env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
        env.pop("AWS_PROFILE", None)
        fs = _fs(server)
        fs.mkdir(BUCKET)
        yield server
    finally:
        server.stop()


def _fs(server: Server) -> object:
    import s3fs

    return s3fs.S3FileSystem(key="testing", secret="testing", endpoint_url=server.url, skip_instance_cache=True)


def _objects(server: Server) -> list[str]:
    fs = _fs(server)
    return sorted(fs.find(BUCKET))  # type: ignore[attr-defined]


def _machine(tmp_path: Path, name: str, server: Server, source: Path | None = None) -> Path:
    """A clone of the project on its own 'machine': its own directory and its own local cache."""
    extra = f'url = "s3://{BUCKET}/ci"\nstorage_options = {{ endpoint_url = "{server.url}" }}'
    root = make_project(tmp_path / name / "proj", tmp_path / name / "cache", extra=extra)
    if source is not None:  # the same project: its config differs only in the cache dir line
        for rel in ("src/a.txt", "src/b.txt"):
            shutil.copy(source / rel, root / rel)
    return root


def _run(cli: Cli, root: Path, *args: str, code: int = 0) -> Result:
    result = cli(["--state-dir", str(root.parent / "state"), "run", *args], cwd=root, timeout=120)
    assert result.code == code, (result.out, result.err)
    return result


def test_ci_writes_laptop_reads(cli: Cli, env: dict[str, str], tmp_path: Path, s3: Server) -> None:
    ci = _machine(tmp_path, "ci", s3)
    assert set(statuses(_run(cli, ci).out).values()) == {"ran"}
    stored = _objects(s3)
    assert any("/entries/" in o for o in stored)  # small outputs and logs live in the manifests

    env["ORCHASTRATION_CACHE_MODE"] = "read"  # a laptop: reads, never writes
    laptop = _machine(tmp_path, "laptop", s3, source=ci)
    result = _run(cli, laptop)
    assert statuses(result.out) == {"gen": "restored", "use": "restored", "side": "restored"}
    assert markers(laptop) == set()
    for out in ("dist/gen.txt", "dist/use.txt", "dist/side.bin"):
        assert (laptop / out).read_bytes() == (ci / out).read_bytes()
    record = json.loads((laptop.parent / "state" / "runs" / "gen" / "last.json").read_text())
    assert record["cache"]["source"] == "remote"
    # The shared hit filled the local cache: with the server's URL unset, a fresh clone restores locally.
    (laptop / "src" / "b.txt").write_text("laptop edit\n")
    result = _run(cli, laptop)
    assert statuses(result.out) == {"gen": "skipped", "use": "skipped", "side": "ran"}
    assert _objects(s3) == stored, "read mode wrote to the shared cache"
    del env["ORCHASTRATION_CACHE_MODE"]
    other = make_project(tmp_path / "other" / "proj", tmp_path / "laptop" / "cache")
    assert statuses(_run(cli, other).out)["gen"] == "restored"


def test_shared_corruption_and_signatures(cli: Cli, env: dict[str, str], tmp_path: Path, s3: Server) -> None:
    env["ORCHASTRATION_CACHE_SECRET"] = "ci-only"
    ci = _machine(tmp_path, "ci", s3)
    (ci / "src" / "b.txt").write_text("beta\n" * 5000)  # side.bin then goes to the blob store
    _run(cli, ci)
    fs = _fs(s3)
    blobs = [o for o in _objects(s3) if "/blobs/" in o]
    for entry in [o for o in _objects(s3) if "/entries/" in o]:
        data = json.loads(fs.cat_file(entry))  # type: ignore[attr-defined]
        if "dist/side.bin" in data["outputs"]:
            sha = data["outputs"]["dist/side.bin"]["sha256"]
            fs.pipe_file(next(b for b in blobs if b.endswith(sha)), b"poisoned")  # type: ignore[attr-defined]
    env["ORCHASTRATION_CACHE_SECRET"] = "attacker"
    laptop = _machine(tmp_path, "laptop", s3, source=ci)
    result = _run(cli, laptop, "gen")
    assert statuses(result.out) == {"gen": "ran"}
    assert "gen: shared cache entry has no valid signature: not restored" in result.err
    env["ORCHASTRATION_CACHE_SECRET"] = "ci-only"
    result = _run(cli, laptop, "side")
    assert statuses(result.out) == {"side": "ran"}
    assert "side: shared cache blob" in result.err and "corrupt" in result.err
    assert (laptop / "dist" / "side.bin").read_bytes() == b"beta\n" * 5000 + b"!"


def test_server_gone_mid_run(cli: Cli, env: dict[str, str], tmp_path: Path, s3: Server) -> None:
    """The first job stops the server; the others' lookups and uploads fail: one warning, they run."""
    ci = _machine(tmp_path, "ci", s3)
    config = ci / "orchastration.toml"
    killer = f"import os, signal; os.kill({s3.proc.pid}, signal.SIGKILL)"
    config.write_text(config.read_text() + f'\n[jobs.a_stop]\ncommand = ["{PY}", "-c", "{killer}"]\n'.replace(
        '"' + PY + '"', json.dumps(PY)))  # fmt: skip
    conf = config.read_text().replace("[jobs.gen]", '[jobs.gen]\ndepends_on = ["a_stop"]')
    config.write_text(conf)
    started = time.monotonic()
    result = _run(cli, ci, "-j", "1")
    elapsed = time.monotonic() - started
    assert s3.proc.wait(10) is not None
    assert set(statuses(result.out).values()) == {"ran"}, result.out
    assert result.err.count("unavailable") == 1, result.err
    assert elapsed < 60, elapsed


def test_file_url_shared_cache(cli: Cli, env: dict[str, str], tmp_path: Path) -> None:
    """Any fsspec URL: a directory on a shared mount (file://), set through the environment."""
    env["ORCHASTRATION_CACHE_URL"] = (tmp_path / "mount").as_uri()
    one = make_project(tmp_path / "one" / "proj", tmp_path / "one" / "cache")
    _run(cli, one)
    two = make_project(tmp_path / "two" / "proj", tmp_path / "two" / "cache")
    result = _run(cli, two, "--cache-mode", "read")
    assert set(statuses(result.out).values()) == {"restored"}
    off = make_project(tmp_path / "three" / "proj", tmp_path / "three" / "cache")
    assert set(statuses(_run(cli, off, "--cache-mode", "off").out).values()) == {"ran"}
    assert os.path.isdir(tmp_path / "mount" / "v1" / "entries")
