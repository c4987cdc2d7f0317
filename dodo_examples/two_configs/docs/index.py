"""Write build/index.md: one link per pages/*.md, titled by its first heading."""

from pathlib import Path

lines = ["# Index", ""]
for page in sorted(Path("pages").glob("*.md")):
    title = next((x[2:] for x in page.read_text(encoding="utf-8").splitlines() if x.startswith("# ")), page.stem)
    lines.append(f"- [{title}](../pages/{page.name})")
Path("build").mkdir(exist_ok=True)
Path("build/index.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
print(f"indexed {len(lines) - 2} pages")
