"""``watch``: run jobs, then rerun them whenever one of their inputs (or the config file) changes.

As docs/jobs.md says: the directories holding the inputs of the selected jobs (and of the jobs they
depend on) are watched with watchfiles; a change is a path one of those inputs names (a literal
file, a file under a literal directory, a file a glob matches, new ones included) that is no job's
output and not under the state or log directory. Changes are debounced; those made while jobs run
are kept and start exactly one more run after it. The jobs run in the calling (main) thread, so an
interrupt stops them as it stops ``run``; the watchers run in threads and only queue what changed.

Nothing here prints: what happens is reported to a callback as ``WatchEvent`` values.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from orchastration.dataclass_code import dataclass
from orchastration.errors import OrchastrationError
from orchastration.patterns import input_patterns, is_glob, own_outputs

if TYPE_CHECKING:
    from orchastration.config import Config
    from orchastration.engine.units import UnitResult
    from orchastration.paths import Paths

# Changes are grouped until none came for STEP_MS, and for at most DEBOUNCE_MS (watchfiles' own
# defaults are 50 and 1,600): an editor's save (write, rename, chmod) is one change, and a reaction
# stays well under a second.
DEBOUNCE_MS = 1_600
STEP_MS = 100
POLL_DELAY_MS = 500  # --poll: how often the trees are scanned (a scan stats every file: ~7 % of a CPU for 10,000)
_WAKE_SECONDS = 0.25  # how often a waiting main thread looks at the stop event


class Waiting(NamedTuple):
    """Every run is over: watching for the next change."""


class Rerun(NamedTuple):
    """These paths (absolute, sorted) changed: a run starts."""

    paths: tuple[str, ...]


class Rejected(NamedTuple):
    """A reloaded config (or a run) failed with this one-line error; the previous config stays."""

    message: str


WatchEvent = Waiting | Rerun | Rejected
RunJobs = Callable[["Config", bool], Sequence["UnitResult"]]  # (config, first run) -> results


@dataclass(frozen=True)
class WatchSet:
    """What to watch for one config and job selection: the directories (watched with or without
    their subdirectories) and which changed paths count."""

    recursive: tuple[str, ...]
    flat: tuple[str, ...]
    config_file: str | None
    is_input: Callable[[str], bool]
    is_output: Callable[[str], bool]
    excluded: tuple[str, ...]  # directories (with a trailing separator) whose changes never count

    def counts(self, path: str) -> bool:
        """Whether a change of ``path`` (absolute, normalised) starts a run."""
        if path.startswith(self.excluded):
            return False
        return path == self.config_file or (self.is_input(path) and not self.is_output(path))

    @property
    def roots(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return self.recursive, self.flat


def watch_set(config: Config, names: Sequence[str], paths: Paths) -> WatchSet:
    """The watch set of a run of ``names`` (every job when empty): the inputs of those jobs and of
    every job such a run would run first. Unknown names raise the usage error ``run`` raises."""
    from orchastration.engine.units import closure, index, literal_producers
    from orchastration.jobs import job_units, select

    table = index(job_units(config, paths))
    order = closure(table, select(config, names), literal_producers(table))
    units = [table[name] for name in order]
    in_literals = [p for u in units for p in u.abs_inputs[0]]
    in_globs = [p for u in units for p in u.abs_inputs[1]]
    # own_outputs decides "is this file named by these patterns" on the path alone: for the inputs
    # as well as for the outputs. A literal directory is `dir/**/*`, as a run expands it (hidden
    # files left out: an editor's swap file is no change).
    is_input = own_outputs(*reversed(input_patterns(in_literals, in_globs)))
    is_output = own_outputs([p for u in units for p in u.abs_outputs], [p for u in units for p in u.output_globs])
    # An input another job makes (build/app) never counts: its directory need not be watched for it.
    recursive, flat = _roots([p for p in in_literals if not is_output(p)], in_globs)
    config_file = os.path.normpath(os.path.abspath(config.path)) if config.path is not None else None
    if config_file is not None:
        flat.append(os.path.dirname(config_file))
    excluded = tuple(os.path.normpath(d) + os.sep for d in (paths.state_dir, paths.log_file.parent))
    deep, shallow = _existing(recursive, flat)
    return WatchSet(deep, shallow, config_file, is_input, is_output, excluded)


def _roots(literals: Iterable[str], globs: Iterable[str]) -> tuple[list[str], list[str]]:
    """The directories the inputs live in: (watched with their subdirectories, watched alone).
    A literal directory and a glob with ``**`` or magic above its last part need the whole tree; a
    literal file and ``dir/*.c`` only their directory."""
    recursive: list[str] = []
    flat: list[str] = []
    for path in literals:
        if os.path.isdir(path):
            recursive.append(path)
        else:
            flat.append(os.path.dirname(path))
    for pattern in globs:
        parts = pattern.split(os.sep)
        first = next(i for i, part in enumerate(parts) if is_glob(part))
        base = os.sep.join(parts[:first]) or os.sep
        (recursive if "**" in parts or first < len(parts) - 1 else flat).append(base)
    return recursive, flat


def _existing(recursive: Iterable[str], flat: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The roots that exist, none inside a recursive one: a missing directory is replaced by its
    nearest existing ancestor, watched with its subdirectories (the missing one may appear there)."""
    deep: set[str] = set()
    shallow: set[str] = set()
    for path in recursive:
        deep.add(_nearest(path))
    for path in flat:
        near = _nearest(path)
        (shallow if near == path else deep).add(near)
    deep_roots = _outermost(deep)
    covered = tuple(d if d.endswith(os.sep) else d + os.sep for d in deep_roots)
    shallow_roots = sorted(p for p in shallow if p not in deep_roots and not (p + os.sep).startswith(covered))
    return tuple(deep_roots), tuple(shallow_roots)


def _nearest(path: str) -> str:
    """``path``, or its nearest ancestor that is a directory."""
    while not os.path.isdir(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def _outermost(dirs: Iterable[str]) -> list[str]:
    """The directories not inside another one of them."""
    kept: list[str] = []
    for path in sorted(dirs):
        if not any(path == k or path.startswith(k if k.endswith(os.sep) else k + os.sep) for k in kept):
            kept.append(path)
    return kept


class _Notifier:
    """One watchfiles notifier over some directories and the thread that queues its batches of
    changed paths (or the error that stopped it)."""

    def __init__(self, roots: Sequence[str], recursive: bool, poll: bool, out: queue.Queue[Any]) -> None:
        # The Rust notifier itself rather than watchfiles.watch(): it is ready (every directory
        # watched) when it is constructed, so "waiting for changes" is true when it is said, and it
        # reads no environment variables (watch() reads WATCHFILES_*).
        from watchfiles._rust_notify import RustNotify

        try:
            self._notify = RustNotify(list(roots), False, poll, POLL_DELAY_MS, recursive, True)
        except (OSError, RuntimeError) as exc:
            raise WatchError(f"watch: cannot watch {', '.join(roots)}: {_said(exc)}") from None
        self._stop = threading.Event()
        self._out = out
        self._thread = threading.Thread(target=self._pump, name="orchastration-watch", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        try:
            while not self._stop.is_set():
                raw = self._notify.watch(DEBOUNCE_MS, STEP_MS, 5_000, self._stop)
                if isinstance(raw, set):
                    self._out.put([path for _, path in raw])
        except Exception as exc:  # a watch that broke (a watch limit reached...): the main thread says so
            self._out.put(WatchError(f"watch: stopped watching: {_said(exc)}"))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._notify.close()


def _said(exc: BaseException) -> str:
    """The notifier's error, with what to do about the OS's limits on watches (inotify on Linux:
    ``OS file watch limit reached.``, or too many inotify instances)."""
    text = str(exc) or type(exc).__name__
    if "limit" in text or "too many" in text.lower():
        return f"{text} (raise fs.inotify.max_user_watches / max_user_instances, or use --poll)"
    return text


class WatchError(OrchastrationError):
    """The file system cannot be watched (a directory vanished, the OS watch limit)."""


class _Watchers:
    """The notifiers of one watch set (recursive roots, flat roots), one queue of changed paths."""

    def __init__(self, wset: WatchSet, poll: bool) -> None:
        self.roots = wset.roots
        self.queue: queue.Queue[Any] = queue.Queue()
        self._aliases = _aliases([*wset.recursive, *wset.flat])
        self._notifiers: list[_Notifier] = []
        try:
            for roots, recursive in ((wset.recursive, True), (wset.flat, False)):
                if roots:
                    self._notifiers.append(_Notifier(roots, recursive, poll, self.queue))
        except BaseException:
            self.close()
            raise

    def next_changes(self, wset: WatchSet, stop: threading.Event | None) -> list[str] | None:
        """Block until some path ``wset`` counts changed: those paths (everything queued so far
        drained into one set), or None once ``stop`` is set."""
        found: set[str] = set()
        while not found:
            try:
                item = self.queue.get(timeout=_WAKE_SECONDS)
            except queue.Empty:
                if stop is not None and stop.is_set():
                    return None
                continue
            found.update(self._counted(item, wset))
            while True:  # what else is queued (a run's worth of changes) joins this one run
                try:
                    found.update(self._counted(self.queue.get_nowait(), wset))
                except queue.Empty:
                    break
        return sorted(found)

    def _counted(self, item: Any, wset: WatchSet) -> list[str]:
        if isinstance(item, WatchError):
            raise item
        return [p for p in (self._unalias(os.path.normpath(path)) for path in item) if wset.counts(p)]

    def _unalias(self, path: str) -> str:
        """A reported path as the config names it: some platforms (macOS) report the resolved path
        of a root reached through a symlink (``/private/var/...`` for ``/var/...``)."""
        for real, root in self._aliases:
            if path == real or path.startswith(real + os.sep):
                return root + path[len(real) :]
        return path

    def close(self) -> None:
        for notifier in self._notifiers:
            notifier.close()
        self._notifiers.clear()


def _aliases(roots: Iterable[str]) -> list[tuple[str, str]]:
    """(resolved path, path as configured) for each root that a symlink leads to."""
    pairs = [(os.path.realpath(root), root) for root in roots]
    return [(real, root) for real, root in pairs if real != root]


def watch(
    config: Config,
    names: Sequence[str],
    *,
    paths: Paths,
    run: RunJobs,
    reload: Callable[[], Config],
    report: Callable[[WatchEvent], None],
    poll: bool = False,
    stop: threading.Event | None = None,
) -> None:
    """Run ``names`` (every job when empty) with ``run``, then again after each change until ``stop``
    is set (then return) or an interrupt (``KeyboardInterrupt`` raised, the run's jobs already
    stopped, the watchers closed). A change of the config file reloads it with ``reload``; a config
    that fails is ``Rejected`` and the previous one kept. ``poll``: scan instead of OS events."""
    wset = watch_set(config, names, paths)
    watchers = _Watchers(wset, poll)
    try:
        _run(run, config, True, report)
        while True:
            report(Waiting())
            changed = watchers.next_changes(wset, stop)
            if changed is None:
                return
            if wset.config_file in changed:
                loaded = _reloaded(reload, names, paths, report)
                if loaded is not None:
                    config, new_set = loaded
                    if new_set.roots != watchers.roots:
                        watchers.close()
                        watchers = _Watchers(new_set, poll)
                    wset = new_set
                elif len(changed) == 1:
                    continue  # only the config changed, and it was rejected: nothing to rerun
            report(Rerun(tuple(changed)))
            _run(run, config, False, report)
    finally:
        watchers.close()


def _run(run: RunJobs, config: Config, first: bool, report: Callable[[WatchEvent], None]) -> None:
    """One run; an interrupted job ends the watch as Ctrl-C ends ``run``; a user error (an input
    that is a FIFO, a file cycle) is reported and the watch goes on."""
    from orchastration.outcomes import UnitStatus

    try:
        results = run(config, first)
    except OrchastrationError as exc:
        report(Rejected(str(exc)))
        return
    if any(r.status == UnitStatus.INTERRUPTED for r in results):
        raise KeyboardInterrupt


def _reloaded(
    reload: Callable[[], Config], names: Sequence[str], paths: Paths, report: Callable[[WatchEvent], None]
) -> tuple[Config, WatchSet] | None:
    """The config read again and its watch set, or None (reported) when it fails to load or no
    longer has the jobs being watched."""
    try:
        config = reload()
        return config, watch_set(config, names, paths)
    except OrchastrationError as exc:
        report(Rejected(str(exc)))
        return None
