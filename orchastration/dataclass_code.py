"""``dataclass`` and ``field`` as the standard library has them, with the code they generate kept
compiled from one run to the next, as Python keeps a module's bytecode.

``dataclasses`` writes each class's methods (``__init__``, ``__repr__``, ``__eq__``, ``__hash__``,
and a frozen class's ``__setattr__``/``__delattr__``) as source text and compiles each with
``exec`` when the class is defined: on Python 3.11 ~0.7 ms a class, ~25 ms of a one-edit rerun's
~120 ms before its first job (36 classes on that path). The text depends only on the class
definition, so this module keeps the compiled code of this package's classes in one marshal
file beside the package's bytecode (``__pycache__``, or under ``PYTHONPYCACHEPREFIX``), keyed by
the text, and a later process runs that code instead of compiling the text again: same text,
same code, the same classes.

How: ``dataclasses`` calls ``exec`` by name, so this module gives the ``dataclasses`` module an
``exec`` of its own (a module global shadows the builtin) that looks the text up first. Text
from any other package's classes goes straight to the builtin. The file is written at exit,
atomically, when this process compiled something the file lacked, and never when Python writes
no bytecode (``PYTHONDONTWRITEBYTECODE``); a missing, unwritable, stale or corrupt file only
means compiling, as without it.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import marshal
import os
import sys
import types
from dataclasses import dataclass, field
from typing import Any

__all__ = ["dataclass", "field"]

_OURS = __name__.partition(".")[0] + "."
_MAX_ENTRIES = 1000  # beyond this (a long-lived editable install), the file keeps only what was used

_code: dict[str, types.CodeType] = {}  # text -> compiled code: loaded, then what this process adds
_used: set[str] = set()
_added: list[str] = []


def cache_file() -> str | None:
    """The marshal file, beside this module's bytecode; None where Python keeps no bytecode."""
    from importlib.util import cache_from_source

    tag = sys.implementation.cache_tag
    if tag is None:
        return None
    try:
        pyc = cache_from_source(__file__)
    except (NotImplementedError, ValueError):
        return None
    opt = f".opt-{sys.flags.optimize}" if sys.flags.optimize else ""
    return os.path.join(os.path.dirname(pyc), f"dataclass_code.{tag}{opt}.marshal")


def _load(path: str) -> dict[str, types.CodeType]:
    from importlib.util import MAGIC_NUMBER

    try:
        with open(path, "rb") as fh:
            magic, table = marshal.loads(fh.read())
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    if magic != MAGIC_NUMBER or not isinstance(table, dict):
        return {}
    return {k: v for k, v in table.items() if isinstance(k, str) and isinstance(v, types.CodeType)}


def save() -> bool:
    """Write the file if this process compiled code it lacked; True when written."""
    from importlib.util import MAGIC_NUMBER

    path = cache_file()
    if path is None or not _added or sys.dont_write_bytecode:
        return False
    keep = _code if len(_code) <= _MAX_ENTRIES else {k: _code[k] for k in _used}
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(marshal.dumps((MAGIC_NUMBER, keep)))
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return False
    _added.clear()
    return True


def _exec(source: Any, globals: dict[str, Any] | None = None, locals: Any = None, /) -> None:
    """``exec`` for ``dataclasses``: this package's generated text runs from its kept code."""
    if (
        not isinstance(source, str)
        or not isinstance(globals, dict)
        or not str(globals.get("__name__")).startswith(_OURS)
    ):
        builtins.exec(source, globals, locals)
        return
    code = _code.get(source)
    if code is None:
        code = _code[source] = compile(source, "<string>", "exec")
        if not _added:
            import atexit

            atexit.register(save)
        _added.append(source)
    _used.add(source)
    builtins.exec(code, globals, locals)


def _install() -> None:
    path = cache_file()
    if path is not None:
        _code.update(_load(path))
    dataclasses.exec = _exec  # type: ignore[attr-defined]


if getattr(dataclasses, "exec", None) is None:
    _install()
