"""Review rounds: which steps each phase of a run covers, when a failed review earns another round,
and the doit name of each agent stage.

Without review rounds the only phase is every step. With ``max_review_rounds`` > 1 a first phase runs
the steps before the Builder's, then a phase the Builder's step through the Reviewer's (round 1, or the
round a loop that passed before resumes at); while the review fails and rounds remain, that phase runs
again; a last phase runs the steps after it (docs/orchestrations.md, "Review rounds").
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Protocol

from orchastration.agents.base import is_builder, is_reviewer
from orchastration.agents.context import CONFLICT
from orchastration.agents.records import AgentRun
from orchastration.config import OrchestrationConfig


class Phases(Protocol):
    """What the round machine drives: the run of one phase, and what a failed round left."""

    def run_phase(self, steps: list[int], rnd: int) -> bool:
        """Run ``steps`` (0-based) as round ``rnd``; True if every agent succeeded or was skipped."""
        ...

    def review_failed(self, review: int, rnd: int) -> bool:
        """True if round ``rnd`` failed only because the Reviewer at step ``review`` (0-based) did."""
        ...

    def new_round(self) -> None:
        """Forget the failed round's errors: the failed review stays in the record, the next round decides."""
        ...

    def loop_start(self, build: int, review: int) -> int:
        """The round the loop over steps ``build``..``review`` (0-based) starts at: 1, or the round the
        last loop begun on the same context passed in, when that round is up to date (``resume``)."""
        ...

    def loop_passed(self, build: int, rnd: int) -> None:
        """The loop passed in round ``rnd``: remember it for the next run."""
        ...


def review_loop(orch: OrchestrationConfig) -> tuple[int, int] | None:
    """(first builder step, reviewer step), 0-based, when failed reviews send work back; else None."""
    if orch.max_review_rounds <= 1:
        return None
    reviews = [i for i, step in enumerate(orch.steps) if any(is_reviewer(a) for a in step)]
    if not reviews:
        return None
    review = reviews[-1]
    builds = [i for i in range(review + 1) if any(is_builder(a) for a in orch.steps[i])]
    return (builds[0] if builds else review), review


def run_rounds(orch: OrchestrationConfig, phases: Phases) -> tuple[bool, int]:
    """Run every phase of ``orch``; returns (whether the last phase succeeded, the last round)."""
    steps = list(range(len(orch.steps)))
    loop = review_loop(orch)
    if loop is None:
        return phases.run_phase(steps, 1), 1
    build, review = loop
    ok, rnd = (phases.run_phase(steps[:build], 1) if build else True), 1
    if ok:
        rnd = phases.loop_start(build, review)
        ok = phases.run_phase(steps[build : review + 1], rnd)
    while not ok and rnd < orch.max_review_rounds and phases.review_failed(review, rnd):
        rnd += 1
        phases.new_round()
        ok = phases.run_phase(steps[build : review + 1], rnd)
    if ok:
        phases.loop_passed(build, rnd)
    if ok and review + 1 < len(steps):
        ok = phases.run_phase(steps[review + 1 :], rnd)
    return ok, rnd


def only_review_failed(runs: Sequence[AgentRun], errors: Sequence[str], review: int, rnd: int) -> bool:
    """True if the agents that failed in round ``rnd`` are all Reviewers of step ``review`` (0-based),
    and no step's agents wrote the same context key."""
    failed = [r for r in runs if r.round == rnd and r.failed]
    conflicts = [e for e in errors if CONFLICT in e]
    return bool(failed) and not conflicts and all(r.step == review + 1 and is_reviewer(r.name) for r in failed)


def one_state(orch: OrchestrationConfig, declares_reads: Callable[[str], bool]) -> frozenset[str]:
    """The agents of the review loop's steps that keep one up-to-date state across rounds.

    A failed review sends the builders back (a new try, even on the same prompt) and the reviewer
    judges again: they keep a state per round, as does an agent that reads the whole context (each
    round's holds the review before it). Any other agent, one that says which context keys it reads
    (``declares_reads``: the built-ins, a command agent's ``context_keys``), is skipped in a later round
    when what it reads is unchanged: a linter beside the builder runs once, not every round.
    """
    loop = review_loop(orch)
    if loop is None:
        return frozenset()
    return frozenset(
        name
        for step in orch.steps[loop[0] : loop[1] + 1]
        for name in step
        if not is_builder(name) and not is_reviewer(name) and declares_reads(name)
    )


def stage_name(orch: OrchestrationConfig, k: int, name: str, rnd: int, shared: Collection[str] = ()) -> str:
    """The doit task of an agent stage; the up-to-date state of later rounds is kept apart.

    Only the steps a review sends back get a round suffix, and in them only the agents not
    ``shared`` across rounds (``one_state``): the steps after the review run once whatever the
    round, so they keep one state.
    """
    loop = review_loop(orch)
    again = loop is not None and loop[0] <= k <= loop[1] and rnd > 1 and name not in shared
    return f"s{k + 1}.{name}" + (f".r{rnd}" if again else "")


def merge_name(k: int, rnd: int) -> str:
    """The doit task that merges what the agents of step ``k`` (0-based) wrote in round ``rnd``."""
    return f"s{k + 1}.merge.r{rnd}"
