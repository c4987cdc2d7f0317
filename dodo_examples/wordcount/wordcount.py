"""Write `<file>\t<words>` for every text/*.txt, sorted, to the path given as the only argument."""

import sys
from pathlib import Path

out = Path(sys.argv[1])
out.parent.mkdir(parents=True, exist_ok=True)
rows = [f"{p.name}\t{len(p.read_text(encoding='utf-8').split())}\n" for p in sorted(Path("text").glob("*.txt"))]
out.write_text("".join(rows), encoding="utf-8")
print(f"counted {len(rows)} files")
