"""Screenshot the opening of a run's report (RUN/report.html): the title and the health checks.

    python scripts/screenshot_report.py RUN OUT.png [--chromium /usr/bin/chromium]

The page is cut just below the health checks section (the top of the data maps is not included).
"""

from __future__ import annotations

import argparse
from pathlib import Path

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1150, "height": 900})
        page.goto((args.run / "report.html").resolve().as_uri())
        bottom = page.evaluate("document.getElementById('maps').getBoundingClientRect().top")
        page.screenshot(path=str(args.out), clip={"x": 0, "y": 0, "width": 1150, "height": bottom - 8})
        browser.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
