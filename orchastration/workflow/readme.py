"""Keep exactly one marked section per task in a README, every other byte untouched.

Works on bytes, so any encoding, a BOM, CRLF line endings and a missing final newline
all survive: only the bytes between a task's begin and end markers are ever replaced.
"""

from __future__ import annotations

from orchastration.errors import InputError


def markers(name: str) -> tuple[bytes, bytes]:
    """The begin and end marker lines of task ``name``."""
    return (
        f"<!-- orchastration:task:{name}:begin -->".encode(),
        f"<!-- orchastration:task:{name}:end -->".encode(),
    )


def newline_of(content: bytes) -> bytes:
    """The README's line ending: CRLF if it uses CRLF, else LF."""
    return b"\r\n" if b"\r\n" in content else b"\n"


def splice_section(content: bytes, name: str, section: str, where: str = "README.md") -> bytes:
    """``content`` with task ``name``'s marked section set to ``section`` (replaced or appended).

    A README with a begin marker but no end marker, markers out of order, or the section
    twice is not guessed at: it is an ``InputError`` naming ``where``, and nothing is written.
    """
    begin, end = markers(name)
    n_begin, n_end = content.count(begin), content.count(end)
    nl = newline_of(content)
    if n_begin == 1 and content[content.index(begin) + len(begin) :].startswith(b"\r\n"):
        nl = b"\r\n"  # an existing section keeps the line ending it was written with
    elif n_begin == 1:
        nl = b"\n"
    text = section.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    body = text.replace("\n", nl.decode()).encode("utf-8")
    if n_begin == 0 and n_end == 0:
        if not content:
            prefix = b""
        elif content.endswith(nl + nl) or content == nl:
            prefix = content
        elif content.endswith(nl) or content.endswith(b"\n"):
            prefix = content + nl
        else:
            prefix = content + nl + nl
        return prefix + begin + nl + body + nl + end + nl
    if n_begin != 1 or n_end != 1:
        raise InputError(
            f"{where}: task '{name}' has {n_begin} begin and {n_end} end markers; "
            f"expected one of each (fix the README by hand, then generate again)"
        )
    start = content.index(begin) + len(begin)
    stop = content.index(end)
    if stop < start:
        raise InputError(f"{where}: the end marker of task '{name}' comes before its begin marker")
    # Keep the README's own line endings right after/before the markers.
    return content[:start] + nl + body + nl + content[stop:]
