"""JSON text as ``json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)`` writes it, faster.

With ``indent`` the json module encodes in pure Python, generator by generator: ~28 µs a job's record
against ~16 here, and a run writes a record a job (state.dumps). ``indented`` makes the same text for
what records hold (dicts with string keys, lists and tuples, strings, numbers, booleans, None) and
leaves anything else (a key that is not a string, a type json refuses, a cycle) to ``json.dumps``
itself, so its results and its errors stay json's."""

from __future__ import annotations

import json
from typing import Any

_encode_str = json.encoder.encode_basestring  # the C function where there is one, as json.dumps uses
_INFINITY = float("inf")


class _NotPlain(Exception):
    """A value ``_indented`` leaves to ``json.dumps``."""


def indented(value: Any) -> str:
    """``json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)``."""
    try:
        text: str | None = _indented(value, "")
    except (_NotPlain, RecursionError):
        text = None  # (json.dumps below, not here: its errors are its own, not raised "during" this one)
    if text is None:
        text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    return text


def _indented(value: Any, pad: str) -> str:
    """``value`` at the indentation ``pad``: json's checks in json's order (a ``str`` subclass is a
    string, a ``bool`` is no number, a tuple is a list), numbers through the same ``__repr__``s."""
    if isinstance(value, str):
        return _encode_str(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value == _INFINITY:
            return "Infinity"
        if value == -_INFINITY:
            return "-Infinity"
        return float.__repr__(value)
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        inner = pad + "  "
        return "[\n" + ",\n".join([inner + _indented(v, inner) for v in value]) + "\n" + pad + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        if not all(isinstance(k, str) for k in value):
            raise _NotPlain
        inner = pad + "  "
        parts = [f"{inner}{_encode_str(k)}: {_indented(value[k], inner)}" for k in sorted(value)]
        return "{\n" + ",\n".join(parts) + "\n" + pad + "}"
    raise _NotPlain
