"""LoRA through peft (``--lora``): only the adapters and the head train; the run keeps the adapter and a
merged model that ``evaluate`` scores exactly as the run did."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from pydantic import ValidationError

from conftest import make_mirror
from datamap.errors import DatamapError
from datamap.training.config import LoraSpec, TrainConfig, config_error

pytest.importorskip("peft")


def test_lora_option_parsing_and_errors():
    spec = TrainConfig(dataset="x", lora="r=4,alpha=8,dropout=0,targets=query,value").lora
    assert spec == LoraSpec(r=4, alpha=8, dropout=0.0, targets=["query", "value"])
    assert TrainConfig(dataset="x", lora="").lora == LoraSpec()  # every item has a default
    for bad, message in (("r=0", "--lora r: must be >= 1"), ("rank", "--lora: expected NAME=VALUE"),
                         ("r=2,beta=3", "--lora beta: is not an option"), ("dropout=1", "--lora dropout: must be < 1")):
        with pytest.raises(ValidationError) as info:
            TrainConfig(dataset="x", lora=bad)
        assert str(config_error(info.value)).startswith(message)


def test_missing_peft_is_a_one_line_error(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "peft" else real(name, *a))
    with pytest.raises(ValidationError) as info:
        TrainConfig(dataset="x", lora="r=4")
    assert str(config_error(info.value)) == "--lora: needs the peft package: pip install 'datamap[lora]'"


def test_only_adapters_and_head_train(tiny_model_dir):
    from datamap.training.lora import apply_lora
    from datamap.training.models import find_head, load_model
    from datamap.training.steps import StandardStep

    model = apply_lora(load_model(str(tiny_model_dir), ["neg", "pos"]), LoraSpec(r=4))
    head = find_head(model)
    assert head.final.startswith("classifier.modules_to_save")  # the head's trained copy is the one hooked
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    batch = {"input_ids": torch.randint(5, 200, (4, 7)), "attention_mask": torch.ones(4, 7, dtype=torch.long),
             "labels": torch.tensor([0, 1, 0, 1])}
    for _ in range(2):
        loss, _ = StandardStep()(model.train(), batch, 0)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    moved = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert any("lora_B" in n for n in moved) and any("modules_to_save" in n for n in moved)
    assert all("lora_" in n or "modules_to_save" in n for n in moved), sorted(moved)


def test_bad_targets_are_one_line(tiny_model_dir):
    from datamap.training.lora import apply_lora
    from datamap.training.models import load_model

    with pytest.raises(DatamapError, match="^--lora: .*nope"):
        apply_lora(load_model(str(tiny_model_dir), ["neg", "pos"]), LoraSpec(targets=["nope"]))


@pytest.mark.slow
def test_lora_run_saves_adapter_and_merged_model_that_evaluate_reproduces(tiny_model_dir, tmp_path, monkeypatch):
    from safetensors.torch import load_file

    from datamap.stages.evaluate import evaluate
    from datamap.training.config import MixupConfig
    from datamap.training.loop import train

    mirror = make_mirror(tmp_path, 24, 12)
    monkeypatch.setenv("DATAMAP_DATA_DIR", str(mirror))
    out = tmp_path / "run"
    cfg = TrainConfig(dataset="toy", model=str(tiny_model_dir), out=str(out), epochs=2, batch_size=8, lr=1e-2,
                      lora="r=4,alpha=8", mixup=MixupConfig(site="pooled"), checkpoint=False)
    train(cfg, progress=False)
    assert json.loads((out / "adapter" / "adapter_config.json").read_text())["r"] == 4
    assert len(pd.read_parquet(out / "dynamics.parquet")) == 24 * 2
    # the merged model differs from the base model in the adapted layers (query, value) and the head only
    base, merged = load_file(tiny_model_dir / "model.safetensors"), load_file(out / "model" / "model.safetensors")
    changed = {k for k in merged if k in base and not torch.equal(base[k], merged[k])}
    assert changed and all(".query." in k or ".value." in k or k.startswith("classifier.") for k in changed), changed
    assert any(k.startswith("classifier.") for k in changed) and any(".query." in k for k in changed)
    # evaluate on the saved run reproduces the run's own validation scores
    own = json.loads((out / "eval" / "validation.json").read_text())
    own_logits = np.stack(pd.read_parquet(out / "eval" / "validation.parquet")["logits"])
    scores, _ = evaluate(str(out), "toy", "validation", name="again")
    again = np.stack(pd.read_parquet(out / "eval" / "again.parquet")["logits"])
    np.testing.assert_allclose(again, own_logits, rtol=1e-4, atol=1e-5)
    assert scores["accuracy"] == own["accuracy"]


@pytest.mark.slow
def test_lora_from_the_command_line_killed_and_resumed_equals_uninterrupted(tiny_model_dir, tmp_path):
    """``datamap train --lora``: a run killed in epoch 1 and resumed (the adapters restored from the
    checkpoint) writes the same dynamics, adapter and merged model as an uninterrupted one."""
    import signal
    import subprocess
    import sys

    from conftest import cli_env, make_sentiment_frame

    make_sentiment_frame(24).to_csv(tmp_path / "train.csv", index=False)
    args = ["train", "--dataset", str(tmp_path / "train.csv"), "--model", str(tiny_model_dir), "--epochs", "2",
            "--batch-size", "8", "--lr", "1e-2", "--max-length", "32", "--eval-split", "none", "--lora", "r=4,alpha=8"]

    def datamap(*argv, **env):
        return subprocess.run([sys.executable, "-m", "datamap", *argv], capture_output=True, text=True, timeout=600,
                              env=cli_env(OMP_NUM_THREADS=1, **env))

    ref, run = tmp_path / "ref", tmp_path / "run"
    r = datamap(*args, "--out", str(ref))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "LoRA: " in r.stdout + r.stderr and "parameters trainable" in r.stdout + r.stderr
    r = datamap(*args, "--out", str(run), DATAMAP_TEST_KILL_AT="1:1")
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
    r = datamap("train", "--resume", "--out", str(run))
    assert r.returncode == 0, r.stderr[-3000:]
    for name in ("dynamics.parquet", "model/model.safetensors", "adapter/adapter_model.safetensors"):
        assert (run / name).read_bytes() == (ref / name).read_bytes(), name
