"""Rows of figures, orchastration's ratio to each peer, the goals of issue 8, and the Markdown."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

OURS = "orchastration"


@dataclass
class Row:
    """One scenario: a figure per tool, plus an optional baseline (``python -c pass``, ``sha256sum``)."""

    key: str  # stable id, e.g. "noop:1000x10" (goals look rows up by it)
    scenario: str
    unit: str  # "ms", "MiB/s", "MB"
    values: dict[str, float] = field(default_factory=dict)
    baseline: str = ""  # the baseline's name; its figure is values[baseline]
    notes: list[str] = field(default_factory=list)  # e.g. "just reruns every job"
    runs: dict[str, int] = field(default_factory=dict)  # measured runs behind each figure

    def ratio(self, peer: str) -> float | None:
        """orchastration / peer (for MiB/s too: above 1 is faster there, below 1 is faster for ms)."""
        ours, theirs = self.values.get(OURS), self.values.get(peer)
        if ours is None or not theirs:
            return None
        return ours / theirs


def _fmt(value: float) -> str:
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def table(rows: Sequence[Row], peers: Sequence[str]) -> str:
    """The Markdown table: each figure, then orchastration's ratio to each peer and to the baseline."""
    head = ["scenario", "unit", OURS, *peers, "baseline", *(f"÷ {p}" for p in peers), "÷ baseline"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r.scenario, r.unit]
        cells += [_fmt(r.values[n]) if n in r.values else "-" for n in (OURS, *peers)]
        cells.append(f"{_fmt(r.values[r.baseline])} ({r.baseline})" if r.baseline in r.values else "-")
        for peer in (*peers, r.baseline):
            ratio = r.ratio(peer) if peer else None
            cells.append(f"{ratio:.2f}x" if ratio is not None else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


Judge = Callable[[dict[str, Row]], tuple[str, bool] | None]


@dataclass(frozen=True)
class Goal:
    """One goal of issue 8, judged from the rows of one run."""

    text: str
    judge: Judge  # (measured, met), or None: not measured


def _ratio_goal(key: str, peer: str, limit: float, at_most: bool = True) -> Judge:
    def judge(rows: dict[str, Row]) -> tuple[str, bool] | None:
        row = rows.get(key)
        ratio = row.ratio(peer) if row else None
        if row is None or ratio is None:
            return None
        ours, theirs = row.values[OURS], row.values[peer]
        met = ratio <= limit if at_most else ratio >= limit
        return f"{_fmt(ours)} vs {_fmt(theirs)} {row.unit} = {ratio:.2f}x", met

    return judge


def _value_goal(key: str, limit: float) -> Judge:
    def judge(rows: dict[str, Row]) -> tuple[str, bool] | None:
        row = rows.get(key)
        if row is None or OURS not in row.values:
            return None
        return f"{_fmt(row.values[OURS])} {row.unit}", row.values[OURS] < limit

    return judge


def _rows_goal(key: str, base_key: str, limit: float) -> Judge:
    """orchastration's figure in row ``key`` over its figure in row ``base_key``, at most ``limit``."""

    def judge(rows: dict[str, Row]) -> tuple[str, bool] | None:
        row, base = rows.get(key), rows.get(base_key)
        if row is None or base is None or not row.values.get(OURS) or not base.values.get(OURS):
            return None
        ratio = row.values[OURS] / base.values[OURS]
        return f"{_fmt(row.values[OURS])} vs {_fmt(base.values[OURS])} {row.unit} = {ratio:.2f}x", ratio <= limit

    return judge


def _baseline_goal(key: str, limit: float) -> Judge:
    """orchastration's figure in row ``key`` over the row's baseline, at most ``limit``."""

    def judge(rows: dict[str, Row]) -> tuple[str, bool] | None:
        row = rows.get(key)
        return None if row is None else _ratio_goal(key, row.baseline, limit)(rows)

    return judge


def _constant_memory(rows: dict[str, Row]) -> tuple[str, bool] | None:
    big, small = rows.get("hash-rss"), rows.get("hash-rss-small")
    if not big or not small or OURS not in big.values or OURS not in small.values:
        return None
    grew = big.values[OURS] - small.values[OURS]
    return f"{_fmt(big.values[OURS])} MB vs {_fmt(small.values[OURS])} MB on a 1 MiB file", grew < 8


def goals(labels: dict[str, str], sleep_limit_ms: float) -> list[Goal]:
    """The goals of issues 8, 16 and 17; ``labels`` name the sizes of this mode (full: "1 GiB", "50 MiB", ...)."""
    return [
        Goal("cold build 1,000 x 10 ≤ 1.0 x doit", _ratio_goal("cold:1000x10", "doit", 1.0)),
        Goal("cold build 100 x 10 ≤ 1.2 x doit", _ratio_goal("cold:100x10", "doit", 1.2)),
        Goal("no-op rerun 1,000 x 10 ≤ 0.3 x doit", _ratio_goal("noop:1000x10", "doit", 0.3)),
        Goal("one input edited 100 x 10 ≤ 0.8 x doit", _ratio_goal("edit:100x10", "doit", 0.8)),
        Goal("one input edited 1,000 x 10 ≤ 0.6 x doit", _ratio_goal("edit:1000x10", "doit", 0.6)),
        Goal("`--version` ≤ 2 x `python -c pass`", _ratio_goal("startup", "python -c pass", 2.0)),
        Goal("`list` on 1,000 jobs ≤ 1.0 x `doit list`", _ratio_goal("list:1000x10", "doit", 1.0)),
        Goal(
            f"`hash` {labels['hash']} ≥ 0.9 x `sha256sum` throughput",
            _ratio_goal("hash", "sha256sum", 0.9, at_most=False),
        ),
        Goal(f"`hash` in constant memory ({labels['hash']} vs 1 MiB file: < 8 MB more)", _constant_memory),
        Goal(f"{labels['sleep']} ≤ {sleep_limit_ms / 1000:.2f} s wall", _value_goal("sleep", sleep_limit_ms)),
        Goal(f"{labels['output']} of job output: peak RSS < 100 MB", _value_goal("output-rss", 100)),
        Goal(
            "fresh clone, warm cache 1,000 x 10 ≤ 0.3 x doit's cold build",
            _ratio_goal("warm-clone:1000x10", "doit", 0.3),
        ),
        Goal(
            "cold build 1,000 x 10, empty cache ≤ 1.1 x cache off",
            _rows_goal("cold:1000x10", "cold-nocache:1000x10", 1.1),
        ),
        Goal(
            f"{labels['cache_sleep']} with an output, fresh clone with a warm cache ≤ 0.1 x its cold build",
            _baseline_goal("cache-sleep", 0.1),
        ),
    ]


def goals_table(rows: Sequence[Row], labels: dict[str, str], sleep_limit_ms: float) -> str:
    """Each goal with the figure measured in this run and its verdict."""
    by_key = {r.key: r for r in rows}
    lines = ["| goal | measured (this run) | verdict |", "|---|---|---|"]
    for goal in goals(labels, sleep_limit_ms):
        verdict = goal.judge(by_key)
        if verdict is None:
            lines.append(f"| {goal.text} | not measured | - |")
        else:
            lines.append(f"| {goal.text} | {verdict[0]} | {'met' if verdict[1] else '**not met**'} |")
    return "\n".join(lines)
