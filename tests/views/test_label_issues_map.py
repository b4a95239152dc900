"""The interactive map with RUN/label_issues.parquet (datamap errors): rank and flag joined by id into
the payload, errors for a file that does not cover the run; and in headless Chromium: the rank in the
tooltip and the pinned record, the "top K" and "flagged only" filters (with the other filters and the
selection export), the list of top issues, the "label issue" colouring."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from views_helpers import XSS_IMG, XSS_SCRIPT, decode, hover, launch_browser, make_run, open_map, payload  # noqa: E402

from datamap.errors import DatamapError  # noqa: E402
from datamap.stages.errors import find_errors  # noqa: E402
from datamap.views.interactive import write_html_map  # noqa: E402


def issues_by_id(run: Path) -> pd.DataFrame:
    return pd.read_parquet(run / "label_issues.parquet").set_index("id")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """The map tests' synthetic run (metrics rows shuffled against data rows) ranked by `datamap errors`."""
    root = make_run(tmp_path_factory.mktemp("issues") / "nli")
    find_errors(root, cut="aum0")  # the AUM < 0 cut (the default, auto, resolves to count here)
    return root


# ---------------------------------------------------------------- the payload


def test_payload_rank_and_flag_are_the_files_joined_by_id(run, tmp_path):
    p = payload(write_html_map(run, out=tmp_path / "m.html", color_by="label_issue"))
    t = issues_by_id(run)
    iss = p["issues"]
    rank, flag = decode(iss["rank"], "<i4"), decode(iss["flag"], "u1")
    assert len(rank) == len(flag) == len(p["ids"]) == len(t)
    # the page follows metrics order, label_issues.parquet is sorted by rank: joined by id
    assert rank.tolist() == t.loc[p["ids"], "rank"].astype(int).tolist()
    assert flag.astype(bool).tolist() == t.loc[p["ids"], "flag"].tolist()
    k3, xss = p["ids"].index("k3"), p["ids"].index("xss")  # gold probability near 0: the two lowest AUMs
    assert (rank[k3], flag[k3], rank[xss], flag[xss]) == (1, 1, 2, 1)
    assert iss["method"] == "aum" and iss["cut"] == "negative_aum" and iss["cut_value"] == 0.0
    assert iss["n_ranked"] == len(t) and iss["n_flagged"] == int(t["flag"].sum()) and p["color_by"] == "label_issue"
    # the list: the file's first 20 ids in rank order, with its given and predicted labels
    ordered = t.sort_values("rank")
    assert [p["ids"][i] for i, _, _ in iss["top"]] == ordered.index[:20].tolist()
    assert [[g, q] for _, g, q in iss["top"]] == ordered[["given_label", "predicted_label"]].iloc[:20].values.tolist()


def test_without_the_file_the_page_has_no_issues(tmp_path):
    root = make_run(tmp_path / "plain", n_random=30)
    p = payload(write_html_map(root))
    assert "issues" not in p
    with pytest.raises(DatamapError, match=r"--color-by label_issue: .*label_issues\.parquet not found; run `datamap errors"):
        write_html_map(root, color_by="label_issue", overwrite=True)


def test_threshold_samples_are_unranked_and_a_sample_keeps_the_files_ranks(tmp_path):
    from stages.test_errors import make_run as make_errors_run

    from datamap.stages.measure import measure_run

    root = tmp_path / "thr"
    root.mkdir()
    make_errors_run(root, threshold=True)
    measure_run(root)
    find_errors(root)
    t = issues_by_id(root)
    p = payload(write_html_map(root))
    rank, flag = decode(p["issues"]["rank"], "<i4"), decode(p["issues"]["flag"], "u1")
    thr = [p["ids"].index(f"t{j}") for j in range(12)]
    assert rank[thr].tolist() == [0] * 12 and flag[thr].tolist() == [0] * 12
    assert p["issues"]["n_ranked"] == 60 and p["issues"]["cut"] == "threshold_samples"
    assert p["issues"]["cut_value"] == pytest.approx(-1.11)
    # a random sample draws fewer points; their ranks stay the file's, the list holds drawn points only
    s = payload(write_html_map(root, out=tmp_path / "s.html", max_points=30, seed=1))
    rank = decode(s["issues"]["rank"], "<i4")
    assert rank.tolist() == t.loc[s["ids"], "rank"].fillna(0).astype(int).tolist()
    top = [rank[i] for i, _, _ in s["issues"]["top"]]
    assert top == sorted(r for r in rank if r > 0)[:20] and s["issues"]["n_ranked"] == 60


def test_a_file_missing_ids_or_unreadable_is_a_one_line_error(run, tmp_path):
    root = tmp_path / "bad"
    shutil.copytree(run, root)
    t = pd.read_parquet(root / "label_issues.parquet")
    t[t["id"] != "k2"].to_parquet(root / "label_issues.parquet", index=False)
    with pytest.raises(DatamapError) as err:
        write_html_map(root)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"{root / 'label_issues.parquet'}: ")
    assert "'k2'" in msg and f"rerun `datamap errors {root} --overwrite`" in msg
    (root / "label_issues.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DatamapError, match=r"label_issues\.parquet: cannot read as Parquet .*; rerun `datamap errors"):
        write_html_map(root)
    assert not (root / "map.html").exists()


def test_embedding_view_carries_the_ranking_too(run, tmp_path):
    from test_embedding_map import add_embeddings

    root = tmp_path / "emb"
    shutil.copytree(run, root)
    add_embeddings(root, clusters=False)
    p = payload(write_html_map(root, xy="embedding"))
    assert p["xy"]["kind"] == "embedding"
    assert decode(p["issues"]["rank"], "<i4").tolist() == issues_by_id(root).loc[p["ids"], "rank"].astype(int).tolist()


# ---------------------------------------------------------------- in the browser


@pytest.fixture(scope="module")
def browser():
    with launch_browser() as b:
        yield b


@pytest.mark.slow
def test_tooltip_and_pinned_record_show_the_rank(run, browser):
    t = issues_by_id(run)
    n = len(t)
    assert not t.loc["k1", "flag"]
    page, events = open_map(browser, write_html_map(run, overwrite=True))
    assert f"label issue: rank 1 of {n} (aum), flagged" in hover(page, "k3")
    assert f"label issue: rank {int(t.loc['k1', 'rank'])} of {n} (aum), not flagged" in hover(page, "k1")
    p = page.evaluate("window.datamap.pointPixel('xss')")
    page.mouse.click(p["x"], p["y"])
    assert page.get_attribute("#dm-detail", "data-id") == "xss"
    assert f"label issue: rank 2 of {n} (aum), flagged" in page.inner_text("#dm-detail")
    assert events == {"dialogs": [], "errors": []}
    page.close()


@pytest.mark.slow
def test_top_k_and_flagged_only_combine_with_the_filters_and_the_export(run, browser, tmp_path):
    t = issues_by_id(run).join(pd.read_parquet(run / "metrics.parquet").set_index("id")[["gold"]])
    page, events = open_map(browser, write_html_map(run, overwrite=True), downloads=True)
    shown = lambda: sorted(page.evaluate("window.datamap.shownIds()"))  # noqa: E731
    assert len(shown()) == len(t)
    top3 = t.index[t["rank"] <= 3].tolist()
    page.fill("#dm-topk", "3")
    assert shown() == sorted(top3)
    # with the gold-label filter: k3 (rank 1) is neutral, so it goes too
    assert t.loc["k3", "gold"] == 1
    page.uncheck("#dm-labels input[data-index='1']")
    assert shown() == sorted(i for i in top3 if t.loc[i, "gold"] != 1) and "k3" not in shown()
    # a box over the whole plot selects the shown points only, and the export holds them and the filter
    r = page.eval_on_selector("#dm-overlay", "c => { const r = c.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }")
    page.mouse.move(r[0] + 1, r[1] + 1)
    page.mouse.down()
    page.mouse.move(r[2] - 1, r[3] - 1, steps=4)
    page.mouse.up()
    assert sorted(page.evaluate("window.datamap.selectedIds()")) == shown()
    with page.expect_download() as dl:
        page.click("#dm-export")
    saved = tmp_path / "sel.json"
    dl.value.save_as(saved)
    sel = json.loads(saved.read_text(encoding="utf-8"))
    assert sorted(sel["ids"]) == shown()
    assert sel["recipe"]["label_issues"] == {"method": "aum", "top_k": 3, "flagged_only": False}
    # empty = off; flagged only, with a search
    page.fill("#dm-topk", "")
    page.check("#dm-labels input[data-index='1']")
    assert len(shown()) == len(t)
    page.check("#dm-flagged")
    assert shown() == sorted(t.index[t["flag"]])
    texts = pd.read_parquet(run / "data.parquet").set_index("id")
    hit = (texts["text"] + "\n" + texts["text_pair"]).str.lower().str.contains("alpha", regex=False)
    want = sorted(i for i in t.index[t["flag"]] if hit[i])
    assert 0 < len(want) < t["flag"].sum()
    page.fill("#dm-search", "alpha")
    page.wait_for_function("n => window.datamap.shownCount() === n", arg=len(want))
    assert shown() == want
    assert events == {"dialogs": [], "errors": []}
    page.close()


@pytest.mark.slow
def test_list_of_top_issues_pins_on_click_and_shows_text_as_text(run, browser):
    t = issues_by_id(run).sort_values("rank")
    page, events = open_map(browser, write_html_map(run, overwrite=True))
    entries = page.eval_on_selector_all("#dm-issues li", "els => els.map(e => [e.dataset.id, e.innerText])")
    assert [e[0] for e in entries] == t.index[:20].tolist()
    assert entries[0][1].startswith("#1 ") and f"{t.iloc[0]['given_label']} \u2192 {t.iloc[0]['predicted_label']}" in entries[0][1]
    assert XSS_SCRIPT[:60] in entries[1][1]  # rank 2 is the XSS record: shown literally, truncated
    assert page.eval_on_selector_all("#dm-issues script, #dm-issues img", "els => els.length") == 0
    assert page.eval_on_selector_all("#dm-issues b", "els => els.length") == 1  # the panel's own heading
    page.click("#dm-issues li >> nth=0")
    assert page.get_attribute("#dm-detail", "data-id") == t.index[0] == "k3"
    assert "label issue: rank 1 of" in page.inner_text("#dm-detail")
    page.click("#dm-issues li >> nth=1")
    assert page.get_attribute("#dm-detail", "data-id") == "xss" and XSS_IMG in page.inner_text("#dm-detail")
    assert page.evaluate("window.__xss") is None and events == {"dialogs": [], "errors": []}
    page.close()


@pytest.mark.slow
def test_label_issue_colouring_only_with_the_file(run, browser, tmp_path):
    plain = make_run(tmp_path / "plain", n_random=30)
    page, events = open_map(browser, write_html_map(plain))
    assert "label_issue" not in page.eval_on_selector_all("#dm-color option", "els => els.map(e => e.value)")
    assert page.query_selector("#dm-issues") is None and page.query_selector("#dm-topk") is None
    page.close()
    t = issues_by_id(run)
    page, events2 = open_map(browser, write_html_map(run, overwrite=True))
    page.select_option("#dm-color", "label_issue")
    rows = page.eval_on_selector_all("#dm-legend div[data-issue]", "els => els.map(e => e.textContent)")
    assert rows == [f"flagged ({int(t['flag'].sum())})", f"not flagged ({int((~t['flag']).sum())})"]
    assert "Colour: label issue" in page.inner_text("#dm-legend")
    assert events == events2 == {"dialogs": [], "errors": []}
    page.close()
