"""Embeddings: cls / mean / pooler equal values worked out by hand on the tiny BERT, rows follow the
dataset's order by id, the Parquet file (fixed-size list, metadata, float16), errors, and two processes
under ``accelerate launch`` writing what one process writes."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from conftest import cli_env, make_sentiment_frame
from datamap.errors import DatamapError
from datamap.io.embeddings import read_embeddings
from datamap.stages.embed import embed
from datamap.training.embed import embed_frame


def frame(n: int = 24, seed: int = 3) -> pd.DataFrame:
    df = make_sentiment_frame(n, seed=seed)
    df.insert(0, "id", [f"ex{i:03d}" for i in range(n)])
    return df


@pytest.fixture(scope="module")
def hand(tiny_model_dir):
    """Each example alone through the classifier (no padding at all): last layer, and the pooler."""
    from transformers import AutoTokenizer, BertForSequenceClassification

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = BertForSequenceClassification.from_pretrained(tiny_model_dir).eval()
    df = frame()
    cls, mean, pooled = [], [], []
    with torch.no_grad():
        for text in df["text"]:
            enc = tok(text, return_tensors="pt")
            last = model(**enc, output_hidden_states=True).hidden_states[-1][0]  # (tokens, hidden)
            cls.append(last[0].numpy())
            mean.append(last.mean(0).numpy())
            pooled.append(torch.tanh(model.bert.pooler.dense(last[0])).numpy())
    return df, {"cls": np.stack(cls), "mean": np.stack(mean), "pooler": np.stack(pooled)}


@pytest.mark.parametrize("pooling", ["cls", "mean", "pooler"])
def test_pooling_equals_hand_computed_states(hand, tiny_model_dir, pooling):
    df, expected = hand
    # one batch of mixed lengths: the shorter examples are padded, so an unmasked mean would differ
    got, info = embed_frame(df, str(tiny_model_dir), pooling=pooling, batch_size=len(df), progress=False)
    assert got.dtype == np.float32 and got.shape == (len(df), 32)
    np.testing.assert_allclose(got, expected[pooling], atol=2e-5, rtol=1e-4)
    assert info["pooling"] == pooling and info["model_type"] == "bert"


def test_padding_really_happens_in_that_batch(hand, tiny_model_dir):
    from transformers import AutoTokenizer

    df, _ = hand
    lengths = {len(AutoTokenizer.from_pretrained(tiny_model_dir)(t)["input_ids"]) for t in df["text"]}
    assert len(lengths) > 2  # so test_pooling_equals_hand_computed_states[mean] sees padding


def make_run(root, model_dir, df: pd.DataFrame):
    (root / "model").parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(model_dir, root / "model")
    df.to_parquet(root / "data.parquet", index=False)
    return root


def test_rows_follow_the_dataset_order_by_id(tmp_path, tiny_model_dir):
    df = frame(40, seed=5)
    shuffled = df.iloc[np.random.default_rng(1).permutation(len(df))].reset_index(drop=True)
    a = make_run(tmp_path / "a", tiny_model_dir, df)
    b = make_run(tmp_path / "b", tiny_model_dir, shuffled)
    pa_, n, _ = embed(str(a), batch_size=7, progress=False)
    pb, _, _ = embed(str(b), batch_size=5, progress=False)
    assert pa_ == a / "embeddings.parquet" and n == 40
    ea, eb = read_embeddings(pa_), read_embeddings(pb)
    assert list(ea.keys) == df["id"].tolist() and list(eb.keys) == shuffled["id"].tolist()  # dataset order
    by_id = dict(zip(eb.keys, eb.vectors))
    np.testing.assert_allclose(np.stack([by_id[i] for i in ea.keys]), ea.vectors, atol=1e-5)
    # and each row is its own text's vector (not merely a consistent permutation)
    alone, _ = embed_frame(shuffled.iloc[[3]], str(tiny_model_dir), progress=False)
    np.testing.assert_allclose(eb.vectors[3], alone[0], atol=1e-5)


def test_parquet_layout_metadata_and_float16(tmp_path, tiny_model_dir):
    run = make_run(tmp_path / "run", tiny_model_dir, frame())
    path, _, _ = embed(str(run), pooling="cls", progress=False)
    schema = pq.read_schema(path)
    assert schema.names == ["id", "embedding"]
    assert schema.field("embedding").type == pa.list_(pa.float32(), 32)  # a fixed-size list
    emb = read_embeddings(path)
    assert emb.metadata["pooling"] == "cls" and emb.metadata["dim"] == 32 and emb.metadata["dtype"] == "float32"
    assert emb.metadata["model"].endswith("model") and emb.metadata["n"] == 24 and emb.metadata["source"] == "data.parquet"
    half, _, _ = embed(str(run), pooling="cls", dtype="float16", out=tmp_path / "half.parquet", progress=False)
    assert pq.read_schema(half).field("embedding").type == pa.list_(pa.float16(), 32)
    np.testing.assert_allclose(read_embeddings(half).vectors, emb.vectors, rtol=2e-3, atol=2e-3)


def test_existing_output_is_kept_without_overwrite(tmp_path, tiny_model_dir):
    run = make_run(tmp_path / "run", tiny_model_dir, frame())
    path, _, _ = embed(str(run), pooling="cls", progress=False)
    before = path.read_bytes()
    with pytest.raises(DatamapError, match="already exists; pass --overwrite"):
        embed(str(run), pooling="mean", progress=False)
    assert path.read_bytes() == before
    embed(str(run), pooling="mean", overwrite=True, progress=False)
    assert read_embeddings(path).metadata["pooling"] == "mean"


def test_a_model_and_a_dataset(tmp_path, tiny_model_dir, sentiment_csv):
    with pytest.raises(DatamapError, match="pass --out FILE"):
        embed(str(tiny_model_dir), dataset=str(sentiment_csv))
    out, n, meta = embed(str(tiny_model_dir), dataset=str(sentiment_csv), out=tmp_path / "e.parquet", progress=False)
    from datamap.io.data import load_dataset

    ids = load_dataset(str(sentiment_csv))[0]["id"].tolist()  # the ids `datamap train` would give
    assert list(read_embeddings(out).keys) == ids and n == 60 and meta["source"].endswith("train.csv")


def test_pooler_needs_a_trained_pooler(tmp_path, tiny_model_dir):
    from transformers import AutoTokenizer, BertConfig, BertModel, DistilBertConfig, DistilBertForSequenceClassification

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    distil = tmp_path / "distil"
    DistilBertForSequenceClassification(DistilBertConfig(vocab_size=tok.vocab_size, dim=32, n_layers=1, n_heads=2,
                                                         hidden_dim=64, max_position_embeddings=128)).save_pretrained(distil)
    tok.save_pretrained(distil)
    bare = tmp_path / "bare"
    BertModel(BertConfig.from_pretrained(tiny_model_dir), add_pooling_layer=False).save_pretrained(bare)
    tok.save_pretrained(bare)
    for folder, kind in ((distil, "distilbert"), (bare, "bert")):
        with pytest.raises(DatamapError, match=f"type '{kind}'. has no trained pooler; use cls or mean"):
            embed_frame(frame(), str(folder), pooling="pooler", progress=False)
    got, _ = embed_frame(frame(), str(distil), pooling="mean", progress=False)  # the others work
    assert got.shape == (24, 32)


def test_cli_errors_are_one_line_exit_2(tmp_path, tiny_model_dir):
    run = make_run(tmp_path / "run", tiny_model_dir, frame())
    (run / "embeddings.parquet").write_bytes(b"x")
    for args, message in (
        ([str(run)], "embeddings.parquet: already exists; pass --overwrite"),
        ([str(run), "--pooling", "max", "--overwrite"], "--pooling: must be one of cls, mean, last, pooler, got 'max'"),
        ([str(run), "--dtype", "int8", "--overwrite"], "--dtype: must be one of float32, float16, got 'int8'"),
    ):
        r = subprocess.run([sys.executable, "-m", "datamap", "embed", *args], capture_output=True, text=True, env=cli_env())
        assert r.returncode == 2 and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
        assert message in r.stderr
    assert (run / "embeddings.parquet").read_bytes() == b"x"


@pytest.mark.slow
def test_two_processes_write_what_one_writes(tmp_path, tiny_model_dir):
    df = frame(27, seed=9)  # 27 rows, batch 4: even batching repeats examples on one process
    run = make_run(tmp_path / "run", tiny_model_dir, df)
    one, _, _ = embed(str(run), batch_size=4, out=tmp_path / "one.parquet", progress=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(port), "-m", "datamap",
           "embed", str(run), "--batch-size", "4", "--out", str(tmp_path / "two.parquet")]
    r = subprocess.run(cmd, capture_output=True, text=True, env=cli_env(OMP_NUM_THREADS=1), timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    a, b = read_embeddings(one), read_embeddings(tmp_path / "two.parquet")
    assert list(b.keys) == df["id"].tolist() and b.metadata["processes"] == 2
    np.testing.assert_allclose(b.vectors, a.vectors, atol=1e-5)


def test_train_embed_writes_what_datamap_embed_writes(tmp_path, tiny_model_dir, sentiment_csv):
    """``train --embed cls``: the trained encoder's first-token states, equal to embedding the saved
    model afterwards (a different pass: the model reloaded from RUN/model/ as a bare encoder)."""
    from datamap.training.config import TrainConfig
    from datamap.training.loop import train

    cfg = TrainConfig(dataset=str(sentiment_csv), model=str(tiny_model_dir), out=str(tmp_path / "run"), epochs=2,
                      batch_size=8, lr=1e-3, eval_split="none", seed=1, embed="cls")
    run = train(cfg, progress=False)
    during = read_embeddings(run.embeddings)
    assert during.metadata["pooling"] == "cls" and during.metadata["source"] == "data.parquet"
    assert list(during.keys) == pd.read_parquet(run.data)["id"].astype(str).tolist()
    after, _, _ = embed(str(run.root), pooling="cls", out=tmp_path / "after.parquet", progress=False)
    np.testing.assert_allclose(during.vectors, read_embeddings(after).vectors, atol=1e-5)
    before, _, _ = embed(str(run.root), model=str(tiny_model_dir), pooling="cls", out=tmp_path / "before.parquet",
                         progress=False)
    assert np.abs(during.vectors - read_embeddings(before).vectors).max() > 1e-2  # trained, not the initial weights
