"""Benchmark of the interactive HTML map: file size, time until interactive, hover latency.

For each size, writes a synthetic run (cartography-like training dynamics of a 2-class task, text of
5-20 words per example), then ``write_html_map``; opens map.html in headless Debian Chromium (Playwright,
the same flags as the tests) and measures:

* write: seconds to build map.html in Python;
* interactive: wall seconds from ``page.goto`` to ``window.datamap.ready`` (data decoded, first frame
  drawn, hover index and handlers in place), and the page's own ``performance.now()`` at that moment;
* hover: median and 95th percentile over 40 points of the wall time from a mouse move onto a point to
  its tooltip showing (includes Playwright round trips), and the in-page handler time;
* zoom: in-page time of one redraw after a wheel zoom (hover index rebuilt, points, histograms, axes),
  median over 10 wheel steps, without and with the density layer; and the hover median after zooming.

Usage::

    python3 benchmarks/bench_html_map.py                 # 100k and 500k points
    python3 benchmarks/bench_html_map.py --sizes 20000
    python3 benchmarks/bench_html_map.py --screenshot docs/map_screenshot.png --sizes 5000
    python3 benchmarks/bench_html_map.py --screenshot docs/map_zoomed.png --zoomed --sizes 100000
    python3 benchmarks/bench_html_map.py --screenshot docs/map_density.png --density --sizes 100000

Needs chromium (``/usr/bin/chromium`` or env DATAMAP_CHROMIUM) and the playwright package.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from datamap.core.metrics import compute_metrics  # noqa: E402
from datamap.core.regions import assign_regions  # noqa: E402
from datamap.io.store import Dynamics, write_dynamics  # noqa: E402
from datamap.views.interactive import write_html_map  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
WORDS = ("the film is a quietly moving portrait of grief and hope but its pacing drags badly in the middle "
         "act while performances remain sharp funny warm dull clumsy brilliant").split()


def synthetic_run(root: Path, n: int, epochs: int = 6, seed: int = 0) -> Path:
    """A run directory whose dynamics look like a real data map: most examples learned early,
    some learned late (ambiguous), and about 8% flipped labels (hard-to-learn)."""
    rng = np.random.default_rng(seed)
    gold = rng.integers(0, 2, n)
    skill = rng.normal(1.2, 1.3, n)  # how fast each example is learned
    noise = rng.uniform(0.2, 2.2, n)
    t = (np.arange(epochs) + 1) / epochs
    margin = skill[:, None] * 3 * t[None, :] - 0.5 + rng.normal(0, 1, (n, epochs)) * noise[:, None]
    flipped = rng.random(n) < 0.08
    margin[flipped] = -np.abs(margin[flipped]) - 0.5
    logits = np.zeros((n, epochs, 2), dtype=np.float32)
    logits[np.arange(n), :, gold] = margin
    m = compute_metrics(logits, gold)
    region = assign_regions(m["confidence"], m["variability"])
    ids = [f"ex{i:07d}" for i in range(n)]
    lengths = rng.integers(5, 21, n)
    pool = rng.integers(0, len(WORDS), (n, 20))
    texts = [" ".join(WORDS[w] for w in pool[i, : lengths[i]]) for i in range(n)]
    root.mkdir(parents=True, exist_ok=True)
    names = ["negative", "positive"]
    pd.DataFrame({"id": ids, "text": texts, "label": gold, "label_name": [names[g] for g in gold]}).to_parquet(
        root / "data.parquet", index=False)
    (root / "labels.json").write_text(json.dumps({"names": names}), encoding="utf-8")
    write_dynamics(root / "dynamics.parquet", Dynamics(np.array(ids, dtype=object), logits, gold.astype(np.int64),
                                                      np.arange(epochs)))
    pd.DataFrame({"id": ids, "gold": gold, **m, "region": region.astype(str)}).to_parquet(root / "metrics.parquet", index=False)
    return root


def open_timed(browser, path: Path, ready: str):
    """Open ``path`` in a new page; return it, the list its errors go to, and the wall seconds from
    ``page.goto`` until the JavaScript expression ``ready`` is true."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    t0 = time.perf_counter()
    page.goto(path.as_uri(), timeout=120_000)
    page.wait_for_function(ready, timeout=120_000, polling=20)
    return page, errors, time.perf_counter() - t0


def measure(path: Path, n: int, browser, hovers: int = 40, screenshot: str | None = None, zoomed: bool = False,
            density: bool = False) -> dict:
    page, errors, interactive = open_timed(browser, path, "window.datamap && window.datamap.ready === true")
    ready_ms, init_ms, renderer = page.evaluate("[window.datamap.readyMs, window.datamap.initMs, window.datamap.renderer]")
    rng = np.random.default_rng(1)
    frame = pd.read_parquet(path.parent / "metrics.parquet", columns=["id"])
    ids = frame["id"].iloc[rng.choice(len(frame), hovers, replace=False)].tolist()
    walls, inpage = [], []
    for pid in ids:
        p = page.evaluate("id => window.datamap.pointPixel(id)", pid)
        page.mouse.move(p["x"] + 300, 5)  # off the map: tooltip hides
        t1 = time.perf_counter()
        page.mouse.move(p["x"], p["y"])
        page.wait_for_function("() => !document.getElementById('dm-tooltip').hidden", polling="raf")
        walls.append(time.perf_counter() - t1)
        inpage.append(page.evaluate("window.datamap.lastHoverMs"))
    page.mouse.move(5, 5)
    zoom = {}
    for density in (False, True):
        if density:
            page.check("#dm-density-on")
        page.evaluate("window.datamap.setView(window.datamap.home())")
        c = page.evaluate("window.datamap.dataToClient(0.2, 0.55)")
        page.mouse.move(c["x"], c["y"])
        ms = []
        for _ in range(10):
            page.mouse.wheel(0, -120)
            page.wait_for_function("() => true", polling="raf")
            page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            ms.append(page.evaluate("window.datamap.lastRedrawMs"))
        zoom["density" if density else "points"] = statistics.median(ms)
    page.uncheck("#dm-density-on")
    zwalls = []
    vx0, vx1, vy0, vy1 = page.evaluate("window.datamap.view()")
    m = pd.read_parquet(path.parent / "metrics.parquet", columns=["id", "variability", "confidence"])
    inside = m[m["variability"].between(vx0, vx1) & m["confidence"].between(vy0, vy1)]
    for pid in inside["id"].iloc[rng.choice(len(inside), min(hovers, len(inside)), replace=False)]:
        p = page.evaluate("id => window.datamap.pointPixel(id)", pid)
        page.mouse.move(5, 5)
        t1 = time.perf_counter()
        page.mouse.move(p["x"], p["y"])
        page.wait_for_function("() => !document.getElementById('dm-tooltip').hidden", polling="raf")
        zwalls.append(time.perf_counter() - t1)
    if screenshot:
        page.mouse.move(5, 5)
        page.evaluate("window.scrollTo(0, 0)")
        if density:
            page.check("#dm-density-on")
        if not zoomed:
            page.evaluate("window.datamap.setView(window.datamap.home())")
        m = pd.read_parquet(path.parent / "metrics.parquet", columns=["variability", "confidence"])
        pid = frame["id"].iloc[int(np.argmin(np.hypot(m["variability"] - 0.2, m["confidence"] - 0.55)))]
        page.wait_for_timeout(100)
        p = page.evaluate("id => window.datamap.pointPixel(id)", pid)
        page.mouse.move(p["x"], p["y"])
        page.screenshot(path=screenshot, clip={"x": 0, "y": 0, "width": 1290, "height": 900})
    page.close()
    if errors:
        raise RuntimeError(f"page errors: {errors}")
    return {
        "points": n,
        "file_mb": path.stat().st_size / 1e6,
        "interactive_s": interactive,
        "page_ready_s": ready_ms / 1000,
        "script_s": init_ms / 1000,
        "hover_wall_ms_median": 1000 * statistics.median(walls),
        "hover_wall_ms_p95": 1000 * sorted(walls)[int(0.95 * (len(walls) - 1))],
        "hover_handler_ms_median": statistics.median(inpage),
        "renderer": renderer,
        "zoom_redraw_ms": zoom["points"],
        "zoom_redraw_density_ms": zoom["density"],
        "hover_zoomed_wall_ms_median": 1000 * statistics.median(zwalls) if zwalls else float("nan"),
        "hover_zoomed_n": len(zwalls),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 500_000])
    ap.add_argument("--screenshot", help="save a PNG of the map (with a tooltip) of the first size")
    ap.add_argument("--zoomed", action="store_true", help="take the screenshot zoomed in (10 wheel steps)")
    ap.add_argument("--density", action="store_true", help="take the screenshot with the density layer on")
    ap.add_argument("--workdir", help="keep the synthetic runs here (default: a temporary folder)")
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    exe = os.environ.get("DATAMAP_CHROMIUM", "/usr/bin/chromium")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        base = Path(a.workdir or tmp)
        browser = pw.chromium.launch(executable_path=exe, args=ARGS, headless=True)
        print(f"{'points':>8} {'file MB':>8} {'write s':>8} {'interactive s':>14} {'page ready s':>13} "
              f"{'script s':>9} {'hover ms (median / p95, wall)':>30} {'handler ms':>11} {'zoom redraw ms (pts / density)':>31} "
              f"{'hover after zoom ms (n)':>24}")
        for k, n in enumerate(a.sizes):
            run = synthetic_run(base / f"run_{n}", n)
            t = time.perf_counter()
            path = write_html_map(run, overwrite=True)
            write_s = time.perf_counter() - t
            r = measure(path, n, browser, screenshot=a.screenshot if k == 0 else None, zoomed=a.zoomed,
                        density=a.density)
            print(f"{n:>8,} {r['file_mb']:>8.1f} {write_s:>8.2f} {r['interactive_s']:>14.2f} {r['page_ready_s']:>13.2f} "
                  f"{r['script_s']:>9.2f} {r['hover_wall_ms_median']:>20.1f} / {r['hover_wall_ms_p95']:<7.1f} "
                  f"{r['hover_handler_ms_median']:>11.2f} {r['zoom_redraw_ms']:>18.1f} / {r['zoom_redraw_density_ms']:<10.1f} "
                  f"{r['hover_zoomed_wall_ms_median']:>17.1f} ({r['hover_zoomed_n']})  ({r['renderer']})", flush=True)
        browser.close()


if __name__ == "__main__":
    main()
