"""Write src/*.txt (sorted) and the extra files given after the output path into that output, separated
by $JOIN_SEPARATOR lines."""

import os
import sys
from pathlib import Path

out, extras = Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]
parts = [p.read_text(encoding="utf-8") for p in [*sorted(Path("src").glob("*.txt")), *extras]]
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text((os.environ.get("JOIN_SEPARATOR", "") + "\n").join(parts), encoding="utf-8")
print(f"joined {len(parts)} files into {out}")
