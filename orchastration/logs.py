"""Logging, set up once: console on stderr (colorlog text or JSON) and a JSON-lines file.

Events carry fields: ``log(logger, "info", "job finished", job="build", exit=0)``.
Every line has ``time`` (RFC 3339 UTC), ``level`` and ``msg`` plus the fields.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

LOGGER_NAME = "orchastration"
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "warning": logging.WARNING}
_LEVELS["error"] = logging.ERROR


def parse_level(name: str) -> int:
    """``debug|info|warn|warning|error`` in any case to a logging level."""
    try:
        return _LEVELS[name.strip().lower()]
    except KeyError:
        raise ValueError(name) from None


def get_logger(name: str = "") -> logging.Logger:
    """A child of the tool's logger (``orchastration.<name>``)."""
    return logging.getLogger(f"{LOGGER_NAME}.{name}" if name else LOGGER_NAME)


def log(logger: logging.Logger, level: str, msg: str, **fields: Any) -> None:
    """Log ``msg`` with structured ``fields``. (As ``logger.log`` does, without looking up the caller's
    file and line, which no line shows: ~4 µs of ~18 an event.)"""
    number = parse_level(level)
    if logger.isEnabledFor(number):
        record = logger.makeRecord(logger.name, number, "(unknown file)", 0, msg, (), None, extra={"fields": fields})
        logger.handle(record)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    return dict(fields) if isinstance(fields, dict) else {}


_EVENT_FIELDS: dict[str, Any] = {}


def set_event_fields(**fields: Any) -> None:
    """Fields every JSON log line of this invocation carries after its own (``project``: the config file)."""
    _EVENT_FIELDS.clear()
    _EVENT_FIELDS.update(fields)


_SECOND: list[tuple[int, str]] = [(-1, "")]  # the last second formatted, and its text


def _utc_text(created: float) -> str:
    """``created`` (seconds since the epoch) as RFC 3339 UTC with microseconds, as
    ``datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")`` writes it (the
    second's text made once a second)."""
    whole = int(created)  # (split as datetime does: the fraction rounded half to even, alone)
    second, micro = whole, round((created - whole) * 1_000_000)
    if micro >= 1_000_000:
        second, micro = second + 1, micro - 1_000_000
    kept = _SECOND[0]
    if kept[0] != second:
        import time

        kept = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        _SECOND[0] = kept
    return f"{kept[1]}.{micro:06d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, msg, then the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        when = _utc_text(record.created)
        line: dict[str, Any] = {"time": when, "level": record.levelname, "msg": record.getMessage()}
        for key, value in (*_fields(record).items(), *_EVENT_FIELDS.items()):
            line.setdefault(key, value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        text = json.dumps(line, default=str, ensure_ascii=False)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a non-UTF-8 file name: escaped as \udcXX, as in records
            text = json.dumps(line, default=str)
        return text


def _text_suffix(record: logging.LogRecord) -> str:
    return "".join(f" {k}={v}" for k, v in _fields(record).items())


class TextFormatter(logging.Formatter):
    """``LEVEL msg key=value ...`` without colour."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname:<7} {record.getMessage()}{_text_suffix(record)}"


def _color_formatter() -> logging.Formatter:
    import colorlog

    class ColorText(colorlog.ColoredFormatter):
        def format(self, record: logging.LogRecord) -> str:
            return super().format(record) + _text_suffix(record)

    return ColorText("%(log_color)s%(levelname)-7s%(reset)s %(message)s")


def use_color(stream: IO[str], no_color_flag: bool, environ: Mapping[str, str]) -> bool:
    """Colour only on a TTY, never with ``NO_COLOR`` set (in ``environ``) or ``--no-color``."""
    if no_color_flag or environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


LOG_MAX_BYTES = 10 << 20
LOG_BACKUPS = 3


def _rotate(log_file: Path) -> None:
    """Keep the log file bounded: past 10 MiB at start-up it becomes ``.1`` (``.1`` -> ``.2``, ...).

    Done once per invocation instead of with logging.handlers (which costs ~6 ms of
    start-up importing socket); concurrent runs may each rotate, losing nothing.
    """
    try:
        if log_file.stat().st_size < LOG_MAX_BYTES:
            return
    except OSError:
        return
    for i in range(LOG_BACKUPS - 1, 0, -1):
        older = log_file.with_name(f"{log_file.name}.{i}")
        if older.exists():
            os.replace(older, log_file.with_name(f"{log_file.name}.{i + 1}"))
    os.replace(log_file, log_file.with_name(f"{log_file.name}.1"))


def setup_logging(
    level: str,
    fmt: str,
    log_file: Path | None,
    stream: IO[str] | None = None,
    color: bool = False,
    console_level: str | None = None,
) -> logging.Logger:
    """Configure the tool's logger; safe to call again (handlers are replaced)."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    file_level = parse_level(level)
    con_level = parse_level(console_level or level)
    logger.setLevel(min(file_level, con_level))
    logger.propagate = False
    console = logging.StreamHandler(stream or sys.stderr)
    console.setLevel(con_level)
    if fmt == "json":
        console.setFormatter(JsonFormatter())
    else:
        console.setFormatter(_color_formatter() if color else TextFormatter())
    logger.addHandler(console)
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            _rotate(log_file)
        except OSError as exc:
            console.handle(_unavailable(log_file, exc))
        else:
            handler = _LogFile(log_file, console)
            handler.setLevel(file_level)
            handler.setFormatter(JsonFormatter())
            logger.addHandler(handler)
    return logger


def _unavailable(log_file: Path, exc: OSError) -> logging.LogRecord:
    """The one warning when the log file cannot be used: ``log file unavailable: cannot write <path>: <reason>``."""
    where = exc.filename if exc.filename is not None else log_file
    msg = f"log file unavailable: cannot write {where}: {exc.strerror or exc}"
    record = logging.LogRecord(LOGGER_NAME, logging.WARNING, __file__, 0, msg, None, None)
    record.fields = {"file": str(log_file)}
    return record


class _LogFile(logging.FileHandler):
    """The JSON-lines log file, opened on the first event (so ``--version`` writes nothing). When it
    cannot be opened or written (a read-only dir, a full disk) it says so once on the console and
    drops out: the run goes on without it, and no ``--- Logging error ---`` traceback is printed."""

    def __init__(self, log_file: Path, console: logging.Handler) -> None:
        super().__init__(log_file, encoding="utf-8", delay=True)
        self.path, self.console, self.failed = log_file, console, False

    def emit(self, record: logging.LogRecord) -> None:
        if self.failed:
            return
        try:
            if self.stream is None:
                self.stream = self._open()
        except OSError as exc:
            self._give_up(exc)
            return
        logging.StreamHandler.emit(self, record)  # a failed write or flush lands in handleError

    def handleError(self, record: logging.LogRecord) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            self._give_up(exc)
        else:
            super().handleError(record)

    def _give_up(self, exc: OSError) -> None:
        self.failed = True
        stream, self.stream = self.stream, None
        if stream is not None:
            try:  # noqa: SIM105 - the last buffered bytes cannot be written either
                stream.close()
            except OSError:
                pass
        self.console.handle(_unavailable(self.path, exc))

    def close(self) -> None:
        try:  # noqa: SIM105 - the last buffered bytes may not fit on a full disk either
            super().close()
        except OSError:
            pass
