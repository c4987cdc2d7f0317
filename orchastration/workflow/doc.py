"""``doc generate``: render the task document and its README section, both written atomically."""

from __future__ import annotations

import contextlib
import functools
import os
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from orchastration.config import Config, TaskConfig
from orchastration.dataclass_code import dataclass
from orchastration.errors import InputError
from orchastration.logs import get_logger, log
from orchastration.rendering import Renderer
from orchastration.state import atomic_write_bytes, iso, unique_now
from orchastration.workflow.context import doc_relpath, task_context
from orchastration.workflow.readme import splice_section
from orchastration.workflow.records import ACTION_OK, TaskRecord

if TYPE_CHECKING:
    from orchastration.workflow.facade import Workflow

ACTION = "doc.generate"
README = "README.md"
DEFAULT_MODE = 0o644  # what a new file gets under a typical umask; applied before the atomic swap
_log = get_logger("tasks")


@dataclass(frozen=True)
class DocOutcome:
    """The result of ``doc generate``: where the document and the README section went."""

    task: TaskRecord
    doc_path: Path
    readme_path: Path

    @property
    def status(self) -> str:
        """The task's status (documenting does not change it)."""
        return self.task.status


def run(wf: Workflow, name: str) -> DocOutcome:
    """Render ``docs/tasks/<name>.md`` and the task's README section; record ``doc.generate``."""
    task = wf.task_config(name)
    start = unique_now()
    doc_path, readme_path = generate(wf.config, task, wf.store.load(name))
    end = unique_now()
    paths = {"doc_path": str(doc_path), "readme_path": str(readme_path)}
    last_doc = {**paths, "time": iso(end)}
    record = wf.store.update(task, lambda rec: replace(rec, last_run=iso(start), last_doc=last_doc))
    wf.store.write_run(name, ACTION, start, end, ACTION_OK, 0, "document generated", **paths)
    log(_log, "info", "task documented", task=name, doc=str(doc_path))
    return DocOutcome(record, doc_path, readme_path)


def renderer_for(config: Config, task: TaskConfig) -> Renderer:
    """The renderer with the template lookup order of docs/templates.md for ``task``."""
    return Renderer.for_task(config.templates.dir, task.working_dir)


def generate(config: Config, task: TaskConfig, record: TaskRecord | None) -> tuple[Path, Path]:
    """Write ``docs/tasks/<name>.md`` and the README section; return both paths.

    Both are rendered before either is written, so a template error changes nothing. The
    README's read-splice-write runs under a lock beside the README itself (``readme_lock``), so
    tasks documented at once into one README all keep their sections, whatever state dir or path
    (a symlinked working dir) each process came through.
    """
    renderer = renderer_for(config, task)
    doc_path = _inside(task, doc_relpath(task.name))
    readme_path = _inside(task, README)
    written = {task.working_dir.absolute() / README}
    context = task_context(task, record, config.hash.algorithm, link_base=doc_path.parent, written=written)
    doc_text = renderer.render("task_doc.md.j2", context).rstrip("\n") + "\n"
    summary = renderer.render("readme_summary.md.j2", task_context(task, record, config.hash.algorithm))
    with readme_lock(readme_path):
        try:
            old = readme_path.read_bytes()
        except FileNotFoundError:
            old = b""
        except OSError as exc:
            raise InputError(f"{readme_path}: cannot read README: {exc.strerror or exc}") from None
        new = splice_section(old, task.name, summary, where=str(readme_path))
        try:
            doc_path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(doc_path, doc_text.encode("utf-8"), mode=_mode_of(doc_path))
            if new != old or not readme_path.exists():
                atomic_write_bytes(readme_path, new, mode=_mode_of(readme_path))
        except OSError as exc:
            raise InputError(f"{exc.filename or doc_path}: cannot write: {exc.strerror or exc}") from None
    return doc_path, readme_path


def lock_path(readme: Path) -> Path:
    """``.<name>.lock`` beside the README's resolved path (docs/tasks.md, "Documents")."""
    real = Path(os.path.realpath(readme))
    return real.parent / f".{real.name}.lock"


@contextlib.contextmanager
def readme_lock(readme: Path) -> Iterator[None]:
    """Hold the README's own lock. It lives beside the file, not in a state dir: every process that
    writes this README, from any state dir and through any symlinked path, meets the same lock, and
    it needs nothing but the README's directory, which must be writable anyway. (A lock under a
    shared temp dir would depend on each process's TMPDIR and be open to other users' symlinks.)"""
    from orchastration.locking import hold

    path = lock_path(readme)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(hold(path, mode=0o644))
        except OSError as exc:
            raise InputError(f"{path}: cannot lock the README: {exc.strerror or exc}") from None
        yield


def _target(path: Path) -> Path:
    """The file to write: a symlinked README is updated where it points, not replaced by a copy."""
    path = path.absolute()
    return path.resolve() if path.is_symlink() else path


def _inside(task: TaskConfig, relative: str | os.PathLike[str]) -> Path:
    """The file to write for ``relative``, if it really lies in the task's working_dir: a symlink
    (the README, ``docs/``) leading out of it is refused before anything is written."""
    link = task.working_dir / relative
    path = _target(link)
    root = os.path.realpath(task.working_dir)
    real = os.path.realpath(path)
    if os.path.commonpath([root, real]) != root:
        raise InputError(
            f"{link.absolute()}: refusing to write outside the task's working_dir {root} (it leads to {real})"
        )
    return path


def _mode_of(path: Path) -> int:
    """Keep an existing file's permissions; a new file gets ``DEFAULT_MODE`` minus the umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        pass
    return DEFAULT_MODE & ~_umask()


@functools.cache
def _umask() -> int:
    """The process umask, read once (reading it means setting it: not something to race on)."""
    if os.name != "posix":
        return 0
    umask = os.umask(0o022)
    os.umask(umask)
    return umask
