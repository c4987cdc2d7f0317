"""orchastration/dataclass_code.py: the code ``dataclasses`` generates for this package's classes is
compiled once and kept beside the bytecode; later processes run it instead of compiling it, and get
the same classes."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import orchastration

# Imports the run path's modules and reports what the cache did, and the code of some generated methods.
PROBE = """
import json, sys
import orchastration.jobs, orchastration.engine.runs, orchastration.cli.app
from orchastration import dataclass_code as dc
from orchastration.engine.units import UnitResult
from orchastration.config_model import Config, JobConfig
from orchastration.outcomes import UnitStatus
r = UnitResult("a", UnitStatus.SKIPPED, 0, 0, None, (), "")
try:
    r.name = "b"
    frozen = False
except Exception as exc:
    frozen = type(exc).__name__
methods = {}
for cls in (UnitResult, Config, JobConfig):
    for m in ("__init__", "__repr__", "__eq__", "__setattr__"):
        methods[f"{cls.__name__}.{m}"] = getattr(cls, m).__code__.co_code.hex()
print(json.dumps({
    "file": dc.cache_file(),
    "hooked": getattr(__import__("dataclasses"), "exec", None) is dc._exec,
    "kept": len(dc._code), "compiled": len(dc._added), "used": len(dc._used),
    "equal": r == UnitResult("a", UnitStatus.SKIPPED, 0, 0, None, (), ""),
    "repr": repr(r), "frozen": frozen, "methods": methods,
}))
"""


def _probe(prefix: Path, *, env: dict[str, str] | None = None, code: str = PROBE) -> dict[str, object]:
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    environ["PYTHONPYCACHEPREFIX"] = str(prefix)
    environ.update(env or {})
    proc = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_the_second_process_compiles_nothing_and_gets_the_same_classes(tmp_path: Path) -> None:
    first = _probe(tmp_path)
    assert first["hooked"] is True
    assert Path(str(first["file"])).is_file()
    assert str(first["file"]).startswith(str(tmp_path))  # beside the bytecode: under PYTHONPYCACHEPREFIX
    assert int(str(first["compiled"])) > 30  # the run path's classes
    second = _probe(tmp_path)
    assert second["compiled"] == 0
    assert second["used"] == first["used"]
    # Identical classes: the same generated code, the same behaviour.
    assert second["methods"] == first["methods"]
    assert second["equal"] is True and second["repr"] == first["repr"]
    assert second["frozen"] == first["frozen"] == "FrozenInstanceError"


def test_without_the_hook_the_generated_code_is_the_same(tmp_path: Path) -> None:
    cached = _probe(tmp_path)
    cached = _probe(tmp_path)  # run from the file
    plain = _probe(tmp_path / "plain", code="import builtins, dataclasses; dataclasses.exec = builtins.exec\n" + PROBE)
    assert plain["hooked"] is False and plain["kept"] == 0  # someone else's exec is left alone
    assert plain["methods"] == cached["methods"]


def test_no_file_where_python_writes_no_bytecode(tmp_path: Path) -> None:
    out = _probe(tmp_path, env={"PYTHONDONTWRITEBYTECODE": "1"})
    assert int(str(out["compiled"])) > 30
    assert not Path(str(out["file"])).exists()


def test_a_corrupt_or_foreign_file_only_means_compiling(tmp_path: Path) -> None:
    path = Path(str(_probe(tmp_path)["file"]))
    for bad in (b"", b"\x00garbage\xff" * 10, path.read_bytes()[:100]):
        path.write_bytes(bad)
        out = _probe(tmp_path)
        assert int(str(out["compiled"])) > 30 and out["equal"] is True
        assert _probe(tmp_path)["compiled"] == 0  # and the file was written again
    # Another interpreter's file (another magic number) is not used.
    import marshal

    magic, table = marshal.loads(path.read_bytes())
    path.write_bytes(marshal.dumps((b"\x00\x00\r\n", table)))
    assert int(str(_probe(tmp_path)["compiled"])) > 30


def test_an_unwritable_place_only_means_compiling(tmp_path: Path) -> None:
    if os.name != "posix" or os.geteuid() == 0:
        # root writes anywhere: a file in the way of the directory stands in for a read-only one
        blocker = tmp_path / "blocked"
        blocker.write_text("a file where the cache directory would be")
        out = _probe(blocker)
    else:
        tmp_path.chmod(0o500)
        try:
            out = _probe(tmp_path)
        finally:
            tmp_path.chmod(0o700)
    assert int(str(out["compiled"])) > 30 and out["equal"] is True
    assert not Path(str(out["file"])).exists()


def test_other_packages_classes_are_not_kept(tmp_path: Path) -> None:
    code = """
import json
from orchastration import dataclass_code as dc
from dataclasses import dataclass
@dataclass(frozen=True)
class Theirs:
    a: int
before = set(dc._code)
print(json.dumps({"kept": len(dc._code), "theirs": Theirs(1) == Theirs(1), "file": dc.cache_file(),
                  "hooked": True, "compiled": len(dc._added)}))
"""
    out = _probe(tmp_path, code=code)
    assert out["theirs"] is True
    assert out["kept"] == 0 and out["compiled"] == 0


def test_every_dataclass_in_the_package_comes_through_the_cache() -> None:
    # A module importing ``dataclass`` from the standard library would compile its classes on every start.
    package = Path(orchastration.__file__).parent
    offenders = []
    for path in sorted(package.rglob("*.py")):
        if path.name == "dataclass_code.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = {a.name for a in node.names} if isinstance(node, ast.ImportFrom) else set()
            if isinstance(node, ast.ImportFrom) and node.module == "dataclasses" and names & {"dataclass", "field"}:
                offenders.append(str(path.relative_to(package)))
            if isinstance(node, ast.Attribute) and node.attr == "dataclass":
                offenders.append(str(path.relative_to(package)))
    assert offenders == []
