"""Dataset loading and validation: columns, labels, ids, and one-line errors."""

import json

import pandas as pd
import pytest

from datamap.errors import DatamapError
from datamap.io.data import load_dataset, prepare, read_file
from datamap.training.models import MINILM_HUB, resolve_model


def frame(**cols):
    return pd.DataFrame(cols)


def test_csv_tsv_jsonl_parquet_read_the_same(tmp_path):
    df = frame(text=["a b", "c d", "e f"], label=["pos", "neg", "pos"])
    df.to_csv(tmp_path / "x.csv", index=False)
    df.to_csv(tmp_path / "x.tsv", sep="\t", index=False)
    df.to_json(tmp_path / "x.jsonl", orient="records", lines=True)
    df.to_parquet(tmp_path / "x.parquet")
    outs = [load_dataset(str(tmp_path / f"x.{ext}"))[0] for ext in ("csv", "tsv", "jsonl", "parquet")]
    for o in outs[1:]:
        pd.testing.assert_frame_equal(o, outs[0])
    assert outs[0]["label_name"].tolist() == ["pos", "neg", "pos"]
    assert outs[0]["label"].tolist() == [1, 0, 1]  # string labels: sorted names -> ids


def test_label_names_from_label_name_column_and_fixed_map():
    df = frame(text=["x", "y", "z"], label=[2, 0, 1], label_name=["c", "a", "b"])
    out, names = prepare(df, "t")
    assert names == ["a", "b", "c"]
    # a fixed label map (e.g. the model's) is enforced: names must agree
    with pytest.raises(DatamapError, match="row 0 has label 2 named 'c' but the label map names it 'z'"):
        prepare(df, "t", label_names=["x", "y", "z"])


def test_unknown_label_under_a_fixed_map():
    with pytest.raises(DatamapError, match="unknown label 'maybe' at row 1 in column 'label'"):
        prepare(frame(text=["a", "b"], label=["yes", "maybe"]), "f.csv", label_names=["no", "yes"])
    with pytest.raises(DatamapError, match="unknown label 5 at row 0"):
        prepare(frame(text=["a"], label=[5]), "f.csv", label_names=["no", "yes"])


def test_missing_column_names_it():
    with pytest.raises(DatamapError, match="f.csv: no label column 'gold' \\(columns: text, label\\)"):
        prepare(frame(text=["a"], label=[0]), "f.csv", label_column="gold")
    with pytest.raises(DatamapError, match="no text column found"):
        prepare(frame(body=["a"], label=[0]), "f.csv")


def test_empty_and_null_text():
    with pytest.raises(DatamapError, match="empty text in column 'text' at row 1"):
        prepare(frame(text=["a", "  ", "c"], label=[0, 1, 0]), "f.csv")
    with pytest.raises(DatamapError, match="null text in column 'text' at row 0"):
        prepare(frame(text=[None, "b"], label=[0, 1]), "f.csv")
    out, _ = prepare(frame(text=["a", "", "c"], label=[0, 1, 0]), "f.csv", drop_empty=True)
    assert out["text"].tolist() == ["a", "c"]


def test_unlabeled_rows_rejected():
    with pytest.raises(DatamapError, match="label -1 at row 1"):
        prepare(frame(text=["a", "b"], label=[0, -1]), "f.csv")


def test_ids_from_column_or_content_hash(caplog):
    out, _ = prepare(frame(id=[10, 11], text=["a", "b"], label=[0, 1]), "f")
    assert out["id"].tolist() == ["10", "11"]
    with pytest.raises(DatamapError, match="duplicate id '10' in column 'id' at row 1"):
        prepare(frame(id=[10, 10], text=["a", "b"], label=[0, 1]), "f")
    out1, _ = prepare(frame(text=["same", "other", "same"], label=[0, 1, 1]), "f")
    out2, _ = prepare(frame(text=["other", "same", "same"], label=[1, 0, 1]), "f")
    ids1 = out1["id"].tolist()
    assert ids1[2] == ids1[0] + "-1"  # duplicate text: numbered suffix
    assert ids1[1] == out2["id"].tolist()[0]  # content ids do not depend on position
    assert "duplicate texts" in caplog.text


def test_pairs_recognised():
    out, _ = prepare(frame(premise=["p1", "p2"], hypothesis=["h1", "h2"], label=[0, 1]), "nli")
    assert out.columns.tolist() == ["id", "text", "text_pair", "label", "label_name"]
    assert out["text_pair"].tolist() == ["h1", "h2"]


def test_local_mirror_and_errors(tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv("DATAMAP_DATA_DIR", str(data_dir))
    df, names, source = load_dataset("toy", "validation")
    assert len(df) == 20 and names == ["neg", "pos"] and source.endswith("validation.parquet")
    with pytest.raises(DatamapError, match="no 'test' split in the local mirror"):
        load_dataset("toy", "test")
    with pytest.raises(DatamapError, match="nope.csv: file not found"):
        load_dataset(str(tmp_path / "nope.csv"))
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"garbage")
    with pytest.raises(DatamapError, match="bad.parquet: cannot read parquet file"):
        read_file(bad)


def test_minilm_alias_resolves_offline():
    path = resolve_model("minilm")
    assert path == MINILM_HUB or path.endswith("model")
    if path != MINILM_HUB:
        assert json.loads(open(path + "/config.json").read())["model_type"] == "bert"


def test_hub_names_go_through_datasets(monkeypatch):
    """Names that are neither files nor mirror entries are loaded with datasets.load_dataset."""
    import datasets

    calls = []

    def fake_load(name, config=None, split=None, revision=None):  # datasets.load_dataset's order
        calls.append((name, config, split, revision))
        return datasets.Dataset.from_pandas(pd.DataFrame({"sentence": ["good", "bad"], "label": [1, 0]}))

    monkeypatch.delenv("DATAMAP_DATA_DIR", raising=False)
    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    df, names, source = load_dataset("someone/sentiment", "train")
    assert calls == [("someone/sentiment", None, "train", None)] and source == "someone/sentiment[train]"
    assert df["text"].tolist() == ["good", "bad"] and names == ["0", "1"]

    def failing(name, config=None, split=None, revision=None):
        raise ConnectionError("offline\nmore")

    monkeypatch.setattr(datasets, "load_dataset", failing)
    with pytest.raises(DatamapError, match="dataset 'someone/x' split 'train': .*the hub failed: offline$"):
        load_dataset("someone/x", "train")


def test_a_dataset_the_hub_does_not_have_is_refused_at_once(monkeypatch):
    """One probe of the hub (short timeout): a definite 404 is one line, datasets (and its retries) never runs."""
    import datasets
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RepositoryNotFoundError

    from datamap.io import data as data_mod

    calls = []

    def missing(self, repo_id, **kw):
        calls.append((repo_id, kw.get("timeout")))
        err = RepositoryNotFoundError.__new__(RepositoryNotFoundError)  # (its __init__ wants an HTTP response)
        Exception.__init__(err, "404 Repository Not Found")
        raise err

    monkeypatch.setattr(HfApi, "dataset_info", missing)
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: pytest.fail("datasets was asked after a 404"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    with pytest.raises(DatamapError, match=r"dataset 'rotten_tomatos' split 'train': .*the hub has no dataset of that name"):
        data_mod.load_table("rotten_tomatos", "train")
    assert calls == [("rotten_tomatos", data_mod.HUB_PROBE_TIMEOUT)]


def test_an_unreachable_hub_leaves_it_to_datasets(monkeypatch):
    import datasets
    from huggingface_hub import HfApi

    from datamap.io import data as data_mod

    monkeypatch.setattr(HfApi, "dataset_info", lambda self, *a, **k: (_ for _ in ()).throw(OSError("offline")))
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: (_ for _ in ()).throw(ConnectionError("no net")))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(DatamapError, match="the hub failed: no net"):
        data_mod.load_table("some/dataset", "train")
