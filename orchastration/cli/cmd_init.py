"""``init [DIR]``: write a commented starter ``orchastration.toml`` that runs as written."""

from __future__ import annotations

import os
from pathlib import Path

from orchastration.cli.app import App
from orchastration.cli.parser import SubParsers, add_command
from orchastration.errors import InputError

STARTER = """\
# orchastration.toml - written by `orchastration init`. Reference: docs/configuration.md
# Every key is checked: a typo is an error that names it. Relative paths are
# relative to this file's directory.

[logging]
level = "info"            # debug | info | warn | error
format = "text"           # text | json (console); the log file is always JSON lines

[hash]
algorithm = "sha256"      # used by `hash`, up-to-date checks and run records

# Variables: ${NAME} in command, working_dir, inputs, outputs and env comes from
# [vars], then the environment; ${NAME:-default} if it may be unset; $$ is a "$".
[vars]
GREETING = "hello"

# A job: an argv command (no shell) or, with shell = true, one command line.
# `orchastration run hello` runs it; a second run is skipped until an input,
# an output, the command, its env or working_dir changes (`orchastration why hello`).
[jobs.hello]
description = "Write a greeting"
shell = true
command = "echo ${GREETING} from orchastration> hello.txt"
working_dir = "."
timeout_seconds = 60
env = { GREETING = "${GREETING}" }
inputs = ["orchastration.toml"]
outputs = ["hello.txt"]

# One job per file a pattern matches (here note.orchastration): ${item} is the
# file, ${stem} its name without the suffix. `after` orders without depending:
# when both run, these start after hello, but hello running never reruns them.
[jobs.note]
description = "Note ${item}"
foreach = "*.toml"
shell = true
command = "echo noted ${item}> ${stem}.note.txt"
inputs = ["${item}"]
outputs = ["${stem}.note.txt"]
after = ["hello"]

# A group: a job with no command runs what it depends on (`orchastration run all`).
[jobs.all]
depends_on = ["hello", "note"]

# A task: plan -> build -> doc (`orchastration plan create starter`,
# `orchastration build run starter`, `orchastration doc generate starter`).
[tasks.starter]
description = "A first task: build one file and document it"
repo = "orchastration"
working_dir = "."
shell = true
command = "echo built by the starter task> starter-output.txt"
outputs = ["starter-output.txt"]
documents = ["README.md"]
status = "planned"

# An orchestration: Planner -> Builder -> Reviewer -> Doc on the task of the
# same name (`orchastration orchestration run starter --goal "..."`).
[orchestrations.starter]
agents = ["PlannerAgent", "BuilderAgent", "ReviewerAgent", "DocAgent"]
description = "Plan, build, review and document the starter task"
"""


def register(sub: SubParsers) -> None:
    p = add_command(sub, "init", "write a starter orchastration.toml (never overwrites)", run)
    p.add_argument("dir", nargs="?", default=".", metavar="DIR", help="directory (default: current)")


def run(app: App) -> int:
    directory = (app.cwd / Path(app.args.dir).expanduser()).absolute()
    if not directory.is_dir():
        raise InputError(f"{directory}: no such directory")
    target = directory / "orchastration.toml"
    try:
        # O_EXCL: refuse to overwrite, even if the file appears between check and write.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise InputError(f"{target}: already exists; not overwritten") from None
    except OSError as exc:
        raise InputError(f"{target}: cannot create: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(STARTER)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    app.print(f"wrote {target}")
    app.print("next: orchastration run all   (then: orchastration graph, or")
    app.print("      orchastration orchestration run starter --goal 'try it')")
    return 0
