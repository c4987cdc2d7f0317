"""The single-file Linux binary and its packages: built once per session, run with no Python on PATH."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from orchastration import __version__

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(os.uname().machine, "")

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="the Linux build scripts run on Linux only")


def build_env(out: Path) -> dict[str, str]:
    """The build scripts' environment: output and work dirs under ``out``, this interpreter."""
    env = dict(os.environ)
    env.update(
        PYTHON=sys.executable,
        ORCHASTRATION_DIST_DIR=str(out / "dist"),
        ORCHASTRATION_BUILD_DIR=str(out / "build"),
    )
    return env


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run scripts/build-linux.sh then scripts/package-linux.sh once (the .deb adds the one-folder
    build, about 20 s more); return the dist dir."""
    if sys.platform != "linux":
        pytest.skip("the Linux build scripts run on Linux only")
    out = tmp_path_factory.mktemp("distribution")
    for script in ("build-linux.sh", "package-linux.sh"):
        proc = subprocess.run([str(SCRIPTS / script)], cwd=out, env=build_env(out), capture_output=True, text=True,
                              timeout=900)  # fmt: skip
        assert proc.returncode == 0, f"{script} failed:\n{proc.stdout}\n{proc.stderr}"
    return out / "dist"


@pytest.fixture
def no_python_env(tmp_path: Path) -> dict[str, str]:
    """An isolated environment whose PATH has sh, cat and git but no Python at all."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "cat", "git"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": str(bin_dir),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "ORCHASTRATION_STATE_DIR": str(tmp_path / "state"),
        "NO_COLOR": "1",
        "LANG": "C.UTF-8",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    for python in ("python", "python3", f"python3.{sys.version_info.minor}"):
        assert shutil.which(python, path=env["PATH"]) is None
    return env


def runner(binary: Path, env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(binary), *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)

    return run


@linux_only
@pytest.mark.slow
def test_binary_reports_the_version_and_hashes_without_python(
    built: Path, no_python_env: dict[str, str], tmp_path: Path
) -> None:
    run = runner(built / "orchastration", no_python_env)
    assert run("--version", cwd=tmp_path).stdout == f"orchastration {__version__}\n"
    data = tmp_path / "data.txt"
    data.write_bytes(b"hello\n")
    proc = run("hash", "--file", "data.txt", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "file": str(data),
        "algorithm": "sha256",
        "hash": "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
    }
    # The packages' checksums verify with the binary itself.
    check = run("hash", "--check", "SHA256SUMS", cwd=built)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") >= 1


JOB_CONFIG = """\
[jobs.greet]
description = "write a greeting"
command = ["sh", "-c", "cat greeting.in > greeting.txt && echo greeted"]
inputs = ["greeting.in"]
outputs = ["greeting.txt"]

[tasks.demo]
description = "A demo task"
command = ["sh", "-c", "echo built > built.txt"]
outputs = ["built.txt"]
review_command = ["cat", "built.txt"]

[agents.EchoAgent]
command = ["cat"]
prompt = "Goal: {{ goal }}"
output_key = "echo.out"

[orchestrations.demo]
steps = [["PlannerAgent"], ["BuilderAgent"], ["ReviewerAgent", "EchoAgent"], ["DocAgent"]]
"""


@linux_only
@pytest.mark.slow
def test_binary_runs_jobs_and_tasks_without_python(built: Path, no_python_env: dict[str, str], tmp_path: Path) -> None:
    run = runner(built / "orchastration", no_python_env)
    help_text = run("--help", cwd=tmp_path).stdout
    if " run " not in help_text:
        pytest.skip("no `run` command in `orchastration --help`: the jobs commands have not landed")
    project = tmp_path / "project"
    project.mkdir()
    (project / "orchastration.toml").write_text(JOB_CONFIG)
    (project / "greeting.in").write_text("hello from a frozen binary\n")
    first = run("run", "greet", cwd=project)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "job=greet status=ran exit=0" in first.stdout
    assert (project / "greeting.txt").read_text() == "hello from a frozen binary\n"
    # Up-to-date checks (doit's dependency database) work in the frozen binary too.
    second = run("run", "greet", cwd=project)
    assert "job=greet status=skipped" in second.stdout, second.stdout + second.stderr
    # The built-in templates are bundled: doc generate renders them.
    assert run("plan", "create", "demo", cwd=project).returncode == 0
    build = run("build", "run", "demo", cwd=project)
    assert "task=demo exit=0 status=done" in build.stdout, build.stdout + build.stderr
    doc = run("doc", "generate", "demo", cwd=project)
    assert doc.returncode == 0, doc.stderr
    assert (project / "docs" / "tasks" / "demo.md").read_text().startswith("# Task: demo")
    assert "## Task Summary: demo" in (project / "README.md").read_text()
    # Orchestrations (doit's thread runner, a parallel step, a Jinja-templated command agent) work frozen.
    orchestration = run("orchestration", "run", "demo", "--goal", "ship it", cwd=project)
    assert orchestration.returncode == 0, orchestration.stdout + orchestration.stderr
    assert "agent=EchoAgent step=3 status=success" in orchestration.stdout
    assert orchestration.stdout.splitlines()[-1].startswith("orchestration=demo status=success record=")
    # GitPython works frozen (with the system git).
    if (Path(no_python_env["PATH"]) / "git").exists():
        subprocess.run(["git", "init", "-q", str(project)], check=True, env=no_python_env)
        subprocess.run(["git", "-C", str(project), "commit", "-q", "--allow-empty", "-m", "init"], check=True,
                       env=no_python_env)  # fmt: skip
        branch = run("git", "branch", "create", "demo", cwd=project)
        assert branch.stdout.strip() == "task=demo branch=task/demo", branch.stderr


@linux_only
@pytest.mark.slow
def test_tarball_holds_the_binary_licence_and_completions(built: Path, no_python_env: dict[str, str],
                                                          tmp_path: Path) -> None:  # fmt: skip
    name = f"orchastration-{__version__}-linux-{ARCH}"
    with tarfile.open(built / f"{name}.tar.gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert members[f"{name}/orchastration"].mode & 0o111
        assert all(m.uid == 0 and m.gid == 0 for m in members.values())
        tar.extractall(tmp_path / "x", filter="tar")
    for doc in ("LICENSE", "NOTICE", "completions/orchastration.bash", "completions/_orchastration"):
        assert (tmp_path / "x" / name / doc).is_file(), doc
    run = runner(tmp_path / "x" / name / "orchastration", no_python_env)
    assert run("--version", cwd=tmp_path).stdout == f"orchastration {__version__}\n"


@linux_only
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb is not installed")
def test_deb_unpacks_and_its_binary_runs(built: Path, no_python_env: dict[str, str], tmp_path: Path) -> None:
    deb = built / f"orchastration_{__version__}_{ARCH}.deb"
    fields = subprocess.run(["dpkg-deb", "-f", str(deb), "Package", "Version", "Architecture"], capture_output=True,
                            text=True, check=True).stdout  # fmt: skip
    assert fields.splitlines() == ["Package: orchastration", f"Version: {__version__}", f"Architecture: {ARCH}"]
    # The glibc the bundled libraries need, read from the binary (never older than the bootloader's 2.x).
    depends = subprocess.run(["dpkg-deb", "-f", str(deb), "Depends"], capture_output=True, text=True).stdout
    assert re.fullmatch(r"libc6 \(>= 2\.\d+\)\n", depends), depends
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    binary = root / "usr" / "bin" / "orchastration"
    # A relative symlink into the one-folder build: it resolves inside any root it is unpacked to.
    assert os.readlink(binary) == "../lib/orchastration/orchastration"
    assert os.access(binary, os.X_OK) and (root / "usr" / "lib" / "orchastration" / "_internal").is_dir()
    copyright_text = (root / "usr" / "share" / "doc" / "orchastration" / "copyright").read_text()
    assert "License: AGPL-3.0-only" in copyright_text
    assert "GNU AFFERO GENERAL PUBLIC LICENSE" in copyright_text
    assert (root / "usr" / "share" / "bash-completion" / "completions" / "orchastration").is_file()
    run = runner(binary, no_python_env)
    assert run("--version", cwd=tmp_path).stdout == f"orchastration {__version__}\n"
    (tmp_path / "data.txt").write_bytes(b"hello\n")
    hashed = json.loads(run("hash", "--file", "data.txt", "--algo", "SHA3_256", cwd=tmp_path).stdout)
    assert hashed["algorithm"] == "sha3_256" and len(hashed["hash"]) == 64
    completion = run("completion", "bash", cwd=tmp_path)
    assert completion.returncode == 0 and "complete -F _orchastration orchastration" in completion.stdout


def test_version_has_one_source_of_truth() -> None:
    """pyproject reads __version__; no script or spec spells a version of its own."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject
    assert 'path = "orchastration/__init__.py"' in pyproject
    for script in SCRIPTS.rglob("*"):
        if script.is_file() and script.suffix in (".sh", ".ps1", ".spec", ".py"):
            text = script.read_text()
            assert __version__ not in text, script
            if script.suffix in (".sh", ".ps1"):
                assert "__version__" in text, f"{script} must read the version from orchastration/__init__.py"


@linux_only
def test_build_scripts_parse_and_reject_unknown_arguments(tmp_path: Path) -> None:
    for name in ("build-linux.sh", "package-linux.sh"):
        script = SCRIPTS / name
        assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
        usage = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=30)
        assert usage.returncode == 0 and "ORCHASTRATION_DIST_DIR" in usage.stdout
        bad = subprocess.run([str(script), "--bogus"], capture_output=True, text=True, timeout=30,
                             env=build_env(tmp_path))  # fmt: skip
        assert bad.returncode == 2
        assert bad.stderr.strip() == f"{name}: error: unexpected argument '--bogus' (see --help)"
    assert not (tmp_path / "dist").exists()
