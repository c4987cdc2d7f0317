"""The no-op ``run`` answered before the parser, logging or config model load (see engine/fastpath.py).

Only the plainest command lines qualify (``[-q] [--no-color] [--config P] [--state-dir P] run [-j N]
[JOB ...]``, read exactly as argparse reads them); anything else returns None and takes the normal
path, which checks the same summary after argparse. A plain line that is not a no-op skips the
parser too (``cmd_jobs.plain_run_args``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from orchastration.named_tuple import NamedTuple

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: the no-op ``run`` never imports typing
if TYPE_CHECKING:
    from typing import IO

    from orchastration.engine.fastpath import Summaries

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")  # a job name; never a flag
_FLAGS = {"-q", "--quiet", "--no-color"}
_VALUED = {"--config", "--state-dir"}
_COUNT = re.compile(r"^[0-9]*[1-9][0-9]*$")  # a whole number, at least 1 (ASCII digits only)
_JOINED_COUNT = re.compile(r"^(?:-j|--jobs=)([0-9]*[1-9][0-9]*)$")


class Plain(NamedTuple):
    """A plain ``run`` line: the global path flags' values, the job names, the flags given, ``-j``."""

    values: dict[str, str]
    names: list[str]
    flags: frozenset[str]
    parallel: int | None


def parse_plain(argv: Sequence[str]) -> Plain | None:
    """A plain ``run`` line as argparse reads it, or None for any other command line (argparse then
    reads it, and reports what is wrong with it). Its one positional takes the job names as one
    block: a name after an option that followed names is argparse's "unrecognized arguments"."""
    values: dict[str, str] = {}
    names: list[str] = []
    flags: set[str] = set()
    parallel: int | None = None
    seen_run = ended = False
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in _FLAGS:
            flags.add(arg)
            ended = bool(names)
        elif not seen_run and arg in _VALUED and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
            values[arg] = argv[i + 1]
            i += 1
        elif not seen_run and arg.split("=", 1)[0] in _VALUED and "=" in arg:
            key, value = arg.split("=", 1)
            values[key] = value
        elif not seen_run and arg == "run":
            seen_run = True
        elif seen_run and arg in ("-j", "--jobs") and i + 1 < len(argv) and _COUNT.match(argv[i + 1]):
            parallel, ended = int(argv[i + 1]), bool(names)
            i += 1
        elif seen_run and (joined := _JOINED_COUNT.match(arg)):
            parallel, ended = int(joined.group(1)), bool(names)
        elif seen_run and _NAME.match(arg) and arg != "run" and not ended:
            names.append(arg)
        else:
            return None
        i += 1
    return Plain(values, names, frozenset(flags), parallel) if seen_run else None


def try_fast_run(
    argv: Sequence[str], out: IO[str], environ: Mapping[str, str], cwd: Path | None, err: IO[str] | None = None
) -> tuple[int | None, Summaries | None]:
    """Print the ``skipped`` lines (and, for two or more jobs without -q, the summary line on ``err``)
    and return 0 when the run is a known no-op; else None, with the summary reader that already
    looked (the full run reuses what it read)."""
    started = time.perf_counter()
    parsed = parse_plain(argv)
    if parsed is None:
        return None, None
    values, names = parsed.values, parsed.names
    started_us = time.time_ns() // 1000
    try:
        from orchastration.engine.fastpath import Summaries
        from orchastration.paths import Paths, find_config, user_config_file

        here = (cwd or Path.cwd()).absolute()
        path, _ = find_config(values.get("--config"), environ, here, user_config_file(environ))
        paths = Paths.resolve(values.get("--state-dir"), environ, config_file=path)  # the project's state dir
        summaries = Summaries(paths.engine_dir)
        done = summaries.noop(path, names, environ)
    except Exception:  # any doubt (a missing --config file, ...): the normal path reports it
        return None, None
    if done is None:
        return None, summaries
    out.write("".join(f"job={name} status=skipped exit=0 duration_ms=0\n" for name in done))
    if err is not None and len(done) > 1 and not {"-q", "--quiet"} & parsed.flags:
        # The same line as render.run_summary (not imported: this path loads nothing it can avoid).
        err.write(f"ran 0, skipped {len(done)}, failed 0, restored 0 in {time.perf_counter() - started:.2f} s\n")
    out.flush()  # the lines first: the session record below is history, not the answer
    from orchastration.sessions import write_noop_session

    write_noop_session(paths.state_dir, list(argv), names, done, started_us)
    return 0, summaries
