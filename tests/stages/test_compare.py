"""datamap compare: the evaluation scores of several runs side by side (table, CSV, JSON)."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from datamap.cli import app as datamap_app
from datamap.errors import DatamapError
from datamap.eval.scoring import classification_scores
from datamap.stages.compare import compare_table, flatten_scores


def write_eval(run, set_name, scores):
    (run / "eval").mkdir(parents=True, exist_ok=True)
    (run / "eval" / f"{set_name}.json").write_text(json.dumps(scores))


def probs_for(preds, conf=0.8):
    """Two-class probabilities: ``conf`` on the predicted class."""
    p = np.full((len(preds), 2), 1 - conf)
    p[np.arange(len(preds)), preds] = conf
    return p


@pytest.fixture
def two_runs(tmp_path):
    a, b = tmp_path / "full", tmp_path / "amb33"
    gold = np.array([0, 0, 1, 1])
    write_eval(a, "validation", classification_scores(probs_for([0, 0, 1, 0]), gold, ["n", "p"], probs=True))
    write_eval(b, "validation", classification_scores(probs_for([0, 0, 1, 1]), gold, ["n", "p"], probs=True))
    write_eval(b, "hans", {"accuracy": 0.6, "heuristics": {"lexical_overlap": {"all": {"accuracy": 0.55, "n": 10}}}})
    return a, b


def test_compare_table(two_runs):
    a, b = two_runs
    cols, rows = compare_table([a, b])
    assert cols == ["full", "amb33"]
    table = {(r["set"], r["metric"]): (r["full"], r["amb33"]) for r in rows}
    assert table[("validation", "accuracy")] == (0.75, 1.0)
    assert table[("hans", "accuracy")] == (None, 0.6)
    assert ("hans", "f1_macro") not in table
    _, rows = compare_table([a, b], sets=["hans"], metrics=["heuristics.lexical_overlap.all.accuracy"])
    assert rows == [{"set": "hans", "metric": "heuristics.lexical_overlap.all.accuracy", "full": None, "amb33": 0.55}]
    assert flatten_scores({"x": 1, "y": {"z": 2.5}, "l": [1, 2], "s": "t"}) == {"x": 1.0, "y.z": 2.5}


def test_compare_command(two_runs, tmp_path):
    a, b = two_runs
    app = datamap_app
    out_csv, out_json = tmp_path / "c.csv", tmp_path / "c.json"
    res = CliRunner().invoke(app, ["compare", str(a), str(b), "--csv", str(out_csv), "--json", str(out_json)])
    assert res.exit_code == 0, res.output
    assert "full" in res.output and "amb33" in res.output and "0.7500" in res.output and "-" in res.output
    df = pd.read_csv(out_csv)
    assert list(df.columns) == ["set", "metric", "full", "amb33"]
    assert df.loc[(df["set"] == "validation") & (df["metric"] == "accuracy"), "amb33"].item() == 1.0
    obj = json.loads(out_json.read_text())
    assert obj["columns"] == ["full", "amb33"] and len(obj["rows"]) == len(df)
    assert "Examples" in CliRunner().invoke(app, ["compare", "--help"]).output


def test_compare_errors(two_runs, tmp_path):
    a, b = two_runs
    with pytest.raises(DatamapError, match="run directory not found"):
        compare_table([tmp_path / "nope"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatamapError, match="no eval/\\*.json scores"):
        compare_table([empty])
    with pytest.raises(DatamapError, match="evaluation set 'test' not found"):
        compare_table([a, b], sets=["test"])
    write_eval(empty, "broken", {})
    (empty / "eval" / "broken.json").write_text("{oops")
    with pytest.raises(DatamapError, match="broken.json: not valid JSON"):
        compare_table([a, empty])
