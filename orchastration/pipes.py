"""Output pumps: a command's pipes copied to its log files (whole) and a console (line by line, prefixed).

Reader threads read fixed-size chunks, so memory stays bounded whatever the command prints, and they
read to the end whatever happens to the sinks: a log file that cannot be written (a full disk) or a
dead console is dropped with the error kept, so the command never blocks on a full pipe. Used by
``process.run_process``.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import select
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, BinaryIO

from orchastration.empty_logs import link_empty, open_for_write

CHUNK = 1 << 16  # 64 KiB reads: few syscalls, small constant memory
MAX_PARTIAL_LINE = 1 << 16  # a line longer than this is written to the console in pieces
POLL_MS = 100  # how often a pump with nothing to read checks whether it was stopped
STOP_SECONDS = 0.5  # how long stopped pumps, or the pipes of a killed group, may take to end

# One lock for every console write: parallel jobs and their two streams never split a line.
_console_lock = threading.Lock()
_UTF8 = codecs.getincrementaldecoder("utf-8")


class Sink:
    """Where one pipe's bytes go: its log file (whole) and a console (line by line, prefixed).

    A log file that cannot be written (a full disk) or a dead console is dropped with the error kept,
    so the reader keeps draining the pipe and the child never blocks on a full one.
    """

    def __init__(
        self, log: BinaryIO | _LazyLog | None, log_path: Path | None, console: IO[str] | None, prefix: str
    ) -> None:
        self.log, self.log_path, self.console, self.prefix = log, log_path, console, prefix
        self.decoder: codecs.IncrementalDecoder | None = None  # made at the first bytes for a console
        self.partial = ""
        self.log_error: OSError | None = None  # the first failed write of the log file

    def feed(self, chunk: bytes) -> None:
        """Take the next chunk read from the pipe."""
        self._log(chunk)
        if self.console is not None:
            if self.decoder is None:
                self.decoder = _UTF8(errors="replace")
            self._show(self.decoder.decode(chunk))

    def finish(self) -> None:
        """The pipe ended: show what is left of a last line without a newline."""
        if self.decoder is not None:
            self._show(self.decoder.decode(b"", final=True))
        if self.partial:
            self._write(self.prefix + self.partial + "\n")
            self.partial = ""

    def _log(self, chunk: bytes) -> None:
        if self.log is None:
            return
        try:
            self.log.write(chunk)
        except OSError as exc:  # a full disk: keep the error, keep draining the pipe
            self.log_error, self.log = exc, None

    def _show(self, text: str) -> None:
        if not text or self.console is None:
            return
        if not self.prefix:
            self._write(text)  # no prefix: no need to split lines
            return
        text = self.partial + text
        cut = text.rfind("\n") + 1
        self.partial = text[cut:]
        if cut:
            self._write("".join(self.prefix + line for line in text[:cut].splitlines(keepends=True)))
        if len(self.partial) > MAX_PARTIAL_LINE:
            self._write(self.prefix + self.partial + "\n")
            self.partial = ""

    def _write(self, text: str) -> None:
        if self.console is None:
            return
        try:
            with _console_lock:
                self.console.write(text)
                self.console.flush()
        except (OSError, ValueError):  # a dead console: the log file still gets everything
            self.console = None


class Pump(threading.Thread):
    """A thread copying one pipe into its ``Sink`` (Windows, where pipes cannot be polled).

    ``stop`` ends it early (a process that left the job's group may hold the pipe forever).
    """

    def __init__(self, pipe: BinaryIO, sink: Sink) -> None:
        super().__init__(daemon=True)
        self.pipe, self.sink = pipe, sink
        self.error: BaseException | None = None  # reading the pipe failed
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            while chunk := self._read():
                self.sink.feed(chunk)
            self.sink.finish()
        except BaseException as exc:  # the pipe closed under us (stopped): nothing more to read
            self.error = exc

    def _read(self) -> bytes:
        """The next chunk; ``b""`` at end of file or once stopped."""
        if os.name != "posix":  # no poll on Windows pipes: a blocking read, ended by closing the pipe
            return b"" if self.stop.is_set() else self.pipe.read1(CHUNK)  # type: ignore[attr-defined]
        fd = self.pipe.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while not self.stop.is_set():
            if poller.poll(POLL_MS):
                return os.read(fd, CHUNK)
        return b""


class PolledPipes:
    """A command's pipes read by the calling thread with ``poll(2)`` (POSIX): one reader for both
    streams and no thread per pipe, which on a busy machine costs a context switch per start and
    per chunk. With a pidfd (Linux), the command's exit wakes the same poll."""

    def __init__(self, pipes: list[BinaryIO], sinks: list[Sink], pid: int) -> None:
        self.poller = select.poll()
        self.open: dict[int, tuple[BinaryIO, Sink]] = {}
        for pipe, sink in zip(pipes, sinks, strict=True):
            fd = pipe.fileno()
            self.open[fd] = (pipe, sink)
            self.poller.register(fd, select.POLLIN)
        self.pidfd = -1
        self.exited = False  # the pidfd said the process exited
        pidfd_open = getattr(os, "pidfd_open", None)
        if pidfd_open is not None:
            with contextlib.suppress(OSError):
                self.pidfd = pidfd_open(pid)
                self.poller.register(self.pidfd, select.POLLIN)

    @property
    def done(self) -> bool:
        """Every pipe reached its end."""
        return not self.open

    def pump(self, timeout: float | None) -> bool:
        """Read what the pipes have within ``timeout`` seconds (None: until something happens);
        True if the command's process exited (as far as a pidfd tells)."""
        for fd, _event in self.poller.poll(None if timeout is None else max(int(timeout * 1000), 0)):
            if fd == self.pidfd:  # readable from now on: stop polling it
                self.exited = True
                self.poller.unregister(fd)
                os.close(fd)
                self.pidfd = -1
                continue
            try:
                chunk = os.read(fd, CHUNK)
            except OSError:
                chunk = b""
            pipe, sink = self.open[fd]
            if chunk:
                sink.feed(chunk)
                continue
            self.poller.unregister(fd)
            del self.open[fd]
            sink.finish()
        return self.exited

    def drain(self, until: float, cancel: threading.Event | None = None) -> bool:
        """Read until every pipe ends (True), ``until`` passes or ``cancel`` is set."""
        while self.open:
            left = until - time.monotonic()
            if left <= 0 or (cancel is not None and cancel.is_set()):
                return False
            self.pump(min(left, 0.05) if cancel is not None else left)
        return True

    def close(self) -> None:
        """Stop reading: close our ends of the pipes (and the pidfd)."""
        for pipe, sink in self.open.values():
            sink.finish()
            with contextlib.suppress(OSError):
                pipe.close()
        self.open.clear()
        if self.pidfd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.pidfd)
            self.pidfd = -1


def write_error(path: Path | str | None, exc: OSError) -> str:
    """``cannot write <path>: <reason>``: one line for a failed write (a full disk, a read-only dir). A
    failed link or rename names its target (the log), not its source (a temp or the shared empty file)."""
    where = next((f for f in (exc.filename2, exc.filename) if f is not None), path)
    reason = "not a directory" if isinstance(exc, FileExistsError) else exc.strerror or exc  # mkdir of a file
    return f"cannot write {where}: {reason}"


class LogFiles:
    """A run's two log files (a None path: not kept). A file that cannot be opened, written or
    closed fails the run with ``error`` naming it; the command's output is still read to the end.

    ``empty``: the runs directory's shared empty file (empty_logs.py). Each file is then made at its
    first byte (never written through a link the run's slot was reserved with), and one that got
    nothing is left, or made, a link to ``empty``: most commands print nothing, and those logs cost
    no inode. The first path (stdout) is then the run's slot, already that link (``claim_run_slot``):
    only the second is linked when it got nothing."""

    def __init__(self, paths: tuple[Path | None, Path | None], empty: Path | None = None) -> None:
        self.paths = paths
        self.empty = empty
        self.files: list[BinaryIO | _LazyLog | None] = [None, None]
        self.error = ""

    def open(self) -> str:
        """Open both files (or prepare them to be made at their first byte); ``""``, or the error
        naming the one that cannot be opened."""
        for i, path in enumerate(self.paths):
            if path is not None and self.empty is not None:
                self.files[i] = _LazyLog(path)
                continue
            try:
                self.files[i] = None if path is None else _open_log(path)
            except OSError as exc:
                self.error = write_error(path, exc)
                return self.error
        return ""

    def close(self) -> None:
        """Close both files; a failed final write sets ``error`` (unless one is already set)."""
        for i, (fh, path) in enumerate(zip(self.files, self.paths, strict=True)):
            if fh is None or path is None:
                continue
            try:
                if i and isinstance(fh, _LazyLog) and not fh.made and self.empty is not None:
                    link_empty(path, self.empty, exist_ok=True)
                fh.close()
            except (OSError, ValueError) as exc:  # the last buffered bytes did not fit either
                if isinstance(exc, OSError) and not self.error:
                    self.error = write_error(path, exc)


class _LazyLog:
    """A log file made at its first write (``empty_logs.open_for_write``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: BinaryIO | None = None
        self.made = False

    def write(self, data: bytes) -> int:
        if self.file is None:
            self.made = True
            self.file = _open_log(self.path)
        return self.file.write(data)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def _open_log(path: Path) -> BinaryIO:
    # 0600: a run's output is the user's alone (docs/reliability.md); an existing file keeps its mode,
    # a link to the shared empty file is replaced, never written through (empty_logs.py). Its
    # directory is made only when missing (the common case: one system call).
    try:
        return os.fdopen(open_for_write(path), "wb")
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.fdopen(open_for_write(path), "wb")


def join(pumps: list[Pump], until: float, cancel: threading.Event | None = None) -> bool:
    """Wait until every pump reached the end of its pipe (True), ``until`` passes or ``cancel`` is set."""
    for pump in pumps:
        while pump.is_alive():
            left = until - time.monotonic()
            if left <= 0 or (cancel is not None and cancel.is_set()):
                return False
            pump.join(min(left, 0.05))
    return True


def stop(proc: subprocess.Popen[bytes], pumps: list[Pump]) -> None:
    """Stop reading and close our ends of the pipes: whatever still holds them no longer holds the run."""
    for pump in pumps:
        pump.stop.set()
    if os.name != "posix":
        # A blocked read ends when its pipe closes (closing may itself wait for the read: in a thread).
        threading.Thread(target=_close_pipes, args=(proc,), daemon=True).start()
    for pump in pumps:
        if pump.is_alive():  # (an interrupt may have come before it started)
            pump.join(STOP_SECONDS)
    if os.name == "posix":
        _close_pipes(proc)


def _close_pipes(proc: subprocess.Popen[bytes]) -> None:
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
