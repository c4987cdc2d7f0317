"""``report`` in a real headless browser: Debian's chromium driven by playwright (docs/observability.md).

The page must load from ``file://`` with no console error, no page error and no request other than
the file itself, and show every job's name; a screenshot is left in the test's tmp dir. Playwright's
own browser downloads are never used (``executable_path``): CI installs the system chromium
(``.ci/run``); without it the test is skipped, saying why.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Result
from jobs_helpers import PY, write_config

Cli = Callable[..., Result]
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=f"{CHROMIUM} missing (apt-get install chromium)"),
    pytest.mark.slow,
]


def _sample(root: Path) -> list[str]:
    """A small project with a dependency chain, parallel jobs, a failure and hostile output."""
    jobs = {
        "fetch": {"command": [PY, "-c", "import time; time.sleep(0.2); print('fetched 3 files')"]},
        "compile": {"command": [PY, "-c", "print('<script>alert(1)</script> & done')"], "depends_on": ["fetch"]},
        "lint": {"command": [PY, "-c", "import time; time.sleep(0.1); print('lint ok')"]},
        "test": {"command": [PY, "-c", "import sys; sys.exit('1 failed')"], "depends_on": ["compile"]},
        "package": {"command": [PY, "-c", "print('packaged')"], "depends_on": ["compile", "lint"]},
    }
    write_config(root, jobs)
    return list(jobs)


def test_report_renders_in_headless_chromium(cli: Cli, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    root = tmp_path / "proj"
    root.mkdir()
    names = _sample(root)
    assert cli(["run", "-j", "2", "--keep-going"], cwd=root).code == 1
    res = cli(["report", "-o", str(tmp_path / "report.html")], cwd=root)
    assert res.code == 0, res.err
    page_url = (tmp_path / "report.html").as_uri()
    problems: list[str] = []
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=60_000)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_url, wait_until="load", timeout=60_000)
            text = page.inner_text("body")  # what is shown
            everything = page.text_content("body") or ""  # with the closed output tails
            bars = page.locator("svg rect.bar").count()
            critical = page.locator("svg rect.node.crit").count()
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert problems == []
    assert requests == [page_url]  # nothing fetched but the file itself
    for name in names:
        assert name in text, name
    assert "<script>alert(1)</script> & done" in everything  # the output tail is text, never run
    assert "1 failed" in text  # a failed job's output is open
    assert bars == len(names) and critical >= 3  # fetch -> compile -> test|package
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert shutil.which("chromium") or Path(CHROMIUM).is_file()
