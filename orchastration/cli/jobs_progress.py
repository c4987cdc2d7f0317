"""A one-line progress display on a TTY (done/total, running, failed, elapsed) for runs of many jobs."""

from __future__ import annotations

import threading
import time
from typing import IO, Any

CLEAR = "\r\x1b[2K"


class Progress:
    """Redraws a status line on ``stream`` (stderr); other output is written above it."""

    def __init__(self, stream: IO[str], total: int) -> None:
        self.stream, self.total = stream, total
        self.started = time.monotonic()
        self.done = self.failed = 0
        self.running: list[str] = []
        self.lock = threading.RLock()
        self.shown = False

    def start(self, name: str) -> None:
        with self.lock:
            self.running.append(name)
            self.draw()

    def finish(self, name: str, ok: bool) -> None:
        with self.lock:
            if name in self.running:
                self.running.remove(name)
            self.done += 1
            self.failed += 0 if ok else 1
            self.draw()

    def draw(self) -> None:
        with self.lock:
            running = ", ".join(self.running[:3]) + (" ..." if len(self.running) > 3 else "")
            elapsed = time.monotonic() - self.started
            line = f"[{self.done}/{self.total}] running: {running or '-'} | failed: {self.failed} | {elapsed:.1f}s"
            self.stream.write(CLEAR + line[:200])
            self.stream.flush()
            self.shown = True

    def clear(self) -> None:
        with self.lock:
            if self.shown:
                self.stream.write(CLEAR)
                self.stream.flush()
                self.shown = False

    def close(self) -> None:
        self.clear()


class AboveProgress:
    """A text stream whose writes clear the progress line first and redraw it after."""

    def __init__(self, target: IO[str], progress: Progress) -> None:
        self.target, self.progress = target, progress

    def write(self, text: str) -> int:
        with self.progress.lock:
            self.progress.clear()
            n = self.target.write(text)
            self.target.flush()
            if text.endswith("\n"):
                self.progress.draw()
            return n

    def flush(self) -> None:
        self.target.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)
