"""Helpers for the job tests: write a project (config + files) and read run records."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

PY = sys.executable

# A portable `cat inputs > output` that also says what it did (no shell needed).
CONCAT = textwrap.dedent(
    """
    import sys
    out, *ins = sys.argv[1:]
    data = b"".join(open(p, "rb").read() for p in ins)
    open(out, "wb").write(data)
    print("wrote", out, len(data))
    """
)


def toml_value(value: Any) -> str:
    """A TOML literal for the small values tests use."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


def write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` (UTF-8), making its directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_config(project: Path, jobs: dict[str, dict[str, Any]], extra: str = "") -> Path:
    """Write ``orchastration.toml`` with one ``[jobs.<name>]`` table per entry."""
    lines = [extra] if extra else []
    for name, table in jobs.items():
        lines.append(f"[jobs.{name}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in table.items()]
        lines.append("")
    path = project / "orchastration.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def concat_job(output: str, *inputs: str, **more: Any) -> dict[str, Any]:
    """A job concatenating ``inputs`` into ``output`` with the helper script."""
    return {"command": [PY, "concat.py", output, *inputs], "inputs": list(inputs), "outputs": [output], **more}


def project(tmp_path: Path) -> Path:
    """A project dir with the concat helper and two source files."""
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "concat.py").write_text(CONCAT)
    (root / "src" / "a.txt").write_text("alpha\n")
    (root / "src" / "b.txt").write_text("beta\n")
    return root


def statuses(out: str) -> dict[str, str]:
    """``{job: status}`` from the result lines of ``run``."""
    found = {}
    for line in out.splitlines():
        if line.startswith("job=") and " status=" in line:
            fields = dict(part.split("=", 1) for part in line.split(" ") if "=" in part)
            found[fields["job"]] = fields["status"]
    return found


def result_fields(out: str, job: str) -> dict[str, str]:
    """The ``key=value`` fields of ``job``'s result line."""
    for line in out.splitlines():
        if line.startswith(f"job={job} status="):
            return dict(part.split("=", 1) for part in line.split(" ") if "=" in part)
    raise AssertionError(f"no result line for {job} in:\n{out}")


def last_record(state_dir: Path, job: str) -> dict[str, Any]:
    """The job's ``last.json``."""
    data: dict[str, Any] = json.loads((state_dir / "runs" / job / "last.json").read_text())
    return data


def records(state_dir: Path, job: str) -> list[Path]:
    """Every run record of the job, oldest first."""
    return sorted(p for p in (state_dir / "runs" / job).glob("*.json") if p.name != "last.json")


def age(*paths: Path, seconds: float = 10) -> None:
    """Move mtimes into the past (as if the files were written a while ago)."""
    for path in paths:
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - int(seconds * 1e9)))
