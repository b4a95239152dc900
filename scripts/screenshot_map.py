"""Screenshot a run's interactive map (RUN/map.html) in headless Chromium, hovering one point.

    python scripts/screenshot_map.py RUN OUT.png [--id ID] [--chromium /usr/bin/chromium]

Without --id, the example with the highest variability is hovered so the tooltip shows.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--id", default=None)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    page_path = (args.run / "map.html").resolve()
    point = args.id
    if point is None:
        m = pd.read_parquet(args.run / "metrics.parquet", columns=["id", "variability"])
        point = str(m.sort_values("variability", ascending=False)["id"].iloc[0])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1300, "height": 860})
        page.goto(page_path.as_uri())
        page.wait_for_function("window.datamap && window.datamap.ready", timeout=60_000)
        xy = page.evaluate("id => window.datamap.pointPixel(id)", point)
        page.mouse.move(xy["x"], xy["y"])
        page.wait_for_timeout(300)
        page.screenshot(path=str(args.out))
        browser.close()
    print(f"wrote {args.out} (hovering {point})")


if __name__ == "__main__":
    main()
