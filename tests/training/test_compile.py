"""``--compile``: bucket padding, refusals, and compiled dynamics equal to eager ones (CPU inductor)."""

import json
import shutil

import numpy as np
import pytest
import torch

from datamap.errors import DatamapError
from datamap.io.store import read_dynamics
from datamap.training.compile import BucketCollator, bucket_for, bucket_lengths, check_compile, pad_batch
from datamap.training.config import TrainConfig


def test_bucket_lengths_are_few_and_end_at_max_length():
    assert bucket_lengths(16) == [16]
    assert bucket_lengths(64) == [16, 32, 48, 64]
    assert bucket_lengths(100) == [16, 32, 48, 64, 96, 100]
    assert bucket_lengths(512) == [16, 32, 48, 64, 96, 128, 192, 256, 384, 512]
    assert bucket_lengths(10) == [10]
    assert [bucket_for(n, [16, 32]) for n in (1, 16, 17, 32, 40)] == [16, 16, 32, 32, 40]


def test_pad_batch_pads_token_tensors_to_the_bucket():
    batch = {"input_ids": torch.tensor([[2, 5, 3], [2, 3, 7]]), "attention_mask": torch.ones(2, 3, dtype=torch.long),
             "token_type_ids": torch.zeros(2, 3, dtype=torch.long), "labels": torch.tensor([0, 1]),
             "index": torch.tensor([4, 9])}
    out = pad_batch(batch, [8, 16], pad_id=0)
    assert out["input_ids"].shape == (2, 8) and out["attention_mask"].shape == (2, 8)
    assert out["input_ids"][:, :3].tolist() == batch["input_ids"].tolist() and out["input_ids"][:, 3:].eq(0).all()
    assert out["attention_mask"].sum().item() == 6 and out["token_type_ids"].shape == (2, 8)
    assert out["labels"] is batch["labels"] and out["index"] is batch["index"]

    class Tok:
        pad_token_id = 1

    from datamap.training.batching import Collator

    items = [{"input_ids": [2, 5, 3], "attention_mask": [1, 1, 1], "labels": 0, "index": 0}]
    padded = BucketCollator.for_length(Collator(Tok()), 40)(items)
    assert padded["input_ids"].tolist() == [[2, 5, 3] + [1] * 13]


def test_compile_with_mixup_is_refused():
    with pytest.raises(Exception, match="compile"):
        TrainConfig(dataset="x", compile=True, mixup={"site": "pooled"})
    with pytest.raises(DatamapError, match="--compile: not with --mixup"):
        check_compile(mixup=True)


def test_compile_without_a_cpu_compiler_is_refused(monkeypatch):
    monkeypatch.setattr("datamap.training.compile.shutil.which", lambda name: None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DatamapError, match="C\\+\\+ compiler"):
        check_compile()


def _no_dropout_model(src, dst):
    shutil.copytree(src, dst)
    cfg = json.loads((dst / "config.json").read_text())
    cfg.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, classifier_dropout=0.0)
    (dst / "config.json").write_text(json.dumps(cfg))
    return dst


def _train(tmp_path, name, model, csv, **kw):
    from datamap.training.loop import train

    cfg = TrainConfig(dataset=str(csv), model=str(model), out=str(tmp_path / name), epochs=2, batch_size=20,
                      lr=5e-4, eval_split=None, seed=3, max_length=16, save_model=False, checkpoint=False, **kw)
    return read_dynamics(train(cfg, progress=False).dynamics).logits


@pytest.mark.slow
def test_compiled_dynamics_equal_eager(tmp_path, tiny_model_dir, sentiment_csv, monkeypatch, capsys):
    """fp32 on CPU: with dropout, compiled == eager on the same padded shapes; without, == the default run."""
    import datamap.training.compile as comp

    compiled = _train(tmp_path, "compiled", tiny_model_dir, sentiment_csv, compile=True)
    assert "1 graph(s) compiled" in capsys.readouterr().out  # one bucket (16), three full batches
    with monkeypatch.context() as m:  # the same run with the model left eager: only the compiler differs
        m.setattr(comp.torch, "compile", lambda model, **kw: model)
        eager = _train(tmp_path, "eager", tiny_model_dir, sentiment_csv, compile=True)
    assert np.abs(compiled - eager).max() < 1e-4
    assert np.abs(compiled[:, 0] - compiled[:, -1]).max() > 1e-2  # the model learned something

    plain_model = _no_dropout_model(tiny_model_dir, tmp_path / "no-dropout")
    compiled = _train(tmp_path, "compiled-nd", plain_model, sentiment_csv, compile=True)
    default = _train(tmp_path, "default-nd", plain_model, sentiment_csv)
    assert np.abs(compiled - default).max() < 1e-4


@pytest.mark.slow
def test_dynamics_trainer_honours_torch_compile(tmp_path, tiny_model_dir):
    """TrainingArguments(torch_compile=True): batches padded to buckets, the compiled model records the same dynamics."""
    import sys
    from pathlib import Path

    from conftest import make_sentiment_frame

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from hf_script import trainer_script

    frame = make_sentiment_frame(24)
    common = dict(epochs=2, batch_size=8, no_dropout=True)
    trainer = trainer_script(tiny_model_dir, frame, tmp_path / "compiled", args_kwargs={"torch_compile": True}, **common)
    assert trainer.data_collator.buckets[:2] == [16, 32]
    features = [dict(trainer.train_dataset[i]) for i in range(3)]
    features = [{k: v for k, v in f.items() if k in ("input_ids", "attention_mask", "token_type_ids", "label",
                                                     "datamap_index")} for f in features]
    assert trainer.data_collator(features)["input_ids"].shape[1] in trainer.data_collator.buckets
    assert type(trainer.model_wrapped).__name__ == "OptimizedModule"
    trainer_script(tiny_model_dir, frame, tmp_path / "eager", **common)
    compiled = read_dynamics(tmp_path / "compiled" / "datamap" / "dynamics.parquet")
    eager = read_dynamics(tmp_path / "eager" / "datamap" / "dynamics.parquet")
    assert compiled.n_epochs == 2 and list(compiled.ids) == list(eager.ids)
    assert np.abs(compiled.logits - eager.logits).max() < 1e-4
