"""``orchastration.named_tuple.NamedTuple``: what ``typing.NamedTuple`` makes, without importing typing."""

from __future__ import annotations

import pickle
import subprocess
import sys
import typing
from typing import Any

import pytest

from orchastration import named_tuple


def _point(base: Any) -> Any:
    """The same class statement on either base."""

    class Point(base):  # type: ignore[misc,valid-type]
        """A point."""

        x: int
        y: int = 2
        label: str = "p"

        def total(self) -> int:
            return int(self.x + self.y)

        @classmethod
        def origin(cls) -> Any:
            return cls(0, 0)

    return Point


Point, TypedPoint = _point(named_tuple.NamedTuple), _point(typing.NamedTuple)
TypedPoint.__name__ = TypedPoint.__qualname__ = "TypedPoint"  # both picklable by their module names
Point.__qualname__ = "Point"


def test_the_class_is_what_typing_makes() -> None:
    for cls in (Point, TypedPoint):
        p = cls(1)
        assert (p.x, p.y, p.label, tuple(p)) == (1, 2, "p", (1, 2, "p"))
        assert cls.__mro__[1:] == (tuple, object)
        assert cls._fields == ("x", "y", "label") and cls._field_defaults == {"y": 2, "label": "p"}
        assert cls.__doc__ == "A point." and cls.__module__ == __name__ and cls.__qualname__ == cls.__name__
        assert p.total() == 3 and cls.origin() == (0, 0, "p") and p._replace(y=5).total() == 6
        assert list(cls.__annotations__) == ["x", "y", "label"]
        assert pickle.loads(pickle.dumps(p)) == p and type(pickle.loads(pickle.dumps(p))) is cls
        assert repr(p) == f"{cls.__name__}(x=1, y=2, label='p')"
        with pytest.raises(AttributeError):
            p.x = 3  # type: ignore[misc]


def test_a_field_without_default_after_one_with_is_refused_as_typing_refuses_it() -> None:
    with pytest.raises(TypeError, match="Non-default namedtuple field b cannot follow default field"):

        class Bad(named_tuple.NamedTuple):  # type: ignore[misc]  # mypy sees typing's check too
            a: int = 1
            b: int


def test_a_namedtuple_method_cannot_be_overwritten() -> None:
    with pytest.raises(AttributeError, match="_replace"):

        class Bad(named_tuple.NamedTuple):
            a: int

            def _replace(self) -> None:  # type: ignore[override]
                pass


def test_importing_it_does_not_import_typing() -> None:
    code = "import sys; import orchastration.named_tuple; print('typing' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
