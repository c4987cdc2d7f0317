"""The dask executor: each job's command runs as a task on a dask worker (docs/distributed.md).

doit still decides what runs and in which order; ``DaskExecutor.run`` is called for each job that
must run (in doit's thread for it), submits ``remote.run_job`` with the job's resources
(``pure=False``: every run is a new task) and waits. The worker ships the command's output, then its
result, as dask events on the topic named after this client; ``_on_output`` (in the client's event
loop) feeds the output into the same ``pipes.Sink`` a local job's pipes are read into, so the
console (prefixed under ``-j``) and the log files get them as for a local job, and the result event
ends the wait (the result is never fetched from the worker: one round trip less per job). Why events
rather than log files the worker writes: the state dir need not be on the shared file system, output
is live whatever the file system's caching, and the scheduler keeps only a client's last events. A
task that ends without its result event (an error on the worker, a cancel on the cluster) is seen
by polling its future; a lost worker by the scheduler's ``remove-worker`` event. The CLI writes the
record, with ``executor`` and ``worker``.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from orchastration.executors import remote
from orchastration.executors.choice import ClusterError, ExecutorChoice
from orchastration.pipes import LogFiles, Sink
from orchastration.process import EXIT_CANNOT_EXECUTE, EXIT_INTERRUPTED, ProcessResult

if TYPE_CHECKING:
    from orchastration.config import Placement
    from orchastration.engine.runner import Launch
    from orchastration.engine.units import Unit

CONNECT_SECONDS = 5.0  # an unreachable scheduler, or one without workers, is an error after this
POLL_SECONDS = 0.2  # how often a waiting job looks at its cancel event (Ctrl-C) and its future
CANCEL_WAIT_SECONDS = 15.0  # after a cancel: how long the remote tree kill may take to report back
OUTPUT_WAIT_SECONDS = 5.0  # after a job ends: how long its last output events may take to arrive
EXIT_LOST = -1  # no exit code: the worker running the command left the cluster


@contextlib.contextmanager
def connect(
    choice: ExecutorChoice, units: Sequence[Unit], placement: Mapping[str, Placement]
) -> Iterator[DaskExecutor]:
    """A client of the scheduler at ``choice.address``, checked against ``units``; closed after."""
    client = _client(choice.address)
    executor = None
    try:
        executor = DaskExecutor(client, choice, placement)
        executor.check(units)
        yield executor
    finally:
        if executor is not None:
            executor.close()
        with contextlib.suppress(Exception):
            client.close(timeout=2)


def _client(address: str) -> Any:
    """Connect within ``CONNECT_SECONDS`` and wait that long for a worker; else exit 2 naming the address."""
    import logging

    # distributed logs to stderr on its own (reconnects, closing comms): the CLI says what matters.
    for name in ("distributed", "tornado", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    from distributed import Client

    try:
        client = Client(address, timeout=CONNECT_SECONDS, set_as_default=False)  # type: ignore[no-untyped-call]
    except Exception as exc:  # OSError, TimeoutError, ValueError (a malformed address), ...
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ClusterError(f"cannot reach the dask scheduler at {address}: {reason}") from None
    try:
        client.wait_for_workers(1, timeout=CONNECT_SECONDS)
    except Exception:
        with contextlib.suppress(Exception):
            client.close(timeout=2)  # type: ignore[no-untyped-call]
        raise ClusterError(f"the dask scheduler at {address} has no workers") from None
    return client


class DaskExecutor:
    """Runs each job's command on a worker of one dask cluster (an ``Executor``)."""

    def __init__(self, client: Any, choice: ExecutorChoice, placement: Mapping[str, Placement]) -> None:
        self.client, self.choice, self.placement = client, choice, placement
        self.threads = max(1, sum(client.nthreads().values()))
        self.live: dict[str, _Live] = {}
        self.topic = str(client.id)
        client.subscribe_topic(self.topic, self._on_output)
        client.subscribe_topic("all", self._on_cluster)

    def check(self, units: Sequence[Unit]) -> None:
        """Before anything runs: every worker runs our tasks and sees each working dir; some worker
        offers the resources each job asks for."""
        remote_units = [u for u in units if not self._placement(u).local]
        # A dir this machine does not see either is left to the job (an earlier job may make it; if
        # not, the job fails as it would locally): the check is about the file system being shared.
        dirs = sorted({str(u.working_dir) for u in remote_units if u.working_dir.is_dir()})
        answers = self.client.run(remote.missing_dirs, dirs, on_error="return")
        for worker, answer in sorted(answers.items()):
            if isinstance(answer, BaseException):
                raise ClusterError(
                    f"worker {worker} cannot run orchastration's tasks ({type(answer).__name__}: {answer}):"
                    " install orchastration on the workers (docs/distributed.md)"
                )
            if answer:
                raise ClusterError(
                    f"working dir {answer[0]} is not visible on worker {worker}: the workers need the same"
                    " file system at the same paths (docs/distributed.md)"
                )
        offered = [dict(w.get("resources") or {}) for w in _workers(self.client).values()]
        for unit in remote_units:
            wanted = self._placement(unit).resources
            if wanted and not any(all(o.get(k, 0) >= v for k, v in wanted.items()) for o in offered):
                shown = ", ".join(f"{k}={v:g}" for k, v in sorted(wanted.items()))
                raise ClusterError(f"job {unit.name}: no worker of {self.choice.address} offers resources {shown}")

    def close(self) -> None:
        """Stop listening for events."""
        for topic in (self.topic, "all"):
            with contextlib.suppress(Exception):
                self.client.unsubscribe_topic(topic)

    def _placement(self, unit: Unit) -> Placement:
        from orchastration.config import Placement

        return self.placement.get(unit.name) or Placement()

    # -- one job ---------------------------------------------------------------------------------
    def run(self, unit: Unit, launch: Launch) -> ProcessResult:
        """Run the job's command on a worker (``local = true``: here) and wait for it."""
        placement = self._placement(unit)
        if placement.local:
            from orchastration.engine.runner import LOCAL

            return LOCAL.run(unit, launch)
        start = time.monotonic()
        live = _Live(launch)
        if live.error:
            live.close()
            return _ended(start, EXIT_CANNOT_EXECUTE, "failed", live.error)
        key = f"orchastration-{unit.name}-{uuid.uuid4().hex}"
        self.live[key] = live
        try:
            future = self.client.submit(
                remote.run_job, _spec(unit, key, self.topic), key=key, pure=False,
                resources=dict(placement.resources) or None,
            )  # fmt: skip
            try:
                if launch.on_running is not None:
                    launch.on_running()  # submitted: the caller now waits (its bookkeeping meanwhile)
            except KeyboardInterrupt:  # (held over that bookkeeping, raised after it) as in ``_wait``
                result = self._cancel(key, future, live, start)
            else:
                result = self._wait(unit, key, future, live, launch, start)
        finally:
            self.live.pop(key, None)
            failure = live.close()
        if failure and result.status == "ok":
            return ProcessResult(result.exit_code, "failed", result.duration_ms, failure, result.warning,
                                 result.record_fields)  # fmt: skip
        return result

    def _wait(self, unit: Unit, key: str, future: Any, live: _Live, launch: Launch, start: float) -> ProcessResult:
        """Until the job's result arrives, its task ends without one, it is cancelled (Ctrl-C) or its
        worker is lost."""
        try:
            while not live.done.wait(POLL_SECONDS):
                if launch.cancel is not None and launch.cancel.is_set():
                    return self._cancel(key, future, live, start)
                if future.done():  # ended without its result event: an error, a cancel on the cluster
                    break
        except KeyboardInterrupt:  # serial runs: Ctrl-C comes here, in the main thread
            return self._cancel(key, future, live, start)
        if live.lost:
            return self._lost(key, future, live.lost, start)
        data = live.result
        if data is None:
            try:
                data = future.result()
            except Exception as exc:  # KilledWorker, a cancel on the cluster, an error unpickling on the worker
                return self._task_error(key, future, exc, live, start)
        live.wait_output(int(data["messages"]))
        fields = {"executor": "dask", "worker": str(data["worker"])}
        warning = str(data["warning"])
        if data["status"] == "ok":
            late = self._await_outputs(unit, fields["worker"])
            warning = "; ".join(w for w in (warning, late) if w)
        return ProcessResult(int(data["exit_code"]), str(data["status"]), int(data["duration_ms"]),
                             str(data["message"]), warning, fields)  # fmt: skip

    def _cancel(self, key: str, future: Any, live: _Live, start: float) -> ProcessResult:
        """Kill the job's remote tree (or keep it from starting) and wait, bounded, for it to end."""
        hits: dict[str, Any] = {}
        with contextlib.suppress(Exception):
            hits = dict(self.client.run(remote.cancel, [key], on_error="ignore"))
        worker = next((w for w, n in sorted(hits.items()) if n), "")
        if worker:  # it runs there: its result event says when the tree is gone
            live.done.wait(CANCEL_WAIT_SECONDS)
        else:  # not started: it never will (every worker was told), and dask forgets it
            with contextlib.suppress(Exception):
                future.cancel()
        worker = worker or live.worker
        fields = {"executor": "dask", "worker": worker} if worker else {}
        return _ended(start, EXIT_INTERRUPTED, "interrupted", "interrupted", fields=fields)

    def _lost(self, key: str, future: Any, worker: str, start: float) -> ProcessResult:
        """The worker running the job left the cluster: the job failed there. dask would run it again
        elsewhere; that is for ``retries`` to decide, so the task is cancelled everywhere."""
        with contextlib.suppress(Exception):
            future.cancel()
        with contextlib.suppress(Exception):
            self.client.run(remote.cancel, [key], on_error="ignore")
        return _ended(
            start, EXIT_LOST, "failed", f"worker lost: {worker}", fields={"executor": "dask", "worker": worker}
        )

    def _task_error(self, key: str, future: Any, exc: BaseException, live: _Live, start: float) -> ProcessResult:
        name = type(exc).__name__
        if name == "KilledWorker":
            worker = getattr(getattr(exc, "last_worker", None), "address", "") or live.worker or "?"
            return self._lost(key, future, worker, start)
        if live.lost:
            return self._lost(key, future, live.lost, start)
        text = str(exc).splitlines()[0] if str(exc) else name
        return _ended(start, EXIT_CANNOT_EXECUTE, "failed", f"dask task failed: {name}: {text}")

    def _await_outputs(self, unit: Unit, worker: str) -> str:
        """Declared literal outputs of a remote job may show up late on a network file system: wait up
        to ``fs_latency_seconds`` for them. ``""``, or a warning naming those still not seen here."""
        latency = self.choice.fs_latency_seconds
        deadline = time.monotonic() + latency
        while True:
            absent = [p for p in unit.abs_outputs if not os.path.lexists(p)]
            if not absent or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        if not absent:
            return ""
        from orchastration.engine.units import display_path

        shown = ", ".join(display_path(unit, p) for p in absent)
        return f"not seen here {latency:g} s after the job ended on {worker} (executor.fs_latency_seconds): {shown}"

    # -- events (in the client's event loop) -------------------------------------------------------
    def _on_output(self, event: Any) -> None:
        msg = event[1] if isinstance(event, (tuple, list)) and len(event) == 2 else None
        if not isinstance(msg, dict):
            return
        live = self.live.get(str(msg.get("k")))
        if live is None:
            return
        if "r" in msg:  # the job's last event: how it ended
            live.result = dict(msg["r"])
            live.worker = str(live.result.get("worker", ""))
            live.done.set()
        elif "d" in msg:
            live.feed(int(msg.get("s", 1)), msg["d"])

    def _on_cluster(self, event: Any) -> None:
        msg = event[1] if isinstance(event, (tuple, list)) and len(event) == 2 else None
        if not isinstance(msg, dict) or msg.get("action") != "remove-worker":
            return
        worker, processing = str(msg.get("worker", "")), msg.get("processing-tasks") or ()
        for key, live in list(self.live.items()):
            if key in processing and live.result is None:
                live.lost = worker
                live.done.set()


def _workers(client: Any) -> dict[str, Any]:
    """Every worker's info (``n_workers=-1``: all of them, where distributed lists only a few by default)."""
    try:
        info = client.scheduler_info(n_workers=-1)
    except TypeError:  # distributed before 2025: every worker, always
        info = client.scheduler_info()
    return dict(info["workers"])


def _spec(unit: Unit, key: str, topic: str) -> dict[str, Any]:
    """What the worker needs to run the command (plain data)."""
    command = unit.command if isinstance(unit.command, str) else list(unit.command)
    return {"key": key, "topic": topic, "command": command, "shell": unit.shell, "cwd": str(unit.working_dir),
            "env": dict(unit.env), "timeout": unit.timeout_seconds}  # fmt: skip


def _ended(
    start: float, code: int, status: str, message: str, fields: Mapping[str, str] | None = None
) -> ProcessResult:
    return ProcessResult(code, status, int((time.monotonic() - start) * 1000), message, "", dict(fields or {}))


class _Live:
    """A running remote job on this side: the worker it runs on, and its output on its way to the
    log files and the console (a ``Sink`` per stream, as a local job's pipes are: no thread here)."""

    def __init__(self, launch: Launch) -> None:
        self.worker = ""
        self.lost = ""
        self.result: dict[str, Any] | None = None  # from the job's result event
        self.done = threading.Event()
        self.received = 0
        self.arrived = threading.Condition()  # its lock also keeps ``feed`` and ``close`` apart
        self.consoles = (launch.console, launch.err_console or launch.console)
        self.prefix = launch.prefix
        self.logs = LogFiles((launch.stdout_path, launch.stderr_path), launch.empty_log)
        self.error = self.logs.open()
        self.open = not self.error
        self.sinks = [
            Sink(self.logs.files[i], self.logs.paths[i], self.consoles[i], self.prefix) for i in range(2)
        ]  # the same sinks a local job's pipes are read into (console lines prefixed, log files whole)

    def feed(self, stream: int, data: bytes) -> None:
        """Output of the job's stdout (1) or stderr (2)."""
        with self.arrived:
            if not self.open:  # closed: a late event of a job that ended (or was given up)
                return
            self.sinks[stream - 1].feed(data)
            self.received += 1
            self.arrived.notify_all()

    def wait_output(self, sent: int) -> None:
        """Until the ``sent`` output events of the job arrived (bounded)."""
        with self.arrived:
            if self.open:
                self.arrived.wait_for(lambda: self.received >= sent, OUTPUT_WAIT_SECONDS)

    def close(self) -> str:
        """End the streams and close the log files; ``""`` or the log file that could not be written."""
        with self.arrived:
            if self.open:
                for sink in self.sinks:
                    sink.finish()
            self.open = False
        self.logs.close()
        from orchastration.pipes import write_error

        failed = next((write_error(s.log_path, s.log_error) for s in self.sinks if s.log_error), "")
        return failed or self.logs.error
