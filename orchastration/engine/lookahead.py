"""A look-ahead process for the first pass (``engine/first_pass.py``): on Linux, when the result store
holds the pass's first unit (a fresh clone, a new branch's build dir restored from the cache), a fork
of the CLI hashes the inputs of the units after it and looks each one up in the store
(``ResultStore.look_ahead``: the local cache, never a shared one), ahead of the pass and on another
core; the pass takes each unit's input states and lookup from it instead of reading them itself (a
quarter of a restored unit's work). The pass never waits for it: a unit whose message has not come when
the pass gets there is read by the pass, as ever, and the look-ahead skips the units the pass has
reached (a counter in shared memory), so a slow spell of either one costs the other nothing.

The process reads (input files, the local store's entries and blobs) and makes each unit's empty runs
directory, as the bookkeeping thread makes the next job's ahead of its command (``Session.ahead_of``: an
empty one says ``never run``). It writes nothing else but, into the staging directory of the state dir
(``STAGING``), the outputs of the units it found, for their restore to rename into place
(``cache/staging.py``): files nothing else reads, removed with the directory when the pass ends (after a
kill, when the next look-ahead starts). So whatever becomes of it (killed, crashed, cut short by the end
of the pass) leaves nothing to repair; the pass does every unit the look-ahead did not (or could not: a
missing, special or just-modified input) the way it always does. It dies with the CLI
(``PR_SET_PDEATHSIG``), is waited for at the end of the pass, and holds the state lock's file only as
long as it lives (an ``flock`` is shared with a fork).

States read ahead are what the unit's record and saved state then say, as the pass's own read just
before would be: a file edited after it differs from them, and the next run looks again. A file
modified within ``RACY_SECONDS`` is left to the pass (``HashCache.settled_state``, as ``prefetch``
leaves it): an edit in the same timestamp tick after an early read would look unchanged to the next run.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import pickle
import signal
import struct
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from orchastration.engine.uptodate import hashes_of
from orchastration.fdio import write_all
from orchastration.interrupts import STOP_SIGNALS
from orchastration.state import PRIVATE_DIR

if TYPE_CHECKING:
    from pathlib import Path

    from orchastration.engine.result_store import ResultStore
    from orchastration.engine.units import Unit
    from orchastration.engine.uptodate import HashCache

MIN_UNITS = 64  # fewer units after the first: the fork and the pipe cost more than they save
STAGING = ".staged"  # in the engine dir: restored outputs written ahead (dot-named: no reader parses it)
States = dict[str, list[Any]]


class Lookahead:
    """The parent's end: each unit's (states, lookup) if the look-ahead has sent it by the time the pass
    gets there. The pass never waits for it: a unit it has not reached yet the pass does itself, and
    tells it so (a shared counter of the units the pass has reached: it skips those)."""

    def __init__(
        self, pid: int, fd: int, progress: mmap.mmap, names: Sequence[str], staging: Path | None = None
    ) -> None:
        self.pid, self._fd, self._progress, self._staging = pid, fd, progress, staging
        self._index = {name: i for i, name in enumerate(names)}  # the units it reads, in its order
        self.taken = 0  # units whose states and lookup the pass took from it
        self.made: set[str] = set()  # units whose runs directory it made
        self._buffer = bytearray()  # what came through the pipe; messages from ``_at`` on are unread
        self._at = 0
        self._closed = False

    @classmethod
    def start(
        cls, names: Sequence[str], table: Mapping[str, Unit], inputs: Mapping[str, Sequence[str]],
        cache: HashCache, store: ResultStore, staging: Path | None = None,
    ) -> Lookahead | None:  # fmt: skip
        """Fork the look-ahead for ``names`` (units with no dependency, in the pass's order), or
        None where it cannot help or be done safely: not Linux, too few units, or another thread
        running (a fork copies only this one: a lock another thread holds would stay locked).
        ``staging``: where it writes the outputs of the units it finds (``STAGING``; none: it does not)."""
        if len(names) < MIN_UNITS or not sys.platform.startswith("linux") or threading.active_count() != 1:
            return None
        parent = os.getpid()
        try:
            progress = mmap.mmap(-1, _COUNTER.size)  # anonymous and shared: the fork sees the pass's writes
            read_fd, write_fd = os.pipe()
        except OSError:  # out of file descriptors or memory: the pass reads alone
            return None
        staging = staging if staging is not None and _emptied(staging) else None
        stage_in = None if staging is None else str(staging)
        # The stop signals wait while it forks: one that came between the fork and the child's own
        # handling would run the CLI's handler in the child, in the middle of the interpreter's
        # after-fork work ("Exception ignored ... KeyboardInterrupt" on stderr, seen once in CI).
        held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            pid = os.fork()
        except OSError:  # out of processes or memory: the pass reads alone
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            os.close(read_fd)
            os.close(write_fd)
            discard(staging)
            return None
        if pid == 0:  # the look-ahead: never returns, never runs the CLI's exit handlers
            code = 1
            try:
                for signum in STOP_SIGNALS:  # Ctrl-C (the whole group gets it), a kill: end at once
                    signal.signal(signum, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_SETMASK, held)
                os.close(read_fd)
                _die_with(parent)
                _look_ahead(write_fd, progress, names, table, inputs, cache, store, stage_in)
                code = 0
            except BaseException:  # the pass does what was not sent, its own way
                pass
            finally:
                os._exit(code)
        os.close(write_fd)
        os.set_blocking(read_fd, False)
        ahead = cls(pid, read_fd, progress, names, staging)
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)  # one that came meanwhile is the CLI's now
        except BaseException:  # (its interrupt, raised here: the look-ahead is stopped with it)
            ahead.close()
            raise
        return ahead

    def take(self, name: str) -> tuple[States, object] | None:
        """``name``'s input states and store lookup if the look-ahead has sent them (None: the pass
        reads them itself: not one of its units, the look-ahead is behind, could not read them, or
        has ended)."""
        at = self._index.get(name)
        if at is None or self._closed:
            return None
        _COUNTER.pack_into(self._progress, 0, at + 1)  # the look-ahead skips what the pass has reached
        while True:
            sent = self._next()
            if sent is None:
                return None  # not there yet: the pass does it (what comes later for it is dropped)
            index = self._index.get(sent[0], -1) if isinstance(sent, tuple) and len(sent) == 4 else -1
            if index < 0 or index > at:
                self.close()  # out of step: never use it for another unit
                return None
            if index < at:
                continue  # one the pass did itself meanwhile
            if sent[3]:
                self.made.add(name)
            if sent[1] is None:
                return None
            self.taken += 1
            return sent[1], sent[2]

    def _next(self) -> Any:
        """The next message the look-ahead sent, if whole already (None: none yet, or it ended)."""
        while True:
            buffer, at = self._buffer, self._at
            if len(buffer) - at >= _LENGTH.size:
                (size,) = _LENGTH.unpack_from(buffer, at)
                end = at + _LENGTH.size + size
                if len(buffer) >= end:
                    self._at = end  # (read on from there: no copy of what is left a message)
                    try:
                        return pickle.loads(bytes(buffer[at + _LENGTH.size : end]))  # our own fork's
                    except Exception:
                        self.close()
                        return None
            if at:
                del buffer[:at]  # what was read goes once all of it is, before the next read
                self._at = 0
            try:
                chunk = os.read(self._fd, 1 << 16)
            except BlockingIOError:
                return None
            except OSError:
                self.close()
                return None
            if not chunk:  # it ended (done, killed, crashed): the pass goes on alone
                self.close()
                return None
            self._buffer += chunk

    def close(self) -> None:
        """Stop the process (if still at work), wait for it and remove what it staged and the pass
        did not take (a restore after this writes its outputs itself)."""
        if self._closed:
            return
        self._closed = True
        os.close(self._fd)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)  # it reads, makes an empty dir or stages: stopping it anywhere is safe
        with contextlib.suppress(ChildProcessError):  # (reaped already: SIGCHLD ignored by an embedder)
            os.waitpid(self.pid, 0)
        self._progress.close()
        discard(self._staging)


_COUNTER = struct.Struct("q")  # the units of ``names`` the pass has reached
_LENGTH = struct.Struct("I")  # each message: its length, then its pickle


def _look_ahead(
    fd: int, progress: mmap.mmap, names: Sequence[str], table: Mapping[str, Unit],
    inputs: Mapping[str, Sequence[str]], cache: HashCache, store: ResultStore, stage_in: str | None,
) -> None:  # fmt: skip
    """In the process: for each unit the pass has not reached, its states and lookup (``None, None``
    for one left to the pass; with its outputs staged in ``stage_in``) and whether it made the
    unit's runs directory."""
    import logging

    # Silent: what it found is sent, and a lookup that found nothing usable (a corrupt entry, say) is
    # left to the pass, which says why, once (the two may both look at a unit the pass reaches first).
    logging.disable(logging.CRITICAL)
    for i, name in enumerate(names):
        if _COUNTER.unpack_from(progress)[0] > i:
            continue  # the pass got there first
        unit = table[name]
        states = _read_states(inputs[name], cache, time.time())
        found = None  # (the local store only: a shared store's round trips would fill it)
        if states is not None and store.look_ahead(unit, hashes_of(states)):
            found = store.found(unit, stage_in)
        made = True
        try:  # its runs directory, as the bookkeeping thread makes the next job's ahead of a command
            os.mkdir(unit.record_dir, PRIVATE_DIR)
        except OSError:  # there already (then never the pass's to make), or ``runs`` not yet
            made = False
        payload = pickle.dumps((name, states, found, made), protocol=pickle.HIGHEST_PROTOCOL)
        write_all(fd, _LENGTH.pack(len(payload)) + payload)


def _emptied(staging: Path) -> bool:
    """An empty staging directory (what a killed run left removed); False where none can be made."""
    discard(staging)
    try:
        os.mkdir(staging, 0o700)
    except OSError:
        return False
    return True


def discard(staging: Path | None) -> None:
    """Remove the staging directory and what is left in it (a run without a look-ahead removes what
    a killed one left). Its files are flat (``Stager``): removed one by one, without ``shutil`` (~2 ms
    a run with the compression modules it loads), which only an unexpected subdirectory needs."""
    if staging is None:
        return
    try:
        with os.scandir(staging) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
        os.rmdir(staging)
    except FileNotFoundError:
        return
    except OSError:  # a subdirectory (not ours), or not a directory at all
        import shutil

        shutil.rmtree(staging, ignore_errors=True)


def _read_states(paths: Sequence[str], cache: HashCache, now: float) -> States | None:
    """Each file's ``[mtime_ns, size, hash]``; None when one is missing, unreadable, not a regular
    file or modified within ``RACY_SECONDS`` (the pass reads them itself)."""
    states: States = {}
    for path in paths:
        found = cache.settled_state(path, now)
        if found is None:  # the pass reads them all, and says so its own way
            return None
        states[path] = found
    return states


def _die_with(parent: int) -> None:
    """Be killed when the CLI dies, even by ``kill -9`` (Linux ``prctl(PR_SET_PDEATHSIG)``)."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:  # it died before the prctl took effect
        os._exit(0)
