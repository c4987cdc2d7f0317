"""Make the report screenshot of docs/observability.md: a sample project run, its ``report``, and a PNG
taken by Debian's headless chromium through playwright (as tests/test_report_browser.py does).

    python scripts/report_screenshot.py docs/report.png
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip
PY = sys.executable

CONFIG = f"""
[jobs.fetch]
command = ["{PY}", "-c", "import time; time.sleep(0.4); print('fetched 12 files')"]
[jobs.codegen]
command = ["{PY}", "-c", "import time; time.sleep(0.3); print('generated api.py')"]
depends_on = ["fetch"]
[jobs.lint]
command = ["{PY}", "-c", "import time; time.sleep(0.25); print('lint: 0 problems')"]
[jobs.compile]
command = ["{PY}", "-c", "import time; time.sleep(0.5); print('compiled 40 modules')"]
depends_on = ["codegen"]
[jobs.docs]
command = ["{PY}", "-c", "import time; time.sleep(0.2); print('docs built')"]
depends_on = ["fetch"]
[jobs.test]
command = ["{PY}", "-c", "import sys, time; time.sleep(0.3); sys.exit('1 failed: test_api')"]
depends_on = ["compile"]
[jobs.package]
command = ["{PY}", "-c", "import time; time.sleep(0.2); print('dist/app-1.0.tar.gz')"]
depends_on = ["compile", "lint"]
"""


def main(out: Path) -> int:
    """Run the sample with -j 2, write its report, screenshot it to ``out``."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "orchastration.toml").write_text(CONFIG, encoding="utf-8")
        env = {**os.environ, "ORCHASTRATION_STATE_DIR": str(root / "state")}
        run = ["orchastration", "-q", "run", "-j", "2", "--keep-going"]
        subprocess.run(run, cwd=root, env=env, check=False, timeout=120, capture_output=True)
        subprocess.run(["orchastration", "report", "-o", "report.html"], cwd=root, env=env, check=True, timeout=60)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = browser.new_page(viewport={"width": 1100, "height": 860})
                page.goto((root / "report.html").as_uri(), wait_until="load")
                page.screenshot(path=str(out), full_page=False)
            finally:
                browser.close()
    print(f"{out}: {out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/report.png")))
