"""Command agents: any program (a coding-agent CLI, a script) run with the shared context as JSON.

The context goes to the file named by ``$ORCHASTRATION_CONTEXT``; JSON the command
writes to ``$ORCHASTRATION_CONTEXT_OUT`` is merged back; its stdout is stored under
``output_key``. Each argv element and the ``prompt`` (sent on stdin) are Jinja templates.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchastration.agents.attempts import Activity, IdleWatch, add_costs, json_details, json_result, last_json_object
from orchastration.agents.base import AgentContext, AgentResult, Fingerprint
from orchastration.agents.builtin import task_settings
from orchastration.agents.context import nested, select_keys
from orchastration.agents.incremental import task_inputs
from orchastration.config import AgentConfig
from orchastration.errors import TemplateError
from orchastration.outcomes import AgentStatus, ProcessStatus
from orchastration.patterns import expand_inputs, output_files, own_outputs, split_patterns
from orchastration.state import iso, unique_now

CONTEXT_ENV = "ORCHASTRATION_CONTEXT"
CONTEXT_OUT_ENV = "ORCHASTRATION_CONTEXT_OUT"
# Settings that change what a run does, beyond the rendered command (in the fingerprint).
# (Not ``context_keys``: the context it selects is compared, and the same keys mean the same run.)
_SETTINGS = ("inputs", "outputs", "pure", "idle_timeout_seconds", "result_format", "require_changes")
MAX_OUTPUT_CHARS = 1 << 20  # stdout kept in the context (and every record): 1 MiB, the rest stays in the log


def template_namespace(ctx: AgentContext, name: str) -> dict[str, Any]:
    """What ``{{ ... }}`` sees: the context as a tree, the task's settings, and the run's coordinates."""
    tree = nested(ctx.context)
    task = dict(tree.get("task") or {}) if isinstance(tree.get("task"), dict) else {}
    if ctx.task is not None:
        task = {**task_settings(ctx.task), **task}
    return {
        **tree,
        "task": task,
        "context": dict(ctx.context),
        "context_json": json.dumps(dict(ctx.context), ensure_ascii=False),
        "orchestration": ctx.orchestration,
        "agent": name,
        "step": ctx.step,
        "round": ctx.round,
    }


class CommandAgent:
    """An agent defined by ``[agents.<name>]`` with a ``command``."""

    builtin = False

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.name = config.name
        self.description = config.description
        self.capabilities = config.capabilities

    def check_templates(self) -> set[str]:
        """Syntax-check the command and prompt templates before anything runs (exit 2 on error);
        the names they use (``task``, ``goal``...)."""
        import jinja2
        import jinja2.meta

        env = jinja2.Environment()
        names: set[str] = set()
        for label, source in self._sources():
            try:
                names |= jinja2.meta.find_undeclared_variables(env.parse(source))
            except jinja2.TemplateSyntaxError as exc:
                raise TemplateError(f"{label}: template syntax error: {exc.message} (line {exc.lineno})") from None
        return names

    def _sources(self) -> list[tuple[str, str]]:
        key = f"agents.{self.name}"
        items = [(f"{key}.command[{i}]", arg) for i, arg in enumerate(self.config.command)]
        if self.config.prompt is not None:
            items.append((f"{key}.prompt", self.config.prompt))
        return items

    def render(self, ctx: AgentContext) -> tuple[list[str], str | None]:
        """The argv and prompt for this run; an unknown name raises ``TemplateError`` naming the key."""
        from orchastration.rendering import Renderer

        renderer = Renderer([])
        namespace = template_namespace(ctx, self.name)
        key = f"agents.{self.name}"
        argv = [
            renderer.render_string(arg, namespace, f"{key}.command[{i}]") for i, arg in enumerate(self.config.command)
        ]
        prompt = None
        if self.config.prompt is not None:
            prompt = renderer.render_string(self.config.prompt, namespace, f"{key}.prompt")
        return argv, prompt

    def reads(self, ctx: AgentContext) -> dict[str, Any]:
        """The context its program gets in ``$ORCHASTRATION_CONTEXT``: the keys its ``context_keys`` name,
        else the whole context. (Its templates may use any key: what they render is compared anyway.)"""
        if self.config.context_keys is None:
            return dict(ctx.context)
        return select_keys(ctx.context, self.config.context_keys)

    def fingerprint(self, ctx: AgentContext) -> Fingerprint:
        """The rendered command and prompt, its settings, the context it reads (``reads``), and the contents
        of its declared ``inputs`` (none declared: the task's inputs), never its own ``outputs``. An agent that
        declares no outputs and is not ``pure`` is never up to date: what it changed on disk is unknown."""
        cfg = self.config
        try:
            argv, prompt = self.render(ctx)
            rendered: dict[str, Any] = {"command": argv, "prompt": prompt}
        except TemplateError as exc:
            rendered = {"error": str(exc)}
        agent = {
            **rendered,
            "working_dir": str(cfg.working_dir),
            "env": ctx.env_digest(cfg.env),
            "timeout_seconds": cfg.timeout_seconds,
            "output_key": cfg.output_key,
            **{k: getattr(cfg, k) for k in _SETTINGS},
        }
        own = own_outputs(*split_patterns(cfg.working_dir, cfg.outputs))
        # Its own inputs when it declares some (explicit beats implicit), else the task's.
        files = [Path(p) for p in expand_inputs(cfg.working_dir, cfg.inputs)] if cfg.inputs else []
        if not cfg.inputs and ctx.task is not None:
            files = task_inputs(ctx.task)
        assert ctx.hash_files is not None
        hashes = ctx.hash_files(sorted({f for f in files if not own(str(f))}))
        always = "" if cfg.outputs or cfg.pure else "declares no outputs (and is not pure)"
        return Fingerprint(agent, self.reads(ctx), hashes, always_run=always)

    def outputs_now(self) -> list[str]:
        """The files its declared ``outputs`` name now (a missing literal output counts, as missing)."""
        files, missing = output_files(*split_patterns(self.config.working_dir, self.config.outputs))
        return sorted({*files, *missing})

    def execute(self, ctx: AgentContext) -> AgentResult:
        """Run the command with the context files; merge what it wrote."""
        if ctx.cancel.is_set():
            return AgentResult(AgentStatus.FAILED, "interrupted")
        try:
            argv, prompt = self.render(ctx)
        except TemplateError as exc:
            return AgentResult(AgentStatus.FAILED, str(exc))
        tmp = context_dir(ctx.log_base)
        try:
            return self._run(ctx, argv, prompt, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            with contextlib.suppress(OSError):
                tmp.parent.rmdir()  # only when empty: the last agent out leaves no tmp/ behind

    def _run(self, ctx: AgentContext, argv: list[str], prompt: str | None, tmp: Path) -> AgentResult:
        """Every attempt (1 + ``retries``, while they fail); the last one's result, with all of them listed."""
        ctx_in, ctx_out = tmp / "context.json", tmp / "context_out.json"
        ctx_in.write_text(json.dumps(self.reads(ctx), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        env = {
            **self.config.env,
            CONTEXT_ENV: str(ctx_in),
            CONTEXT_OUT_ENV: str(ctx_out),
            "ORCHASTRATION_ORCHESTRATION": ctx.orchestration,
            "ORCHASTRATION_AGENT": self.name,
            "ORCHASTRATION_STEP": str(ctx.step),
            "ORCHASTRATION_ROUND": str(ctx.round),
        }
        if ctx.task is not None:
            env["ORCHASTRATION_TASK"] = ctx.task.name
        total: dict[str, Any] = {}
        tried: list[dict[str, Any]] = []
        for n in range(1, self.config.retries + 2):
            ctx_out.unlink(missing_ok=True)  # a failed attempt's updates are not the next one's
            base = ctx.log_base if n == 1 else ctx.log_base.with_name(f"{ctx.log_base.name}.a{n}")
            before = self._outputs_hash(ctx, self.outputs_now())
            start = unique_now()
            result = self._attempt(ctx, argv, prompt, {**env, "ORCHASTRATION_ATTEMPT": str(n)}, base, ctx_out)
            unchanged = self._outputs_hash(ctx, result.produced) == before
            if result.status == AgentStatus.SUCCESS and self.config.require_changes and unchanged:
                result.status, result.message = AgentStatus.FAILED, "no declared output changed"
            add_costs(total, result.details)
            tried.append({"attempt": n, "start_time": iso(start), "end_time": iso(unique_now()),
                          "status": result.status, "message": result.message, **result.details,
                          "stdout_path": result.stdout_path, "stderr_path": result.stderr_path})  # fmt: skip
            if result.status == AgentStatus.SUCCESS or ctx.cancel.is_set():
                break
        result.details = {**result.details, **total}
        if len(tried) > 1 or self.config.retries:
            result.details["attempts"] = tried
        return result

    @staticmethod
    def _outputs_hash(ctx: AgentContext, paths: list[str]) -> dict[str, str]:
        return ctx.hash_files([Path(p) for p in paths]) if ctx.hash_files else {}

    def _attempt(
        self, ctx: AgentContext, argv: list[str], prompt: str | None, env: dict[str, str], base: Path, ctx_out: Path
    ) -> AgentResult:
        """Run the command once: stdin the prompt or closed, silence watched; read what it left."""
        from orchastration.process import run_process

        stdout_path = base.with_name(base.name + ".stdout.log")
        stderr_path = base.with_name(base.name + ".stderr.log")
        streams = [Activity(None, ""), Activity(ctx.err_console, f"[{self.name}] ")]
        watch = IdleWatch(ctx.cancel, self.config.idle_timeout_seconds, streams)
        proc = run_process(
            argv,
            cwd=self.config.working_dir,
            env=env,
            base_env=ctx.environ,
            timeout=self.config.timeout_seconds,
            stdout_path=stdout_path,
            stderr_path=stderr_path,
            console=streams[0],  # type: ignore[arg-type]
            err_console=streams[1],  # type: ignore[arg-type]
            stdin_data=prompt.encode("utf-8") if prompt is not None else None,
            cancel=watch,
        )
        result = AgentResult(
            AgentStatus.SUCCESS, "completed", stdout_path=str(stdout_path), stderr_path=str(stderr_path)
        )
        result.produced = self.outputs_now()
        problems = [proc.message or proc.status] if proc.status != ProcessStatus.OK else []
        if watch.fired and not ctx.cancel.is_set():
            result.status = AgentStatus.TIMEOUT
            problems = [f"no output for {self.config.idle_timeout_seconds:g} s"]
        elif proc.status == ProcessStatus.TIMEOUT:
            result.status = AgentStatus.TIMEOUT
        problems += self._read_result(stdout_path, result)
        try:
            result.updates.update(_read_context_out(ctx_out))
        except ValueError as exc:
            problems.append(str(exc))
        if problems:
            result.message = "; ".join(problems)
            if result.status == AgentStatus.SUCCESS:
                result.status = AgentStatus.FAILED
        return result

    def _read_result(self, stdout_path: Path, result: AgentResult) -> list[str]:
        """Put the output under ``output_key`` (text, or the JSON result); what is wrong with it."""
        if self.config.result_format != "json":
            result.updates[self.config.output_key] = _read_output(stdout_path)
            return []
        obj = last_json_object(stdout_path)
        if obj is None:
            return ["no JSON result"]
        result.details = json_details(obj)
        result.updates[self.config.output_key] = json_result(obj)
        if obj.get("is_error") is True:
            return [f"the agent reported an error: {str(json_result(obj))[:200]}"]
        return []


_SLOT = re.compile(r"(.+?)\.s\d+-")  # <slot>.s<step>-<agent>-r<round>: the run's stamp, then the stage


def context_dir(log_base: Path) -> Path:
    """A fresh private directory for one agent run's context files, under the orchestration's state dir
    (``<state>/orchestrations/<name>/tmp/<stage>/``, docs/orchestrations.md), not the system temp dir.
    What a killed run left there (another run's stamp: one run of an orchestration at a time) is
    removed first."""
    root = log_base.parent / "tmp"
    match = _SLOT.match(log_base.name)
    slot = match.group(1) if match else log_base.name
    with contextlib.suppress(OSError):
        for entry in os.listdir(root):
            if not entry.startswith(slot + "."):
                shutil.rmtree(root / entry, ignore_errors=True)
    directory = root / log_base.name
    shutil.rmtree(directory, ignore_errors=True)
    for _ in range(10):  # a parallel agent finishing may remove the empty tmp/ between the two mkdirs
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(FileNotFoundError):
            directory.mkdir(mode=0o700)
            return directory
    directory.mkdir(parents=True, mode=0o700)
    return directory


def _read_output(path: Path) -> str:
    """The command's stdout, as text without the final newline (capped at ``MAX_OUTPUT_CHARS``)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read(MAX_OUTPUT_CHARS + 1)
    except OSError:
        return ""
    if len(text) > MAX_OUTPUT_CHARS:
        text = text[:MAX_OUTPUT_CHARS] + f"\n[... truncated: full output in {path}]"
    return text.rstrip("\r\n")


def _read_context_out(path: Path) -> Mapping[str, Any]:
    """The JSON object the command wrote to ``$ORCHASTRATION_CONTEXT_OUT`` ({} if it wrote nothing)."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"${CONTEXT_OUT_ENV}: cannot read {path}: {exc}") from None
    if not raw.strip():
        return {}

    def reject(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    try:
        data = json.loads(raw, parse_constant=reject)
    except (ValueError, RecursionError) as exc:  # RecursionError: JSON nested too deeply
        raise ValueError(f"${CONTEXT_OUT_ENV}: invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"${CONTEXT_OUT_ENV}: expected a JSON object of context keys, got {type(data).__name__}")
    return data
