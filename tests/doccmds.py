"""Run the ```console blocks of a Markdown file as one shell session and compare the output they show.

Convention (USAGE.md):
- A ```console block (or ````console, to show output holding ``` lines) holds commands (lines starting with
  ``$ ``), each followed by its expected output (stdout and stderr together, as on a terminal). Every ``$``
  line of every block runs, in file order, in ONE bash session, so ``cd``, ``export`` and files made by
  earlier commands carry over.
- A command that exits non-zero must be followed by ``$ echo $?`` showing the code (``$?`` is kept from one
  command to the next).
- ``...`` alone on a line matches any number of lines (none included); ``...`` inside a line matches any text.
- Volatile values are compared loosely, so the file can show real output: ``duration_ms=7`` (and
  ``"duration_ms": 7``, ``7 ms``, a summary line's ``in 1.24 s``) match any number, ISO times
  (``2026-11-24T10:21:47.956108Z``) any time,
  record stamps (``20261124T102147.956108Z``) any stamp, a project state dir's hash
  (``projects/sample-0123456789ab``) any hash.
- The session's home directory is shown as ``/home/me`` (``~``); trailing spaces are ignored.
- A command ending in a comment that says ``any order`` (``# lines in any order``) compares its lines in any
  order (parallel output).

``python tests/doccmds.py USAGE.md`` runs the file the way the test does and rewrites the output of every
command whose shown output no longer matches with the real one (matching output, ``...`` included, is kept).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DOC_HOME = "/home/me"
_ANY_ORDER_RE = re.compile(r"\s#[^'\"]*\bany order\b[^'\"]*$")  # a shell comment saying "any order"
_SENTINEL = "@@doccmd {i} rc="
_SENTINEL_RE = re.compile(r"\n?@@doccmd (\d+) rc=(\d+)@@\n")

# (pattern, replacement) applied to expected and actual lines alike.
_VOLATILE = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)"), "<time>"),
    (re.compile(r"\d{8}T\d{6}\.\d{6}Z"), "<stamp>"),
    (re.compile(r"(duration_ms\"?[=:] ?)\d+"), r"\1<ms>"),
    (re.compile(r"\b\d+ ms\b"), "<ms> ms"),
    (re.compile(r"( in )\d+\.\d\d s$"), r"\1<s> s"),  # the summary line after a run: `... restored 0 in 1.24 s`
    (re.compile(r"(<stamp>  )\d+\.\d\d s\b"), r"\1<s> s"),  # history: a session's duration
    (re.compile(r"\b\d+(?:\.\d+)? (KiB|MiB|B)\b"), r"<size> \1"),  # prune: bytes freed (records hold times)
    # A project's state dir is named by the hash of its config file's path (docs/architecture.md).
    (re.compile(r"(/projects/[A-Za-z0-9._-]+-)[0-9a-f]{12}\b"), r"\1<hash>"),
]


@dataclass
class Command:
    """One ``$`` line of a console block and the output shown under it."""

    line: int  # 1-based line number of the ``$`` line
    text: str
    expected: list[str] = field(default_factory=list)

    @property
    def any_order(self) -> bool:
        return bool(_ANY_ORDER_RE.search(self.text))


@dataclass
class Outcome:
    """What one command printed (stdout and stderr merged) and its exit code."""

    output: list[str]
    code: int


def parse_console_blocks(text: str) -> list[Command]:
    """Every ``$`` command of every ```console block, with the lines shown after it."""
    commands: list[Command] = []
    fence = ""  # the opening fence of the console block we are in; a longer one may enclose ``` lines
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not fence:
            opening = re.fullmatch(r"(`{3,})console", stripped)
            fence = opening.group(1) if opening else ""
            continue
        if re.fullmatch(rf"{fence}`*", stripped):
            fence = ""
        elif line.startswith("$ "):
            commands.append(Command(number, line[2:]))
        elif commands and commands[-1].line < number:
            commands[-1].expected.append(line)
        else:
            raise ValueError(f"line {number}: output before any '$ ' command in a console block")
    return commands


def session_script(commands: Sequence[Command], cli: Sequence[str]) -> str:
    """A bash script running the commands in order, a sentinel with the exit code after each."""
    parts = [f'orchastration() {{ {shlex.join(cli)} "$@"; }}', "cd ~"]
    for i, cmd in enumerate(commands):
        parts.append(cmd.text)
        parts.append(f"__rc=$?; printf '\\n{_SENTINEL.format(i=i)}%d@@\\n' \"$__rc\"; (exit $__rc)")
    return "\n".join(parts) + "\n"


def run_session(
    commands: Sequence[Command], cli: Sequence[str], env: Mapping[str, str], home: Path, timeout: float = 120
) -> list[Outcome]:
    """Run the commands in one bash session with ``HOME=home``; one ``Outcome`` per command."""
    script = home.parent / "doccmds-session.sh"
    script.write_text(session_script(commands, cli), encoding="utf-8")
    proc = subprocess.run(
        ["bash", str(script)],
        cwd=home,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=timeout,
    )
    text = proc.stdout.decode("utf-8", "replace")
    outcomes: list[Outcome] = []
    pos = 0
    for match in _SENTINEL_RE.finditer(text):
        chunk = text[pos : match.start()]
        pos = match.end()
        outcomes.append(Outcome([_home(line, home) for line in chunk.splitlines()], int(match.group(2))))
    if len(outcomes) != len(commands):
        raise AssertionError(f"the session stopped after {len(outcomes)} of {len(commands)} commands:\n{text}")
    return outcomes


def _home(line: str, home: Path) -> str:
    for real in {str(home.resolve()), str(home)}:
        line = line.replace(real, DOC_HOME)
    return line


def normalize(line: str) -> str:
    """The line with volatile values (times, stamps, durations) replaced by placeholders."""
    for pattern, repl in _VOLATILE:
        line = pattern.sub(repl, line)
    return line.rstrip()


def _pattern(expected: str) -> re.Pattern[str]:
    pieces = normalize(expected).split("...")
    return re.compile(".*?".join(re.escape(p) for p in pieces) + r"\Z", re.S)


def matches(expected: Sequence[str], actual: Sequence[str], any_order: bool = False) -> bool:
    """Whether the shown lines (with ``...`` wildcards) match the actual ones."""
    exp = [e for e in expected if e.strip() or e == ""]
    act = [normalize(a) for a in actual]
    if any_order:
        left = list(act)
        for e in exp:
            pat = _pattern(e)
            hit = next((a for a in left if pat.match(a)), None)
            if hit is None:
                return False
            left.remove(hit)
        return not left
    return _match_from(exp, act, 0, 0)


def _match_from(exp: Sequence[str], act: Sequence[str], i: int, j: int) -> bool:
    if i == len(exp):
        return j == len(act)
    if exp[i].strip() == "...":
        return any(_match_from(exp, act, i + 1, k) for k in range(j, len(act) + 1))
    return j < len(act) and bool(_pattern(exp[i]).match(act[j])) and _match_from(exp, act, i + 1, j + 1)


def mismatches(commands: Sequence[Command], outcomes: Sequence[Outcome], doc: str = "USAGE.md") -> list[str]:
    """One message per command whose output or exit code differs from what the document shows."""
    problems = []
    for i, (cmd, got) in enumerate(zip(commands, outcomes, strict=True)):
        if not matches(cmd.expected, got.output, cmd.any_order):
            problems.append(
                f"{doc}:{cmd.line}: $ {cmd.text}\n--- shown\n" + "\n".join(cmd.expected)
                + "\n--- actual\n" + "\n".join(got.output)
            )  # fmt: skip
        if got.code != 0:
            following = commands[i + 1].text.strip() if i + 1 < len(commands) else ""
            if following != "echo $?":
                problems.append(f"{doc}:{cmd.line}: $ {cmd.text}\nexited {got.code}: show it with '$ echo $?'")
    return problems


def session_env(base: Mapping[str, str], home: Path) -> dict[str, str]:
    """``base`` with ``home`` as HOME and the default (XDG) state dir, as a user's shell would have."""
    env = {k: v for k, v in base.items() if not k.startswith("ORCHASTRATION_")}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        NO_COLOR="1",
        COLUMNS="80",  # argparse wraps --help to the terminal width
        PYTHONUNBUFFERED="1",  # stdout and stderr interleave as on a terminal
        LC_ALL="C",
        # A git identity, as a user's ~/.gitconfig would give (the walkthrough commits once).
        GIT_AUTHOR_NAME="Me",
        GIT_AUTHOR_EMAIL="me@example.com",
        GIT_COMMITTER_NAME="Me",
        GIT_COMMITTER_EMAIL="me@example.com",
        GIT_CONFIG_NOSYSTEM="1",
    )
    return env


def prepare_clone(repo: Path, home: Path) -> Path:
    """``home/orchastration``: the parts of a fresh clone the walkthrough uses (configs/, README.md)."""
    clone = home / "orchastration"
    clone.mkdir(parents=True)
    shutil.copytree(repo / "configs", clone / "configs", ignore=shutil.ignore_patterns("dist", "docs", "README.md"))
    shutil.copy2(repo / "README.md", clone / "README.md")
    return clone


def rewrite(text: str, commands: Sequence[Command], outcomes: Sequence[Outcome]) -> str:
    """``text`` with the shown output of each mismatching command replaced by the actual output."""
    lines = text.splitlines()
    for cmd, got in sorted(zip(commands, outcomes, strict=True), key=lambda p: -p[0].line):
        if matches(cmd.expected, got.output, cmd.any_order):
            continue
        start = cmd.line  # index of the first output line (0-based) is the $ line's number
        lines[start : start + len(cmd.expected)] = got.output
    return "\n".join(lines) + "\n"


def _main(argv: Sequence[str]) -> int:
    doc = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent / "USAGE.md"
    repo = Path(__file__).resolve().parent.parent
    text = doc.read_text(encoding="utf-8")
    commands = parse_console_blocks(text)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        prepare_clone(repo, home)
        script = Path(sys.executable).parent / "orchastration"
        cli = [str(script)] if script.exists() else [sys.executable, "-m", "orchastration"]
        outcomes = run_session(commands, cli, session_env(os.environ, home), home)
    problems = mismatches(commands, outcomes, doc.name)
    doc.write_text(rewrite(text, commands, outcomes), encoding="utf-8")
    for p in problems:
        print(p, end="\n\n")
    print(f"{len(commands)} commands, {len(problems)} rewritten or to fix")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
