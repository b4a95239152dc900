"""The tokenised-data cache: a second training on the same data skips tokenising and trains the same."""

import numpy as np
import pytest

import datamap.training.token_cache as tc
from conftest import make_sentiment_frame
from datamap.io.store import read_dynamics
from datamap.training.batching import encode_frame
from datamap.training.config import TrainConfig


@pytest.fixture
def tok(tiny_model_dir):
    from datamap.training.models import load_tokenizer

    return load_tokenizer(str(tiny_model_dir))


@pytest.fixture
def counted(monkeypatch):
    """Count the calls of the tokenising function behind the cache."""
    calls = []
    original = tc.encode_frame

    def encode_frame(df, tokenizer, max_length=128):
        calls.append(len(df))
        return original(df, tokenizer, max_length)

    monkeypatch.setattr(tc, "encode_frame", encode_frame)
    return calls


def test_cached_items_equal_fresh_ones(tmp_path, monkeypatch, tok, counted):
    monkeypatch.setenv("DATAMAP_CACHE_DIR", str(tmp_path / "cache"))
    df = make_sentiment_frame(30)
    first = tc.encode_cached(df, tok, 16)
    second = tc.encode_cached(df, tok, 16)
    assert counted == [30] and second == first == encode_frame(df, tok, 16)
    assert len(list((tmp_path / "cache" / "tokens").glob("*.npz"))) == 1
    # labels and positions come from the frame, not the cache
    flipped = df.assign(label=1 - df["label"])
    assert [it["labels"] for it in tc.encode_cached(flipped, tok, 16)] == (1 - df["label"]).tolist()
    assert counted == [30]


def test_key_follows_texts_tokenizer_and_length(tmp_path, monkeypatch, tok, counted, tiny_model_dir):
    monkeypatch.setenv("DATAMAP_CACHE_DIR", str(tmp_path / "cache"))
    df = make_sentiment_frame(20)
    tc.encode_cached(df, tok, 16)
    tc.encode_cached(df, tok, 8)  # another length
    other = df.copy()
    other.loc[3, "text"] = other.loc[3, "text"] + " again"
    tc.encode_cached(other, tok, 16)  # another text
    tc.encode_cached(df.iloc[::-1].reset_index(drop=True), tok, 16)  # another order
    from transformers import AutoTokenizer

    lower = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    lower.backend_tokenizer.normalizer = __import__("tokenizers").normalizers.BertNormalizer(lowercase=False)
    tc.encode_cached(df, lower, 16)  # another tokenizer definition
    assert counted == [20] * 5
    tc.encode_cached(df, tok, 16)
    assert counted == [20] * 5


def test_off_and_unreadable_entries(tmp_path, monkeypatch, tok, counted):
    monkeypatch.setenv("DATAMAP_CACHE_DIR", "off")
    df = make_sentiment_frame(10)
    tc.encode_cached(df, tok, 16)
    tc.encode_cached(df, tok, 16)
    assert counted == [10, 10] and tc.cache_dir() is None
    monkeypatch.setenv("DATAMAP_CACHE_DIR", str(tmp_path / "cache"))
    first = tc.encode_cached(df, tok, 16)
    (entry,) = (tmp_path / "cache" / "tokens").glob("*.npz")
    entry.write_bytes(b"not a zip")
    assert tc.encode_cached(df, tok, 16) == first and counted == [10, 10, 10, 10]
    assert tc.encode_cached(df, tok, 16) == first and counted == [10, 10, 10, 10]  # rewritten


@pytest.mark.slow
def test_second_training_skips_tokenising_and_trains_the_same(tmp_path, monkeypatch, tiny_model_dir, data_dir,
                                                              counted):
    from datamap.training.loop import train

    monkeypatch.setenv("DATAMAP_DATA_DIR", str(data_dir))

    def run(name):
        cfg = TrainConfig(dataset="toy", model=str(tiny_model_dir), out=str(tmp_path / name), epochs=2, batch_size=8,
                          lr=5e-4, seed=3, max_length=32, save_model=False)
        return train(cfg, progress=False)

    monkeypatch.setenv("DATAMAP_CACHE_DIR", "off")
    fresh = run("fresh")
    assert counted == [60, 20]  # training set, validation set
    monkeypatch.setenv("DATAMAP_CACHE_DIR", str(tmp_path / "cache"))
    first = run("first")
    second = run("second")
    assert counted == [60, 20, 60, 20]  # the second training tokenised nothing
    for other in (first, second):
        assert np.array_equal(read_dynamics(other.dynamics).logits, read_dynamics(fresh.dynamics).logits)
        assert (other.root / "eval" / "validation.json").read_text() == (fresh.root / "eval" / "validation.json").read_text()
