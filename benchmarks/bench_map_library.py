"""Library comparison for the interactive map: the same page data drawn by regl-scatterplot.

Takes a run directory whose ``map.html`` was written by ``benchmarks/bench_html_map.py --workdir DIR``,
puts the same data block (``<script id="dm-data">``) into a page that draws the points with a bundled
`regl-scatterplot <https://github.com/flekschas/regl-scatterplot>`_ (points, colour per correctness
value, hover with a tooltip of id and text: far less than map.js does) and measures, in the same
headless Chromium with the same flags, file size, time to interactive and hover latency as
``bench_html_map.py`` does. The library is NOT part of datamap; build the bundle outside the repository::

    mkdir /tmp/rs && cd /tmp/rs && npm init -y && npm install regl-scatterplot@1.16.0 esbuild
    printf 'import c from "regl-scatterplot"; window.createScatterplot = c;\n' > entry.js
    ./node_modules/.bin/esbuild entry.js --bundle --minify --format=iife --outfile=rs.bundle.js

    python3 benchmarks/bench_map_library.py /tmp/maps/run_500000 --bundle /tmp/rs/rs.bundle.js
"""
import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_html_map import ARGS, open_timed  # noqa: E402  (same browser flags and timing)


def main() -> None:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", type=Path, help="run directory holding map.html and metrics.parquet")
    ap.add_argument("--bundle", type=Path, required=True, help="regl-scatterplot bundled as one IIFE script")
    a = ap.parse_args()
    run = a.run
    html = (run / "map.html").read_text(encoding="utf-8")
    data = re.search(r'<script type="application/json" id="dm-data">.*?</script>', html, re.S).group(0)
    bundle = a.bundle.read_text(encoding="utf-8")
    js = r"""
(async function () {
  const t0 = performance.now();
  const D = JSON.parse(document.getElementById("dm-data").textContent);
  const N = D.ids.length;
  function bytes(b64) { const s = atob(b64), n = s.length, u = new Uint8Array(n); for (let i = 0; i < n; i++) u[i] = s.charCodeAt(i); return u; }
  const X = new Float32Array(bytes(D.cols.variability).buffer), Y = new Float32Array(bytes(D.cols.confidence).buffer);
  const C = new Float32Array(bytes(D.cols.correctness).buffer), E = D.correct_epochs;
  let xa = Infinity, xb = -Infinity, ya = Infinity, yb = -Infinity;
  for (let i = 0; i < N; i++) { xa = Math.min(xa, X[i]); xb = Math.max(xb, X[i]); ya = Math.min(ya, Y[i]); yb = Math.max(yb, Y[i]); }
  const x = new Float32Array(N), y = new Float32Array(N), z = new Float32Array(N);
  for (let i = 0; i < N; i++) { x[i] = ((X[i] - xa) / (xb - xa)) * 1.9 - 0.95; y[i] = ((Y[i] - ya) / (yb - ya)) * 1.9 - 0.95; z[i] = Math.round(C[i] * E); }
  const canvas = document.getElementById("c");
  const pal = []; for (let k = 0; k <= E; k++) { const t = k / E; pal.push([0.8 - 0.67 * t, 0.15 + 0.2 * t, 0.15 + 0.6 * t, 0.6]); }
  const sp = window.createScatterplot({ canvas, width: 720, height: 720, pointSize: 2, pointColor: pal, colorBy: "valueA", opacity: 0.6 });
  const tip = document.getElementById("tip");
  sp.subscribe("pointOver", (i) => { tip.textContent = D.ids[i] + " " + D.text[i]; tip.hidden = false; });
  sp.subscribe("pointOut", () => { tip.hidden = true; });
  await sp.draw({ x, y, z });
  window.rs = { sp, x, y, index: null };
  window.rs.pixel = (id) => { if (!window.rs.index) { window.rs.index = new Map(); D.ids.forEach((d, i) => window.rs.index.set(d, i)); }
    const i = window.rs.index.get(id), r = canvas.getBoundingClientRect();
    return { x: r.left + (x[i] + 1) / 2 * 720, y: r.top + (1 - (y[i] + 1) / 2) * 720 }; };
  requestAnimationFrame(() => { window.rs.readyMs = performance.now(); window.rs.initMs = window.rs.readyMs - t0; window.rs.ready = true; });
})();
"""
    page_html = ("<!DOCTYPE html><html><head><meta charset='utf-8'></head><body style='margin:0'>"
                 "<canvas id='c' style='width:720px;height:720px'></canvas><div id='tip' hidden style='position:fixed;top:0;left:760px'></div>"
                 + data + "<script>" + bundle + "</script><script>" + js + "</script></body></html>")
    out = run / "map_regl_scatterplot.html"
    out.write_text(page_html, encoding="utf-8")
    frame = pd.read_parquet(run / "metrics.parquet", columns=["id"])
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=os.environ.get("DATAMAP_CHROMIUM", "/usr/bin/chromium"), args=ARGS,
                                  headless=True)
        page, errors, inter = open_timed(b, out, "window.rs && window.rs.ready === true")
        ready, init = page.evaluate("[window.rs.readyMs, window.rs.initMs]")
        rng = np.random.default_rng(1)
        ids = frame["id"].iloc[rng.choice(len(frame), 40, replace=False)].tolist()
        walls, misses = [], 0
        for pid in ids:
            p = page.evaluate("id => window.rs.pixel(id)", pid)
            page.mouse.move(1000, 5)
            page.wait_for_timeout(30)
            t1 = time.perf_counter()
            page.mouse.move(p["x"], p["y"])
            try:
                page.wait_for_function("() => !document.getElementById('tip').hidden", polling="raf", timeout=3000)
                walls.append(time.perf_counter() - t1)
            except Exception:
                misses += 1
        b.close()
    print(json.dumps({"points": len(frame), "file_mb": out.stat().st_size / 1e6, "bundle_kb": len(bundle) / 1e3,
                      "interactive_s": inter, "page_ready_s": ready / 1000, "script_s": init / 1000,
                      "hover_wall_ms_median": 1000 * statistics.median(walls) if walls else None,
                      "hover_wall_ms_p95": 1000 * sorted(walls)[int(0.95 * (len(walls) - 1))] if walls else None,
                      "hover_misses": misses, "errors": errors}))


if __name__ == "__main__":
    main()
