"""Hostile input, property-based (Hypothesis): random configs, names, globs, manifests and templates
never produce a traceback; the exit code is 0/1/2 and an error is one line naming the culprit.

In-process ``main(argv)`` for speed. ``ORCH_FUZZ_EXAMPLES`` (default 25) sets examples per property.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from conftest import Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability.common import tree_snapshot

from orchastration.cli import main

EXAMPLES = int(os.environ.get("ORCH_FUZZ_EXAMPLES", "25"))
HASH_A = hashlib.sha256(b"alpha\n").hexdigest()


def call(argv: list[str], cwd: Path, env: Mapping[str, str]) -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdout=out, stderr=err, environ=env, cwd=cwd)
    return Result(code, out.getvalue(), err.getvalue())


def sane(res: Result, codes: tuple[int, ...] = (0, 1, 2)) -> None:
    """No traceback, no internal error, a known exit code, and an error is one printable line."""
    assert res.code in codes, (res.code, res.err)
    assert "Traceback" not in res.err and "internal error" not in res.err, res.err
    for line in res.err.splitlines():
        if line.startswith("orchastration: error:"):
            assert line.isprintable(), repr(line)
    if res.code == 2:
        assert "orchastration: error:" in res.err, res.err


def test_control_characters_in_a_name_are_escaped_on_one_line(run_main: Callable[..., Result], tmp_path: Path) -> None:
    (tmp_path / "orchastration.toml").write_text('[jobs.ok]\ncommand = ["true"]\n', encoding="utf-8")
    for name in ("a\nb", "\x1b[31mred", "tab\there", "line\u2028sep"):
        res = run_main(["why", name])
        sane(res, (2,))
        assert res.err.count("\n") == 1, repr(res.err)
        escaped = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in name)
        assert f"unknown job '{escaped}'" in res.err, res.err


# ----- random TOML of the right and wrong shapes -------------------------------------------------

KEYS = {
    "jobs": ["description", "command", "shell", "working_dir", "timeout_seconds", "env", "inputs", "outputs",
             "depends_on", "always_run"],
    "tasks": ["description", "repo", "working_dir", "command", "shell", "inputs", "outputs", "documents", "status",
              "env", "timeout_seconds", "review_command"],
    "agents": ["description", "capabilities", "command", "prompt", "working_dir", "timeout_seconds", "env",
               "output_key"],
    "orchestrations": ["agents", "steps", "description", "max_review_rounds"],
    "hash": ["algorithm"],
    "logging": ["level", "format"],
    "templates": ["dir"],
}  # fmt: skip
NAMED = ("jobs", "tasks", "agents", "orchestrations")
TEXT = st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",)), max_size=12)
WORDS = st.sampled_from(
    ["build", "PlannerAgent", "BuilderAgent", "ReviewerAgent", "DocAgent", "sha256", "md5", "info", "json",
     "text", "planned", "done", "external", ".", "..", "/", "~", "*.py", "src/**", "echo", "true", "a-b.c"]
)  # fmt: skip
NAMES = st.one_of(
    st.from_regex(r"\A[A-Za-z0-9_-][A-Za-z0-9_.-]{0,8}\Z"),  # valid
    st.sampled_from(["..", ".hidden", "a/b", "../up", "CON", "nul.txt", "", " ", "a b", "-x", "é"]),
    TEXT,
)
SCALARS = st.one_of(
    WORDS,
    TEXT,
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.one_of(WORDS, TEXT), inner, max_size=3)),
    max_leaves=8,
)


def _tables(section: str) -> st.SearchStrategy[dict[str, Any]]:
    key = st.one_of(st.sampled_from(KEYS[section]), TEXT)
    return st.dictionaries(key, VALUES, max_size=6)


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for section in draw(st.lists(st.sampled_from([*KEYS, "bogus"]), max_size=5, unique=True)):
        if section == "bogus":
            doc[draw(TEXT)] = draw(VALUES)
        elif section in NAMED:
            doc[section] = draw(st.dictionaries(NAMES, _tables(section), max_size=3))
        else:
            doc[section] = draw(_tables(section))
    return doc


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return (
            "nan"
            if value != value
            else ("inf" if value == float("inf") else "-inf" if value == -float("inf") else repr(value))
        )
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string (BMP only) is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"


def toml_text(doc: Mapping[str, Any]) -> str:
    lines = []
    for section, body in doc.items():
        if section in NAMED and isinstance(body, dict):
            for name, table in body.items():
                lines.append(f"[{json.dumps(section)}.{json.dumps(name)}]")
                lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in table.items()]
        elif isinstance(body, dict):
            lines.append(f"[{json.dumps(section)}]")
            lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in body.items()]
        else:
            lines.insert(0, f"{json.dumps(section)} = {toml_value(body)}")
    return "\n".join(lines) + "\n"


READ_ONLY_COMMANDS = [
    ["config", "validate"],
    ["config", "show"],
    ["list"],
    ["list", "--json"],
    ["plan", "list"],
    ["agent", "list"],
    ["orchestration", "list"],
    ["status"],
    ["run", "--dry-run"],
]
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _sandbox(base: Path) -> tuple[Path, dict[str, str]]:
    root = Path(tempfile.mkdtemp(dir=base))
    home = root / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHASTRATION_")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_CACHE_HOME=str(home / ".cache"),
               ORCHASTRATION_STATE_DIR=str(root / "state"), NO_COLOR="1")  # fmt: skip
    proj = root / "proj"
    proj.mkdir()
    return proj, env


def _config_named(res: Result, config: Path) -> bool:
    return str(config) in res.err or "orchastration.toml" in res.err


@FUZZ
@given(doc=configs(), command=st.sampled_from(READ_ONLY_COMMANDS))
def test_random_config_shapes(tmp_path: Path, doc: dict[str, Any], command: list[str]) -> None:
    proj, env = _sandbox(tmp_path)
    config = proj / "orchastration.toml"
    config.write_text(toml_text(doc), encoding="utf-8")
    res = call(command, proj, env)
    sane(res)
    if res.code == 2:
        assert _config_named(res, config) or "working_dir" in res.err or "dependency" in res.err, res.err
    shutil.rmtree(proj.parent, ignore_errors=True)


@FUZZ
@given(text=st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_random_config_text(tmp_path: Path, text: str) -> None:
    proj, env = _sandbox(tmp_path)
    config = proj / "orchastration.toml"
    config.write_text(text, encoding="utf-8", errors="surrogateescape")
    res = call(["config", "validate"], proj, env)
    sane(res)
    if res.code == 2:
        assert _config_named(res, config), res.err
    shutil.rmtree(proj.parent, ignore_errors=True)


# ----- names on the command line: unknown is a usage error naming it, nothing written ----------

NAME_COMMANDS = [
    ["run", "{}"],
    ["run", "{}", "--dry-run"],
    ["why", "{}"],
    ["clean", "{}"],
    ["forget", "{}"],
    ["plan", "create", "{}"],
    ["plan", "status", "{}"],
    ["build", "run", "{}"],
    ["doc", "generate", "{}"],
    ["git", "branch", "create", "{}"],
    ["git", "issue", "create", "{}", "--dry-run"],
    ["orchestration", "run", "{}"],
    ["orchestration", "run", "o", "--task", "{}"],
    ["orchestration", "show", "{}"],
]
HOSTILE_NAMES = st.one_of(
    st.sampled_from(["..", "../..", "../../etc/passwd", "/etc/passwd", ".", "a/../../b", "~", "~root", "C:\\x",
                     "CON", "ok/..", "ok\x00", "\x1b[2J", "a\nb", "%s", "{0}", "$HOME", "*", "ok ", " ok"]),
    TEXT.filter(lambda s: not s.startswith("-") and "\x00" not in s and s not in ("ok", "t", "o")),
)  # fmt: skip


@FUZZ
@given(name=HOSTILE_NAMES, command=st.sampled_from(NAME_COMMANDS))
def test_hostile_names_on_the_command_line(tmp_path: Path, name: str, command: list[str]) -> None:
    proj, env = _sandbox(tmp_path)
    (proj / "orchastration.toml").write_text(
        '[jobs.ok]\ncommand = ["true"]\noutputs = ["ok.txt"]\n[tasks.t]\ncommand = ["true"]\n'
        '[orchestrations.o]\nagents = ["PlannerAgent"]\n',
        encoding="utf-8",
    )
    before = tree_snapshot(proj.parent, skip=[proj.parent / "state", proj.parent / "home"])
    argv = [part.replace("{}", name) for part in command]
    if "\x00" in name:
        return
    res = call(argv, proj, env)
    sane(res, (2,))
    escaped = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in name)
    assert escaped in res.err, (escaped, res.err)
    assert tree_snapshot(proj.parent, skip=[proj.parent / "state", proj.parent / "home"]) == before
    state = proj.parent / "state"
    if state.exists():  # nothing recorded for a name that does not exist
        assert not [p for p in state.rglob("*.json")], list(state.rglob("*"))
    shutil.rmtree(proj.parent, ignore_errors=True)


# ----- glob patterns: any pattern is taken or refused cleanly -----------------------------------

SEGMENTS = st.sampled_from(
    ["*", "**", "?", "[a-z]*", "[!a]", "[", "]", "a*", "src", "s?c", ".", "", "~", "x[", "\\", "{a,b}",
     "*.txt", "é*", "[[]", "a]b", "..."]
)  # fmt: skip
PATTERNS = st.one_of(
    st.lists(SEGMENTS, min_size=1, max_size=4).map("/".join),
    st.lists(st.sampled_from(["..", "src", "*.txt"]), min_size=1, max_size=3).map("/".join),  # no ** with ..
    TEXT,
)


@FUZZ
@given(patterns=st.lists(PATTERNS, min_size=1, max_size=3), outputs=st.lists(PATTERNS, max_size=2))
def test_random_glob_patterns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, patterns: list[str], outputs: list[str]
) -> None:
    proj, env = _sandbox(tmp_path)
    monkeypatch.setenv("HOME", env["HOME"])  # "~/**" expands with this process's HOME: keep it small
    (proj / "src" / "sub").mkdir(parents=True)
    for rel in ("src/a.txt", "src/sub/b.txt", "src/[x].txt", "top.txt"):
        (proj / rel).write_text(rel, encoding="utf-8")
    job = {"command": [sys.executable, "-c", "pass"], "inputs": patterns, "outputs": outputs}
    (proj / "orchastration.toml").write_text(toml_text({"jobs": {"g": job}}), encoding="utf-8")
    before = tree_snapshot(proj.parent, skip=[proj.parent / "state", proj.parent / "home"])
    for argv in (["run", "--dry-run"], ["why", "g"], ["run", "g"], ["status"], ["clean", "g"]):
        res = call(argv, proj, env)
        sane(res)
    after = tree_snapshot(proj.parent, skip=[proj.parent / "state", proj.parent / "home"])
    assert set(after) <= set(before), set(after) - set(before)  # `pass` made nothing; clean only removes
    shutil.rmtree(proj.parent, ignore_errors=True)


# ----- hash --check manifests ------------------------------------------------------------------

MANIFEST_LINES = st.one_of(
    st.sampled_from(["", " ", "#comment", "garbage", "  a.txt", "zz  a.txt", "*a.txt"]),
    st.builds(lambda h, p: f"{h}  {p}", st.sampled_from([HASH_A, HASH_A.upper(), "0" * 64, "x" * 64, "0" * 40, ""]),
              st.sampled_from(["a.txt", "missing.txt", "dir", "../a.txt", "/etc/hostname", "a b.txt", ""])),
    st.builds(lambda h, p: f"{h} *{p}", st.sampled_from([HASH_A, "0" * 64]), st.sampled_from(["a.txt", "x"])),
    TEXT,
)  # fmt: skip


@FUZZ
@given(
    lines=st.lists(MANIFEST_LINES, max_size=6),
    crlf=st.booleans(),
    algo=st.sampled_from([None, "sha256", "md5", "SHA1", "nope"]),
)
def test_random_manifests(tmp_path: Path, lines: list[str], crlf: bool, algo: str | None) -> None:
    proj, env = _sandbox(tmp_path)
    (proj / "a.txt").write_text("alpha\n", encoding="utf-8")
    (proj / "dir").mkdir()
    manifest = proj / "SHA256SUMS"
    manifest.write_bytes(("\r\n" if crlf else "\n").join(lines).encode("utf-8", "surrogateescape"))
    res = call(["hash", "--check", str(manifest), *(["--algo", algo] if algo else [])], proj, env)
    sane(res)
    if res.code == 2:
        assert "SHA256SUMS" in res.err or "algo" in res.err or "--algo" in res.err, res.err
    shutil.rmtree(proj.parent, ignore_errors=True)


# ----- templates: a broken one is an error naming it, and nothing is written -------------------

FRAGMENTS = st.sampled_from(
    ["{{", "}}", "{%", "%}", "{#", "#}", " if ", " for x in ", " endfor ", " endif ", " else ", "task.name",
     "task.nope", "|upper", "|nofilter", "(", ")", "'", '"', "status", "goal", "x", "\n", "text ", "{{ task.name }}",
     "{% raw %}", "{% endraw %}", "{{ 1/0 }}", "{{ range(10**9)|list|length }}", "{% include 'nope' %}"]
)  # fmt: skip


@FUZZ
@given(
    parts=st.lists(st.one_of(FRAGMENTS, TEXT), max_size=10),
    which=st.sampled_from(["task_doc.md.j2", "readme_summary.md.j2"]),
)
def test_random_templates(tmp_path: Path, parts: list[str], which: str) -> None:
    text = "".join(parts)
    if "range(10**9)" in text:
        return  # a template may burn CPU like any user code; not a robustness question
    proj, env = _sandbox(tmp_path)
    (proj / "orchastration.toml").write_text('[tasks.t]\ncommand = ["true"]\n', encoding="utf-8")
    (proj / "README.md").write_text("# mine\n", encoding="utf-8")
    templates = proj / ".orchastration" / "templates"
    templates.mkdir(parents=True)
    (templates / which).write_text(text, encoding="utf-8")
    res = call(["doc", "generate", "t"], proj, env)
    sane(res, (0, 2))
    if res.code == 2:
        assert which in res.err, res.err
        assert (proj / "README.md").read_text(encoding="utf-8") == "# mine\n"
        assert not (proj / "docs").exists()
    shutil.rmtree(proj.parent, ignore_errors=True)


def test_nul_characters_in_config_strings_are_config_errors(run_main: Callable[..., Result], tmp_path: Path) -> None:
    cases = {
        'inputs = ["a\\u0000b"]': "jobs.g.inputs[0]",
        'outputs = ["\\u0000"]': "jobs.g.outputs[0]",
        'env = { X = "a\\u0000" }': "jobs.g.env.X",
        'working_dir = "a\\u0000"': "jobs.g.working_dir",
    }
    for line, key in cases.items():
        (tmp_path / "orchastration.toml").write_text(f'[jobs.g]\ncommand = ["true"]\n{line}\n', encoding="utf-8")
        for argv in (["list"], ["run", "--dry-run"], ["run"]):
            res = run_main(argv)
            sane(res, (2,))
            assert f"{key}: must not contain a NUL character" in res.err, res.err
