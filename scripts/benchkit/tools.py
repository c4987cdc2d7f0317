"""The tools compared and how each one describes the same workloads (its own file format, its own CLI).

Workloads, identical for every tool:

- ``build``: N jobs; job ``j<i>`` runs ``cat in/<i>_0.txt ... > out/<i>.txt`` (M inputs, one output).
- ``sleep``: S independent jobs ``sleep <seconds>`` run with ``-j 8`` (or the tool's equivalent).
- ``output``: one job printing ``nbytes`` of text to stdout (the tool's own capture / pass-through).

A tool without incremental builds (just) reruns every job each time: its figures say so.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Job:
    """One build job: a name, its input files, its output file and the shell command joining them."""

    name: str
    inputs: list[str]
    output: str

    @property
    def command(self) -> str:
        return f"cat {' '.join(self.inputs)} > {self.output}"


def build_jobs(jobs: int, inputs: int) -> list[Job]:
    """The N x M workload: ``in/<i>_<k>.txt`` -> ``out/<i>.txt``."""
    return [Job(f"j{i}", [f"in/{i}_{k}.txt" for k in range(inputs)], f"out/{i}.txt") for i in range(jobs)]


CHUNK = "output-chunk.txt"  # 1 MiB of 64-byte lines, written beside each output workload
CHUNK_BYTES = 1 << 20


def write_chunk(d: Path) -> None:
    """The text the output job prints, 1 MiB a time (``cat`` of a file: no pipe, so no SIGPIPE under pipefail)."""
    (d / CHUNK).write_bytes(((b"0123456789abcdef" * 4)[:63] + b"\n") * (CHUNK_BYTES // 64))


def output_command(nbytes: int) -> str:
    """A shell command printing ``nbytes`` (rounded to whole MiB) of 64-byte lines."""
    return f"for i in $(seq {max(1, nbytes // CHUNK_BYTES)}); do cat {CHUNK}; done"


def find(name: str) -> str | None:
    """An executable next to this interpreter (the venv, where ``pip install .[bench]`` puts them), else on PATH."""
    here = Path(sys.executable).parent / (name + (".exe" if os.name == "nt" else ""))
    return str(here) if here.exists() else shutil.which(name)


class Tool:
    """One build tool: where it is, the files it needs for each workload, and its command lines."""

    name = ""
    exe_name = ""
    state: tuple[str, ...] = ()  # files / dirs of its up-to-date state (removed for a cold build)
    incremental = True

    def __init__(self, exe: str) -> None:
        self.exe = exe

    def env(self, base: dict[str, str], workdir: Path) -> dict[str, str]:
        return base

    def version_argv(self) -> list[str]:
        return [self.exe, "--version"]

    def list_argv(self) -> list[str] | None:
        return None  # no listing of jobs

    def write_build(self, d: Path, jobs: list[Job]) -> None:
        raise NotImplementedError

    def build_argv(self) -> list[str]:
        raise NotImplementedError

    def parallel_build_argv(self, parallel: int) -> list[str] | None:
        """The build with ``parallel`` jobs at once, or None where the workload has no such run."""
        return None

    def write_sleep(self, d: Path, count: int, seconds: float) -> None:
        raise NotImplementedError

    def sleep_argv(self, count: int, parallel: int) -> list[str]:
        raise NotImplementedError

    def write_output(self, d: Path, nbytes: int) -> None:
        raise NotImplementedError

    def output_argv(self) -> list[str]:
        raise NotImplementedError

    def reset(self, d: Path) -> None:
        """Forget every output and the tool's state: the next build is cold."""
        for name in self.state:
            for path in d.glob(name):
                discard(path)
        discard(d / "out")
        (d / "out").mkdir()


TRASH = ".bench-trash"  # beside the workloads, in the run's temporary directory (emptied at its end)
_discarded = itertools.count()


def discard(path: Path) -> None:
    """Move ``path`` (if there) out of its workload into the run's trash, not deleted: deleting
    thousands of files just before a measured run charges that run for the file system's work on
    them (on a disk mounted with ``discard`` here, the system time of the next run grew run after run,
    most for a tool that syncs). The trash goes with the run's temporary directory, after the last
    figure."""
    if not os.path.lexists(path):
        return
    trash = path.parent.parent / TRASH
    trash.mkdir(exist_ok=True)
    os.replace(path, trash / f"{path.parent.name}-{path.name}-{next(_discarded)}")


def fresh_checkout(d: Path) -> None:
    """A new checkout of the workload ``d``: no state and no outputs (the output cache stays)."""
    for name in (".state", "out"):
        discard(d / name)
    (d / "out").mkdir()


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


class Orchastration(Tool):
    name = exe_name = "orchastration"
    state = (".state", ".cache")

    def env(self, base: dict[str, str], workdir: Path) -> dict[str, str]:
        return {**base, "ORCHASTRATION_STATE_DIR": str(workdir / ".state"), "XDG_CACHE_HOME": str(workdir / ".cache")}

    def list_argv(self) -> list[str]:
        return [self.exe, "list"]

    def write_build(self, d: Path, jobs: list[Job]) -> None:
        lines = ['[hash]\nalgorithm = "sha256"\n']
        for job in jobs:
            lines.append(
                f"[jobs.{job.name}]\ncommand = {_toml_str(job.command)}\nshell = true\n"
                f"inputs = {json.dumps(job.inputs)}\noutputs = [{_toml_str(job.output)}]\n"
            )
        (d / "orchastration.toml").write_text("\n".join(lines))

    def build_argv(self) -> list[str]:
        return [self.exe, "-q", "run"]

    def parallel_build_argv(self, parallel: int) -> list[str] | None:
        return [self.exe, "-q", "run", "-j", str(parallel)]

    def write_sleep(self, d: Path, count: int, seconds: float) -> None:
        jobs = [f'[jobs.s{i}]\ncommand = ["sleep", "{seconds}"]\nalways_run = true\n' for i in range(count)]
        (d / "orchastration.toml").write_text("\n".join(jobs))

    def sleep_argv(self, count: int, parallel: int) -> list[str]:
        return [self.exe, "-q", "run", "-j", str(parallel)]

    def write_cached_sleep(self, d: Path, count: int, seconds: float) -> None:
        """``count`` jobs each sleeping ``seconds`` and writing an output (so the output cache keeps them)."""
        jobs = [
            f"[jobs.c{i}]\ncommand = {_toml_str(f'sleep {seconds} && echo {i} > out/c{i}.txt')}\nshell = true\n"
            f'outputs = ["out/c{i}.txt"]\n'
            for i in range(count)
        ]
        (d / "orchastration.toml").write_text("\n".join(jobs))

    def write_output(self, d: Path, nbytes: int) -> None:
        (d / "orchastration.toml").write_text(
            f"[jobs.out]\ncommand = {_toml_str(output_command(nbytes))}\nshell = true\nalways_run = true\n"
        )

    def output_argv(self) -> list[str]:
        return [self.exe, "run"]  # not -q: live output to stdout and the whole of it to the log file


class Doit(Tool):
    name = exe_name = "doit"
    state = (".doit.db*",)

    def list_argv(self) -> list[str]:
        return [self.exe, "list"]

    def write_build(self, d: Path, jobs: list[Job]) -> None:
        lines = ["DOIT_CONFIG = {'verbosity': 0}\n\n", "def task_cat():\n"]
        for job in jobs:
            lines.append(
                f"    yield {{'name': {job.name!r}, 'actions': [{job.command!r}], "
                f"'file_dep': {job.inputs!r}, 'targets': [{job.output!r}]}}\n"
            )
        (d / "dodo.py").write_text("".join(lines))

    def build_argv(self) -> list[str]:
        return [self.exe]

    def parallel_build_argv(self, parallel: int) -> list[str] | None:
        return [self.exe, "-n", str(parallel), "-P", "thread"]  # threads, as orchastration's -j

    def write_sleep(self, d: Path, count: int, seconds: float) -> None:
        # A task without file_dep always runs.
        (d / "dodo.py").write_text(
            "def task_sleep():\n"
            f"    for i in range({count}):\n"
            f"        yield {{'name': f's{{i}}', 'actions': ['sleep {seconds}']}}\n"
        )

    def sleep_argv(self, count: int, parallel: int) -> list[str]:
        return [self.exe, "-n", str(parallel), "-P", "thread"]  # threads, as orchastration's -j

    def write_output(self, d: Path, nbytes: int) -> None:
        # doit's defaults: verbosity 1 captures the action's stdout (in memory).
        (d / "dodo.py").write_text(f"def task_out():\n    return {{'actions': [{output_command(nbytes)!r}]}}\n")

    def output_argv(self) -> list[str]:
        return [self.exe]


_NO_BUILTINS = "MAKEFLAGS += --no-builtin-rules\n.SUFFIXES:\n"


class Make(Tool):
    name = exe_name = "make"

    def write_build(self, d: Path, jobs: list[Job]) -> None:
        # No built-in implicit rules: otherwise make looks for a rule to remake each of the
        # N x M inputs (RCS, SCCS, %.txt,v ...): 2.3 s of a 1,000 x 10 no-op instead of ~20 ms.
        lines = [_NO_BUILTINS, ".PHONY: all\nall: " + " ".join(job.output for job in jobs) + "\n"]
        for job in jobs:
            lines.append(f"{job.output}: {' '.join(job.inputs)}\n\t{job.command}\n")
        (d / "Makefile").write_text("".join(lines))

    def build_argv(self) -> list[str]:
        return [self.exe, "-s"]

    def parallel_build_argv(self, parallel: int) -> list[str] | None:
        return [self.exe, "-s", "-j", str(parallel)]

    def write_sleep(self, d: Path, count: int, seconds: float) -> None:
        names = [f"s{i}" for i in range(count)]
        rules = "".join(f"{n}:\n\tsleep {seconds}\n" for n in names)
        (d / "Makefile").write_text(f"{_NO_BUILTINS}.PHONY: all {' '.join(names)}\nall: {' '.join(names)}\n{rules}")

    def sleep_argv(self, count: int, parallel: int) -> list[str]:
        return [self.exe, "-s", "-j", str(parallel)]

    def write_output(self, d: Path, nbytes: int) -> None:
        (d / "Makefile").write_text(f"{_NO_BUILTINS}.PHONY: out\nout:\n\t{output_command(nbytes)}\n")

    def output_argv(self) -> list[str]:
        return [self.exe, "-s"]


def _yaml_list(items: list[str]) -> str:
    return json.dumps(items)  # JSON is valid YAML


class GoTask(Tool):
    name = "go-task"
    exe_name = "task"
    state = (".task",)

    def list_argv(self) -> list[str]:
        return [self.exe, "--list-all"]

    def write_build(self, d: Path, jobs: list[Job]) -> None:
        # Sources are checksummed (go-task's default method): content, as orchastration and doit.
        lines = ["version: '3'\ntasks:\n  default:\n    cmds:\n"]
        lines += [f"      - task: {job.name}\n" for job in jobs]
        for job in jobs:
            lines.append(
                f"  {job.name}:\n    sources: {_yaml_list(job.inputs)}\n    generates: {_yaml_list([job.output])}\n"
                f"    cmds: {_yaml_list([job.command])}\n"
            )
        (d / "Taskfile.yml").write_text("".join(lines))

    def build_argv(self) -> list[str]:
        return [self.exe, "--silent"]

    def write_sleep(self, d: Path, count: int, seconds: float) -> None:
        tasks = "".join(f"  s{i}:\n    cmds: ['sleep {seconds}']\n" for i in range(count))
        (d / "Taskfile.yml").write_text(f"version: '3'\ntasks:\n{tasks}")

    def sleep_argv(self, count: int, parallel: int) -> list[str]:
        return [self.exe, "--silent", "--parallel", "--concurrency", str(parallel), *(f"s{i}" for i in range(count))]

    def write_output(self, d: Path, nbytes: int) -> None:
        (d / "Taskfile.yml").write_text(
            f"version: '3'\ntasks:\n  default:\n    cmds: {_yaml_list([output_command(nbytes)])}\n"
        )

    def output_argv(self) -> list[str]:
        return [self.exe, "--silent"]


class Just(Tool):
    name = exe_name = "just"
    incremental = False  # a command runner: every run reruns every recipe

    def list_argv(self) -> list[str]:
        return [self.exe, "--list"]

    def write_build(self, d: Path, jobs: list[Job]) -> None:
        lines = ["default: " + " ".join(job.name for job in jobs) + "\n\n"]
        lines += [f"{job.name}:\n    {job.command}\n\n" for job in jobs]
        (d / "justfile").write_text("".join(lines))

    def build_argv(self) -> list[str]:
        return [self.exe, "--quiet"]

    def write_sleep(self, d: Path, count: int, seconds: float) -> None:
        names = [f"s{i}" for i in range(count)]
        recipes = "".join(f"{n}:\n    sleep {seconds}\n\n" for n in names)
        (d / "justfile").write_text(f"[parallel]\nall: {' '.join(names)}\n\n{recipes}")

    def sleep_argv(self, count: int, parallel: int) -> list[str]:
        return [self.exe, "--quiet", "--jobs", str(parallel), "all"]

    def write_output(self, d: Path, nbytes: int) -> None:
        (d / "justfile").write_text(f"out:\n    {output_command(nbytes)}\n")

    def output_argv(self) -> list[str]:
        return [self.exe, "--quiet"]


class Snakemake(Tool):
    name = exe_name = "snakemake"
    state = (".snakemake",)

    def write_build(self, d: Path, jobs: list[Job]) -> None:
        # The idiomatic form: one wildcard rule; its input function names each job's M files.
        m = len(jobs[0].inputs) if jobs else 0
        (d / "Snakefile").write_text(
            f"rule all:\n    input: [f'out/{{i}}.txt' for i in range({len(jobs)})]\n\n"
            "rule cat:\n"
            f"    input: lambda wc: [f'in/{{wc.i}}_{{k}}.txt' for k in range({m})]\n"
            "    output: 'out/{i}.txt'\n"
            "    shell: 'cat {input} > {output}'\n"
        )

    def build_argv(self) -> list[str]:
        return [self.exe, "--cores", "1", "--quiet", "all", "--", "all"]

    def parallel_build_argv(self, parallel: int) -> list[str] | None:
        return [self.exe, "--cores", str(parallel), "--quiet", "all", "--", "all"]

    def write_sleep(self, d: Path, count: int, seconds: float) -> None:
        (d / "Snakefile").write_text(
            f"rule all:\n    input: [f'sl/{{i}}' for i in range({count})]\n\n"
            f"rule s:\n    output: 'sl/{{i}}'\n    shell: 'sleep {seconds} && touch {{output}}'\n"
        )

    def sleep_argv(self, count: int, parallel: int) -> list[str]:
        return [self.exe, "--cores", str(parallel), "--forceall", "--quiet", "all", "--", "all"]

    def write_output(self, d: Path, nbytes: int) -> None:
        (d / "Snakefile").write_text(
            f"rule out:\n    output: 'out.done'\n    shell: {output_command(nbytes) + '; touch {output}'!r}\n"
        )

    def output_argv(self) -> list[str]:
        return [self.exe, "--cores", "1", "--forceall", "--quiet", "all"]


ALL: tuple[type[Tool], ...] = (Orchastration, Doit, Make, GoTask, Just, Snakemake)
