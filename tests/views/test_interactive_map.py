"""The interactive HTML map: payload, escaping, sampling, errors; and in headless Chromium: hover,
filters, search, box/lasso selection export, truncated text, XSS."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from views_helpers import (LABELS, LONG_TEXT, XSS_IMG, XSS_SCRIPT, hover, launch_browser, make_run,  # noqa: E402
                           metrics_frame, open_map, payload)

from datamap.errors import DatamapError  # noqa: E402
from datamap.views.interactive import write_html_map  # noqa: E402


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("run") / "nli")


def f32(b64: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype="<f4")


# ---------------------------------------------------------------- the file itself


def test_default_path_self_contained_and_joined_by_id(run):
    out = write_html_map(run)
    assert out == run / "map.html"
    page = out.read_text(encoding="utf-8")
    page = page.replace('SVGNS = "http://www.w3.org/2000/svg"', "")  # a namespace name, never fetched
    assert "<script src" not in page and "<link" not in page and "http://" not in page and "https://" not in page
    p = payload(out)
    m = pd.read_parquet(run / "metrics.parquet")
    d = pd.read_parquet(run / "data.parquet").set_index("id")
    # metrics rows are shuffled against data rows: the page follows metrics order, text follows the id
    assert p["ids"] == m["id"].tolist()
    assert p["text"] == [d.loc[i, "text"] for i in p["ids"]]
    assert p["text_pair"] == [d.loc[i, "text_pair"] for i in p["ids"]]
    np.testing.assert_allclose(f32(p["cols"]["confidence"]), m["confidence"], rtol=1e-6)
    np.testing.assert_allclose(f32(p["cols"]["variability"]), m["variability"], rtol=1e-6, atol=1e-7)
    assert np.isinf(f32(p["cols"]["forgetfulness"])[p["ids"].index("xss")])
    assert np.frombuffer(base64.b64decode(p["gold"]), "<i4").tolist() == m["gold"].tolist()
    assert p["label_names"] == LABELS and p["pair"] is True
    assert "All 405 points are drawn (no sampling)." in page


def test_record_text_is_escaped_in_the_file(run, tmp_path):
    page = write_html_map(run, out=tmp_path / "m.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page and "<img src=x" not in page and "<b>bold" not in page
    assert page.count("<script") == 2  # the data block and the page's own code
    p = payload(tmp_path / "m.html")
    i = p["ids"].index("xss")
    assert p["text"][i] == XSS_SCRIPT and p["text_pair"][i] == XSS_IMG


def test_sampling_only_on_request_and_said_on_the_page(run, tmp_path):
    out = write_html_map(run, out=tmp_path / "s.html", max_points=50, seed=3)
    p = payload(out)
    assert len(p["ids"]) == 50 and len(set(p["ids"])) == 50 and p["sampled"] is True and p["n_total"] == 405
    assert set(p["ids"]) <= set(pd.read_parquet(run / "metrics.parquet")["id"])
    assert "Random sample: 50 of 405 points are drawn (max_points=50, seed=3)" in out.read_text(encoding="utf-8")
    assert payload(write_html_map(run, out=tmp_path / "s2.html", max_points=50, seed=3))["ids"] == p["ids"]
    big = payload(write_html_map(run, out=tmp_path / "s3.html", max_points=10_000))
    assert big["sampled"] is False and len(big["ids"]) == 405


def test_single_text_run_and_color_choice(tmp_path):
    run = make_run(tmp_path / "single", n_random=20, pair=False)
    p = payload(write_html_map(run, color_by="aum"))
    assert p["pair"] is False and p["text_pair"] is None and p["color_by"] == "aum"
    with pytest.raises(DatamapError, match="--color-by 'colour'"):
        write_html_map(run, color_by="colour", overwrite=True)


def test_missing_inputs_name_the_file_and_the_command(tmp_path):
    run = make_run(tmp_path / "r", n_random=10)
    (run / "metrics.parquet").unlink()
    with pytest.raises(DatamapError, match=r"metrics\.parquet: not found; run `datamap metrics .*r` first"):
        write_html_map(run)
    run2 = make_run(tmp_path / "r2", n_random=10)
    (run2 / "data.parquet").unlink()
    with pytest.raises(DatamapError, match=r"data\.parquet: not found"):
        write_html_map(run2)
    with pytest.raises(DatamapError, match="run directory not found"):
        write_html_map(tmp_path / "nope")
    assert not (run / "map.html").exists()


def test_metrics_id_without_record_is_an_error(tmp_path):
    run = make_run(tmp_path / "r", n_random=10)
    d = pd.read_parquet(run / "data.parquet")
    d[d["id"] != "k2"].to_parquet(run / "data.parquet", index=False)
    with pytest.raises(DatamapError, match="no record for id 'k2'"):
        write_html_map(run)


# ---------------------------------------------------------------- in the browser


@pytest.fixture(scope="module")
def browser():
    with launch_browser() as b:
        yield b


def client(page, x: float, y: float) -> tuple[float, float]:
    p = page.evaluate("([x, y]) => window.datamap.dataToClient(x, y)", [x, y])
    return p["x"], p["y"]


def assert_isolated(frame: pd.DataFrame, pid: str, min_dist: float = 0.03):
    """No other point within min_dist (in data units) so hovering at its pixel finds exactly it."""
    v, c = frame.loc[pid, "variability"], frame.loc[pid, "confidence"]
    others = frame.drop(index=pid)
    d = np.hypot(others["variability"] - v, others["confidence"] - c)
    assert d.min() > min_dist, f"{pid} is not isolated ({d.idxmin()} at {d.min():.3f})"


@pytest.mark.slow
def test_hover_reads_the_record_and_xss_runs_nothing(run, browser):
    frame = metrics_frame(run)
    for pid in ("xss", "k1", "k2", "k3"):
        assert_isolated(frame, pid)
    page, events = open_map(browser, write_html_map(run, overwrite=True))
    assert page.evaluate("window.datamap.renderer") == "webgl"
    tip = hover(page, "k1")
    assert "id k1" in tip and "premise: known one alpha" in tip and "hypothesis: h1" in tip
    assert "gold: entailment" in tip and f"predicted: {LABELS[int(frame.loc['k1', 'pred'])]}" in tip
    assert "confidence 0.500" in tip and "variability 0.400" in tip and f"region: {frame.loc['k1', 'region']}" in tip

    tip = hover(page, "xss")
    assert XSS_SCRIPT in tip and XSS_IMG in tip and "forgetfulness \u221e (never correct)" in tip
    assert page.eval_on_selector_all("#dm-tooltip img, #dm-tooltip script, #dm-tooltip b", "els => els.length") == 0
    assert page.evaluate("window.__xss") is None
    page.mouse.click(*client(page, 0.01, 0.02))  # pin it too
    assert XSS_IMG in page.inner_text("#dm-detail")
    assert events["dialogs"] == [] and events["errors"] == [] and page.evaluate("window.__xss") is None
    page.close()


@pytest.mark.slow
def test_long_text_is_truncated_in_tooltip_and_full_on_click(run, browser):
    page, events = open_map(browser, write_html_map(run, overwrite=True))
    tip = hover(page, "long")
    assert "THE-END" not in tip and "\u2026" in tip and "click the point for the full text" in tip
    p = page.evaluate("window.datamap.pointPixel('long')")
    page.mouse.click(p["x"], p["y"])
    detail = page.inner_text("#dm-detail")
    assert LONG_TEXT in detail and page.get_attribute("#dm-detail", "data-id") == "long"
    assert events["errors"] == []
    page.close()


@pytest.mark.slow
def test_filters_search_and_box_selection_export(run, browser, tmp_path):
    frame = metrics_frame(run)
    page, events = open_map(browser, write_html_map(run, out=tmp_path / "map.html"), downloads=True)
    assert page.evaluate("window.datamap.shownCount()") == len(frame)

    # filter out gold label "neutral": its points disappear and cannot be hovered
    page.uncheck("#dm-labels input[data-index='1']")
    assert page.evaluate("window.datamap.shownCount()") == int((frame["gold"] != 1).sum())
    assert frame.loc["k3", "gold"] == 1 and hover(page, "k3") == ""
    assert "id k1" in hover(page, "k1")

    # search: case-insensitive substring of premise or hypothesis, combined with the label filter
    page.fill("#dm-search", "ALPHA")
    hit = (frame["text"] + "\n" + frame["text_pair"]).str.lower().str.contains("alpha", regex=False)
    page.wait_for_function("n => window.datamap.shownCount() === n", arg=int((hit & (frame["gold"] != 1)).sum()))
    page.fill("#dm-search", "")
    page.wait_for_function("n => window.datamap.shownCount() === n", arg=int((frame["gold"] != 1).sum()))

    # box selection over the high-variability corner: k1 and k2 (k3 is filtered out)
    (xa, ya), (xb, yb) = client(page, 0.37, 0.68), client(page, 0.415, 0.33)
    page.mouse.move(xa, ya)
    page.mouse.down()
    page.mouse.move((xa + xb) / 2, (ya + yb) / 2, steps=3)
    page.mouse.move(xb, yb, steps=3)
    page.mouse.up()
    inside = frame[(frame["variability"].between(0.37, 0.415)) & frame["confidence"].between(0.33, 0.68) & (frame["gold"] != 1)]
    assert sorted(inside.index) == ["k1", "k2"]
    assert sorted(page.evaluate("window.datamap.selectedIds()")) == ["k1", "k2"]
    assert "2 selected" in page.inner_text("#dm-count")

    page.fill("#dm-name", "corner picks")
    with page.expect_download() as dl:
        page.click("#dm-export")
    assert dl.value.suggested_filename == "corner_picks.json"
    saved = tmp_path / "sel.json"
    dl.value.save_as(saved)
    sel = json.loads(saved.read_text(encoding="utf-8"))
    assert sel["name"] == "corner_picks" and sorted(sel["ids"]) == ["k1", "k2"]
    assert sel["recipe"]["source"] == "map.html" and sel["recipe"]["mode"] == "box"
    assert sel["recipe"]["labels"] == ["entailment", "contradiction"] and sel["recipe"]["sampled"] is False
    assert sel["sizes"] == {"total": len(frame), "selected": 2}
    assert set(sel["ids"]) <= set(pd.read_parquet(run / "data.parquet")["id"])  # what train --subset reads

    # lasso around k2 and k3 with every label shown again; a notch in the polygon leaves out k1
    page.check("#dm-labels input[data-index='1']")
    page.select_option("#dm-mode", "lasso")
    poly = [(0.38, 0.35), (0.415, 0.35), (0.415, 0.65), (0.38, 0.65), (0.38, 0.58), (0.41, 0.50), (0.38, 0.42)]
    pts = [client(page, x, y) for x, y in poly]
    page.mouse.move(*pts[0])
    page.mouse.down()
    for p in pts[1:] + pts[:1]:
        page.mouse.move(*p, steps=2)
    page.mouse.up()
    # k1 (0.40, 0.50) lies in the notch, inside the polygon's bounding box but outside the polygon
    assert sorted(page.evaluate("window.datamap.selectedIds()")) == ["k2", "k3"]
    assert page.evaluate("window.datamap.selection().recipe.mode") == "lasso"
    page.click("#dm-clear")
    assert page.evaluate("window.datamap.selectedIds()") == []
    assert events["errors"] == [] and events["dialogs"] == []
    page.close()


@pytest.mark.slow
def test_colour_switch_updates_legend(run, browser):
    page, events = open_map(browser, write_html_map(run, color_by="region", overwrite=True))
    legend = page.inner_text("#dm-legend")
    assert "Colour: region" in legend and "ambiguous" in legend and "hard" in legend
    # the page's region colours are the one palette it was sent (views/static.py REGION_COLORS)
    from datamap.views.static import region_rgb

    swatches = page.evaluate("""[...document.querySelectorAll('#dm-legend div')].map(
        d => [d.innerText.trim(), d.querySelector('.dm-swatch') && d.querySelector('.dm-swatch').style.background])""")
    shown = {text: bg for text, bg in swatches if bg}
    for reg, (r, g, b) in region_rgb().items():
        assert shown[reg] == f"rgb({r}, {g}, {b})"
    page.select_option("#dm-color", "forgetfulness")
    assert "never learned" in page.inner_text("#dm-legend")
    page.select_option("#dm-color", "gold")
    assert all(name in page.inner_text("#dm-legend") for name in LABELS)
    assert events["errors"] == []
    page.close()


@pytest.mark.slow
def test_canvas_fallback_without_webgl(run, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.add_init_script("window.DATAMAP_NO_WEBGL = true")
    page.goto(write_html_map(run, overwrite=True).as_uri())
    page.wait_for_function("window.datamap && window.datamap.ready === true")
    assert page.evaluate("window.datamap.renderer") == "canvas2d"
    # a drawn pixel at k1's position is not the white background
    p = page.evaluate("window.datamap.pointPixel('k1')")
    rgb = page.evaluate("""([x, y]) => { const c = document.getElementById('dm-gl'), r = c.getBoundingClientRect();
        return Array.from(c.getContext('2d').getImageData(Math.floor(x - r.left), Math.floor(y - r.top), 1, 1).data); }""", [p["x"], p["y"]])
    assert rgb[:3] != [255, 255, 255]
    assert "id k1" in hover(page, "k1")
    page.close()


# ---------------------------------------------------------------- explorable map (issue 14)


def test_per_epoch_gold_probabilities_are_embedded_by_id_as_bytes(run, tmp_path):
    from datamap.core.probs import softmax
    from datamap.io.store import read_dynamics

    p = payload(write_html_map(run, out=tmp_path / "m.html"))
    dyn = read_dynamics(run / "dynamics.parquet")
    assert p["epochs"] == 4 and p["correct_epochs"] == 4
    got = np.frombuffer(base64.b64decode(p["pgold"]), dtype="u1").reshape(len(p["ids"]), 4) / 255
    row = {k: j for j, k in enumerate(dyn.ids)}  # dynamics follow data order, the page follows metrics order
    probs = softmax(dyn.logits)
    want = np.array([probs[row[i], :, dyn.gold[row[i]]] for i in p["ids"]])
    assert np.abs(got - want).max() <= 1 / 510 + 1e-6  # p is float32 before rounding
    np.testing.assert_allclose(got[p["ids"].index("k1")], [0.1, 0.9, 0.1, 0.9], atol=1 / 510)
    # a run without dynamics still gets a map, and says why there is no chart
    (run2 := make_run(tmp_path / "nodyn", n_random=10, dynamics=False))
    p2 = payload(write_html_map(run2))
    assert "pgold" not in p2 and p2["pgold_note"] == "no dynamics.parquet in the run: no per-epoch chart"


@pytest.mark.slow
def test_zoom_changes_the_visible_range_and_hover_still_finds_the_record(run, browser):
    frame = metrics_frame(run)
    page, events = open_map(browser, write_html_map(run, overwrite=True))
    home = page.evaluate("window.datamap.view()")
    before = page.evaluate("window.datamap.pointPixel('k1')")
    # wheel up over a point below k1: the view narrows around it, so k1 moves on screen
    page.mouse.move(*client(page, 0.40, 0.45))
    for _ in range(2):
        page.mouse.wheel(0, -250)
    page.wait_for_function("h => window.datamap.view()[1] - window.datamap.view()[0] < 0.5 * (h[1] - h[0])", arg=home)
    x0, x1, y0, y1 = page.evaluate("window.datamap.view()")
    assert home[0] < x0 < 0.40 < x1 < home[1] and home[2] < y0 < 0.45 < y1 < home[3]
    assert y0 < 0.40 and 0.60 < y1  # k1, k2, k3 still in view
    after = page.evaluate("window.datamap.pointPixel('k1')")
    assert np.hypot(after["x"] - before["x"], after["y"] - before["y"]) > 20
    for pid in ("k1", "k2", "k3"):
        assert_isolated(frame, pid)
        assert f"id {pid}" in hover(page, pid)
    # xss (0.01, 0.02) is out of view now: its old pixel finds nothing, not a stale record
    assert not (x0 < 0.01 < x1 and y0 < 0.02 < y1)
    page.mouse.move(*client(page, 0.01, 0.02))
    assert not page.is_visible("#dm-tooltip")
    # a box over the whole canvas (margins too) selects exactly the points in view
    r = page.eval_on_selector("#dm-overlay", "c => { const r = c.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }")
    page.mouse.move(r[0] + 1, r[1] + 1)
    page.mouse.down()
    page.mouse.move(r[2] - 1, r[3] - 1, steps=4)
    page.mouse.up()
    in_view = frame.index[frame["variability"].between(x0, x1) & frame["confidence"].between(y0, y1)]
    assert 0 < len(in_view) < len(frame)
    assert sorted(page.evaluate("window.datamap.selectedIds()")) == sorted(in_view)
    page.click("#dm-clear")
    # pan mode: dragging 72 px left moves the view right by a tenth of its width
    page.select_option("#dm-mode", "pan")
    w = x1 - x0
    a = client(page, 0.35, 0.45)
    page.mouse.move(*a)
    page.mouse.down()
    page.mouse.move(a[0] - 36, a[1], steps=2)
    page.mouse.move(a[0] - 72, a[1], steps=2)
    page.mouse.up()
    px0, px1, py0, py1 = page.evaluate("window.datamap.view()")
    assert px0 == pytest.approx(x0 + 0.1 * w, rel=1e-3) and px1 == pytest.approx(x1 + 0.1 * w, rel=1e-3)
    assert (py0, py1) == pytest.approx((y0, y1), rel=1e-6)
    assert page.evaluate("window.datamap.selectedIds()") == []  # a pan selects nothing
    assert page.evaluate("window.datamap.selection().recipe.mode") == "box"  # the last selection's mode
    assert "id k1" in hover(page, "k1")
    # buttons and double-click
    page.click("#dm-zoom-in")
    zx0, zx1, _, _ = page.evaluate("window.datamap.view()")
    assert zx1 - zx0 == pytest.approx((px1 - px0) / 1.5, rel=1e-6)
    page.mouse.dblclick(*client(page, 0.35, 0.45))
    page.wait_for_function("h => window.datamap.view().every((v, k) => Math.abs(v - h[k]) < 1e-9)", arg=home)
    page.click("#dm-zoom-in")
    page.click("#dm-reset")
    assert page.evaluate("window.datamap.view()") == pytest.approx(home)
    assert "id xss" in hover(page, "xss")
    assert events["errors"] == []
    page.close()


@pytest.mark.slow
def test_axes_fit_a_three_class_run_and_toggle_to_full_range(tmp_path, browser):
    run = make_run(tmp_path / "three", n_random=300, seed=2)
    m = pd.read_parquet(run / "metrics.parquet")
    m = m[m["id"].str.startswith("r") & (m["confidence"] < 0.5)].reset_index(drop=True)  # a strip of a 3-class map
    m.to_parquet(run / "metrics.parquet", index=False)
    lo, hi = m["confidence"].min(), m["confidence"].max()
    vlo, vhi = m["variability"].min(), m["variability"].max()
    assert hi - lo < 0.45
    page, events = open_map(browser, write_html_map(run))
    x0, x1, y0, y1 = page.evaluate("window.datamap.view()")
    assert (y0, y1) == pytest.approx((lo - 0.04 * (hi - lo), hi + 0.04 * (hi - lo)), rel=1e-5)
    assert (x0, x1) == pytest.approx((vlo - 0.04 * (vhi - vlo), vhi + 0.04 * (vhi - vlo)), rel=1e-5)
    low, high = m["id"][m["confidence"].idxmin()], m["id"][m["confidence"].idxmax()]
    plot = page.eval_on_selector("#dm-gl", "c => { const r = c.getBoundingClientRect(); return [r.top, r.height]; }")
    spread = page.evaluate(f"window.datamap.pointPixel({low!r})")["y"] - page.evaluate(f"window.datamap.pointPixel({high!r})")["y"]
    assert spread > 0.9 * plot[1]  # the points fill the plot's height
    page.check("#dm-full")
    page.wait_for_function("() => window.datamap.view()[3] > 1")
    assert page.evaluate("window.datamap.view()")[2:] == pytest.approx([-0.03, 1.03])
    spread = page.evaluate(f"window.datamap.pointPixel({low!r})")["y"] - page.evaluate(f"window.datamap.pointPixel({high!r})")["y"]
    assert spread < 0.4 * plot[1]
    # region boundaries come from the points' own regions
    b = page.evaluate("window.datamap.bounds()")
    assert b["ambiguous"] == pytest.approx(m.loc[m["region"] == "ambiguous", "variability"].min(), rel=1e-6)
    assert events["errors"] == []
    page.close()


@pytest.mark.slow
def test_epoch_chart_shows_the_gold_probability_per_epoch(run, browser):
    page, events = open_map(browser, write_html_map(run, overwrite=True))
    hover(page, "k1")
    circles = page.eval_on_selector_all("#dm-tooltip circle", "els => els.map(e => [e.dataset.epoch, +e.dataset.p, +e.getAttribute('cy')])")
    assert [c[0] for c in circles] == ["1", "2", "3", "4"]
    assert [c[1] for c in circles] == pytest.approx([0.1, 0.9, 0.1, 0.9], abs=1 / 510 + 5e-4)
    cy = [c[2] for c in circles]
    assert cy[0] == pytest.approx(cy[2]) and cy[1] == pytest.approx(cy[3]) and cy[1] < cy[0]  # higher p, higher up
    assert page.eval_on_selector_all("#dm-tooltip .dm-etick", "els => els.map(e => e.textContent)") == ["1", "2", "3", "4"]
    p = page.evaluate("window.datamap.pointPixel('k2')")
    page.mouse.click(p["x"], p["y"])
    circles = page.eval_on_selector_all("#dm-detail circle", "els => els.map(e => +e.dataset.p)")
    assert circles == pytest.approx([0.2, 1.0, 0.2, 1.0], abs=1 / 510 + 5e-4)
    assert page.get_attribute("#dm-detail svg", "data-id") == "k2"
    assert events["errors"] == []
    page.close()


@pytest.mark.slow
def test_correctness_has_one_colour_per_value_and_density_layer(run, browser):
    frame = metrics_frame(run)
    page, events = open_map(browser, write_html_map(run, overwrite=True))
    counts = np.round(frame["correctness"] * 4).astype(int).value_counts()
    rows = page.eval_on_selector_all("#dm-legend div[data-k]", "els => els.map(e => [e.dataset.k, e.textContent])")
    assert [r[0] for r in rows] == ["4", "3", "2", "1", "0"]
    for k, text in rows:
        assert text == f"correct in {k} of 4 epochs ({int(counts.get(int(k), 0)):,})"
    assert page.evaluate("window.datamap.densityMax()") == 0
    page.check("#dm-density-on")
    dmax = page.evaluate("window.datamap.densityMax()")
    assert 1 < dmax < len(frame)
    assert "to " + str(dmax) + " points" in page.inner_text("#dm-density-legend")
    page.uncheck("#dm-density-on")
    assert page.evaluate("window.datamap.densityMax()") == 0
    assert events["errors"] == []
    page.close()


@pytest.mark.slow
def test_epoch_chart_greys_the_epochs_after_burn_out(run, browser, tmp_path):
    import shutil

    burnt = tmp_path / "burnt"
    shutil.copytree(run, burnt)
    (burnt / "metrics.json").write_text(json.dumps({"epochs_used": 2}))  # as `datamap metrics --burn-out 2` writes
    assert payload(write_html_map(burnt, out=tmp_path / "b.html"))["epochs_used"] == 2
    page, events = open_map(browser, write_html_map(burnt, overwrite=True))
    hover(page, "k1")
    circles = page.eval_on_selector_all("#dm-tooltip circle", "els => els.map(e => [e.dataset.epoch, e.dataset.counted])")
    assert circles == [["1", "1"], ["2", "1"], ["3", "0"], ["4", "0"]]
    shade = page.eval_on_selector_all("#dm-tooltip .dm-burnout", "els => els.map(e => +e.getAttribute('x'))")
    xs = page.eval_on_selector_all("#dm-tooltip circle", "els => els.map(e => +e.getAttribute('cx'))")
    assert len(shade) == 1 and xs[1] < shade[0] < xs[2]  # the shade starts between epochs 2 and 3
    assert "metrics use epochs 1\u20132" in page.inner_text("#dm-tooltip")
    page.close()
    # without burn-out: nothing greyed
    page, _ = open_map(browser, write_html_map(run, overwrite=True))
    hover(page, "k1")
    assert page.eval_on_selector_all("#dm-tooltip circle", "els => els.map(e => e.dataset.counted)") == ["1"] * 4
    assert page.eval_on_selector_all("#dm-tooltip .dm-burnout", "els => els.length") == 0
    assert events["errors"] == []
    page.close()
