"""Hostile input, property-based (Hypothesis): random configs, names, globs, manifests and templates
never produce a traceback; the exit code is 0/1/2 and an error is one line naming the culprit.

In-process ``main(argv)`` for speed. ``ORCH_FUZZ_EXAMPLES`` (default 25) sets examples per property.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from conftest import Result

from orchastration.cli import main

EXAMPLES = int(os.environ.get("ORCH_FUZZ_EXAMPLES", "25"))


def call(argv: list[str], cwd: Path, env: Mapping[str, str]) -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdout=out, stderr=err, environ=env, cwd=cwd)
    return Result(code, out.getvalue(), err.getvalue())


def sane(res: Result, codes: tuple[int, ...] = (0, 1, 2)) -> None:
    """No traceback, no internal error, a known exit code, and an error is one printable line."""
    assert res.code in codes, (res.code, res.err)
    assert "Traceback" not in res.err and "internal error" not in res.err, res.err
    for line in res.err.splitlines():
        if line.startswith("orchastration: error:"):
            assert line.isprintable(), repr(line)
    if res.code == 2:
        assert "orchastration: error:" in res.err, res.err


def test_control_characters_in_a_name_are_escaped_on_one_line(run_main: Callable[..., Result], tmp_path: Path) -> None:
    (tmp_path / "orchastration.toml").write_text('[jobs.ok]\ncommand = ["true"]\n', encoding="utf-8")
    for name in ("a\nb", "\x1b[31mred", "tab\there", "line\u2028sep"):
        res = run_main(["why", name])
        sane(res, (2,))
        assert res.err.count("\n") == 1, repr(res.err)
        escaped = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in name)
        assert f"unknown job '{escaped}'" in res.err, res.err
