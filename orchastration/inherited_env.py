"""The process's own environment, as the CLI read it once (``main``): a command given it unchanged
inherits the environment directly (``Popen(env=None)``) instead of a copy encoded for each command.

Encoding an environment for ``execve`` costs ~0.7 µs a variable every time a command starts (~25 µs
for the 35 variables of this machine): a cold build of 1,000 jobs paid it a thousand times, where
doit starts its actions with the environment they inherit. The mapping is read-only, so what a child
inherits is always what it holds: code that needs another environment copies it (``dict(environ)``)
or gives overrides, and the command then gets that mapping, encoded, as before.
"""

from __future__ import annotations

from typing import Any, NoReturn


class InheritedEnviron(dict[str, str]):
    """A read-only snapshot of the process's environment (the CLI never changes its own during a run)."""

    def _refuse(self, *args: Any, **kw: Any) -> NoReturn:
        raise TypeError("the process environment as read is read-only: copy it (dict(environ)) to change it")

    __setitem__ = __delitem__ = __ior__ = _refuse
    update = setdefault = pop = popitem = clear = _refuse

    def __reduce__(self) -> tuple[type[dict[str, str]], tuple[dict[str, str]]]:
        return dict, (dict(self),)  # a copy (copy, pickle) is a plain mapping: encoded like any other


def inherits(env: object, overrides: object) -> bool:
    """Whether a command given ``env`` with ``overrides`` (none: empty or None) can simply inherit the
    process's environment."""
    return not overrides and type(env) is InheritedEnviron
