"""Screenshot the opening of a run's report (RUN/report.html): the title and the health checks.

    python scripts/screenshot_report.py RUN OUT.png [--chromium /usr/bin/chromium]

The page is cut just above the data maps, so the picture shows what a reader sees before any list.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from screenshot_map import ARGS  # noqa: E402  (the same Chromium flags)

WIDTH = 1150


def screenshot(report: Path, out: Path, chromium: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": WIDTH, "height": 900})
        page.goto(report.resolve().as_uri())
        bottom = page.evaluate("document.getElementById('maps').getBoundingClientRect().top")
        page.screenshot(path=str(out), clip={"x": 0, "y": 0, "width": WIDTH, "height": bottom - 8})
        browser.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="run directory holding report.html")
    ap.add_argument("out", type=Path, help="PNG to write")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    a = ap.parse_args()
    screenshot(a.run / "report.html", a.out, a.chromium)
    print(f"wrote {a.out}")
