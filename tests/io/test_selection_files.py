"""Selection files: RUN/selections/NAME.json (+ subset rows), and reading ids back for train --subset."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from datamap.core.selection import Recipe, select
from datamap.errors import DatamapError
from datamap.io.selection import check_ids_in, load_selection_ids, save_selection
from selection_table import TABLE, make_run


def test_save_and_load_selection(tmp_path):
    run, data = make_run(tmp_path)
    r = select(TABLE, Recipe(ambiguous=0.3, easy=0.2), label_names=["neg", "pos"])
    paths = save_selection(run, "amb", r, formats=("parquet", "csv"), dataset="toy")
    assert paths["json"] == run / "selections" / "amb.json"
    assert paths["csv"] == run / "selections" / "toy_amb.csv"
    obj = json.loads(paths["json"].read_text())
    assert obj["name"] == "amb"
    assert obj["ids"] == ["e2", "e5", "e9", "e0", "e8"]
    assert obj["recipe"]["ambiguous"] == 0.3 and obj["recipe"]["seed"] == 0
    assert obj["sizes"]["parts"] == {"ambiguous": 3, "easy": 2}
    assert obj["sizes"]["per_class"] == {"neg": 3, "pos": 2}
    assert obj["sizes"]["total"] == 5 and obj["sizes"]["dataset"] == 10
    sub = pd.read_parquet(paths["parquet"])
    assert sub["id"].tolist() == obj["ids"]
    assert sub["text"].tolist() == ["text 2", "text 5", "text 9", "text 0", "text 8"]
    assert pd.read_csv(paths["csv"])["id"].tolist() == obj["ids"]
    assert load_selection_ids(paths["json"]) == obj["ids"]
    # no temporary files left behind
    assert sorted(p.name for p in (run / "selections").iterdir()) == ["amb.json", "amb.parquet", "toy_amb.csv"]


def test_save_selection_errors(tmp_path):
    run, data = make_run(tmp_path)
    with pytest.raises(DatamapError, match="selection name"):
        save_selection(run, "../evil", {"ids": ["e1"]})
    with pytest.raises(DatamapError, match="1 selected id\\(s\\) not in the dataset, first missing: 'zz'"):
        save_selection(run, "x", {"ids": ["e1", "zz"]})
    assert not (run / "selections" / "x.json").exists()
    # JSON only, no data needed
    p = save_selection(tmp_path, "only", {"ids": ["a"]}, formats=())
    assert json.loads(p["json"].read_text())["ids"] == ["a"]
    with pytest.raises(DatamapError, match="data.parquet"):
        save_selection(tmp_path, "only2", {"ids": ["a"]})


def test_load_selection_ids_formats(tmp_path):
    (tmp_path / "list.json").write_text('["a", "b", 3]')
    assert load_selection_ids(tmp_path / "list.json") == ["a", "b", "3"]
    (tmp_path / "ids.txt").write_text("a\n  b \n\nc\n")
    assert load_selection_ids(tmp_path / "ids.txt") == ["a", "b", "c"]
    for name, text, match in [
        ("bad.json", "{not json", "not valid JSON"),
        ("noids.json", '{"name": "x"}', "no 'ids' key"),
        ("obj.json", '{"ids": {"a": 1}}', "must be a list"),
        ("nested.json", '{"ids": [["a"]]}', "expected a string"),
        ("empty.txt", "\n\n", "no ids"),
        ("dup.txt", "a\nb\na\n", "duplicate id 'a'"),
    ]:
        (tmp_path / name).write_text(text)
        with pytest.raises(DatamapError, match=match) as e:
            load_selection_ids(tmp_path / name)
        assert name in str(e.value)
    with pytest.raises(DatamapError, match="not found"):
        load_selection_ids(tmp_path / "missing.json")


def test_check_ids_in():
    check_ids_in(["a", "b"], ["b", "a", "c"], "data.parquet")
    with pytest.raises(DatamapError, match=r"data.parquet: 2 selected id\(s\) not in the dataset, first missing: 'x'"):
        check_ids_in(["a", "x", "y"], ["a", "b"], "data.parquet")


