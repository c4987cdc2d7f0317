"""What ``run`` and ``orchestration run`` add around a run: the session record and ``--trace FILE``
(docs/observability.md). Written once, at the end, however the run ends (a ``finally``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from pathlib import Path

    from orchastration.cli.app import App
    from orchastration.sessions import Recorder

T = TypeVar("T")


def add_trace_flag(parser: Any) -> None:
    """``--trace FILE`` on a run command."""
    parser.add_argument(
        "--trace", metavar="FILE", help="write the run as Chrome trace events (open in ui.perfetto.dev)"
    )


def trace_path(app: App) -> Path | None:
    """The ``--trace`` file, checked before anything runs (its directory must exist)."""
    from orchastration.trace import check_output_path

    value = getattr(app.args, "trace", None)
    return None if value is None else check_output_path("--trace", value, app.cwd)


@contextlib.contextmanager
def recorded(app: App, *, kind: str, parallel: int | None, selected: list[str]) -> Iterator[Recorder]:
    """A ``Recorder`` for the run in the block; its session (and trace) written when the block ends,
    with the handler's exit code (``recorder.exit_code``) or the interrupt or bug that ended it; not
    after a usage or config error (exit 2), which leaves nothing behind."""
    from orchastration.errors import EXIT_FAILED, EXIT_INTERRUPTED, OrchastrationError
    from orchastration.sessions import Recorder

    trace = trace_path(app)
    recorder = Recorder(app.argv, kind=kind, parallel=parallel, selected=selected)
    error = ""
    try:
        yield recorder
    except OrchastrationError:
        # Bad input (exit 2: an unknown job, an invalid config, an unusable state dir) is reported
        # before anything runs and leaves nothing behind: no session either.
        recorder.exit_code = None
        raise
    except KeyboardInterrupt:
        recorder.exit_code, error = EXIT_INTERRUPTED, "interrupted"
        raise
    except Exception as exc:
        recorder.exit_code, error = EXIT_FAILED, f"internal error: {type(exc).__name__}: {exc}"
        raise
    else:
        if recorder.exit_code is None:
            recorder.exit_code = 0
    finally:
        if recorder.exit_code is not None:
            _write(app, recorder, error, trace)


def _write(app: App, recorder: Recorder, error: str, trace: Path | None) -> None:
    """Write the session (a failure is a warning: the run's own result stands) and the trace."""
    from orchastration.sessions import write_session

    record = recorder.finish(recorder.exit_code, error)
    try:
        # History, not state: atomic but not synced (an fsync at the end of every run cost more than
        # a small job; the run's own records were made durable by then, docs/reliability.md).
        write_session(app.paths.state_dir, record, durable=False)
    except OSError as exc:
        app.err.write(f"orchastration: warning: session record not written: {exc}\n")
    if trace is not None:
        from orchastration.trace import write_trace

        try:
            write_trace(trace, record)
        except OSError as exc:
            app.err.write(f"orchastration: warning: {trace}: trace not written: {exc}\n")


def both(first: Callable[[T], None] | None, second: Callable[[T], None]) -> Callable[[T], None]:
    """One callback calling ``first`` (if any), then ``second``."""
    if first is None:
        return second

    def call(value: T) -> None:
        first(value)
        second(value)

    return call
