"""Helpers for the map and report tests: a synthetic run directory, the map's data block, and a
headless Chromium with the map open.

Imported by the tests in tests/views/ (not a pytest conftest).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from datamap.core.metrics import compute_metrics
from datamap.core.regions import assign_regions
from datamap.io.store import Dynamics, write_dynamics

LABELS = ["entailment", "neutral", "contradiction"]
EPOCHS = 4
XSS_SCRIPT = "<script>alert(1)</script> and \"double\" 'single' quotes"
XSS_IMG = "<img src=x onerror=\"window.__xss=1;alert(1)\"> & <b>bold</b>"
LONG_TEXT = "long " + "word " * 150 + "THE-END"

# Points placed at known map coordinates by their gold-class probability per epoch.
# (id, p_gold per epoch, gold, premise, hypothesis)
KNOWN = [
    ("xss", [0.01, 0.03, 0.01, 0.03], 0, XSS_SCRIPT, XSS_IMG),  # confidence .02, variability .01
    ("k1", [0.1, 0.9, 0.1, 0.9], 0, "known one alpha", "h1"),  # confidence .50, variability .40
    ("k2", [0.2, 1.0, 0.2, 1.0], 0, "known two", "h2"),  # confidence .60, variability .40
    ("k3", [0.0, 0.8, 0.0, 0.8], 1, "known three", "h3"),  # confidence .40, variability .40
    ("long", [0.3, 0.95, 0.3, 0.95], 2, LONG_TEXT, "h-long"),  # confidence .625, variability .325
]


def _logits_for(p_gold: list[float], gold: int, n_classes: int) -> np.ndarray:
    """Logits whose softmax gives the gold class probability p (others share the rest equally)."""
    out = np.zeros((len(p_gold), n_classes), dtype=np.float64)
    for e, p in enumerate(p_gold):
        p = min(max(p, 1e-6), 1 - 1e-6)
        out[e, gold] = np.log(p * (n_classes - 1) / (1 - p))
    return out


def make_run(root: Path, n_random: int = 400, seed: int = 0, pair: bool = True, shuffle_metrics: bool = True,
             dynamics: bool = True) -> Path:
    """Write data.parquet, labels.json, metrics.parquet and (``dynamics``) dynamics.parquet of a
    synthetic run under ``root``.

    Random examples have moderate logits (variability well below 0.3), so the KNOWN points sit
    apart from them. metrics.parquet rows are shuffled relative to data.parquet (join by id);
    dynamics.parquet follows data.parquet's order.
    """
    rng = np.random.default_rng(seed)
    c = len(LABELS)
    gold = rng.integers(0, c, n_random)
    logits = rng.normal(0, 0.6, (n_random, EPOCHS, c))
    logits[np.arange(n_random), :, gold] += rng.normal(0.8, 0.7, (n_random, 1))
    ids = [f"r{i:05d}" for i in range(n_random)]
    words = ["alpha", "beta", "gamma", "delta", "Omega"]
    texts = [f"random {words[i % 5]} sentence {i}" for i in range(n_random)]
    pairs = [f"hyp {i}" for i in range(n_random)]
    for kid, p, g, t, h in KNOWN:
        ids.append(kid)
        texts.append(t)
        pairs.append(h)
        gold = np.append(gold, g)
        logits = np.concatenate([logits, _logits_for(p, g, c)[None]], axis=0)
    m = compute_metrics(logits.astype(np.float64), gold)
    region = assign_regions(m["confidence"], m["variability"])
    root.mkdir(parents=True, exist_ok=True)
    data = pd.DataFrame({"id": ids, "text": texts, "label": gold.astype(np.int64), "label_name": [LABELS[g] for g in gold]})
    if pair:
        data.insert(2, "text_pair", pairs)
    data.to_parquet(root / "data.parquet", index=False)
    (root / "labels.json").write_text(json.dumps({"names": LABELS}), encoding="utf-8")
    if dynamics:
        write_dynamics(root / "dynamics.parquet", Dynamics(np.array(ids, dtype=object), logits.astype(np.float32),
                                                          gold.astype(np.int64), np.arange(EPOCHS)))
    metrics = pd.DataFrame({"id": ids, "gold": gold.astype(np.int64), **{k: v for k, v in m.items()}, "region": region.astype(str)})
    if shuffle_metrics:
        metrics = metrics.iloc[rng.permutation(len(metrics))].reset_index(drop=True)
    metrics.to_parquet(root / "metrics.parquet", index=False)
    return root


def metrics_frame(root: Path) -> pd.DataFrame:
    """metrics.parquet joined to data.parquet by id, indexed by id."""
    m = pd.read_parquet(root / "metrics.parquet")
    d = pd.read_parquet(root / "data.parquet")
    return m.merge(d, on="id").set_index("id")


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    """Debian's chromium: env DATAMAP_CHROMIUM, else /usr/bin/chromium, else `chromium` on PATH."""
    for cand in (os.environ.get("DATAMAP_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if cand and os.path.exists(cand):
            return cand
    return None


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"browser test cannot run in CI: {reason}")
    pytest.skip(f"browser test skipped locally: {reason}")


@contextlib.contextmanager
def launch_browser():
    """Headless Debian Chromium driven by Playwright; fails under CI=..., skips locally, if missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[test]')")
    exe = chromium_path()
    if exe is None:
        _unavailable("no chromium executable (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def payload(path: Path) -> dict:
    """The data block (``<script id="dm-data">``) of a map page."""
    page = path.read_text(encoding="utf-8")
    m = re.search(r'<script type="application/json" id="dm-data">(.*?)</script>', page, re.S)
    return json.loads(m.group(1))


def decode(b64: str, dtype: str) -> np.ndarray:
    """A base64 array of the data block."""
    return np.frombuffer(base64.b64decode(b64), dtype=dtype)


def open_map(browser, path: Path, downloads: bool = False):
    """A new page with the map at ``path`` loaded, and the dialogs and page errors it raises."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=downloads)
    events = {"dialogs": [], "errors": []}
    page.on("dialog", lambda d: (events["dialogs"].append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: events["errors"].append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_function("window.datamap && window.datamap.ready === true", timeout=30_000)
    return page, events


def hover(page, pid: str) -> str:
    """Move the mouse onto the point ``pid``; the tooltip's text ("" when none shows)."""
    p = page.evaluate("id => window.datamap.pointPixel(id)", pid)
    page.mouse.move(p["x"], p["y"])
    return page.inner_text("#dm-tooltip") if page.is_visible("#dm-tooltip") else ""
