"""--model-dtype: the weights loaded, trained and saved in float32 (the default, whatever the checkpoint's dtype),
bfloat16, or the checkpoint's own dtype (auto)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import make_sentiment_frame


@pytest.fixture(scope="module")
def bf16_dir(tiny_model_dir, tmp_path_factory):
    """The tiny BERT saved in bfloat16 (its config says so): a checkpoint like Qwen's or Llama's on the hub."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = tmp_path_factory.mktemp("tiny-bert-bf16")
    AutoModelForSequenceClassification.from_pretrained(tiny_model_dir).to(torch.bfloat16).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(folder)
    return folder


def _dtypes(model) -> set:
    return {p.dtype for p in model.parameters()}


def test_load_model_in_the_dtype_asked(tiny_model_dir, bf16_dir):
    from datamap.training.models import load_model

    assert _dtypes(load_model(str(tiny_model_dir), ["a", "b"], dtype="bfloat16")) == {torch.bfloat16}
    assert _dtypes(load_model(str(bf16_dir), ["a", "b"], dtype="float32")) == {torch.float32}
    assert _dtypes(load_model(str(bf16_dir), ["a", "b"], dtype="auto")) == {torch.bfloat16}
    assert _dtypes(load_model(str(tiny_model_dir), ["a", "b"], dtype="auto")) == {torch.float32}


def test_option_in_config_and_cli():
    from typer.testing import CliRunner

    from datamap.cli import app
    from datamap.training.config import TrainConfig

    assert TrainConfig(dataset="x.csv").model_dtype == "float32"
    assert TrainConfig(dataset="x.csv", model_dtype="bfloat16").model_dump(mode="json")["model_dtype"] == "bfloat16"
    with pytest.raises(Exception):
        TrainConfig(dataset="x.csv", model_dtype="float16")
    assert "--model-dtype" in CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "200"}).output


@pytest.mark.slow
@pytest.mark.parametrize("dtype, expected", [("bfloat16", torch.bfloat16), ("float32", torch.float32)])
def test_training_runs_in_that_dtype(tiny_model_dir, bf16_dir, tmp_path, monkeypatch, capsys, dtype, expected):
    """A short run from the float32 checkpoint with bfloat16 (and from the bf16 checkpoint with the float32
    default): the model trained has those weights (seen at the optimizer), the saved model too; records finite."""
    from safetensors.torch import load_file

    from datamap.io.store import read_dynamics
    from datamap.training import loop
    from datamap.training.config import TrainConfig

    seen = []
    real = loop.load_model

    def spy(*args, **kw):
        model = real(*args, **kw)
        seen.append(_dtypes(model))
        return model

    monkeypatch.setattr(loop, "load_model", spy)
    make_sentiment_frame(24, seed=3).to_csv(tmp_path / "d.csv", index=False)
    source = tiny_model_dir if dtype == "bfloat16" else bf16_dir
    kw = {} if dtype == "float32" else {"model_dtype": dtype}
    run = loop.train(TrainConfig(dataset=str(tmp_path / "d.csv"), model=str(source), out=str(tmp_path / "run"), epochs=2,
                                 batch_size=8, lr=1e-2, eval_split=None, checkpoint=False, **kw), progress=False)
    assert seen == [{expected}]
    said = [x for x in capsys.readouterr().out.splitlines() if x.startswith("training: ")]
    assert ("bfloat16 weights" in said[0]) == (dtype == "bfloat16"), said
    saved = load_file(str(run.model / "model.safetensors"))
    assert {t.dtype for t in saved.values()} == {expected}
    start = load_file(str(source / "model.safetensors"))
    key = next(k for k in saved if k.startswith("classifier.") and k.endswith("weight"))
    assert not torch.equal(saved[key].float(), start[key].float())  # it trained
    dyn = read_dynamics(run.dynamics)
    assert dyn.logits.shape == (24, 2, 2) and np.isfinite(dyn.logits).all()


@pytest.mark.slow
def test_sft_trains_in_bfloat16(tmp_path):
    from safetensors.torch import load_file

    from datamap.io.store import read_sft_dynamics
    from datamap.training.config import TrainConfig
    from datamap.training.loop import train
    from training.test_sft import arithmetic, make_model, make_tokenizer

    tokenizer = make_tokenizer()
    make_model("gpt2", len(tokenizer)).save_pretrained(tmp_path / "lm")
    tokenizer.save_pretrained(tmp_path / "lm")
    arithmetic(20, seed=2).to_csv(tmp_path / "qa.csv", index=False)
    run = train(TrainConfig(task="sft", dataset=str(tmp_path / "qa.csv"), model=str(tmp_path / "lm"),
                            out=str(tmp_path / "run"), epochs=1, batch_size=8, max_length=32, max_new_tokens=2,
                            checkpoint=False, model_dtype="bfloat16"), progress=False)
    assert {t.dtype for t in load_file(str(run.model / "model.safetensors")).values()} == {torch.bfloat16}
    dyn = read_sft_dynamics(run.dynamics)
    assert np.isfinite(dyn.loss_sum).all() and (dyn.n_tokens > 0).all()
