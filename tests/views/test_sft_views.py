"""plot (PNG, HTML) and report of an sft run: token-level axes and legends, prompt/completion in the
tooltip (truncated, escaped: HTML in them shows as text and runs nothing), the loss trajectory summary."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from views_helpers import decode, hover, launch_browser, open_map, payload  # noqa: E402

from datamap.stages.measure import measure_run  # noqa: E402
from datamap.views.interactive import write_html_map  # noqa: E402
from datamap.views.static import run_map_figure, write_map_png  # noqa: E402
from datamap.io.rundir import RunDir  # noqa: E402
from sft_run import LONG, XSS, make_sft_run  # noqa: E402


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    root = make_sft_run(tmp_path_factory.mktemp("sft") / "run", xss_point=True)
    measure_run(root)
    return root


def test_png_axes_and_legend_say_token(run):
    fig = run_map_figure(RunDir(run))
    ax = fig.axes[0]
    assert "token" in ax.get_xlabel() and "token" in ax.get_ylabel()
    legend = ax.get_legend()
    assert "token accuracy" in legend.get_title().get_text()
    labels = [t.get_text() for t in legend.get_texts()]
    assert len(labels) == 5 and labels[0].startswith("0.0–0.2)")
    assert "sft" in ax.get_title()
    path = write_map_png(run)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_html_payload_and_escaping(run):
    path = write_html_map(run, overwrite=True)
    page = path.read_text(encoding="utf-8")
    assert "<script>window.__xss" not in page and "<b>bold</b>" not in page  # only escaped copies in the page
    d = payload(path)
    i = d["ids"].index("xss")
    assert d["text"][i] == XSS and d["text_pair"][i] == LONG and d["pair"] is True
    assert d["sft"]["text_labels"] == ["prompt", "completion"] and "token" in d["sft"]["axis"][1]
    assert d["correct_epochs"] is None and d["epochs"] == 6
    assert "mean_loss" in d["metrics"] and "gold" not in d["metrics"]
    # the chart: geometric-mean token probability per point, exp(-0.7) for the xss row
    p = decode(d["pgold"], "u1").reshape(-1, 6)[i] / 255
    assert np.allclose(p, np.exp(-0.7), atol=1 / 255)
    write_html_map(run, overwrite=True, color_by="mean_loss")
    from datamap.errors import DatamapError

    with pytest.raises(DatamapError, match="--color-by 'gold'"):
        write_html_map(run, overwrite=True, color_by="gold")


@pytest.mark.slow
def test_tooltip_shows_prompt_and_completion_as_text(run):
    with launch_browser() as browser:
        page, events = open_map(browser, write_html_map(run, overwrite=True))
        tip = hover(page, "xss")
        assert "prompt: " + XSS in tip and "completion: " + XSS in tip
        assert "THE-END" not in tip and "\u2026" in tip  # truncated in the tooltip
        assert "gold:" not in tip and "region:" in tip and "forgetfulness \u221e (never exact)" in tip
        assert page.eval_on_selector_all("#dm-tooltip script, #dm-tooltip b", "els => els.length") == 0
        p = page.evaluate("window.datamap.pointPixel('xss')")
        page.mouse.click(p["x"], p["y"])
        detail = page.inner_text("#dm-detail")
        assert "THE-END" in detail and "per record point" in detail
        assert page.evaluate("window.__xss") is None and events["errors"] == [] and events["dialogs"] == []
        assert page.is_hidden("#dm-labels")
        page.close()


def test_report_shows_the_loss_trajectory_and_escapes_texts(tmp_path):
    import json as _json

    from datamap.views.report import write_report

    run = make_sft_run(tmp_path / "run", n_stuck=3, xss_point=True)  # "xss" (loss 0.7) among the 20 hardest
    measure_run(run)
    (run / "eval").mkdir(exist_ok=True)
    (run / "eval" / "heldout.json").write_text(_json.dumps({"loss": 0.5, "token_accuracy": 0.8, "exact_match": 0.25,
                                                            "n": 40}))
    page = write_report(run, out=tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Loss trajectory" in page and "mean token loss" in page and "record point" in page
    assert "completions reproduced exactly at every record point" in page and "correct in every epoch" not in page
    assert "<script>window.__xss" not in page and "&lt;script&gt;window.__xss=1&lt;/script&gt;" in page
    assert "THE-END" not in page  # the long completion is cut
    assert "mislabeled" not in page.lower() and "gold class" not in page
    assert "exact_match" in page and "0.2500" in page
    # the per-point table: 6 points, mean token loss falling for this run
    assert page.count("<tr><td>6</td>") >= 1
