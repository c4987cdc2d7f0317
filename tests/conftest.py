"""Shared fixtures: an isolated environment, the CLI in-process, and the installed CLI as a subprocess."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchastration.cli import main


@dataclass
class Result:
    """What one CLI invocation produced."""

    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An environment isolated from the developer's config, cache and state."""
    home = tmp_path / "home"
    home.mkdir()
    e = {k: v for k, v in os.environ.items() if not k.startswith("ORCHASTRATION_")}
    e.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        ORCHASTRATION_STATE_DIR=str(tmp_path / "state"),
        NO_COLOR="1",
    )
    e.pop("APPDATA", None)
    e.pop("LOCALAPPDATA", None)
    return e


@pytest.fixture
def state_dir(env: dict[str, str]) -> Path:
    return Path(env["ORCHASTRATION_STATE_DIR"])


@pytest.fixture
def run_main(env: dict[str, str], tmp_path: Path) -> Callable[..., Result]:
    """Call ``main(argv)`` in-process with captured streams and the isolated environment."""

    def call(argv: Sequence[str], cwd: Path | None = None) -> Result:
        out, err = io.StringIO(), io.StringIO()
        code = main(list(argv), stdout=out, stderr=err, environ=env, cwd=cwd or tmp_path)
        return Result(code, out.getvalue(), err.getvalue())

    return call


def cli_command() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m orchastration``."""
    script = Path(sys.executable).parent / ("orchastration.exe" if os.name == "nt" else "orchastration")
    if script.exists():
        return [str(script)]
    found = shutil.which("orchastration")
    return [found] if found else [sys.executable, "-m", "orchastration"]


@pytest.fixture
def cli(env: dict[str, str], tmp_path: Path) -> Callable[..., Result]:
    """Run the installed CLI as a subprocess in the isolated environment."""

    def call(argv: Sequence[str], cwd: Path | None = None, timeout: float = 120, **kw: object) -> Result:
        proc = subprocess.run(
            [*cli_command(), *argv],
            cwd=cwd or tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            **kw,  # type: ignore[call-overload]
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return call


def assert_error(result: Result, code: int, *needles: str) -> None:
    """The run failed with ``code``, one ``orchastration: error:`` line naming every needle, no traceback."""
    assert result.code == code, (result.code, result.out, result.err)
    assert "Traceback" not in result.err, result.err
    assert "orchastration: error:" in result.err, result.err
    for needle in needles:
        assert needle in result.err, (needle, result.err)
