"""Input globs expand to exactly what ``glob`` + ``isfile`` would give, on the fast one-level path too."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest

from orchastration.patterns import _scan_one_level, display_path


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    for name in ("a.txt", ".hidden.txt", "b.py", "c.TXT", "x1.txt"):
        (tmp_path / name).write_text(name)
    (tmp_path / "dir.txt").mkdir()
    if os.name == "posix":
        os.symlink(tmp_path / "a.txt", tmp_path / "link.txt")
        os.symlink(tmp_path / "nowhere", tmp_path / "broken.txt")
    return tmp_path


@pytest.mark.parametrize("pattern", ["*.txt", ".*.txt", "*", ".*", "?.py", "x[0-9].txt", "*.TXT", "nomatch*"])
def test_one_level_scan_matches_glob(messy: Path, pattern: str) -> None:
    found: set[str] = set()
    assert _scan_one_level(os.path.join(messy, pattern), found)
    expected = {os.path.normpath(m) for m in glob.iglob(os.path.join(messy, pattern)) if os.path.isfile(m)}
    assert found == expected
    assert expected or pattern in ("nomatch*",)


def test_other_shapes_fall_back_to_glob(tmp_path: Path) -> None:
    found: set[str] = set()
    assert not _scan_one_level(os.path.join(tmp_path, "**", "*.txt"), found)
    assert not _scan_one_level(os.path.join(tmp_path, "*", "a.txt"), found)
    assert _scan_one_level(os.path.join(tmp_path, "missing", "*.txt"), found) and not found


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="POSIX symlinks")
def test_double_star_never_descends_into_a_symlinked_directory(tmp_path: Path) -> None:
    # A link loop (like /proc/self/root) made `**` walk forever; a link out of the tree is not followed
    # either (as pathlib does from Python 3.13): each file is found once, by its own path.
    from orchastration.patterns import files_matching

    (tmp_path / "src" / "sub").mkdir(parents=True)
    (tmp_path / "src" / "a.txt").write_text("a")
    (tmp_path / "src" / "sub" / "b.txt").write_text("b")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "c.txt").write_text("c")
    (tmp_path / "src" / "loop").symlink_to(tmp_path / "src")
    (tmp_path / "src" / "out").symlink_to(tmp_path / "outside")
    got = sorted(files_matching(str(tmp_path / "src" / "**" / "*.txt")))
    assert got == [str(tmp_path / "src" / "a.txt"), str(tmp_path / "src" / "sub" / "b.txt")]


@pytest.mark.parametrize(
    "pattern", ["**", "**/*.txt", "*/**", "src/**", "**/sub/*", "**/.hid/*", ".*/**", "src/**/**/*.txt", "**/*/"]
)
def test_double_star_matches_what_glob_matches_without_links(messy: Path, pattern: str) -> None:
    from orchastration.patterns import files_matching

    full = os.path.join(str(messy), *pattern.split("/"))
    want = sorted({os.path.normpath(m) for m in glob.iglob(full, recursive=True) if os.path.isfile(m)})
    assert sorted(files_matching(full)) == want


def _relpath_display(working_dir: str, path: str) -> str:
    """What ``display_path`` returns, by ``os.path.relpath`` alone (the oracle of its fast path)."""
    rel = os.path.relpath(path, working_dir)
    return path if rel == os.pardir or rel.startswith(os.pardir + os.sep) else rel.replace(os.sep, "/")


@pytest.mark.parametrize(
    "tail",
    ["in/a.txt", "a", "deep/er/x.y", "a//b", "./a", "a/./b", "a/../b", "../x", "..", "..foo", "...", "", ".", "a/",
     ".hid/a", "a/.b/c", "a/..b/c", "a/b/", "a/b/.", "a/b/..", "a//", "x/../../y"],
)  # fmt: skip
def test_display_path_is_relpath_inside_the_working_dir_and_the_path_outside(tmp_path: Path, tail: str) -> None:
    base = str(tmp_path / "wd")
    path = base + os.sep + tail.replace("/", os.sep) if tail else base
    assert display_path(base, path) == _relpath_display(base, path)
    assert display_path(Path(base), path) == _relpath_display(base, path)
    for odd_base in (base + os.sep, base + os.sep + "." + os.sep + "x" + os.sep + "..", base + "x"):
        assert display_path(odd_base, path) == _relpath_display(odd_base, path)


def test_one_displayer_shows_many_paths_as_display_path_does(tmp_path: Path) -> None:
    from orchastration.patterns import displayer

    base = str(tmp_path / "wd")
    tails = ["in/a.txt", "a//b", "a/./b", "a/../b", "../x", "..foo", ".hid/a", "a/b/", "", "q/.", "w"]
    paths = [base + os.sep + t.replace("/", os.sep) if t else base for t in tails] + [str(tmp_path / "wdx" / "a")]
    for working_dir in (base, Path(base), base + os.sep, os.sep):
        shown = displayer(working_dir)
        assert [shown(p) for p in paths] == [_relpath_display(str(working_dir), p) for p in paths], working_dir


def test_display_path_keeps_a_name_that_starts_with_two_dots_relative(tmp_path: Path) -> None:
    # A file named "..foo" in the working dir is inside it (relpath's "..foo" is no parent).
    assert display_path(str(tmp_path), str(tmp_path / "..foo")) == "..foo"
    assert display_path(str(tmp_path / "wd"), str(tmp_path / "other")) == str(tmp_path / "other")
