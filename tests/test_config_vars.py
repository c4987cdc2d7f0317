"""``[vars]`` and ``${...}``, ``dotenv`` files, ``foreach``, ``after``, groups and ``graph``
(docs/configuration.md, docs/jobs.md)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Result, assert_error

Cli = Callable[..., Result]
PY = sys.executable
SECRET = "dotenv-S3cret-Value-7d2e"
SHOW = "import os, sys; open(sys.argv[1], 'w').write(' '.join(os.environ.get(k, '-') for k in sys.argv[2:]))"


def _write(proj: Path, text: str) -> Path:
    proj.mkdir(parents=True, exist_ok=True)
    (proj / "orchastration.toml").write_text(text, encoding="utf-8")
    return proj


def _statuses(result: Result) -> dict[str, str]:
    return {line.split()[0][4:]: line.split()[1][7:] for line in result.lines if line.startswith("job=")}


def test_environment_precedence_and_defaults(cli: Cli, tmp_path: Path, env: dict[str, str]) -> None:
    """Lowest first: inherited environment, top-level dotenv files in order, the job's dotenv files,
    the job's env; ``${NAME}`` from [vars], then that environment, then its default; ``$$`` is ``$``."""
    proj = tmp_path / "p"
    (proj / "sub").mkdir(parents=True)
    (proj / "one.env").write_text("B=top1\nC=top1\nD=top1\nE=top1\n")
    (proj / "two.env").write_text("C=top2\nD=top2\nE=top2\n")
    (proj / "sub" / "job.env").write_text("D=job\nE=job\n")
    _write(
        proj,
        f"""
dotenv = ["one.env", "?absent.env", "two.env"]
[vars]
WHO = "vars"
OVERRIDE = "from-vars"
[jobs.show]
working_dir = "sub"
dotenv = ["job.env"]
command = [{json.dumps(PY)}, "-c", {json.dumps(SHOW)}, "out.txt", "A", "B", "C", "D", "E"]
env = {{ E = "env" }}
outputs = ["out.txt"]
[jobs.f]
working_dir = "sub"
command = [{json.dumps(PY)}, "-c", {json.dumps(SHOW)}, "f.txt", "F"]
outputs = ["f.txt"]
depends_on = ["show"]
env = {{ F = "${{D}}-${{WHO}}-${{OVERRIDE}}-${{UNSET:-dflt}}-$${{literal}}" }}
""",
    )
    env.update(A="inherited", B="inherited", C="inherited", D="inherited", E="inherited", OVERRIDE="from-env")
    result = cli(["run", "f"], cwd=proj)
    assert result.code == 0, result.err
    assert (proj / "sub" / "out.txt").read_text() == "inherited top1 top2 job env"
    # ${D}: the environment as job f sees it (no dotenv of its own); [vars] win over the environment.
    assert (proj / "sub" / "f.txt").read_text() == "top2-vars-from-vars-dflt-${literal}"
    env["UNSET"] = "now-set"
    again = cli(["run", "f"], cwd=proj)  # the default no longer applies: the env value changed
    assert _statuses(again) == {"show": "skipped", "f": "ran"}, again.out
    assert (proj / "sub" / "f.txt").read_text() == "top2-vars-from-vars-now-set-${literal}"


def test_a_dotenv_secret_is_in_no_file_written_and_a_change_reruns(
    cli: Cli, tmp_path: Path, env: dict[str, str]
) -> None:
    proj = tmp_path / "p"
    proj.mkdir()
    (proj / ".env").write_text(f"TOKEN={SECRET}\n")
    code = "import os; open('len.txt', 'w').write(str(len(os.environ['TOKEN'])))"
    _write(
        proj,
        f"""
dotenv = [".env"]
[jobs.use]
command = [{json.dumps(PY)}, "-c", {json.dumps(code)}]
outputs = ["len.txt"]
""",
    )
    for argv in (["--log-level", "debug", "run"], ["run"], ["status", "--json"], ["list", "--json"],
                 ["why", "use"], ["run", "--dry-run", "--json"], ["config", "show"], ["graph", "--json"]):  # fmt: skip
        shown = cli(argv, cwd=proj)
        assert shown.code == 0, (argv, shown.err)
        assert SECRET not in shown.out + shown.err, argv
    assert (proj / "len.txt").read_text() == str(len(SECRET))
    state, logs = Path(env["ORCHASTRATION_STATE_DIR"]), Path(env["XDG_CACHE_HOME"]) / "orchastration"
    written = [p for root in (state, logs, proj) for p in root.rglob("*") if p.is_file() and p.name != ".env"]
    assert any(p.suffix == ".json" for p in written) and any(p.suffix == ".log" for p in written)
    assert [str(p) for p in written if SECRET.encode() in p.read_bytes()] == []

    (proj / ".env").write_text(f"TOKEN={SECRET}x\n")
    why = cli(["why", "use"], cwd=proj)
    assert why.out.strip() == "env changed" and SECRET not in why.out
    assert _statuses(cli(["run"], cwd=proj)) == {"use": "ran"}


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        (
            '[jobs.a]\ncommand = ["echo", "${NOPE_UNDEFINED}"]',
            ["jobs.a.command[1]", "undefined variable 'NOPE_UNDEFINED'"],
        ),
        ('[jobs.a]\ncommand = ["echo"]\ninputs = ["${1x}"]', ["jobs.a.inputs[0]", "invalid variable reference"]),
        ('[vars]\n"bad-name" = "x"', ["vars.bad-name", "invalid variable name"]),
        ('dotenv = ["missing.env"]', ["dotenv[0]", "missing.env: no such file", '"?missing.env"']),
        ('[jobs.a]\ncommand = ["echo"]\ndotenv = ["bad.env"]', ["jobs.a.dotenv[0]", "bad.env:2: cannot parse"]),
        ('[jobs.a]\ncommand = ["echo"]\nafter = ["b"]', ["jobs.a.after[0]", "unknown job 'b'"]),
        (
            '[jobs.a]\ncommand = ["echo"]\nafter = ["b"]\n[jobs.b]\ncommand = ["echo"]\ndepends_on = ["a"]',
            ["dependency cycle: a -> b -> a"],
        ),
        ('[jobs.c]\nforeach = "src/*"\ncommand = ["cc", "${item}"]', ["jobs.c.foreach", "would both make job 'c.x'"]),
        ('[jobs.g]\ndepends_on = ["a"]\ninputs = ["x"]\n[jobs.a]\ncommand = ["echo"]', ["jobs.g.inputs", "group"]),
        ('[jobs.g]\ndepends_on = ["nope"]', ["jobs.g.depends_on[0]", "unknown job 'nope'"]),
        ('[jobs.c]\nforeach = "src/*.c"\ncommand = ["cc"]\n[jobs."c.x"]\ncommand = ["echo"]', ["generates job 'c.x'"]),
    ],
)
def test_config_errors_name_the_key(
    run_main: Callable[..., Result], tmp_path: Path, text: str, needles: list[str]
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "x.c").write_text("")
    (tmp_path / "src" / "x.h").write_text("")
    (tmp_path / "bad.env").write_text("A=1\nthis is not a binding\n")
    _write(tmp_path, text)
    assert_error(run_main(["list"]), 2, "orchastration.toml", *needles)


def test_foreach_jobs_list_run_and_depend(cli: Cli, tmp_path: Path) -> None:
    proj = tmp_path / "p"
    (proj / "src").mkdir(parents=True)
    for stem in ("a", "b c"):
        (proj / "src" / f"{stem}.txt").write_text(stem)
    copy = "import shutil, sys; shutil.copy(sys.argv[1], sys.argv[2])"
    cat = "import glob; open('all.txt', 'w').write('+'.join(open(p).read() for p in sorted(glob.glob('out/*.up'))))"
    _write(
        proj,
        f"""
[jobs.up]
description = "copy ${{item}}"
foreach = "src/*.txt"
command = [{json.dumps(PY)}, "-c", {json.dumps(copy)}, "${{item}}", "out/${{stem}}.up"]
inputs = ["${{item}}"]
outputs = ["out/${{stem}}.up"]
[jobs.join]
command = [{json.dumps(PY)}, "-c", {json.dumps(cat)}]
depends_on = ["up"]
outputs = ["all.txt"]
""",
    )
    (proj / "out").mkdir()
    listed = cli(["list"], cwd=proj)
    assert listed.lines == [
        "join",
        f"up.a - copy src{__import__('os').sep}a.txt",
        "up.b_c - copy src/b c.txt".replace("/", __import__("os").sep),
    ]
    first = cli(["run", "join"], cwd=proj)
    assert _statuses(first) == {"up.a": "ran", "up.b_c": "ran", "join": "ran"}, first.err
    assert (proj / "all.txt").read_text() == "a+b c"
    (proj / "src" / "a.txt").write_text("A")
    assert _statuses(cli(["run", "up"], cwd=proj)) == {"up.a": "ran", "up.b_c": "skipped"}
    (proj / "src" / "d.txt").write_text("d")  # a new match is a new job, and join depends on it
    third = cli(["run", "join"], cwd=proj)
    assert _statuses(third) == {"up.a": "skipped", "up.b_c": "skipped", "up.d": "ran", "join": "ran"}
    assert (proj / "all.txt").read_text() == "A+b c+d"


def test_after_orders_without_pulling_in_or_rerunning(cli: Cli, tmp_path: Path) -> None:
    proj = tmp_path / "p"
    stamp = "import sys, time; open(sys.argv[1], 'w').write(str(time.time_ns()))"
    _write(
        proj,
        f"""
[jobs.a_late]
command = [{json.dumps(PY)}, "-c", {json.dumps(stamp)}, "late.txt"]
outputs = ["late.txt"]
after = ["z_early"]
[jobs.z_early]
command = [{json.dumps(PY)}, "-c", {json.dumps(stamp)}, "early.txt"]
inputs = ["in.txt"]
outputs = ["early.txt"]
""",
    )
    (proj / "in.txt").write_text("1")
    alone = cli(["run", "a_late"], cwd=proj)
    assert _statuses(alone) == {"a_late": "ran"}, alone.out
    both = cli(["run", "a_late", "z_early", "--force", "-j", "2"], cwd=proj)
    assert [line.split()[0] for line in both.lines] == ["job=z_early", "job=a_late"], both.out
    assert int((proj / "late.txt").read_text()) > int((proj / "early.txt").read_text())
    (proj / "in.txt").write_text("2")
    again = cli(["run"], cwd=proj)
    assert _statuses(again) == {"z_early": "ran", "a_late": "skipped"}, again.out


def test_a_group_runs_its_jobs_and_reports_ran(cli: Cli, tmp_path: Path, state_dir: Path) -> None:
    proj = _write(
        tmp_path / "p",
        f"""
[jobs.ok]
command = [{json.dumps(PY)}, "-c", "pass"]
[jobs.bad]
command = [{json.dumps(PY)}, "-c", "raise SystemExit(3)"]
[jobs.good]
description = "the good ones"
depends_on = ["ok"]
[jobs.every]
depends_on = ["good", "bad"]
""",
    )
    good = cli(["run", "good"], cwd=proj)
    assert good.code == 0 and _statuses(good) == {"ok": "ran", "good": "ran"}, good.out
    assert (state_dir / "runs" / "ok").is_dir() and not (state_dir / "runs" / "good").exists()  # no record
    for _ in range(2):  # up to date: still the group's line (the no-op fast path never answers for a group)
        assert _statuses(cli(["run", "good"], cwd=proj)) == {"ok": "skipped", "good": "ran"}
    assert_error(cli(["why", "good"], cwd=proj), 2, "'good' is a group of jobs (ok)")
    every = cli(["run", "every", "--keep-going"], cwd=proj)
    assert every.code == 1
    assert _statuses(every) == {"ok": "skipped", "bad": "failed", "every": "not_run"}, every.out


def test_graph_formats(run_main: Callable[..., Result], tmp_path: Path) -> None:
    _write(
        tmp_path,
        """
[jobs.gen]
command = ["gen"]
outputs = ["gen/out.txt"]
[jobs.use]
command = ["use"]
inputs = ["gen/*.txt"]
depends_on = ["prep"]
after = ["lint"]
[jobs.prep]
command = ["prep"]
[jobs.lint]
command = ["lint"]
""",
    )
    text = run_main(["graph"])
    assert text.code == 0
    assert text.lines == ["gen", "lint", "prep", "use", "  needs prep", "  after lint", "  uses output of gen"]
    dot = run_main(["graph", "use", "--format", "dot"]).out
    assert '"prep" -> "use";' in dot and '"gen" -> "use" [style=dotted];' in dot
    assert '"lint"' not in dot  # `after` never pulls a job in
    full = run_main(["graph", "--format", "dot"]).out
    assert '"lint" -> "use" [style=dashed];' in full
    mermaid = run_main(["graph", "--format", "mermaid"]).lines
    assert mermaid[0] == "flowchart LR" and "    j1 -. after .-> j3" in mermaid and "    j2 --> j3" in mermaid
    assert_error(run_main(["graph", "nope"]), 2, "unknown job 'nope'")


def test_a_loop_through_after_and_a_file_is_found_before_anything_runs(cli: Cli, tmp_path: Path) -> None:
    proj = _write(
        tmp_path / "p",
        """
[jobs.make]
command = ["touch", "x.txt"]
outputs = ["x.txt"]
after = ["use"]
[jobs.use]
command = ["cat", "x.txt"]
inputs = ["x.txt"]
""",
    )
    assert_error(cli(["run"], cwd=proj), 2, "dependency cycle through inputs and outputs: make -> use -> make")
    assert not (proj / "x.txt").exists()
