"""Shared fixtures: an isolated environment, the CLI in-process, and the installed CLI as a subprocess."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from reliability.common import cli_command, isolated_env

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
    return isolated_env(tmp_path)


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
