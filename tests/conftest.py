"""Shared fixtures: a tiny BERT built from a config with a WordPiece tokenizer trained on the fly."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

POS = ["great", "wonderful", "moving", "superb", "charming", "delightful", "brilliant", "funny"]
NEG = ["awful", "boring", "dull", "tedious", "clumsy", "bland", "weak", "painful"]
FILL = ["the", "film", "movie", "story", "acting", "plot", "was", "is", "a", "very", "and", "quite", "really"]


def make_sentiment_frame(n: int = 60, seed: int = 0, pairs: bool = False) -> pd.DataFrame:
    """A small two-class text dataset with a learnable signal (distinct texts)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = i % 2
        words = [rng.choice(FILL) for _ in range(rng.randint(3, 9))]
        words.insert(rng.randrange(len(words) + 1), rng.choice(POS if label else NEG))
        words.append(f"w{i}")  # keeps every text distinct
        row = {"text": " ".join(words), "label": label, "label_name": ["neg", "pos"][label]}
        if pairs:
            row = {"premise": row["text"], "hypothesis": " ".join(rng.choice(FILL) for _ in range(4)), **row}
            del row["text"]
        rows.append(row)
    return pd.DataFrame(rows)


def make_mirror(root: Path, train: int = 60, validation: int = 20, test: int | None = None) -> Path:
    """A local dataset mirror ``root/mirror/toy/{train,validation[,test]}.parquet``; returns ``root/mirror``."""
    mirror = root / "mirror"
    (mirror / "toy").mkdir(parents=True, exist_ok=True)
    make_sentiment_frame(train, seed=0).to_parquet(mirror / "toy" / "train.parquet")
    make_sentiment_frame(validation, seed=5).to_parquet(mirror / "toy" / "validation.parquet")
    if test is not None:
        make_sentiment_frame(test, seed=9).to_parquet(mirror / "toy" / "test.parquet")
    return mirror


@pytest.fixture(scope="session", autouse=True)
def _token_cache(tmp_path_factory):
    """Tests write the tokenised-data cache (datamap.training.token_cache) into a folder of their own."""
    before = os.environ.get("DATAMAP_CACHE_DIR")
    os.environ["DATAMAP_CACHE_DIR"] = str(tmp_path_factory.mktemp("datamap-cache"))
    yield
    if before is None:
        os.environ.pop("DATAMAP_CACHE_DIR", None)
    else:
        os.environ["DATAMAP_CACHE_DIR"] = before


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A 2-layer, 32-hidden BERT with a WordPiece tokenizer trained here, saved as a model folder."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-bert")
    corpus = make_sentiment_frame(400, seed=1)["text"].tolist() + [" ".join(POS + NEG + FILL)] * 3
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(corpus, trainers.WordPieceTrainer(vocab_size=300, special_tokens=specials))
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]"
    )
    config = BertConfig(
        vocab_size=fast.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128, num_labels=2,
    )
    import torch

    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


@pytest.fixture
def sentiment_csv(tmp_path) -> Path:
    path = tmp_path / "train.csv"
    make_sentiment_frame(60).to_csv(path, index=False)
    return path


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """A local mirror folder: toy/train.parquet and toy/validation.parquet."""
    root = tmp_path / "mirror"
    (root / "toy").mkdir(parents=True)
    make_sentiment_frame(60, seed=0).to_parquet(root / "toy" / "train.parquet")
    make_sentiment_frame(20, seed=5).to_parquet(root / "toy" / "validation.parquet")
    return root


def cli_env(**extra) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def cli_error(capsys, *args) -> str:
    """``datamap ARGS`` in this process: it must exit 2 with one line ``error: ...`` on stderr; returns that line."""
    from datamap.cli import main

    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err
