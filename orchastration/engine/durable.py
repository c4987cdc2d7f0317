"""Durable in batches: files a run writes without an fsync each are synced together, off the jobs' path.

A run writes a record, two log files and a database row per job. Syncing each record (and its
directory) cost two fsyncs per job, ~9 ms each on a busy disk: more than the job itself for small
jobs. Instead every file is written atomically (temp file + rename, so no reader ever sees a part of
one) and the writer says ``dirty()``; a background thread syncs the state dir's file system at most
every ``interval`` seconds while anything is dirty, and ``close()`` syncs what is left before the
run returns. The promise (docs/reliability.md): a crash of this process loses nothing that finished
(the operating system has every write); a power cut loses at most the last ``interval`` of records,
and a record it left empty reads as absent, never as a part.

How a file system is synced: Linux ``syncfs`` on the state dir (one call for every dirty file);
other POSIX systems ``sync``; Windows has neither, so each dirty file is flushed (``os.fsync`` is
``FlushFileBuffers`` there) by the thread.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from orchastration import interrupts

DEFAULT_INTERVAL = 0.2  # seconds: how old the newest unsynced record can get
BACKLOG = 64  # pieces of work queued at most before ``submit`` waits
HOLD_SECONDS = 0.02  # a hold keeps the thread waiting at most this long (it never starves)
BUDGET_SECONDS = 0.01  # the queue's work the jobs' thread does at most while a command runs
GROUP = 32  # pieces' database rows committed in one transaction at most (``grouped``)
GROUP_SECONDS = 0.2  # how long the first row of a group waits for its commit (as a batch's sync)


class Flusher:
    """Syncs what a run wrote in batches (at most every ``interval`` seconds, and once at ``close()``),
    and does the run's bookkeeping in order, off the jobs' path (``submit``).

    One background thread does both. ``submit(work)`` queues a callable; the queue runs in order, so
    work queued after other work sees its effects (a record is written before the database row that
    vouches for it is committed: docs/reliability.md). While a job's command runs the records, cache
    entries and database rows of the jobs before it are written: by the thread, or (``gated``) mostly
    by the jobs' thread itself.
    """

    def __init__(self, directory: Path, interval: float = DEFAULT_INTERVAL, *, gated: bool = False) -> None:
        self.directory = directory
        self.interval = interval
        # ``gated`` (what a run of the engine uses, at any -j): a jobs' thread does the queue itself,
        # right after starting a command (``command_started``; one such thread at a time, in order) or,
        # one job at a time, once a restored unit is saved (``run_queued``); this thread
        # takes what it leaves (a heavy piece, what is past the budget: ``release``), a piece held over
        # ``HOLD_SECONDS`` and what is left at the end (``drain``, ``close``). Two Python threads share
        # one interpreter lock: handed to this one, the work took turns with the jobs' thread at each
        # system call of either (starting a process, reading its pipes, writing a record), most when a
        # command ended in the middle of a piece.
        self._gated = gated
        self._held = False
        lock = threading.Lock()
        self._cond = threading.Condition(lock)  # the thread waits on it for work (or a batch's time)
        self._done = threading.Condition(lock)  # ``drain`` and a full queue's ``submit`` wait on it
        self._work: deque[tuple[Callable[[], object], bool]] = deque()  # (piece, heavy)
        self._busy = False  # a piece of work is running (on the thread, or on the jobs' thread)
        self._files: list[Path] = []  # Windows only: the files to flush one by one
        self._dirty = False
        self._due = 0.0  # when the oldest unsynced write must be synced (monotonic)
        self._stop = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.syncs = 0  # how many batches were synced (for tests and the log)
        self._group: list[Callable[[], object]] = []  # what waits for the group's commit, in order
        self._group_commit: Callable[[], object] | None = None
        self._group_due = 0.0  # when the group's first row has waited long enough (monotonic)
        self.groups = 0  # how many groups were committed (for tests)

    def grouped(self, commit: Callable[[], object], then: Callable[[], object]) -> None:
        """Called by a piece of work that left a row in a transaction ``commit`` ends: ``then`` runs
        once it did, in order with the ``then`` of the pieces before. One commit ends a group of
        pieces' rows: once ``GROUP`` of them, when the first waited ``GROUP_SECONDS``, and before a
        drain and the end (a commit costs ~40 µs, a row ~7; docs/reliability.md)."""
        with self._cond:
            closed = self._closed
            if not closed:
                self._group_commit = commit
                self._group.append(then)
                if len(self._group) == 1:  # (the thread ends it if nobody else does in time: ``_next``)
                    self._group_due = time.monotonic() + GROUP_SECONDS
                full = len(self._group) >= GROUP
        if closed:
            commit()
            then()
        elif full:
            self._end_group()

    def _end_group(self) -> None:
        """Commit the group, then run what waited for it (the caller is the one running the queue).
        A failed commit drops what waited: nothing says the rows are there."""
        with self._cond:
            waiting, self._group = self._group, []
            commit, self._group_commit = self._group_commit, None
        if commit is None:
            return
        commit()
        self.groups += 1
        for then in waiting:
            then()

    def dirty(self, path: Path) -> None:
        """``path`` was written (and renamed into place) without an fsync: sync it with the next batch."""
        with self._cond:
            if self._closed:
                _sync_paths(self.directory, [path])
                return
            if os.name == "nt":
                self._files.append(path)
            if not self._dirty:  # (else the thread already waits for the batch's time)
                self._dirty, self._due = True, time.monotonic() + self.interval
                self._start()
                self._cond.notify_all()

    def hold(self) -> None:
        """The calling thread is about to work on the jobs' path: pieces of work wait (``gated`` only)."""
        if self._gated:
            self._held = True  # (no lock: the thread reads it under the lock, late by one piece at most)

    def command_started(self) -> None:
        """The jobs' thread is about to wait for the command it started: ``gated``, it runs the queue
        itself first, while the command runs (one thread: no turns at the interpreter lock with this
        one when the command ends mid-piece: a cold build of 1,000 small jobs ~20 % faster). For at
        most ``BUDGET_SECONDS`` and up to a ``heavy`` piece: the command's output waits in its pipes
        meanwhile (and its timeout runs). What is left, and ungated all of it, is the thread's."""
        if not self._gated or not self.run_queued(time.monotonic() + BUDGET_SECONDS):
            self.release()

    def release(self) -> None:
        """The calling thread waits (for a command): queued work may run."""
        if self._held:
            with self._cond:
                self._held = False
                if self._work:
                    self._cond.notify_all()

    def submit(self, work: Callable[[], object], first: bool = False, heavy: bool = False) -> None:
        """Run ``work`` on the thread after everything submitted before it (at once once closed);
        ``first``: before everything still queued (work nothing queued depends on, that the jobs'
        thread will soon want done: the next job's run directory and input hashes); ``heavy``: work
        that may take long (storing large outputs), never run while a command waits to be read
        (``command_started``)."""
        with self._cond:
            while len(self._work) >= BACKLOG and not self._closed:
                self._held = False
                self._cond.notify_all()
                self._done.wait()  # the thread is behind: let it catch up (bounds what a crash can drop)
            if not self._closed:
                idle = not self._work
                if first:
                    self._work.appendleft((work, heavy))
                else:
                    self._work.append((work, heavy))
                self._start()
                # Held, the thread looks again within HOLD_SECONDS anyway (``_next``); else it is at
                # work, or already waits with the queue in view.
                if idle and not self._held:
                    self._cond.notify_all()
                return
        work()

    def run_queued(self, until: float | None = None) -> bool:
        """``gated``: the calling thread (the jobs' thread, with no command to wait for: a unit restored
        from the result store) runs what is queued itself, in order, unless the thread is at work.
        Handed to the thread, the work would take turns with the jobs' thread at the interpreter lock
        at each system call: a fresh clone's 1,000 restores ran ~20 % slower so. The CLI's interrupts,
        which the thread never sees, come after the work here (each piece runs whole: never a database
        row committed and the record it vouches for left unsettled while the pieces after it go on).
        ``until`` (monotonic): stop then, or at a heavy piece. True: nothing is left queued."""
        if not self._gated:
            return not self._work
        with self._cond:
            if self._busy or not self._work:
                return not self._work
            self._busy = True
        try:
            with interrupts.held() as came:
                while True:
                    with self._cond:
                        if not self._work:
                            break
                        if until is not None and (self._work[0][1] or time.monotonic() >= until):
                            break
                        work = self._work.popleft()[0]
                    self._run_one(work)
                now = time.monotonic()
                if self._group and now >= self._group_due and (until is None or now < until):
                    self._run_one(self._end_group)
        finally:
            self._idle()
        if came:
            raise KeyboardInterrupt
        return not self._work

    def drain(self) -> None:
        """Wait until everything submitted so far has run; re-raises what a piece of work raised."""
        with self._cond:
            self._held = False
            self._cond.notify_all()
            while self._work or self._busy:
                self._done.wait()
            grouped = self._busy = bool(self._group)
        if grouped:  # a group still open: ended here (the queue is idle, and ours until ``_idle``)
            try:
                self._run_one(self._end_group)
            finally:
                self._idle()
        with self._cond:
            error, self._error = self._error, None
        if error is not None:
            raise error

    def close(self) -> None:
        """Run what is queued, sync everything still dirty and stop the thread (the run's last write
        is durable on return)."""
        with self._cond:
            self._held = False
            self._stop = True
            thread = self._thread
            self._cond.notify_all()
        if thread is not None:
            thread.join()
        with self._cond:
            # Work submitted after the thread stopped (a unit still running after an interrupt) runs
            # here; anything later runs at once in ``submit``. Nothing is left queued for ``drain``.
            self._closed = True
            late, self._work = [w for w, _ in self._work], deque()
        with interrupts.held() as came:  # (run here, on the jobs' thread: each piece whole)
            for work in late:
                work()
            self._end_group()
        self._flush()
        self.drain()
        if came:
            raise KeyboardInterrupt

    def _start(self) -> None:
        if self._thread is None:  # (the lock is held)
            self._thread = threading.Thread(target=self._loop, name="orchastration-flusher", daemon=True)
            self._thread.start()

    def _next(self) -> Callable[[], object] | None:
        """The next piece of work, or None: time to sync a batch (or stop, when ``_stop`` and idle).
        While held, a piece waits at most ``HOLD_SECONDS`` (the thread never starves)."""
        with self._cond:
            overdue: float | None = None  # when a held piece of work is taken anyway
            while True:
                now = time.monotonic()
                if self._dirty and (now >= self._due or (self._stop and not self._work)):
                    return None
                # A group due: the thread's once the jobs' thread is off the jobs' path (or held over
                # HOLD_SECONDS past due: never starved), as a piece of work.
                due = self._group_due + (HOLD_SECONDS if self._held and not self._stop else 0.0)
                if self._group and not self._busy and (now >= due or (self._stop and not self._work)):
                    self._busy = True
                    return self._end_group
                if self._work and not self._busy:  # (busy: the jobs' thread runs the queue, ``run_queued``)
                    if not self._held or self._stop:
                        overdue = now
                    elif overdue is None:
                        overdue = now + HOLD_SECONDS
                    if now >= overdue:
                        self._busy = True
                        return self._work.popleft()[0]
                else:
                    overdue = None
                    if self._stop and not self._busy:
                        return None
                # Gated, it looks at least every HOLD_SECONDS: work is queued without waking it while held.
                hold = now + HOLD_SECONDS if self._gated else None
                # Never woken for a group (a wake-up is a turn at the interpreter lock): it looks
                # when the group is due, or again a while after, when the queue was busy then.
                group = None
                if self._group:
                    group = max(due, now + HOLD_SECONDS) if self._busy else due
                waits = [t - now for t in (self._due if self._dirty else None, overdue, hold, group) if t is not None]
                self._cond.wait(min(waits) if waits else None)

    def _loop(self) -> None:
        # What a batch's sync needs, loaded as the thread starts (at the run's first piece of work),
        # not in the run's last sync; gated, the thread may do no piece before that sync.
        _syncfs()
        while True:
            work = self._next()
            if work is None:
                self._flush()
                with self._cond:
                    if self._stop and not self._work and not self._dirty:
                        return
                continue
            try:
                self._run_one(work)
            finally:
                self._idle()

    def _run_one(self, work: Callable[[], object]) -> None:
        try:
            work()
        except BaseException as exc:  # kept for drain(): a bug must not vanish with the thread
            with self._cond:
                self._error = self._error or exc

    def _idle(self) -> None:
        with self._cond:
            self._busy = False
            self._done.notify_all()
            if self._work:  # (queued while the jobs' thread ran the queue: the thread's now)
                self._cond.notify_all()

    def _flush(self) -> None:
        with self._cond:
            if not self._dirty:
                return
            files, self._files, self._dirty = self._files, [], False
        _sync_paths(self.directory, files)
        self.syncs += 1


def _sync_paths(directory: Path, files: list[Path]) -> None:
    """Make every write under ``directory``'s file system durable (``files``: what to flush where
    the file system cannot be synced as a whole). Best effort: a failing sync is not a failed job."""
    syncfs = _syncfs()
    if syncfs is not None:
        with contextlib.suppress(OSError):
            fd = os.open(directory, os.O_RDONLY)
            try:
                syncfs(fd)
            finally:
                os.close(fd)
        return
    if os.name == "posix":
        os.sync()
        return
    for path in files:  # Windows
        with contextlib.suppress(OSError), open(path, "rb+") as fh:
            os.fsync(fh.fileno())


_SYNCFS: list[Callable[[int], int] | None] = []


def _syncfs() -> Callable[[int], int] | None:
    """Linux ``syncfs(2)`` through ctypes (loaded once), or None where there is none."""
    if not _SYNCFS:
        found: Callable[[int], int] | None = None
        if sys.platform.startswith("linux"):
            with contextlib.suppress(OSError, AttributeError):
                import ctypes

                found = ctypes.CDLL(None, use_errno=True).syncfs
        _SYNCFS.append(found)
    return _SYNCFS[0]
