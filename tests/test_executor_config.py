"""``[executor]`` and the jobs' ``resources`` / ``local`` / ``retries`` keys: validation, the choice of
executor, and ``retries`` on the local executor (the dask executor itself: test_dask_executor.py)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Result, assert_error

from orchastration.config import Config, Placement, load_config
from orchastration.executors import ExecutorChoice, choose


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "orchastration.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_keys_load(tmp_path: Path) -> None:
    path = write(tmp_path, """
[executor]
kind = "DASK"
address = "tcp://10.0.0.5:8786"
fs_latency_seconds = 0.5
[jobs.train]
command = ["python", "train.py"]
resources = { GPU = 1, MEMORY = 8e9 }
retries = 2
[jobs.ask]
command = ["true"]
local = true
[jobs.plain]
command = ["true"]
""")  # fmt: skip
    config = load_config(path, environ={}, cwd=tmp_path)
    assert (config.executor.kind, config.executor.address, config.executor.fs_latency_seconds) == (
        "dask", "tcp://10.0.0.5:8786", 0.5,
    )  # fmt: skip
    assert config.placement == {
        "train": Placement(resources={"GPU": 1.0, "MEMORY": 8e9}, retries=2),
        "ask": Placement(local=True),
    }
    assert Config().executor.kind == "local" and Config().placement == {}


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        (
            '[executor]\nkind = "dsak"\n',
            "executor.kind",
            "must be one of local, dask, got 'dsak' (did you mean 'dask'?)",
        ),
        ("[executor]\nadress = 'x'\n", "executor.adress", "unknown key (did you mean 'address'?)"),
        ("[executor]\nfs_latency_seconds = -1\n", "executor.fs_latency_seconds", "must be 0"),
        ("[executor]\naddress = ''\n", "executor.address", "must not be empty"),
        ("[jobs.a]\ncommand = ['x']\nresources = { GPU = 0 }\n", "jobs.a.resources.GPU", "expected a positive number"),
        ("[jobs.a]\ncommand = ['x']\nresources = ['GPU']\n", "jobs.a.resources", "expected a table"),
        ("[jobs.a]\ncommand = ['x']\nlocal = 'yes'\n", "jobs.a.local", "expected true or false"),
        ("[jobs.a]\ncommand = ['x']\nretries = -1\n", "jobs.a.retries", "expected 0 or a positive integer"),
        ("[jobs.a]\ncommand = ['x']\nretry = 1\n", "jobs.a.retry", "unknown key (did you mean 'retries'?)"),
    ],
)
def test_bad_values_name_the_key(
    run_main: Callable[..., Result], tmp_path: Path, text: str, key: str, message: str
) -> None:
    path = write(tmp_path, text)
    assert_error(run_main(["--config", str(path), "config", "validate"]), 2, f"{path}: {key}: {message}")


def test_the_choice_of_executor(tmp_path: Path) -> None:
    dask = load_config(write(tmp_path, '[executor]\nkind = "dask"\naddress = "tcp://a:1"\n'), environ={}, cwd=tmp_path)
    env = {"ORCHASTRATION_DASK_ADDRESS": "tcp://env:2"}
    assert choose(dask, {}) == ExecutorChoice("dask", "tcp://a:1", 5.0)
    assert choose(dask, env) == ExecutorChoice("dask", "tcp://env:2", 5.0)
    assert choose(dask, env, "dask", "tcp://flag:3") == ExecutorChoice("dask", "tcp://flag:3", 5.0)
    assert choose(dask, env, "local").kind == "local"
    assert choose(Config(), env).kind == "local"  # the variable alone does not switch a project to dask


def test_dask_without_an_address_is_a_usage_error(run_main: Callable[..., Result], tmp_path: Path) -> None:
    write(tmp_path, '[executor]\nkind = "dask"\n[jobs.a]\ncommand = ["true"]\n')
    assert_error(run_main(["run"]), 2, "the dask executor needs a scheduler address", "ORCHASTRATION_DASK_ADDRESS")
    assert_error(run_main(["run", "--executor", "dask"]), 2, "needs a scheduler address")


FLAKY = "import pathlib, sys; p = pathlib.Path('count'); n = int(p.read_text()) + 1 if p.exists() else 1; " \
        "p.write_text(str(n)); print('attempt', n); sys.exit(0 if n >= {ok} else 3)"  # fmt: skip


def test_retries_run_a_failed_job_again(run_main: Callable[..., Result], tmp_path: Path, state_dir: Path) -> None:
    (tmp_path / "flaky").mkdir()
    (tmp_path / "broken").mkdir()
    write(tmp_path, f"""
[jobs.flaky]
command = {json.dumps([sys.executable, "-c", FLAKY.format(ok=2)])}
working_dir = "flaky"
retries = 2
[jobs.broken]
command = {json.dumps([sys.executable, "-c", FLAKY.format(ok=99)])}
working_dir = "broken"
retries = 2
""")  # fmt: skip
    ran = run_main(["run", "flaky"])
    assert ran.code == 0 and "job=flaky status=ran" in ran.out, (ran.out, ran.err)
    assert (tmp_path / "flaky" / "count").read_text() == "2"
    record = json.loads((state_dir / "runs" / "flaky" / "last.json").read_text())
    assert record["attempts"] == 2 and record["status"] == "ran"
    failed = run_main(["run", "broken"])
    assert failed.code == 1 and "job=broken status=failed" in failed.out
    assert (tmp_path / "broken" / "count").read_text() == "3"  # the first attempt and two retries
    assert json.loads((state_dir / "runs" / "broken" / "last.json").read_text())["attempts"] == 3
