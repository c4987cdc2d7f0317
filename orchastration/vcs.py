"""Git helpers: safe branch names, create-and-check-out with GitPython, issues through the GitHub CLI.

Nothing here pushes, fetches or touches a remote. Every check runs before the one
command that changes the repository (``git checkout -b``), which itself refuses
atomically, so an error leaves the repository as it was. GitPython is imported
inside the functions: the CLI starts without it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchastration.dataclass_code import dataclass
from orchastration.errors import GitError

DEFAULT_BRANCH = "task"
GH_TIMEOUT_SECONDS = 120
DRY_RUN_HINT = "use --dry-run to print the issue title and body instead"

_OUTSIDE = re.compile(r"[^a-z0-9._-]+")
_DOTS = re.compile(r"\.{2,}")
_URL = re.compile(r"https?://\S+")


def sanitize_branch_name(raw: str) -> str:
    """A valid branch name from rendered text, as docs/git.md says: lower-case, ``a-z0-9._-`` and ``/`` only.

    Each ``/``-separated part: every run of other characters becomes one ``-``; then
    what ``git check-ref-format`` forbids is removed (``..``, a leading or trailing
    ``.`` or ``-``, a ``.lock`` ending). Empty parts are dropped; nothing left gives ``task``.
    """
    parts = []
    for part in raw.strip().lower().split("/"):
        part = _DOTS.sub(".", _OUTSIDE.sub("-", part))
        while True:
            part = part.strip("-.")
            if not part.endswith(".lock"):
                break
            part = part[: -len(".lock")]
        if part:
            parts.append(part)
    return "/".join(parts) or DEFAULT_BRANCH


def ref_format_problem(name: str) -> str | None:
    """Why ``name`` is not a valid branch name under ``git check-ref-format --branch`` rules, or None."""
    if not name:
        return "empty name"
    if name.startswith("-"):
        return "starts with '-'"
    if name == "@" or "@{" in name:
        return "contains '@{' or is '@'"
    if ".." in name or "//" in name:
        return "contains '..' or '//'"
    if name.endswith((".", "/")) or name.startswith("/"):
        return "starts with '/' or ends with '.' or '/'"
    if any(ord(c) < 0x20 or ord(c) == 0x7F or c in " ~^:?*[\\" for c in name):
        return "contains a space, a control character or one of ~^:?*[\\"
    for part in name.split("/"):
        if part.startswith(".") or part.endswith(".lock"):
            return f"part '{part}' starts with '.' or ends with '.lock'"
    return None


@dataclass(frozen=True)
class BranchInfo:
    """A branch just created and checked out."""

    repo_dir: Path
    branch: str
    base: str
    commit: str


def _git() -> Any:
    try:
        import git
    except ImportError as exc:  # GitPython refuses to import without a git executable
        raise GitError(f"git is not available: {str(exc).splitlines()[0]}") from None
    return git


def _command_error(exc: Any) -> str:
    """git's own message from a GitPython ``GitCommandError`` (which wraps it as ``stderr: '...'``)."""
    text = (getattr(exc, "stderr", "") or getattr(exc, "stdout", "") or str(exc)).strip()
    wrapped = re.fullmatch(r"(?:stderr|stdout):\s*'(.*)'", text, re.DOTALL)
    if wrapped:
        text = wrapped.group(1)
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def create_branch(directory: Path, branch: str, base: str | None = None) -> BranchInfo:
    """Create ``branch`` at ``base`` (default HEAD) in the repository holding ``directory``, and check it out.

    Uncommitted changes are carried as ``git checkout -b`` carries them (and if they
    would be overwritten, git refuses and nothing changes).
    """
    git = _git()
    try:
        repo = git.Repo(directory, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise GitError(f"{directory}: not a git repository (nor any of its parents)") from None
    with repo:
        if repo.bare or not repo.working_tree_dir:
            raise GitError(f"{repo.git_dir}: bare repository, no working tree to check a branch out in")
        root = Path(repo.working_tree_dir)
        problem = ref_format_problem(branch)
        if problem:
            raise GitError(f"invalid branch name '{branch}': {problem}")
        try:
            repo.git.check_ref_format("--branch", branch)
        except git.GitCommandError:
            raise GitError(f"invalid branch name '{branch}' (git check-ref-format refused it)") from None
        if _has_branch(repo, branch):
            raise GitError(f"branch '{branch}' already exists in {root} (nothing changed)")
        commit, label = _resolve_base(git, repo, root, base)
        try:
            # The commit, not the ref name: the new branch never tracks a remote branch.
            repo.git.checkout("-b", branch, commit)
        except git.GitCommandError as exc:
            raise GitError(f"git checkout -b {branch} failed in {root}: {_command_error(exc)}") from None
        return BranchInfo(repo_dir=root, branch=branch, base=label, commit=commit)


def _has_branch(repo: Any, branch: str) -> bool:
    return any(head.name == branch for head in repo.heads)


def _resolve_base(git: Any, repo: Any, root: Path, base: str | None) -> tuple[str, str]:
    """The commit to branch from and a label for it (``HEAD (main)``, ``HEAD (detached)``, or the ref)."""
    if base is None:
        if not repo.head.is_valid():
            raise GitError(f"{root}: the repository has no commits yet; make a first commit, then create the branch")
        commit = str(repo.head.commit.hexsha)
        if repo.head.is_detached:
            return commit, f"HEAD (detached at {commit[:12]})"
        return commit, f"HEAD ({repo.active_branch.name})"
    if not base or base.startswith("-"):
        raise GitError(f"--base: invalid ref '{base}'")
    try:
        commit = repo.git.rev_parse("--verify", "--quiet", f"{base}^{{commit}}").strip()
    except git.GitCommandError:
        raise GitError(f"--base: unknown ref '{base}' in {root} (no such branch, tag or commit)") from None
    return commit, base


def find_gh(environ: Mapping[str, str]) -> str | None:
    """The ``gh`` executable on the PATH of ``environ``."""
    path = environ.get("PATH", os.defpath)
    if os.name == "nt":
        path = environ.get("Path", path)
    return shutil.which("gh", path=path)


def create_issue(title: str, body: str, cwd: Path, environ: Mapping[str, str]) -> str:
    """Run ``gh issue create --title T --body-file -`` in ``cwd`` (body on stdin); return the issue URL."""
    gh = find_gh(environ)
    if gh is None:
        raise GitError(
            "the GitHub CLI 'gh' was not found on PATH (install it from https://cli.github.com "
            f"and run 'gh auth login'), or {DRY_RUN_HINT}"
        )
    env = dict(environ)
    env["GH_PROMPT_DISABLED"] = "1"  # never wait for an answer nobody can give
    argv = [gh, "issue", "create", "--title", title, "--body-file", "-"]
    try:
        proc = subprocess.run(
            argv, cwd=cwd, input=body.encode("utf-8"), capture_output=True, env=env, timeout=GH_TIMEOUT_SECONDS
        )
    except subprocess.TimeoutExpired:
        raise GitError(f"gh issue create did not finish within {GH_TIMEOUT_SECONDS}s; {DRY_RUN_HINT}") from None
    except OSError as exc:
        raise GitError(f"cannot run gh ({gh}): {exc.strerror or exc}; {DRY_RUN_HINT}") from None
    out = proc.stdout.decode("utf-8", "replace")
    err = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        said = " ".join(line.strip() for line in (err or out).splitlines() if line.strip()) or "no message"
        raise GitError(f"gh issue create failed (exit {proc.returncode}): {said}; {DRY_RUN_HINT}")
    urls = _URL.findall(out)
    if not urls:
        raise GitError(f"gh issue create printed no issue URL (stdout: {out.strip()!r}); {DRY_RUN_HINT}")
    return str(urls[-1])
