"""A job whose literal input another job outputs runs that job first, even without ``depends_on`` (as make)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conftest import Result
from jobs_helpers import statuses

CONFIG = """
[jobs.gen]
command = ["sh", "-c", "cp src.txt gen.txt"]
inputs = ["src.txt"]
outputs = ["gen.txt"]

[jobs.use]
command = ["sh", "-c", "cat gen.txt > out.txt"]
inputs = ["gen.txt"]
outputs = ["out.txt"]
"""


def test_running_the_consumer_alone_builds_the_producer_first(cli: Callable[..., Result], tmp_path: Path) -> None:
    (tmp_path / "orchastration.toml").write_text(CONFIG)
    (tmp_path / "src.txt").write_text("one\n")
    first = cli(["run", "use"])
    assert first.code == 0, first.err
    assert first.lines[0].startswith("job=gen status=ran")
    assert statuses(first.out) == {"gen": "ran", "use": "ran"}
    assert (tmp_path / "out.txt").read_text() == "one\n"

    assert statuses(cli(["run", "use"]).out) == {"gen": "skipped", "use": "skipped"}

    (tmp_path / "src.txt").write_text("two\n")
    assert cli(["why", "use"]).lines == ["may run: dependency will run: gen"]  # a file link: if its content changes
    assert statuses(cli(["run", "use"]).out) == {"gen": "ran", "use": "ran"}
    assert (tmp_path / "out.txt").read_text() == "two\n"
