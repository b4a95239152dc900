"""io.rundir owns every file of the contract: label_issues.parquet, ensemble.json and an experiment's stages.json
are written and read by one function each, round trips are exact and bad files are refused naming them."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from datamap.errors import DatamapError
from datamap.io.rundir import STAGES_FILE, RunDir, read_stage_markers, write_stage_marker


def _issues() -> pd.DataFrame:
    return pd.DataFrame({"id": ["b", "a", "c"], "rank": pd.array([1, 2, None], dtype="Int64"),
                         "flag": [True, False, False], "threshold_sample": [False, False, True],
                         "given_label": ["pos", "neg", "neg"], "predicted_label": ["neg", "neg", "pos"],
                         "score_aum": [0.9, 0.1, float("nan")]})


def test_label_issues_round_trip_exactly(tmp_path):
    rd = RunDir(tmp_path)
    meta = {"method": "aum", "cut": "negative_aum", "cut_value": 0.0, "n_flagged": 1}
    assert rd.write_label_issues(_issues(), meta) == rd.label_issues
    table, got = rd.read_label_issues()
    pd.testing.assert_frame_equal(table, _issues())
    assert got == meta
    part, _ = rd.read_label_issues(["id", "flag"])
    assert list(part.columns) == ["id", "flag"] and part["id"].tolist() == ["b", "a", "c"]


@pytest.mark.parametrize("bad,message", [
    (lambda t: pd.concat([t, t.iloc[[0]]], ignore_index=True), "id 'b' occurs more than once"),
    (lambda t: t.assign(rank=pd.array([0, 2, None], dtype="Int64")), "rank 0 is below 1"),
])
def test_a_bad_label_issues_file_is_refused_naming_it(tmp_path, bad, message):
    rd = RunDir(tmp_path)
    rd.write_label_issues(bad(_issues()), {})
    with pytest.raises(DatamapError, match=message) as exc:
        rd.read_label_issues()
    assert str(rd.label_issues) in str(exc.value)


def test_label_issues_metadata_must_be_an_object_and_the_file_must_exist(tmp_path):
    rd = RunDir(tmp_path)
    with pytest.raises(DatamapError, match="run `datamap errors` first"):
        rd.read_label_issues()
    rd.write_label_issues(_issues(), {})
    import pyarrow.parquet as pq

    arrow = pq.read_table(rd.label_issues)
    pq.write_table(arrow.replace_schema_metadata({b"datamap": b"[1, 2]"}), rd.label_issues)
    with pytest.raises(DatamapError, match="not a JSON object"):
        rd.read_label_issues()


def test_ensemble_json_round_trip_and_refusal(tmp_path):
    rd = RunDir(tmp_path)
    assert rd.read_ensemble() == {}
    desc = {"members": ["runs/a", "runs/b"], "weights": [0.25, 0.75]}
    rd.write_ensemble(desc)
    assert rd.read_ensemble() == desc and json.loads(rd.ensemble.read_text()) == desc
    rd.ensemble.write_text("[0.5, 0.5]")
    with pytest.raises(DatamapError, match="ensemble.json: not a JSON object"):
        rd.read_ensemble()


def test_stage_markers_round_trip_forget_and_survive_a_broken_file(tmp_path):
    assert read_stage_markers(tmp_path / "exp") == {}
    write_stage_marker(tmp_path / "exp", "s1", {"hash": "x", "outputs": ["a"]})
    write_stage_marker(tmp_path / "exp", "s2", {"hash": "y", "outputs": []})
    assert read_stage_markers(tmp_path / "exp") == {"s1": {"hash": "x", "outputs": ["a"]}, "s2": {"hash": "y", "outputs": []}}
    write_stage_marker(tmp_path / "exp", "s1", None)
    assert list(read_stage_markers(tmp_path / "exp")) == ["s2"]
    (tmp_path / "exp" / STAGES_FILE).write_text("{not json")
    assert read_stage_markers(tmp_path / "exp") == {}  # unreadable: every stage runs again
