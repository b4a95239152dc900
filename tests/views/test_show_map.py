"""datamap.show_map(run): the page of `datamap plot --html`, inline in Jupyter through an escaped, sandboxed
<iframe srcdoc>; nothing written into the run."""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from views_helpers import XSS_IMG, XSS_SCRIPT, make_run, payload  # noqa: E402

import datamap  # noqa: E402
from datamap.errors import DatamapError  # noqa: E402
from datamap.views.interactive import write_html_map  # noqa: E402


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("show") / "nli", n_random=60)


def _srcdoc(markup: str) -> str:
    m = re.fullmatch(r'<iframe srcdoc="([^"]*)" title="([^"]*)" sandbox="([^"]*)" style="[^"]*"></iframe>', markup)
    assert m, markup[:300]
    assert m.group(3) == "allow-scripts allow-downloads"  # no allow-same-origin: the page cannot reach the notebook
    return m.group(1)


def test_repr_embeds_the_escaped_page_of_plot_html(run, tmp_path):
    before = sorted(p.name for p in run.iterdir())
    view = datamap.show_map(run, color_by="region")
    assert sorted(p.name for p in run.iterdir()) == before  # nothing written into the run
    written = write_html_map(run, out=tmp_path / "m.html", color_by="region")
    assert view.page == written.read_text(encoding="utf-8")  # the very page `datamap plot --html` writes
    markup = view._repr_html_()
    doc = _srcdoc(markup)
    assert "<" not in doc and ">" not in doc and '"' not in doc  # one attribute value: every markup char escaped
    assert html.unescape(doc) == view.page
    shown = tmp_path / "shown.html"
    shown.write_text(html.unescape(doc), encoding="utf-8")
    data = payload(shown)  # the page's data block, back from the attribute
    assert data == payload(written) and data["color_by"] == "region"
    strings = repr(data)
    assert repr(XSS_SCRIPT)[1:-1] in strings and repr(XSS_IMG)[1:-1] in strings  # the hostile texts: data, not markup
    assert "<script>alert" not in markup and "<img src=x" not in markup and "<script>alert" not in view.page
    assert "nli" in repr(view)


def test_save_and_refusals(run, tmp_path):
    view = datamap.show_map(datamap.load_run(run), max_points=20, seed=1)
    saved = payload(view.save(tmp_path / "map.html"))
    assert saved["sampled"] is True and len(saved["ids"]) == 20 and saved["n_total"] == 65  # the options reach the page
    with pytest.raises(DatamapError, match="already exists"):
        view.save(tmp_path / "map.html")
    with pytest.raises(DatamapError, match="no out/overwrite"):
        datamap.show_map(run, out=tmp_path / "x.html")
    bare = make_run(tmp_path / "bare", n_random=10)
    (bare / "metrics.parquet").unlink()
    with pytest.raises(DatamapError, match="metrics.parquet: not found; run `datamap metrics"):
        datamap.show_map(bare)


@pytest.mark.slow
def test_the_map_runs_inside_a_notebook_like_page(run, tmp_path):
    """Headless Chromium: a page holding the repr (as Jupyter would) gets a working map inside the sandboxed
    frame (its data read, points drawn), with no script error and no hostile text executed."""
    from views_helpers import launch_browser

    host = tmp_path / "notebook.html"
    host.write_text("<!DOCTYPE html><html><body><h1>notebook</h1>" + datamap.show_map(run)._repr_html_()
                    + "</body></html>", encoding="utf-8")
    with launch_browser() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        events = {"dialogs": [], "errors": []}
        page.on("dialog", lambda d: (events["dialogs"].append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: events["errors"].append(str(e)))
        page.goto(host.as_uri())
        frame = page.frames[1]
        frame.wait_for_function("window.datamap && window.datamap.ready === true", timeout=30_000)
        assert frame.evaluate("window.datamap.pointPixel('k1')") is not None  # a point of the map, placed
        assert frame.evaluate("typeof window.__xss") == "undefined" and not events["dialogs"]
        assert not events["errors"], events["errors"]
        assert page.evaluate("typeof window.datamap") == "undefined"  # the notebook's page stays apart
