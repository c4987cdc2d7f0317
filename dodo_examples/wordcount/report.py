"""Summarise build/counts.tsv (`<file>\t<words>` lines) as Markdown in build/report.md."""

from pathlib import Path

rows = [line.split("\t") for line in Path("build/counts.tsv").read_text(encoding="utf-8").splitlines()]
lines = ["# Word counts", "", *(f"- {name}: {count}" for name, count in rows), ""]
lines.append(f"Total: {sum(int(count) for _, count in rows)}")
Path("build/report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
print("wrote build/report.md")
