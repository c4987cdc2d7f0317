"""Write build/site.txt: every static/*.txt, sorted, each under a `== name ==` line."""

from pathlib import Path

files = sorted(Path("static").glob("*.txt"))
Path("build").mkdir(exist_ok=True)
text = "".join(f"== {f.name} ==\n{f.read_text(encoding='utf-8')}" for f in files)
Path("build/site.txt").write_text(text, encoding="utf-8")
print(f"bundled {len(files)} files")
