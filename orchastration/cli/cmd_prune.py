"""``prune [--keep N] [--older-than DAYS] [--json]``: delete old run records and their logs."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from orchastration.cli.app import App
from orchastration.cli.parser import SubParsers, add_command, add_json_flag, positive_int

if TYPE_CHECKING:
    from orchastration.cli.render import Output
    from orchastration.prune import PruneResult

DEFAULT_KEEP = 20  # prune.DEFAULT_KEEP (not imported: the parser is built for every command line)


def register(sub: SubParsers) -> None:
    p = add_command(
        sub, "prune", "delete old run records and their logs (keeps the newest 20 per job)", run,
        description="Delete old run records and their log files from the state dir: of each job, task and "
        "orchestration, keep the newest N records (--keep, default 20) and, with --older-than, every record "
        "younger than DAYS (--older-than alone: only those). The newest record and the newest successful run "
        "of each are always kept; nothing outside the state dir is touched.",
    )  # fmt: skip
    keep_help = f"keep the newest N records of each (default {DEFAULT_KEEP})"
    p.add_argument("--keep", type=positive_int, metavar="N", help=keep_help)
    p.add_argument("--older-than", type=_days, metavar="DAYS", help="remove records older than DAYS (0.5: 12 hours)")
    add_json_flag(p, "a JSON object: what was removed where, and the totals")


def _days(text: str) -> float:
    """argparse ``type`` for ``--older-than``: a number of days, at least 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of days, got '{text}'") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of days, 0 or more, got '{text}'")
    return value


def run(app: App) -> int:
    from orchastration.cli import render
    from orchastration.cli.cmd_jobs import _lock_wait_notice
    from orchastration.prune import Rules, prune

    keep = app.args.keep
    if keep is None and app.args.older_than is None:
        keep = DEFAULT_KEEP
    result = prune(app.paths, Rules(keep, app.args.older_than), on_lock_wait=_lock_wait_notice(app))
    for path in result.skipped:
        app.err.write(f"orchastration: warning: prune: skipped {path}: a symlink (never followed)\n")
    errors = [e for d in result.dirs for e in d.errors]
    for error in errors:
        app.err.write(f"orchastration: error: prune: could not remove {error}\n")
    render.show(app, output(result), as_json=app.args.json)
    return 1 if errors else 0


def output(result: PruneResult) -> Output:
    """A line per directory where records went, then the totals; ``--json``: the same as one object."""
    from orchastration.cli.render import Output

    removed = result.removed
    records = sum(len(d.run_ids) for d in removed)
    files = sum(d.files for d in removed)
    freed = sum(d.bytes for d in removed)
    kept = sum(d.kept for d in result.dirs)
    lines = [
        f"{d.kind}={d.name} removed {_count(len(d.run_ids), 'record')} ({_count(d.files, 'file')}, {size(d.bytes)})"
        for d in removed
    ]
    if records or files:
        lines.append(f"pruned {_count(records, 'record')} ({_count(files, 'file')}), freed {size(freed)}; "
                     f"kept {_count(kept, 'record')}")  # fmt: skip
    else:
        lines.append(f"nothing to prune (kept {_count(kept, 'record')})")
    data: dict[str, Any] = {
        "removed": [{"kind": d.kind, "name": d.name, "records": d.run_ids, "files": d.files, "bytes": d.bytes,
                     "errors": d.errors} for d in removed],
        "records": records, "files": files, "bytes": freed, "kept": kept, "skipped": result.skipped,
    }  # fmt: skip
    return Output(lines=lines, data=data)


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def size(n: int) -> str:
    """Bytes for people: ``512 B``, ``4.0 KiB``, ``1.2 MiB``."""
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"
