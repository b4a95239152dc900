"""The HTML run report: sections, region counts, the mislabeled list and its rule, curves, evaluation
tables, selections, retrained runs, escaping; and opened in headless Chromium."""

from __future__ import annotations

import base64
import html
import json
import re
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from views_helpers import LABELS, XSS_IMG, XSS_SCRIPT, launch_browser, make_run, metrics_frame  # noqa: E402

from datamap.errors import DatamapError  # noqa: E402
from datamap.views.report import MISLABELED_RULE, most_likely_mislabeled, retrained_runs, write_report  # noqa: E402

PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


def full_run(root: Path) -> Path:
    run = make_run(root / "base")
    hist = {"epochs": [
        {"epoch": e, "train_loss": 1.0 / (e + 1), "examples_per_s": 100.0 + e, "seconds": 2.0,
         "eval": {"validation": {"accuracy": 0.5 + 0.1 * e, "loss": 0.9 - 0.1 * e}}}
        for e in range(3)]}
    (run / "history.json").write_text(json.dumps(hist), encoding="utf-8")
    (run / "eval").mkdir()
    (run / "eval" / "validation.json").write_text(json.dumps({
        "accuracy": 0.8125, "precision_macro": 0.7, "recall_macro": 0.6, "f1_macro": 0.65, "ece": 0.0425, "n": 16,
        "label_names": LABELS, "per_class": {n: {"precision": 0.5, "recall": 0.25, "f1": 0.3333, "support": 4} for n in LABELS},
        "confusion": [[5, 1, 0], [2, 3, 1], [0, 0, 4]]}), encoding="utf-8")
    (run / "selections").mkdir()
    (run / "selections" / "no_hard.json").write_text(json.dumps({
        "name": "no_hard", "ids": ["k1", "k2"], "recipe": {"drop": "hard", "note": "<i>x</i>"}, "sizes": {"total": 405, "selected": 2}}),
        encoding="utf-8")
    (run / "map.png").write_bytes(PNG_1PX)
    retr = root / "retrained"
    (retr / "eval").mkdir(parents=True)
    (retr / "config.yaml").write_text("train:\n  subset: base/selections/no_hard.json\n", encoding="utf-8")
    (retr / "eval" / "hans.json").write_text(json.dumps({"accuracy": 0.5625, "n": 32}), encoding="utf-8")
    other = root / "unrelated"
    other.mkdir()
    (other / "config.yaml").write_text("subset: elsewhere/selections/no_hard.json\n", encoding="utf-8")
    return run


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return full_run(tmp_path_factory.mktemp("rep"))


def cells(page: str, table_after: str) -> list[list[str]]:
    """Text of the cells of the first table after the marker, row by row."""
    part = page[page.index(table_after):]
    tbl = part[: part.index("</table>")]
    rows = re.findall(r"<tr>(.*?)</tr>", tbl, re.S)
    return [[html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<t[dh]>(.*?)</t[dh]>", r, re.S)] for r in rows]


def test_report_sections_and_numbers(run, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the retrained run's relative path must resolve against the runs folder
    out = write_report(run)
    assert out == run / "report.html"
    page = out.read_text(encoding="utf-8")
    assert "https://" not in page and "http://" not in page and "<script" not in page
    assert base64.b64encode(PNG_1PX).decode() in page  # map.png inlined

    frame = metrics_frame(run)
    rows = cells(page, "Examples per region")
    assert rows[0] == ["region", *LABELS, "total", "share"]
    for row in rows[1:-1]:
        reg = row[0]
        want = [int(((frame["region"] == reg) & (frame["gold"] == c)).sum()) for c in range(3)]
        assert [int(v.replace(",", "")) for v in row[1:4]] == want and int(row[4]) == sum(want)
    assert rows[-1][0] == "all" and int(rows[-1][4]) == len(frame)

    # mislabeled: errors' default ranking (lowest AUM first), worked out here independently
    assert html.escape(MISLABELED_RULE) in page
    pos = {i: k for k, i in enumerate(pd.read_parquet(run / "metrics.parquet")["id"])}
    want = sorted((a, pos[i], i) for a, i in zip(frame["aum"], frame.index))[:20]
    got = cells(page, "The 20 most likely mislabeled")
    assert [r[1] for r in got[1:]] == [w[2] for w in want]
    row = next(r for r in got[1:] if r[1] == "xss")
    assert row[3] == "entailment"
    assert f"premise: {XSS_SCRIPT}" in row[2] and f"hypothesis: {XSS_IMG}" in row[2]

    # training curves table and evaluation tables
    hist = cells(page, "id='training'")
    assert hist[0][:4] == ["epoch", "train loss", "examples/s", "seconds"] and hist[0][4] == "validation accuracy"
    assert [r[0] for r in hist[1:]] == ["1", "2", "3"]  # 1-based, as on the console (history.json: 0, 1, 2)
    assert hist[3][:5] == ["3", "0.3333", "102.0000", "2.0000", "0.7000"]
    ev = cells(page, "This run (base)")
    assert ev[1] == ["validation", "16", "0.8125", "0.7000", "0.6000", "0.6500", "0.0425"]
    conf = cells(page, "validation: confusion")
    assert conf[1] == ["entailment", "5", "1", "0"] and conf[3] == ["contradiction", "0", "0", "4"]
    assert cells(page, "Retrained run retrained")[1] == ["hans", "32", "0.5625", "–", "–", "–", "–"]
    assert "Retrained run unrelated" not in page
    sel = cells(page, "id='selections'")
    assert sel[0] == ["name", "file", "examples", "parts", "per class", "recipe"]  # words, not raw JSON
    assert sel[1] == ["no_hard", "no_hard.json", "2", "selected 2", "–", "drop hard; note <i>x</i>"]


def test_text_is_escaped(run, tmp_path):
    page = write_report(run, out=tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page and "<img src=x" not in page and "<i>x</i>" not in page and "<b>bold" not in page
    assert html.escape(XSS_SCRIPT) in page


def test_most_likely_mislabeled_rule_ties():
    """Lowest AUM first whatever the region or confidence; ties keep the table's order."""
    t = pd.DataFrame({"id": ["a", "b", "c", "d", "e"], "region": ["hard", "hard", "easy", "hard", "hard"],
                      "aum": [0.5, -1.0, -2.0, -1.0, 3.0], "confidence": [0.2, 0.1, 0.9, 0.1, 0.1],
                      "el2n": [0.0] * 5, "forgetfulness": [0.0] * 5})
    assert most_likely_mislabeled(t, 3)["id"].tolist() == ["c", "b", "d"]


def test_minimal_run_draws_its_own_map(tmp_path):
    run = make_run(tmp_path / "min", n_random=30, pair=False)
    page = write_report(run).read_text(encoding="utf-8")
    assert "this map was drawn for the report" in page
    assert page.count("data:image/png;base64,") == 1
    assert "No history.json" in page and "no evaluation scores" in page and "No selections" in page
    assert retrained_runs(run) == []


def test_missing_and_bad_inputs(tmp_path):
    run = make_run(tmp_path / "r", n_random=10)
    (run / "history.json").write_text("{\"epochs\": 3}", encoding="utf-8")
    with pytest.raises(DatamapError, match=r"history\.json: not a valid history"):
        write_report(run)
    (run / "metrics.parquet").unlink()
    with pytest.raises(DatamapError, match=r"metrics\.parquet: not found; run `datamap metrics"):
        write_report(run)
    assert not (run / "report.html").exists()


@pytest.mark.slow
def test_report_in_browser_shows_literal_text(run, tmp_path):
    out = write_report(run, out=tmp_path / "report.html")
    with launch_browser() as browser:
        page = browser.new_page()
        dialogs, errors = [], []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(out.as_uri())
        page.wait_for_load_state("load")
        text = page.inner_text("body")
        assert XSS_SCRIPT in text and XSS_IMG in text
        assert page.evaluate("window.__xss") is None and dialogs == [] and errors == []
        assert page.eval_on_selector_all("img", "els => els.every(e => e.src.startsWith('data:image/png'))")
        assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")


def test_health_checks_open_the_report(tmp_path):
    run = make_run(tmp_path / "sick", n_random=60, pair=False)
    (run / "metrics.json").write_text(json.dumps({"epochs_used": 2}), encoding="utf-8")
    (run / "eval").mkdir()
    # 20 examples, 10 of the first class; accuracy 0.5 = the majority share: at chance
    (run / "eval" / "validation.json").write_text(json.dumps({
        "accuracy": 0.5, "n": 20, "label_names": LABELS, "confusion": [[10, 0, 0], [6, 0, 0], [4, 0, 0]]}), encoding="utf-8")
    (run / "eval" / "validation-same-as-train.json").write_text(json.dumps({"accuracy": 0.99, "n": 5}), encoding="utf-8")
    (run / "selections").mkdir()
    (run / "selections" / "amb.json").write_text(json.dumps({
        "name": "amb", "ids": ["k1"], "recipe": {"ambiguous": 0.33, "stratify": False, "seed": 0},
        "sizes": {"parts": {"ambiguous": 104}, "per_class": {"entailment": 80, "neutral": 19, "contradiction": 5}}}),
        encoding="utf-8")
    page = write_report(run).read_text(encoding="utf-8")
    health = page[page.index("id='health'"):page.index("id='maps'")]  # before the maps and every list
    assert page.index("id='health'") < page.index("id='mislabeled'")
    items = [html.unescape(re.sub(r"<[^>]+>", "", li)) for li in re.findall(r"<li[^>]*>(.*?)</li>", health, re.S)]
    assert "4 of 6 checks warn" in health
    assert items[0].startswith("⚠ evaluation: evaluation set validation-same-as-train is the training split itself")
    assert items[1] == ("⚠ chance: evaluation set validation: accuracy 0.500 is at or near chance "
                        "(majority class share 0.500; warns below 0.550)")
    assert items[2].startswith("✔ chance: training set")
    assert items[3].startswith("⚠ epochs: 2 epochs recorded: variability needs at least 3")
    assert items[4].startswith("✔ imbalance: training set")
    assert items[5].startswith("⚠ selection: selection amb: entailment 80 (77%), neutral 19 (18%), contradiction 5 (5%); "
                               "largest/smallest 16.00, training set ")
    assert "This list means little here" in page[page.index("id='mislabeled'"):]
    sel = cells(page, "id='selections'")
    assert sel[1] == ["amb", "amb.json", "1", "ambiguous 104", "entailment 80 (77%), neutral 19 (18%), contradiction 5 (5%) ⚠ unbalanced",
                      "ambiguous 0.3300; seed 0"]


def test_healthy_run_says_so(run, tmp_path):
    page = write_report(run, out=tmp_path / "ok.html").read_text(encoding="utf-8")
    health = page[page.index("id='health'"):page.index("id='maps'")]
    assert "All 3 checks pass" in health and "This list means little" not in page


def test_history_figure_counts_epochs_from_one_on_integer_ticks():
    from datamap.views.report import history_figure

    epochs = [{"epoch": e, "train_loss": 1.0 / (e + 1), "eval": {"validation": {"accuracy": 0.5, "loss": 0.7}}}
              for e in range(2)]
    fig = history_figure(epochs)
    for ax in fig.axes:
        assert list(ax.lines[0].get_xdata()) == [1, 2]
        lo, hi = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
