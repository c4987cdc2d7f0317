"""Units of the agents package: context merges, template views, up-to-date reasons, registry, diagrams."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchastration.agents.base import AgentResult, Fingerprint, is_builder, is_reviewer
from orchastration.agents.context import check_json, initial_context, merge_step, nested, select_keys, snapshot
from orchastration.agents.diagram import render
from orchastration.agents.incremental import MISSING, hash_files, saved_values, stale_reasons, task_inputs
from orchastration.agents.registry import build_registry
from orchastration.agents.rounds import one_state, review_loop, stage_name
from orchastration.config import Config, OrchestrationConfig
from orchastration.config_schema import parse_config


def test_merge_in_listed_order_and_conflicts_name_both() -> None:
    base = {"goal": "g", "x": 1}
    merged, error = merge_step(base, [("A", {"a": 1, "x": 2}), ("B", {"b": 2})], 2)
    assert merged == {"goal": "g", "x": 2, "a": 1, "b": 2} and error == ""
    assert base == {"goal": "g", "x": 1}  # the step-start snapshot is untouched
    merged, error = merge_step(base, [("A", {"k": 1}), ("B", {"k": 2}), ("C", {"k": 3})], 3)
    assert merged["k"] == 3  # still applied in order, so the record shows the last writer
    assert error == (
        "step 3: agents A and B both wrote context key 'k'; step 3: agents A and C both wrote context key 'k'"
    )


def test_snapshot_is_deep() -> None:
    ctx = {"plan.tasks": ["a"]}
    snap = snapshot(ctx)
    snap["plan.tasks"].append("b")
    assert ctx == {"plan.tasks": ["a"]}


def test_nested_view_for_templates() -> None:
    flat = {"plan.tasks": ["t"], "plan.goal": "g", "goal": "g", "a": 1, "a.b": 2, "obj": {"k": 1}, "obj.j": 2}
    tree = nested(flat)
    assert tree["plan"] == {"tasks": ["t"], "goal": "g"}
    assert tree["a"] == 1  # a value wins over a deeper key of the same prefix
    assert tree["obj"] == {"k": 1, "j": 2}
    assert flat["obj"] == {"k": 1}  # the caller's values are not modified


def test_initial_context_and_json_check() -> None:
    assert initial_context("g", None) == {"goal": "g"}
    assert initial_context("g", "t") == {"goal": "g", "task.name": "t"}
    assert check_json({"a": [1, "x", None]}, "k") == {"a": [1, "x", None]}
    with pytest.raises(ValueError, match="k: not a JSON value"):
        check_json({"a": object()}, "k")


def test_stale_reasons(tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("v1")
    out = tmp_path / "out.txt"
    out.write_text("o")
    fp = Fingerprint({"cmd": ["x"]}, {"goal": "g"}, hash_files([src]))
    assert stale_reasons(fp, {}, "sha256") == ["never run"]
    values = saved_values(fp, AgentResult("success", produced=[str(out)]), "sha256")
    assert stale_reasons(fp, values, "sha256") == []
    assert stale_reasons(Fingerprint({"cmd": ["y"]}, {"goal": "g"}, fp.files), values, "sha256") == ["agent changed"]
    assert stale_reasons(Fingerprint(fp.agent, {"goal": "h"}, fp.files), values, "sha256") == ["context changed"]
    src.write_text("v2")
    assert stale_reasons(Fingerprint(fp.agent, fp.context, hash_files([src])), values, "sha256") == [
        f"input changed: {src}"
    ]
    src.write_text("v1")
    out.write_text("edited")
    assert stale_reasons(fp, values, "sha256") == [f"output changed: {out}"]
    out.unlink()
    assert stale_reasons(fp, values, "sha256") == [f"output missing: {out}"]
    assert stale_reasons(Fingerprint({}, {}, always_run="task t declares no inputs"), values, "sha256") == [
        "task t declares no inputs"
    ]


def test_task_inputs_use_the_jobs_vocabulary(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    for name in ("a.py", "b.py", ".hidden.py", "sub/c.txt", "gen.py"):
        (src / name).write_text(name)
    task = _config(
        tmp_path,
        {
            "tasks": {
                "t": {"command": ["x"], "inputs": ["src/*.py", "src/sub", "missing.txt"], "outputs": ["src/gen.py"]}
            }
        },
    ).tasks["t"]
    # `*` skips hidden names, a directory means every file under it, a missing literal is kept,
    # and the task's own outputs are never its inputs: as for jobs (orchastration.patterns).
    assert task_inputs(task) == sorted([src / "a.py", src / "b.py", src / "sub" / "c.txt", tmp_path / "missing.txt"])
    assert hash_files([tmp_path / "missing.txt"])[str(tmp_path / "missing.txt")] == MISSING


def _config(tmp_path: Path, data: dict[str, object]) -> Config:
    return parse_config(data, tmp_path / "orchastration.toml")


def test_registry_lists_builtins_then_command_agents(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        {
            "agents": {
                "PlannerAgent": {},
                "Zed": {"command": ["z"]},
                "Lint": {"command": ["ruff"], "capabilities": ["L"]},
            }
        },
    )
    infos = build_registry(config).infos()
    assert [(i.name, i.kind) for i in infos] == [
        ("PlannerAgent", "builtin"), ("BuilderAgent", "builtin"), ("ReviewerAgent", "builtin"),
        ("DocAgent", "builtin"), ("Lint", "command"), ("Zed", "command"),
    ]  # fmt: skip
    assert infos[4].capabilities == ("L",)


def test_roles_and_review_loop() -> None:
    assert is_builder("BuilderAgent") and is_builder("CodexBuilder") and not is_builder("DocAgent")
    assert is_reviewer("ReviewerAgent") and is_reviewer("claude-review") and not is_reviewer("BuilderAgent")
    steps = (("PlannerAgent",), ("BuilderAgent",), ("Lint",), ("ReviewerAgent",), ("DocAgent",))
    assert review_loop(OrchestrationConfig("o", steps, max_review_rounds=1)) is None
    assert review_loop(OrchestrationConfig("o", steps, max_review_rounds=3)) == (1, 3)
    assert review_loop(OrchestrationConfig("o", (("ReviewerAgent",),), max_review_rounds=3)) == (0, 0)


def test_context_keys_select_a_key_and_the_keys_under_it() -> None:
    context = {"goal": "g", "plan": 1, "plan.tasks": ["t"], "planner.x": 2, "review.status": "failed"}
    assert select_keys(context, ["plan", "goal"]) == {"goal": "g", "plan": 1, "plan.tasks": ["t"]}
    assert select_keys(context, []) == {}


def test_only_the_agents_a_review_sends_back_keep_a_state_per_round() -> None:
    steps = (("PlannerAgent",), ("CodeBuilder", "Lint", "Whole"), ("Format",), ("ReviewerAgent",), ("DocAgent",))
    orch = OrchestrationConfig("o", steps, max_review_rounds=3)
    shared = one_state(orch, lambda name: name != "Whole")  # Whole reads the whole context
    assert shared == {"Lint", "Format"}
    names = [stage_name(orch, k, n, 2, shared) for k, step in enumerate(steps) for n in step]
    assert names == ["s1.PlannerAgent", "s2.CodeBuilder.r2", "s2.Lint", "s2.Whole.r2", "s3.Format",
                     "s4.ReviewerAgent.r2", "s5.DocAgent"]  # fmt: skip
    assert stage_name(orch, 1, "CodeBuilder", 1, shared) == "s2.CodeBuilder"
    assert one_state(OrchestrationConfig("o", steps), lambda name: True) == frozenset()


def test_diagrams() -> None:
    orch = OrchestrationConfig(
        "p", (("PlannerAgent",), ("BuilderAgent", "ReviewerAgent"), ("DocAgent",)), "demo", 2, sequential=False
    )
    text = render(orch)
    assert "step 2: [ BuilderAgent | ReviewerAgent ]   (parallel)" in text
    assert "loop: a failed review reruns steps 2-2 (up to 2 rounds in all)" in text
    mermaid = render(orch, "mermaid")
    assert (
        mermaid.count("-->") == 4
        and 's2_ReviewerAgent -. "review failed (max 2 rounds)" .-> s2_BuilderAgent' in mermaid
    )
    dot = render(orch, "dot")
    assert dot.count(" -> ") == 5 and dot.rstrip().endswith("}")
