"""Health where the user looks: a model that learnt nothing says so on map.html, in map.png's subtitle,
in the report and in the output of `metrics` and `select` (text and --json); the pages say which model,
data, epochs, lr and seed made the run, and what the regions are."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import make_sentiment_frame
from datamap.io.rundir import RunDir
from stages.test_bad_inputs import call


@pytest.fixture(scope="module")
def chance_run(tmp_path_factory, tiny_model_dir):
    """1 epoch at lr 1e-9 on random labels: a model that learns nothing."""
    root = tmp_path_factory.mktemp("chance")
    frame = make_sentiment_frame(60)
    frame["label"] = np.random.default_rng(0).permutation(np.arange(60) % 2)
    frame["label_name"] = np.array(["neg", "pos"])[frame["label"]]
    frame.to_csv(root / "rand.csv", index=False)
    run = root / "run"
    assert call("train", "--dataset", root / "rand.csv", "--model", tiny_model_dir, "--out", run, "--epochs", "1",
                "--batch-size", "16", "--lr", "1e-9", "--seed", "7", "--max-length", "24", "--no-save-model") == 0
    return run


def test_metrics_output_shows_the_chance_finding(chance_run, capsys):
    capsys.readouterr()
    assert call("metrics", chance_run) == 0
    out = capsys.readouterr().out
    assert "⚠ health chance:" in out and "at or near chance" in out and "⚠ health epochs:" in out
    assert call("metrics", chance_run, "--json") == 0
    health = {h["check"]: h for h in json.loads(capsys.readouterr().out)["health"] if not h["ok"]}
    assert "at or near chance" in health["chance"]["message"]


def test_pages_show_the_finding_and_describe_the_run(chance_run, capsys):
    from datamap.views.static import run_map_figure

    assert call("metrics", chance_run) == 0
    assert call("plot", chance_run, "--overwrite") == 0
    assert call("plot", chance_run, "--html", "--overwrite") == 0
    assert call("report", chance_run, "--overwrite") == 0
    page = (chance_run / "map.html").read_text()
    head = page[page.index("<body>"): page.index('<div id="dm-controls"')]
    assert "id='dm-health'" in head and "at or near chance" in head  # above the map, not in the data
    for part in ("model ", "rand.csv", "1 epochs", "lr 1e-09", "seed 7", "54 training rows", "6 held out"):
        assert part in head, part
    assert "Regions are rankings" in head and "&#x27;none&#x27; is every example in none" in head
    fig = run_map_figure(RunDir(chance_run))
    texts = "\n".join(t.get_text() for t in fig.texts)
    assert "⚠ chance:" in texts and "at or near chance" in texts and "lr 1e-09" in texts
    report = (chance_run / "report.html").read_text()
    assert "at or near chance" in report and "Regions are rankings" in report and "seed 7" in report


def test_select_output_and_json_show_the_finding(chance_run, capsys):
    assert call("metrics", chance_run) == 0
    capsys.readouterr()
    assert call("select", chance_run, "--out", "amb", "--ambiguous", "0.3", "--overwrite") == 0
    assert "⚠ health chance:" in capsys.readouterr().out
    assert call("select", chance_run, "--out", "amb2", "--ambiguous", "0.3", "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert [h for h in out["health"] if h["check"] == "chance" and not h["ok"]]


def test_a_healthy_map_has_no_warning_box(tmp_path):
    """The box is the findings', not a fixed text: a run above chance with enough epochs shows none."""
    from views.views_helpers import make_run

    from datamap.views.findings import run_findings, warnings_of

    run = make_run(tmp_path / "r")
    assert call("metrics", run) == 0
    assert call("plot", run, "--html") == 0
    assert warnings_of(run_findings(run)) == []
    page = (run / "map.html").read_text()
    assert "id='dm-health'" not in page and "Regions are rankings" in page
