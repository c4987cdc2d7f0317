"""The template context of a task: config, current outputs (sizes, hashes), last build and review."""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path, PurePosixPath
from typing import Any

from orchastration import __version__
from orchastration.config import TaskConfig
from orchastration.errors import InputError
from orchastration.workflow.records import TaskRecord, plain_command

DOCS_SUBDIR = PurePosixPath("docs") / "tasks"


def doc_relpath(name: str) -> PurePosixPath:
    """``docs/tasks/<name>.md``, relative to the task's working_dir."""
    return DOCS_SUBDIR / f"{name}.md"


def command_line(command: tuple[str, ...] | list[str] | str) -> str:
    """The command as one line a reader can paste into a shell."""
    if isinstance(command, str):
        return command
    from orchastration.process import command_text

    return command_text(list(command))


def output_info(task: TaskConfig, algorithm: str) -> list[dict[str, Any]]:
    """Each declared output: relative and absolute path, whether it exists, its size and hash."""
    from orchastration.hashing import hash_file

    items = []
    for rel in task.outputs:
        path = (task.working_dir / rel).absolute()
        info: dict[str, Any] = {"path": rel, "absolute": str(path), "exists": path.is_file()}
        info["size"] = info["hash"] = None
        if info["exists"]:
            try:
                info["size"] = path.stat().st_size
                info["hash"] = hash_file(path, algorithm)
            except (OSError, InputError):  # vanished or unreadable between the check and the read
                info["exists"] = False
        items.append(info)
    return items


def document_info(task: TaskConfig, link_base: Path, written: Collection[Path] = ()) -> list[dict[str, Any]]:
    """Each declared document with a Markdown link relative to ``link_base`` (the doc's directory).

    ``written``: files this very run writes (the README), shown as existing though not written yet.
    """
    items = []
    for rel in task.documents:
        path = (task.working_dir / rel).absolute()
        try:
            link = Path(os.path.relpath(path, link_base)).as_posix()
        except ValueError:  # another drive on Windows: no relative path exists
            link = path.as_uri()
        exists = path.exists() or path in written
        items.append({"path": rel, "absolute": str(path), "exists": exists, "link": link})
    return items


def task_context(
    task: TaskConfig,
    record: TaskRecord | None,
    algorithm: str,
    link_base: Path | None = None,
    written: Collection[Path] = (),
) -> dict[str, Any]:
    """Everything the templates see: ``task``, ``build``, ``review``, ``doc``, ``version``, ``hash_algorithm``."""
    status = record.status if record else task.status
    doc_rel = doc_relpath(task.name)
    base = link_base if link_base is not None else task.working_dir / doc_rel.parent
    return {
        "task": {
            "name": task.name,
            "description": task.description,
            "repo": task.repo,
            "working_dir": str(task.working_dir),
            "command": plain_command(task.command),
            "command_line": command_line(task.command),
            "shell": task.shell,
            "timeout_seconds": task.timeout_seconds,
            "env_keys": sorted(task.env),
            "inputs": list(task.inputs),
            "outputs": output_info(task, algorithm),
            "documents": document_info(task, base, written),
            "review_command": command_line(task.review_command) if task.review_command else "",
            "status": status,
            "last_run": record.last_run if record else None,
            "branch": record.branch if record else None,
            "issue_url": record.issue_url if record else None,
        },
        "build": record.last_build if record else None,
        "review": record.last_review if record else None,
        "doc": {"path": doc_rel.as_posix()},
        "hash_algorithm": algorithm,
        "version": __version__,
    }
