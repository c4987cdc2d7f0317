"""The examples that end every command's ``--help`` (as ``git`` and ``gh`` show them): one table.

Keys are command paths without the program name (``""`` is ``orchastration`` itself, ``"plan create"``
a subcommand); each value is two or three ``(command line, what it does)`` pairs. ``add_command``
(cli/parser.py) puts a command's examples into its parser's epilog. A new command adds its entry here;
``tests/test_jobs_daily.py`` checks that every registered command has one.
"""

from __future__ import annotations

EXAMPLES: dict[str, tuple[tuple[str, str], ...]] = {
    "": (
        ("orchastration init", "write a starter orchastration.toml here"),
        ("orchastration run", "run every job that is not up to date"),
        ("orchastration COMMAND --help", "a command's flags and examples"),
    ),
    # jobs
    "list": (("orchastration list", "the configured jobs"), ("orchastration list --json", "with their settings")),
    "run": (
        ("orchastration run", "every job that is not up to date"),
        ("orchastration run test -j 4 --keep-going", "test and what it depends on, 4 at once"),
        ("orchastration run test -- -k top", "append arguments to one job's command"),
    ),
    "status": (
        ("orchastration status", "every job's last run and whether it is up to date"),
        ("orchastration status build test", "only these jobs"),
    ),
    "why": (
        ("orchastration why build", "every reason build would run now"),
        ("orchastration --config ci.toml why build", "the same for another config"),
    ),
    "clean": (
        ("orchastration clean build", "delete build's declared outputs"),
        ("orchastration clean --all", "every job's outputs"),
    ),
    "forget": (
        ("orchastration forget build", "build runs next time"),
        ("orchastration forget --all", "every job runs next time"),
    ),
    "logs": (
        ("orchastration logs test", "the output of test's last run"),
        ("orchastration logs test --stderr 2>&1 | less", "only its stderr, paged"),
        ("orchastration logs test --run 20261124T101500.123456Z --path", "the log files of an earlier run"),
    ),
    "graph": (
        ("orchastration graph", "every job, dependencies first"),
        ("orchastration graph link --format mermaid", "what `run link` runs, as a Mermaid flowchart"),
        ("orchastration graph --format dot | dot -Tsvg > jobs.svg", "an SVG drawing (Graphviz)"),
    ),
    "watch": (
        ("orchastration watch", "run every job, then again whenever an input changes"),
        ("orchastration watch test lint -j 2", "only these jobs (and what they depend on), two at once"),
        ("orchastration watch --poll", "on a network or WSL-mounted file system"),
    ),
    "verify": (
        ("orchastration verify", "re-hash every job's outputs against its last run"),
        ("orchastration verify wheel --json", "one job, as JSON"),
    ),
    "prune": (
        ("orchastration prune", "keep the last 20 runs of each job"),
        ("orchastration prune --keep 5 --older-than 30", "fewer, and nothing older than 30 days"),
    ),
    "history": (
        ("orchastration history", "recent runs, newest first"),
        ("orchastration history -n 5 --json", "the last five, as JSON"),
    ),
    "report": (
        ("orchastration report", "an HTML report of the newest run"),
        ("orchastration report -o run.html", "written to run.html"),
    ),
    "cache": (("orchastration cache stats", "entries, size, hits"), ("orchastration cache clear", "empty it")),
    "cache stats": (
        ("orchastration cache stats", "entries, size, hits and misses"),
        ("orchastration cache stats --json", "as JSON"),
    ),
    "cache prune": (
        ("orchastration cache prune", "drop stale entries"),
        ("orchastration cache prune --max-size 2G", "and the oldest above 2 GB"),
    ),  # fmt: skip
    "cache clear": (("orchastration cache clear", "delete every entry"), ("orchastration cache stats", "then check")),
    # other families
    "hash": (
        ("orchastration hash --file dist/app.tgz", "one JSON line: file, algorithm, hash"),
        ("orchastration hash --file a --file b --algo sha512", "two files, SHA-512"),
        ("orchastration hash --check SHA256SUMS", "verify a sha256sum manifest"),
    ),
    "config": (("orchastration config path", "the config file in use"), ("orchastration config validate", "check it")),
    "config path": (
        ("orchastration config path", "the config file, why it was chosen, its state dir"),
        ("orchastration --config ci.toml config path", "the same for another file"),
    ),  # fmt: skip
    "config show": (
        ("orchastration config show", "the effective config as TOML"),
        ("orchastration --config ci.toml config show --json", "another file, as JSON"),
    ),
    "config validate": (
        ("orchastration config validate", "check the config in use"),
        ("orchastration --config ci.toml config validate", "check another file"),
    ),
    "init": (("orchastration init", "a starter project here"), ("orchastration init myproject", "in ./myproject")),
    "plan": (
        ("orchastration plan list", "the configured tasks"),
        ("orchastration plan create sample_task", "write a task's record"),
    ),
    "plan list": (
        ("orchastration plan list", "tasks with their status"),
        ("orchastration plan list --json", "as JSON"),
    ),
    "plan create": (
        ("orchastration plan create sample_task", "write the task's record"),
        ("orchastration plan status sample_task", "then see it"),
    ),  # fmt: skip
    "plan status": (
        ("orchastration plan status sample_task", "its status and last run"),
        ("orchastration plan status sample_task --json", "the whole record"),
    ),  # fmt: skip
    "build": (
        ("orchastration build run sample_task", "run the task's command"),
        ("orchastration build run sample_task --force", "even if up to date"),
    ),  # fmt: skip
    "build run": (
        ("orchastration build run sample_task", "run the task's command unless up to date"),
        ("orchastration build run sample_task --force", "run it anyway"),
    ),
    "doc": (
        ("orchastration doc generate sample_task", "write the task's doc and README section"),
        ("orchastration logs sample_task", "the output of its last build"),
    ),  # fmt: skip
    "doc generate": (
        ("orchastration doc generate sample_task", "write the task's doc and README section"),
        ("orchastration --config ci.toml doc generate sample_task", "for another config"),
    ),  # fmt: skip
    "git": (
        ("orchastration git branch create sample_task", "a branch for the task"),
        ("orchastration git issue create sample_task --dry-run", "show the issue text"),
    ),
    "git branch": (
        ("orchastration git branch create sample_task", "a branch for the task"),
        ("orchastration git branch create sample_task --base main", "starting from main"),
    ),  # fmt: skip
    "git branch create": (
        ("orchastration git branch create sample_task", "a branch named after the task"),
        ("orchastration git branch create sample_task --base main", "starting from main"),
    ),
    "git issue": (
        ("orchastration git issue create sample_task --dry-run", "show the issue text"),
        ("orchastration git issue create sample_task", "open it (GITHUB_TOKEN)"),
    ),  # fmt: skip
    "git issue create": (
        ("orchastration git issue create sample_task --dry-run", "show the rendered title and body"),
        ("orchastration git issue create sample_task", "open it (GITHUB_TOKEN)"),
    ),
    "agent": (
        ("orchastration agent list", "built-in and configured agents"),
        ("orchastration agent list --json", "as JSON"),
    ),
    "agent list": (
        ("orchastration agent list", "agents and their capabilities"),
        ("orchastration agent list --json", "as JSON"),
    ),
    "orchestration": (
        ("orchastration orchestration list", "the configured orchestrations"),
        ("orchastration orchestration run hello_multi_agent --goal 'ship it'", "run one"),
    ),
    "orchestration list": (
        ("orchastration orchestration list", "names and descriptions"),
        ("orchastration orchestration list --json", "with steps"),
    ),  # fmt: skip
    "orchestration show": (
        ("orchastration orchestration show hello_multi_agent", "its steps"),
        ("orchastration orchestration show hello_multi_agent --format mermaid", "as a Mermaid chart"),
    ),
    "orchestration run": (
        ("orchastration orchestration run hello_multi_agent --goal 'ship it'", "run the pipeline"),
        ("orchastration orchestration run hello_multi_agent --task sample_task --dry-run", "what would run"),
    ),
    "orchestration runs": (
        ("orchastration orchestration runs hello_multi_agent", "its runs, newest first"),
        ("orchastration orchestration runs hello_multi_agent --json", "as JSON"),
    ),  # fmt: skip
    "orchestration approve": (
        ("orchastration orchestration approve release", "approve the waiting gate"),
        ("orchastration orchestration run release", "then go on"),
    ),  # fmt: skip
    "orchestration reject": (
        ("orchastration orchestration reject release --comment 'not yet'", "reject it"),
        ("orchastration orchestration runs release", "see the decision"),
    ),  # fmt: skip
    "completion": (
        ("source <(orchastration completion bash)", "completion in this bash"),
        ("orchastration completion fish > ~/.config/fish/completions/orchastration.fish", "fish, for good"),
    ),
}


def epilog(path: str) -> str | None:
    """The ``examples:`` block for the command ``path`` (None: no entry), commands aligned, comments after."""
    entries = EXAMPLES.get(path)
    if not entries:
        return None
    width = max(len(command) for command, _ in entries)
    lines = [f"  {c:<{width}}  # {what}" if what else f"  {c}" for c, what in entries]
    return "examples:\n" + "\n".join(line.rstrip() for line in lines)
