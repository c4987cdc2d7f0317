"""A look-ahead process for the first pass (``engine/first_pass.py``): on Linux, when the result store
holds the pass's first unit (a fresh clone, a new branch's build dir restored from the cache), a fork
of the CLI hashes the inputs of the units after it and looks each one up in the store
(``ResultStore.look_ahead``: the local cache, never a shared one), ahead of the pass and on another
core; the pass takes each unit's input states and lookup from it instead of reading them itself (a
quarter of a restored unit's work).

The process reads (input files, the local store's entries and blobs) and makes each unit's empty runs
directory, as the bookkeeping thread makes the next job's ahead of its command (``Session.ahead_of``: an
empty one says ``never run``). It writes nothing else, so whatever becomes of it (killed, crashed, cut
short by the end of the pass) leaves nothing to repair; the pass
does every unit the look-ahead did not (or could not: a missing, special or just-modified input) the
way it always does. It dies with the CLI (``PR_SET_PDEATHSIG``), is waited for at the end of the
pass, and holds the state lock's file only as long as it lives (an ``flock`` is shared with a fork).

States read ahead are what the unit's record and saved state then say, as the pass's own read just
before would be: a file edited after it differs from them, and the next run looks again. A file
modified within ``RACY_SECONDS`` is left to the pass (as ``HashCache.prefetch`` leaves it): an edit
in the same timestamp tick after an early read would look unchanged to the next run.
"""

from __future__ import annotations

import os
import pickle
import stat
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

from orchastration.engine.fastpath import RACY_SECONDS
from orchastration.engine.uptodate import hashes_of
from orchastration.state import PRIVATE_DIR

if TYPE_CHECKING:
    from orchastration.engine.result_store import ResultStore
    from orchastration.engine.units import Unit
    from orchastration.engine.uptodate import HashCache

MIN_UNITS = 64  # fewer units after the first: the fork and the pipe cost more than they save
States = dict[str, list[Any]]


class Lookahead:
    """The parent's end: each unit's (states, lookup), in the order the process was given them."""

    def __init__(self, pid: int, reader: IO[bytes], names: Sequence[str]) -> None:
        self.pid, self._reader = pid, reader
        self.names = frozenset(names)
        self.taken = 0  # units whose states and lookup the pass took from it
        self.made: set[str] = set()  # units whose runs directory it made
        self._closed = False

    @classmethod
    def start(
        cls, names: Sequence[str], table: Mapping[str, Unit], inputs: Mapping[str, Sequence[str]],
        cache: HashCache, store: ResultStore,
    ) -> Lookahead | None:  # fmt: skip
        """Fork the look-ahead for ``names`` (units with no dependency, in the pass's order), or
        None where it cannot help or be done safely: not Linux, too few units, or another thread
        running (a fork copies only this one: a lock another thread holds would stay locked)."""
        if len(names) < MIN_UNITS or not sys.platform.startswith("linux") or threading.active_count() != 1:
            return None
        parent = os.getpid()
        try:
            read_fd, write_fd = os.pipe()
        except OSError:  # out of file descriptors: the pass reads alone
            return None
        try:
            pid = os.fork()
        except OSError:  # out of processes or memory: the pass reads alone
            os.close(read_fd)
            os.close(write_fd)
            return None
        if pid == 0:  # the look-ahead: never returns, never runs the CLI's exit handlers
            code = 1
            try:
                os.close(read_fd)
                _die_with(parent)
                with os.fdopen(write_fd, "wb") as out:
                    _look_ahead(out, names, table, inputs, cache, store)
                code = 0
            except BaseException:  # the pass does what was not sent, its own way
                pass
            finally:
                os._exit(code)
        os.close(write_fd)
        return cls(pid, os.fdopen(read_fd, "rb"), names)

    def take(self, name: str) -> tuple[States, object] | None:
        """The next unit's input states and store lookup, if it is ``name`` and the look-ahead could
        read them (None: the pass reads them itself). Waits for the process to get there."""
        if self._closed:
            return None
        try:
            sent = pickle.load(self._reader)  # our own fork's, through a pipe only it holds
        except Exception:  # it ended (killed, crashed): the pass goes on alone
            self.close()
            return None
        if not isinstance(sent, tuple) or len(sent) != 4 or sent[0] != name:
            self.close()  # out of step: never use it for another unit
            return None
        if sent[3]:
            self.made.add(name)
        if sent[1] is None:
            return None
        self.taken += 1
        return sent[1], sent[2]

    def close(self) -> None:
        """Stop the process (if still at work) and wait for it."""
        if self._closed:
            return
        self._closed = True
        self._reader.close()
        import contextlib
        import signal

        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)  # it reads, or makes an empty dir: stopping it anywhere is safe
        with contextlib.suppress(ChildProcessError):  # (reaped already: SIGCHLD ignored by an embedder)
            os.waitpid(self.pid, 0)


def _look_ahead(
    out: IO[bytes], names: Sequence[str], table: Mapping[str, Unit], inputs: Mapping[str, Sequence[str]],
    cache: HashCache, store: ResultStore,
) -> None:  # fmt: skip
    """In the process: each unit's states and lookup (``None, None`` for one left to the pass), and
    whether it made the unit's runs directory."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C reaches the whole group: end at once
    for name in names:
        unit = table[name]
        states = _read_states(inputs[name], cache, time.time())
        found = None
        if states is not None:  # (the local store only: a shared store's round trips would fill it)
            store.look_ahead(unit, hashes_of(states))
            found = store.found(unit)
        made = True
        try:  # its runs directory, as the bookkeeping thread makes the next job's ahead of a command
            os.mkdir(unit.record_dir, PRIVATE_DIR)
        except OSError:  # there already (then never the pass's to make), or ``runs`` not yet
            made = False
        pickle.dump((name, states, found, made), out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()


def _read_states(paths: Sequence[str], cache: HashCache, now: float) -> States | None:
    """Each file's ``[mtime_ns, size, hash]``; None when one is missing, unreadable, not a regular
    file or modified within ``RACY_SECONDS`` (the pass reads them itself)."""
    states: States = {}
    for path in paths:
        try:
            st = os.stat(path)
            if not stat.S_ISREG(st.st_mode) or now - st.st_mtime < RACY_SECONDS:
                return None
            states[path] = cache.state(path, st)
        except Exception:  # missing, unreadable: the pass says so its own way
            return None
    return states


def _die_with(parent: int) -> None:
    """Be killed when the CLI dies, even by ``kill -9`` (Linux ``prctl(PR_SET_PDEATHSIG)``)."""
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:  # it died before the prctl took effect
        os._exit(0)
