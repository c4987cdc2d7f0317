"""Config lookup order, strict validation errors (file + key path), and the original tool's config."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from conftest import assert_error
from jobs_helpers import write

from orchastration.config import load_config
from orchastration.config_schema import parse_config
from orchastration.errors import ConfigError

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "original-config.example.toml"


def original_config(tmp_path: Path) -> Path:
    source = REFERENCE if REFERENCE.exists() else None
    if source is None:
        pytest.skip("shared/reference not beside the checkout")
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    text = source.read_text(encoding="utf-8").replace("/absolute/path", work.as_posix())
    return write(tmp_path / "original.toml", text)


def test_original_config_loads_with_every_table(tmp_path: Path) -> None:
    config = load_config(original_config(tmp_path), environ={}, cwd=tmp_path)
    assert config.jobs["sample"].command == ("ls", "-la")
    assert config.jobs["sample"].env == {"SAMPLE_ENV": "true"}
    assert config.jobs["sample"].timeout_seconds == 10
    assert config.tasks["sample_task"].outputs == ("dist/example.txt",)
    assert config.tasks["sample_task"].working_dir == tmp_path / "work"
    assert set(config.agents) == {"PlannerAgent", "BuilderAgent", "ReviewerAgent", "DocAgent"}
    assert config.orchestrations["parallel_example"].steps == (
        ("PlannerAgent",),
        ("BuilderAgent", "ReviewerAgent"),
        ("DocAgent",),
    )
    assert config.orchestrations["hello_multi_agent"].sequential


def test_original_config_validates_through_cli(cli, tmp_path: Path) -> None:
    result = cli(["--config", str(original_config(tmp_path)), "config", "validate"])
    assert result.code == 0, result.err
    assert "valid (1 job, 2 tasks, 2 orchestrations)" in result.out


def test_relative_working_dir_resolves_against_config_dir(tmp_path: Path) -> None:
    cfg = write(
        tmp_path / "proj" / "conf" / "orchastration.toml", '[jobs.a]\ncommand = ["x"]\nworking_dir = "../src"\n'
    )
    config = load_config(cfg, environ={}, cwd=tmp_path)
    assert config.jobs["a"].working_dir.resolve() == (tmp_path / "proj" / "src").resolve()


def test_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    cfg = write(tmp_path / "c.toml", '[jobs.a]\ncommand = ["x"]\nworking_dir = "~/w"\n')
    assert load_config(cfg, environ={}, cwd=tmp_path).jobs["a"].working_dir == tmp_path / "w"


def test_defaults_when_no_file(tmp_path: Path) -> None:
    config = load_config(None, environ={}, cwd=tmp_path, user_config=tmp_path / "none.toml")
    assert config.path is None and not config.jobs
    assert config.hash.algorithm == "sha256" and config.logging.level == "info"


def test_lookup_order(tmp_path: Path) -> None:
    explicit = write(tmp_path / "explicit.toml", "")
    from_env = write(tmp_path / "env.toml", "")
    project = write(tmp_path / "proj" / "orchastration.toml", "")
    nested = tmp_path / "proj" / "a" / "b"
    nested.mkdir(parents=True)
    user = write(tmp_path / "user" / "config.toml", "")
    env = {"ORCHASTRATION_CONFIG": str(from_env)}
    assert load_config(explicit, environ=env, cwd=nested, user_config=user).path == explicit
    assert load_config(None, environ=env, cwd=nested, user_config=user).path == from_env
    assert load_config(None, environ={}, cwd=nested, user_config=user).path == project
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    found = load_config(None, environ={}, cwd=elsewhere, user_config=user)
    assert found.path == user and found.reason == "user config file"


def test_config_path_command_says_why(cli, tmp_path: Path) -> None:
    write(tmp_path / "orchastration.toml", "")
    sub = tmp_path / "sub"
    sub.mkdir()
    result = cli(["config", "path"], cwd=sub)
    assert result.code == 0
    assert result.lines[0] == str(tmp_path / "orchastration.toml")
    assert result.lines[1] == f"reason: orchastration.toml in {tmp_path}"


def test_user_config_from_xdg(cli, env, tmp_path: Path) -> None:
    user = write(Path(env["XDG_CONFIG_HOME"]) / "orchastration" / "config.toml", '[jobs.u]\ncommand = ["x"]\n')
    result = cli(["config", "path"])
    assert result.lines == [str(user), "reason: user config file", f"state: {env['ORCHASTRATION_STATE_DIR']}"]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[jobs.build]\ncomand = ["x"]\n', "jobs.build.comand: unknown key (did you mean 'command'?)"),
        ('[jobz.a]\ncommand = ["x"]\n', "jobz: unknown key (did you mean 'jobs'?)"),
        ("[jobs.build]\n", "jobs.build.command: required key is missing"),
        ('[jobs.build]\ncommand = "make all"\n', "jobs.build.command: must be a list of arguments (argv)"),
        ("[jobs.build]\ncommand = []\n", "jobs.build.command: must not be empty"),
        ("[jobs.build]\ncommand = [1]\n", "jobs.build.command[0]: expected a string, got an integer"),
        ('[jobs.build]\nshell = true\ncommand = ["a"]\n', "jobs.build.command: with shell = true"),
        ('[jobs.build]\ncommand = ["x"]\ntimeout_seconds = "10"\n', "jobs.build.timeout_seconds: expected a number"),
        ('[jobs.build]\ncommand = ["x"]\ntimeout_seconds = -1\n', "jobs.build.timeout_seconds: must be 0"),
        ('[jobs.build]\ncommand = ["x"]\nenv = { A = true }\n', "jobs.build.env.A: expected a string"),
        ('[jobs.build]\ncommand = ["x"]\nalways_run = "yes"\n', "jobs.build.always_run: expected true or false"),
        ('[jobs.build]\ncommand = ["x"]\ninputs = "src"\n', "jobs.build.inputs: expected a list of strings"),
        (
            '[jobs.a]\ncommand = ["x"]\ndepends_on = ["bild"]\n[jobs.build]\ncommand = ["x"]\n',
            "jobs.a.depends_on[0]: unknown job 'bild' (did you mean 'build'?)",
        ),
        (
            '[jobs.a]\ncommand = ["x"]\ndepends_on = ["b"]\n[jobs.b]\ncommand = ["x"]\ndepends_on = ["a"]\n',
            "dependency cycle: a -> b -> a",
        ),
        ('[jobs.a]\ncommand = ["x"]\ndepends_on = ["a"]\n', "jobs.a.depends_on[0]: a job cannot depend on itself"),
        ('[jobs."../evil"]\ncommand = ["x"]\n', "jobs.../evil: invalid name '../evil'"),
        ('[jobs.".hidden"]\ncommand = ["x"]\n', "invalid name '.hidden'"),
        ('[jobs."a b"]\ncommand = ["x"]\n', "invalid name 'a b'"),
        ('[jobs.CON]\ncommand = ["x"]\n', "invalid name 'CON'"),
        ('[logging]\nlevel = "loud"\n', "logging.level: must be one of debug, info, warn, warning, error, got 'loud'"),
        ('[logging]\nformat = "xml"\n', "logging.format: must be one of text, json"),
        ('[hash]\nalgorithm = "sha257"\n', "hash.algorithm: must be one of sha256"),
        ('[hash]\nalgo = "sha256"\n', "hash.algo: unknown key (did you mean 'algorithm'?)"),
        ("jobs = 3\n", "jobs: expected a table, got an integer"),
        ('[tasks.t]\ncommand = ["x"]\nrepo = "internal"\n', "tasks.t.repo: must be one of orchastration, external"),
        ('[tasks.t]\ncommand = ["x"]\nstatus = "started"\n', "tasks.t.status: must be one of planned"),
        ("[tasks.t]\n", "tasks.t.command: required key is missing"),
        ('[tasks.t]\ncommand = ["x"]\nreview_command = []\n', "tasks.t.review_command: must not be empty"),
        (
            '[tasks.t]\ncommand = ["x"]\ndocument = ["README.md"]\n',
            "tasks.t.document: unknown key (did you mean 'documents'?)",
        ),
        ('[agents.PlannerAgent]\ncommand = ["x"]\n', "agents.PlannerAgent.command: built-in agents take no settings"),
        ('[agents.Lint]\ndescription = "x"\n', "agents.Lint.command: required key is missing"),
        ('[agents.Lint]\ncommand = ["x"]\noutput_key = ""\n', "agents.Lint.output_key: must not be empty"),
        ('[orchestrations.o]\ndescription = "x"\n', "orchestrations.o: needs 'agents'"),
        ('[orchestrations.o]\nagents = ["PlannerAgent"]\nsteps = [["DocAgent"]]\n', "orchestrations.o: give either"),
        (
            '[orchestrations.o]\nagents = ["PlanerAgent"]\n',
            "orchestrations.o.agents[0]: unknown agent 'PlanerAgent' (did you mean 'PlannerAgent'?)",
        ),
        ('[orchestrations.o]\nsteps = [["PlannerAgent"], []]\n', "orchestrations.o.steps[1]: empty step"),
        ("[orchestrations.o]\nsteps = []\n", "orchestrations.o.steps: must name at least one agent"),
        (
            '[orchestrations.o]\nsteps = [["DocAgent", "DocAgent"]]\n',
            "orchestrations.o.steps[0]: an agent appears twice",
        ),
        (
            '[orchestrations.o]\nagents = ["DocAgent"]\nmax_review_rounds = 0\n',
            "orchestrations.o.max_review_rounds: must be at least 1",
        ),
        ('[jobs.x]\ncommand = ["a"]\n[tasks.x]\ncommand = ["a"]\n', "tasks.x: a job is also named 'x'"),
        ('[templates]\ndirectory = "t"\n', "templates.directory: unknown key (did you mean 'dir'?)"),
    ],
)
def test_invalid_config_names_file_and_key(tmp_path: Path, text: str, needle: str) -> None:
    cfg = write(tmp_path / "orchastration.toml", text)
    with pytest.raises(ConfigError) as info:
        load_config(cfg, environ={}, cwd=tmp_path)
    message = str(info.value)
    assert message.startswith(f"{cfg}: "), message
    assert needle in message


def test_toml_syntax_error_names_line_and_column(cli, tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", '[jobs.a]\ncommand ["x"]\n')
    assert_error(cli(["--config", str(cfg), "config", "validate"]), 2, f"{cfg}:2:9: invalid TOML")
    unclosed = write(tmp_path / "d.toml", '[jobs.a]\ncommand = ["x"')
    assert_error(cli(["--config", str(unclosed), "config", "validate"]), 2, f"{unclosed}:2:", "end of file")


def test_configs_are_toml_1_0_as_tomllib_reads_them(cli, tmp_path: Path) -> None:
    """The parser is tomli (a dependency: tomllib's code, compiled), held to TOML 1.0: what tomllib
    accepts, no more (tomli 2.4 reads TOML 1.1: a newline in an inline table, ``\\e``, seconds left out),
    with tomllib's messages."""
    from orchastration.config import _toml

    assert _toml().__name__ == "tomli"
    newer = [("[jobs.a]\ncommand = ['x']\nenv = { A = '1',\n B = '2' }\n", 3), ('[jobs.a]\ncommand = ["\\e"]\n', 2)]
    for i, (text, line) in enumerate(newer):
        cfg = write(tmp_path / f"{i}.toml", text)
        with pytest.raises(tomllib.TOMLDecodeError) as expected:
            tomllib.loads(text)
        result = cli(["--config", str(cfg), "config", "validate"])
        assert_error(result, 2, f"{cfg}:{line}:", "invalid TOML")
        assert str(expected.value).split(" (at ")[0] in result.err


def test_cli_config_errors_are_one_line_exit_2(cli, tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", '[jobs.build]\ncomand = ["x"]\n')
    result = cli(["--config", str(cfg), "config", "validate"])
    assert_error(result, 2, "jobs.build.comand: unknown key (did you mean 'command'?)")
    assert result.err.count("\n") == 1


def test_missing_config_file_is_an_error(cli, tmp_path: Path) -> None:
    assert_error(cli(["--config", str(tmp_path / "nope.toml"), "config", "show"]), 2, "nope.toml", "not found")


def test_env_config_missing_is_an_error(cli, env, tmp_path: Path) -> None:
    env["ORCHASTRATION_CONFIG"] = str(tmp_path / "gone.toml")
    assert_error(cli(["config", "path"]), 2, "gone.toml", "ORCHASTRATION_CONFIG")


def test_invalid_utf8_config(cli, tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_bytes(b'[jobs.a]\ncommand = ["\xff"]\n')
    assert_error(cli(["--config", str(cfg), "config", "validate"]), 2, str(cfg), "UTF-8")


def test_validate_reports_missing_working_dir(cli, tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", '[tasks.t]\ncommand = ["x"]\nworking_dir = "missing"\n')
    assert_error(cli(["--config", str(cfg), "config", "validate"]), 2, "tasks.t.working_dir: no such directory")


def test_config_show_fills_defaults_and_masks_env(cli, tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", '[jobs.a]\ncommand = ["x"]\nenv = { TOKEN = "s3cret-value" }\n')
    shown = cli(["--config", str(cfg), "config", "show", "--json"])
    assert shown.code == 0, shown.err
    import json

    data = json.loads(shown.out)["config"]
    assert data["jobs"]["a"]["timeout_seconds"] == 0
    assert data["jobs"]["a"]["working_dir"] == str(tmp_path)
    assert data["jobs"]["a"]["env"] == {"TOKEN": "***"}
    assert data["hash"]["algorithm"] == "sha256"
    text = cli(["--config", str(cfg), "config", "show"])
    assert "s3cret-value" not in text.out and "[jobs.a]" in text.out
    revealed = cli(["--config", str(cfg), "config", "show", "--show-env"])
    assert "s3cret-value" in revealed.out


def test_config_show_text_is_valid_toml_that_reloads(cli, tmp_path: Path) -> None:
    cfg = original_config(tmp_path)
    shown = cli(["--config", str(cfg), "config", "show", "--show-env"])
    data = tomllib.loads(shown.out)
    again = parse_config(data, path=tmp_path / "shown.toml")
    assert again.jobs["sample"].command == ("ls", "-la")
    assert again.orchestrations["parallel_example"].steps[1] == ("BuilderAgent", "ReviewerAgent")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        # Two errors in one table: the one reported first is the same for jobs and tasks as it always was.
        ('[jobs.j]\ncommand = "x"\nworking_dir = ""\n', "jobs.j.command: must be a list of arguments"),
        ('[tasks.t]\ncommand = "x"\nworking_dir = ""\n', "tasks.t.working_dir: must not be empty"),
        ('[tasks.t]\ncommand = "x"\nrepo = "elsewhere"\n', "tasks.t.repo: must be one of"),
        ('[jobs.j]\ncommand = "x"\nshell = 1\ndescription = 2\n', "jobs.j.shell: expected true or false"),
        ('[tasks.t]\ncommand = "x"\ndescription = 2\nrepo = "r"\n', "tasks.t.description: expected a string"),
        ("[tasks.t]\ncommand = []\ntimeout_seconds = -1\n", "tasks.t.command: must not be empty"),
        ('[jobs.j]\ncommand = ["x"]\noutputs = [1]\ndepends_on = ["nope"]\n', "jobs.j.outputs[0]: expected a string"),
    ],
)
def test_first_error_of_a_command_table(tmp_path: Path, text: str, needle: str) -> None:
    cfg = write(tmp_path / "orchastration.toml", text)
    with pytest.raises(ConfigError) as info:
        load_config(cfg, environ={}, cwd=tmp_path)
    assert str(info.value).startswith(f"{cfg}: {needle}"), info.value


def test_jobs_and_tasks_share_one_command_spec(tmp_path: Path) -> None:
    from orchastration.config import CommandSpec, JobConfig, TaskConfig

    cfg = write(tmp_path / "c.toml", '[jobs.j]\ncommand = ["x"]\n[tasks.t]\ncommand = "y"\nshell = true\n')
    config = load_config(cfg, environ={}, cwd=tmp_path)
    specs: list[CommandSpec] = [config.jobs["j"], config.tasks["t"]]
    assert [type(s) for s in specs] == [JobConfig, TaskConfig]
    assert [(s.name, s.command, s.shell, s.working_dir) for s in specs] == [
        ("j", ("x",), False, tmp_path),
        ("t", "y", True, tmp_path),
    ]


def test_config_show_keeps_the_key_order(cli, tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", '[jobs.j]\ncommand = ["x"]\n[tasks.t]\ncommand = ["y"]\n')
    shown = cli(["--config", str(cfg), "config", "show", "--json"])
    assert shown.code == 0, shown.err
    import json

    data = json.loads(shown.out)["config"]
    assert list(data["jobs"]["j"]) == [
        "working_dir", "command", "description", "shell", "timeout_seconds", "env", "inputs", "outputs",
        "depends_on", "always_run",
    ]  # fmt: skip
    assert list(data["tasks"]["t"]) == [
        "working_dir", "command", "description", "repo", "shell", "timeout_seconds", "env", "inputs", "outputs",
        "documents", "status",
    ]  # fmt: skip
