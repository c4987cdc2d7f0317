"""``typing.NamedTuple``'s class form without importing ``typing`` (~3 ms of a ~40 ms no-op ``run``):
for the few classes the no-op ``run`` builds (``paths.Paths``, ``cli.fast_run.Plain``,
``engine.fastpath.Summary``). The class made is what ``typing`` makes: ``collections.namedtuple``
of the annotated fields (a field given a value has it as its default), with the class body's other
names (docstring, methods) set on it. Type checkers see ``typing.NamedTuple`` itself.
"""

from __future__ import annotations

import collections

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: that would import typing
if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
else:
    _PROHIBITED = frozenset(
        {
            "__new__",
            "__init__",
            "__slots__",
            "__getnewargs__",
            "_fields",
            "_field_defaults",
            "_make",
            "_replace",
            "_asdict",
            "_source",
        }
    )
    _SPECIAL = frozenset({"__module__", "__name__", "__annotations__"})

    class _Maker(type):
        def __new__(mcs, name, bases, namespace):
            if not bases:  # NamedTuple itself
                return super().__new__(mcs, name, bases, namespace)
            annotations = namespace.get("__annotations__", {})
            fields = list(annotations)
            defaults = []
            for field in fields:
                if field in namespace:
                    defaults.append(namespace[field])
                elif defaults:
                    raise TypeError(f"Non-default namedtuple field {field} cannot follow default field")
            made = collections.namedtuple(name, fields, defaults=defaults, module=namespace.get("__module__"))
            made.__annotations__ = dict(annotations)
            for key, value in namespace.items():
                if key in _PROHIBITED:
                    raise AttributeError(f"cannot overwrite NamedTuple attribute {key}")
                if key not in _SPECIAL and key not in made._fields:
                    setattr(made, key, value)
            return made

    class NamedTuple(metaclass=_Maker):
        """Subclass with annotated fields, as ``typing.NamedTuple``."""
