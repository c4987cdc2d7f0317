"""Work the CLI's interrupts must not cut in two: Ctrl-C, SIGTERM and SIGHUP, which the CLI turns into
KeyboardInterrupt on the main thread, are held while it runs and come after it (``held``)."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

STOP_SIGNALS = tuple(int(getattr(signal, name)) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
# The C module ``signal`` wraps (every platform has it): the same calls without the enum conversions
# of the wrappers, ~2 µs instead of ~25 µs for the swaps around each command's start.
_SIGNAL: Any = sys.modules.get("_signal", signal)


@contextlib.contextmanager
def held() -> Iterator[list[int]]:
    """Hold the stop signals that have a Python handler while the block runs; the list holds those
    that came (main thread only: signals are delivered there; elsewhere nothing is swapped). The
    caller acts on them after the block (raises KeyboardInterrupt, stops the command it started)."""
    came: list[int] = []
    saved: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in STOP_SIGNALS:
            if callable(_SIGNAL.getsignal(sig)):  # a Python handler; SIG_DFL and SIG_IGN are left alone
                saved[sig] = _SIGNAL.signal(sig, lambda signum, frame: came.append(signum))
    try:
        yield came
    finally:
        for sig, handler in saved.items():
            _SIGNAL.signal(sig, handler)
