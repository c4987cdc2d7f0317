"""README section splicing: one marked section per task, every other byte preserved."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from orchastration.errors import InputError
from orchastration.workflow.readme import markers, splice_section

BEGIN, END = markers("t")


def test_appends_to_a_readme_without_trailing_newline() -> None:
    assert splice_section(b"# Title", "t", "body") == b"# Title\n\n" + BEGIN + b"\nbody\n" + END + b"\n"
    assert splice_section(b"# Title\n", "t", "body") == b"# Title\n\n" + BEGIN + b"\nbody\n" + END + b"\n"
    assert splice_section(b"", "t", "body\n") == BEGIN + b"\nbody\n" + END + b"\n"


def test_follows_crlf_line_endings() -> None:
    out = splice_section(b"a\r\nb", "t", "x\ny\n")
    assert out == b"a\r\nb\r\n\r\n" + BEGIN + b"\r\nx\r\ny\r\n" + END + b"\r\n"
    assert splice_section(out, "t", "x\ny\n") == out


def test_replaces_in_place_and_leaves_other_tasks_alone() -> None:
    other_begin, other_end = markers("t2")
    readme = b"head\n" + BEGIN + b"\nold\n" + END + b"\nmiddle\n" + other_begin + b"\nkeep\n" + other_end + b"\ntail"
    out = splice_section(readme, "t", "new")
    assert out == readme.replace(b"\nold\n", b"\nnew\n")
    # A task whose name starts with another's is a different section.
    assert splice_section(out, "t2", "k2").count(b"new") == 1


@pytest.mark.parametrize(
    "content",
    [
        BEGIN + b"\nno end\n",
        END + b"\n" + BEGIN + b"\n",
        BEGIN + b"\n" + END + b"\n" + BEGIN + b"\n" + END + b"\n",
    ],
)
def test_broken_markers_are_an_error_not_a_guess(content: bytes) -> None:
    with pytest.raises(InputError, match="README.md"):
        splice_section(content, "t", "x")


@example(b"", "0\r")
@example(b"a\r", "x")
@example(b"a\r\nb\n", "x\r\ny")
@given(st.binary().filter(lambda b: b"orchastration:task" not in b), st.text(min_size=1).filter(str.strip))
def test_any_readme_keeps_its_bytes_and_one_section(readme: bytes, section: str) -> None:
    section = section.replace("orchastration:task", "")
    once = splice_section(readme, "t", section)
    assert once.startswith(readme)
    twice = splice_section(once, "t", section)
    assert twice == once
    assert twice.count(BEGIN) == 1 and twice.count(END) == 1
    changed = splice_section(once, "t", "other text")
    assert changed.startswith(readme) and changed.count(BEGIN) == 1
