"""DynamicsTrainer: an existing Trainer script records dynamics with a one-line change (tests/training/hf_script.py)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from conftest import cli_env, make_sentiment_frame
from datamap.errors import DatamapError
from datamap.io.store import read_dynamics

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hf_script import trainer_script  # noqa: E402

pytestmark = pytest.mark.slow

N = 27  # not a multiple of the batch size


def frame_with_ids(n=N, seed=0):
    frame = make_sentiment_frame(n, seed=seed)
    frame.insert(0, "id", [f"ex-{(i * 7) % n:03d}" for i in range(n)])  # ids not in row order
    return frame


def eval_logits(model, tok, texts):
    model.eval()
    with torch.no_grad():
        enc = tok(texts, truncation=True, max_length=32, padding=True, return_tensors="pt")
        return model(**enc).logits.numpy()


@pytest.mark.parametrize("mode", ["inflight", "epoch_end"])
def test_one_line_change_records_every_example_once_per_epoch(tmp_path, tiny_model_dir, mode):
    frame = frame_with_ids()
    trainer_script(tiny_model_dir, frame, tmp_path / "out", record=mode, epochs=2, lr=2e-3)
    run = tmp_path / "out" / "datamap"  # default: <output_dir>/datamap
    import pyarrow.parquet as pq

    rows = pq.read_table(run / "dynamics.parquet").to_pandas()
    assert len(rows) == 2 * N
    for e in range(2):
        assert sorted(rows.loc[rows["epoch"] == e, "id"]) == sorted(frame["id"])
    dyn = read_dynamics(run / "dynamics.parquet")
    assert dyn.n_epochs == 2 and dyn.n_classes == 2
    assert np.array_equal(dyn.gold, frame.set_index("id").loc[list(dyn.ids), "label"].to_numpy())
    assert not np.allclose(dyn.logits[:, 0], dyn.logits[:, 1])  # recorded while the model learned
    data = pd.read_parquet(run / "data.parquet")
    assert list(data.columns) == ["id", "text", "label", "label_name"]
    pd.testing.assert_frame_equal(data[["id", "text", "label"]], frame[["id", "text", "label"]])
    assert data["label_name"].tolist() == [["neg", "pos"][g] for g in frame["label"]]
    assert json.loads((run / "labels.json").read_text()) == {"names": ["neg", "pos"]}
    assert yaml.safe_load((run / "config.yaml").read_text())["record"] == mode


@pytest.mark.parametrize("mode", ["inflight", "epoch_end"])
def test_recorded_logits_belong_to_their_ids(tmp_path, tiny_model_dir, mode):
    """Learning rate 0 and no dropout: in-flight (training-mode) and epoch_end logits both equal the
    model's eval logits for each example, so every logit row is matched to the right id."""
    frame = frame_with_ids()
    trainer = trainer_script(tiny_model_dir, frame, tmp_path / "out", record=mode, epochs=1, lr=0.0, no_dropout=True)
    dyn = read_dynamics(tmp_path / "out" / "datamap" / "dynamics.parquet")
    texts = frame.set_index("id").loc[list(dyn.ids), "text"].tolist()
    expected = eval_logits(trainer.model, trainer.processing_class, texts)
    np.testing.assert_allclose(dyn.logits[:, 0], expected, atol=1e-5)


def test_no_id_column_and_datamap_cli_works_on_the_output(tmp_path, tiny_model_dir):
    frame = make_sentiment_frame(N, seed=2)  # text, label, label_name; no id
    trainer_script(tiny_model_dir, frame, tmp_path / "out", epochs=2, dynamics_dir=tmp_path / "dm")
    dyn = read_dynamics(tmp_path / "dm" / "dynamics.parquet")
    assert sorted(dyn.ids.tolist()) == sorted(str(i) for i in range(N))  # row positions as ids
    assert np.array_equal(dyn.gold, frame["label"].to_numpy()[dyn.ids.astype(int)])
    for args in (["metrics", tmp_path / "dm", "--fraction", "0.25"], ["plot", tmp_path / "dm"]):
        r = subprocess.run([sys.executable, "-m", "datamap", *map(str, args)], capture_output=True, text=True, env=cli_env())
        assert r.returncode == 0, r.stderr
    m = pd.read_parquet(tmp_path / "dm" / "metrics.parquet")
    assert len(m) == N and (tmp_path / "dm" / "map.png").exists()


def test_plain_torch_dataset_and_keep_unused_columns(tmp_path, tiny_model_dir):
    """A list of tokenised dicts (not a datasets.Dataset) goes through Trainer's collator-side column
    removal; with remove_unused_columns=False the index must still not reach the model."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, TrainingArguments

    from datamap.hf import DynamicsTrainer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    frame = frame_with_ids(11)
    items = [{**tok(t, truncation=True, max_length=32), "labels": int(y), "id": i}
             for t, y, i in zip(frame["text"], frame["label"], frame["id"])]
    for keep in (False, True):
        model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir)
        args = TrainingArguments(output_dir=str(tmp_path / f"o{keep}"), num_train_epochs=2, per_device_train_batch_size=4,
                                 report_to="none", save_strategy="no", disable_tqdm=True, use_cpu=True,
                                 remove_unused_columns=not keep)
        data = items if not keep else [{k: v for k, v in it.items() if k != "id"} for it in items]
        DynamicsTrainer(model=model, args=args, train_dataset=data, data_collator=DataCollatorWithPadding(tok)).train()
        dyn = read_dynamics(tmp_path / f"o{keep}" / "datamap" / "dynamics.parquet")
        want = sorted(frame["id"]) if not keep else sorted(str(i) for i in range(11))
        assert sorted(dyn.ids.tolist()) == want and dyn.n_epochs == 2
        assert json.loads((tmp_path / f"o{keep}" / "datamap" / "labels.json").read_text())["names"] == ["LABEL_0", "LABEL_1"]


def test_class_label_names_are_kept(tmp_path, tiny_model_dir):
    """A ClassLabel training set with a model of default names (LABEL_0...) writes the class names."""
    import datasets
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, TrainingArguments

    from datamap.hf import DynamicsTrainer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    frame = make_sentiment_frame(10)[["text", "label"]]
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["bad", "good"])})
    ds = datasets.Dataset.from_pandas(frame, features=features, preserve_index=False)
    ds = ds.map(lambda b: tok(b["text"], truncation=True, max_length=32), batched=True)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir)
    assert model.config.id2label[0] == "LABEL_0"
    args = TrainingArguments(output_dir=str(tmp_path), num_train_epochs=1, per_device_train_batch_size=5,
                             report_to="none", save_strategy="no", disable_tqdm=True, use_cpu=True)
    DynamicsTrainer(model=model, args=args, train_dataset=ds, data_collator=DataCollatorWithPadding(tok)).train()
    assert json.loads((tmp_path / "datamap" / "labels.json").read_text())["names"] == ["bad", "good"]
    data = pd.read_parquet(tmp_path / "datamap" / "data.parquet")
    assert data["label_name"].tolist() == [["bad", "good"][y] for y in frame["label"]]


def test_bad_input(tmp_path, tiny_model_dir):
    with pytest.raises(DatamapError, match="record must be one of"):
        trainer_script(tiny_model_dir, frame_with_ids(), tmp_path / "a", record="sometimes")
    dup = frame_with_ids()
    dup.loc[3, "id"] = dup.loc[0, "id"]
    with pytest.raises(DatamapError, match="duplicate value 'ex-000' \\(row 3\\)"):
        trainer_script(tiny_model_dir, dup, tmp_path / "b")
    assert not (tmp_path / "b" / "datamap" / "dynamics.parquet").exists()
    nolabel = frame_with_ids().drop(columns=["label"])
    with pytest.raises(DatamapError, match="no label column"):
        trainer_script(tiny_model_dir, nolabel, tmp_path / "c")
