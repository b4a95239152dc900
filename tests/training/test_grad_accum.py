"""--grad-accum N: one optimizer step every N batches, equal to one batch N times as large (mean over examples
for classifiers, over target tokens for sft); the steps of the schedule and the history are optimizer steps;
the records still come from every forward pass."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from datamap.training.accumulate import GradAccumulation
from datamap.training.batching import LengthGroupedSampler


class _Acc:
    """The parts of an Accelerator that GradAccumulation uses, on one process."""

    def backward(self, loss):
        loss.backward()

    def no_sync(self, model):
        import contextlib

        return contextlib.nullcontext()

    def clip_grad_norm_(self, params, norm):
        return torch.nn.utils.clip_grad_norm_(params, norm)


class _Sched:
    steps = 0

    def step(self):
        self.steps += 1


def _grads_by_groups(every, batches, weights_of):
    """The gradients GradAccumulation hands to the optimizer, per step, over ``batches`` of (x, y, w)."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    acc = GradAccumulation(every, len(batches))
    seen = []

    class Opt:
        def step(self):
            seen.append([p.grad.clone() for p in model.parameters()])

        def zero_grad(self, set_to_none=True):
            model.zero_grad(set_to_none=set_to_none)

    sched = _Sched()
    for step, (x, y, w) in enumerate(batches):
        per_row = ((model(x)[:, 0] - y) ** 2) * w  # w: the rows' units (tokens); 1 for a plain mean
        units = weights_of(w)
        with acc.sync(_Acc(), model, step):
            acc.backward(_Acc(), per_row.sum() / w.sum(), units)
        acc.step(step, _Acc(), model, Opt(), sched)
    assert sched.steps == len(seen) == acc.steps_per_epoch
    return model, seen


@pytest.mark.parametrize("tokens", [False, True])
def test_accumulated_gradients_equal_one_big_batch(tokens):
    """3 batches (4, 4, 2 rows) with every=2: two steps, the first with the gradient of the 8 rows' mean, the
    second (a short last group) with the last 2 rows'; with token counts as units, the token mean."""
    gen = torch.Generator().manual_seed(1)
    sizes = [4, 4, 2]
    batches = []
    for n in sizes:
        w = torch.randint(1, 6, (n,), generator=gen).float() if tokens else torch.ones(n)
        batches.append((torch.randn(n, 3, generator=gen), torch.randn(n, generator=gen), w))
    model, seen = _grads_by_groups(2, batches, (lambda w: w.sum()) if tokens else (lambda w: len(w)))
    assert len(seen) == 2
    for group, grads in zip([batches[:2], batches[2:]], seen):
        ref = torch.nn.Linear(3, 1)
        ref.load_state_dict(model.state_dict())  # unchanged: no optimizer moved the weights
        x, y, w = (torch.cat(t) for t in zip(*group))
        (((ref(x)[:, 0] - y) ** 2 * w).sum() / w.sum()).backward()
        for g, p in zip(grads, ref.parameters()):
            torch.testing.assert_close(g, p.grad)
    _, plain = _grads_by_groups(1, batches, lambda w: len(w))
    assert len(plain) == 3


def test_steps_per_epoch_and_boundaries():
    acc = GradAccumulation(4, 10)
    assert acc.steps_per_epoch == 3
    assert [s for s in range(10) if acc.boundary(s)] == [3, 7, 9]
    assert GradAccumulation(1, 10).steps_per_epoch == 10 and GradAccumulation(20, 10).steps_per_epoch == 1


def test_config_and_cli_option():
    from datamap.training.config import TrainConfig

    assert TrainConfig(dataset="x.csv").grad_accum == 1
    with pytest.raises(Exception):
        TrainConfig(dataset="x.csv", grad_accum=0)
    from typer.testing import CliRunner

    from datamap.cli import app

    out = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "200"}).output
    assert "--grad-accum" in out


class PairedSampler:
    """Batches of ``batch_size``: the consecutive pairs of ``LengthGroupedSampler(lengths, batch_size // 2,
    seed)``'s batches, so that a run at batch 8 sees exactly the groups of a --grad-accum 2 run at batch 4."""

    def __init__(self, lengths, batch_size, seed):
        self.inner = LengthGroupedSampler(lengths, batch_size // 2, seed)

    def set_epoch(self, epoch):
        self.inner.set_epoch(epoch)

    def __iter__(self):
        batches = list(self.inner)
        for i in range(0, len(batches), 2):
            yield sum(batches[i:i + 2], [])

    def __len__(self):
        return math.ceil(len(self.inner) / 2)


def _weights(folder):
    from safetensors.torch import load_file

    return load_file(str(next(folder.glob("*.safetensors"))))


def _steps(run):
    path = run / "history.json" if isinstance(run, Path) else run.history
    return [e["steps"] for e in json.loads(path.read_text())["epochs"]]


def _no_dropout(src, dst):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(src)
    model.config.hidden_dropout_prob = model.config.attention_probs_dropout_prob = 0.0
    model.save_pretrained(dst)
    AutoTokenizer.from_pretrained(src).save_pretrained(dst)
    return dst


@pytest.mark.slow
def test_classifier_grad_accum_equals_a_double_batch(tiny_model_dir, tmp_path, monkeypatch, capsys):
    """44 rows of one token length, 2 epochs: --grad-accum 2 at batch 4 (11 batches: 5 groups of 2 and a last
    group of 1) gives the weights and the in-flight records of batch 8 over the same rows (6 steps an epoch)."""
    from datamap.io.store import read_dynamics
    from datamap.training import loop, loop_parts
    from datamap.training.config import TrainConfig

    from conftest import FILL, NEG, POS

    rng = np.random.default_rng(0)
    labels = np.arange(44) % 2
    texts = [" ".join([*rng.choice(FILL, 3), rng.choice(POS if y else NEG)]) for y in labels]
    pd.DataFrame({"id": [f"r{i}" for i in range(44)], "text": texts, "label": labels}).to_csv(tmp_path / "d.csv", index=False)
    model = _no_dropout(tiny_model_dir, tmp_path / "model")
    common = dict(dataset=str(tmp_path / "d.csv"), model=str(model), epochs=2, lr=5e-3, eval_split=None,
                  checkpoint=False, seed=3)
    accum = loop.train(TrainConfig(out=str(tmp_path / "accum"), batch_size=4, grad_accum=2, **common), progress=False)
    assert "batch 4 x 2 accumulated, lr" in capsys.readouterr().out
    monkeypatch.setattr(loop_parts, "LengthGroupedSampler", PairedSampler)
    big = loop.train(TrainConfig(out=str(tmp_path / "big"), batch_size=8, **common), progress=False)

    assert _steps(accum) == _steps(big) == [6, 12]
    a, b = _weights(accum.model), _weights(big.model)
    moved = max((a[k] - _weights(model)[k]).abs().max().item() for k in a)
    assert moved > 1e-3  # the weights did move
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)
    da, db = read_dynamics(accum.dynamics), read_dynamics(big.dynamics)
    assert da.logits.shape == (44, 2, 2) and list(da.ids) == list(db.ids)  # one record per example and epoch
    np.testing.assert_allclose(da.logits, db.logits, rtol=1e-4, atol=1e-5)
    budget = loop.train(TrainConfig(out=str(tmp_path / "budget"), batch_size=4, grad_accum=2, max_steps=8, **common),
                        progress=False)
    assert _steps(budget) == [6, 8]  # --max-steps counts optimizer steps: the second epoch cut after 2


@pytest.mark.slow
def test_sft_grad_accum_equals_a_double_batch(tmp_path, monkeypatch):
    """sft, 30 rows of different token counts: --grad-accum 2 at batch 4 (8 batches, 4 steps an epoch) gives
    the weights of batch 8 over the same rows: the token mean over the group (a mean of the batches' token
    means would differ)."""
    from training.test_sft import arithmetic, make_model, make_tokenizer

    from datamap.io.store import read_sft_dynamics
    from datamap.training import loop, loop_parts
    from datamap.training.config import TrainConfig

    tokenizer = make_tokenizer()
    lm = tmp_path / "lm"
    make_model("gpt2", len(tokenizer)).save_pretrained(lm)
    tokenizer.save_pretrained(lm)
    arithmetic(30, seed=4).to_csv(tmp_path / "qa.csv", index=False)
    common = dict(task="sft", dataset=str(tmp_path / "qa.csv"), model=str(lm), epochs=2, lr=3e-3, warmup_ratio=0.0,
                  max_length=32, eval_split=None, checkpoint=False, train_on_prompt=True)
    accum = loop.train(TrainConfig(out=str(tmp_path / "accum"), batch_size=4, grad_accum=2, **common), progress=False)
    monkeypatch.setattr(loop_parts, "LengthGroupedSampler", PairedSampler)
    big = loop.train(TrainConfig(out=str(tmp_path / "big"), batch_size=8, **common), progress=False)

    assert _steps(accum) == _steps(big) == [4, 8]
    a, b = _weights(accum.model), _weights(big.model)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-4)  # Adam amplifies rounding in tiny gradients
    da, db = read_sft_dynamics(accum.dynamics), read_sft_dynamics(big.dynamics)
    assert da.loss_sum.shape == (30, 2)
    np.testing.assert_allclose(da.loss_sum, db.loss_sum, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_killed_mid_group_and_resumed_equals_uninterrupted(tiny_model_dir, tmp_path):
    """--grad-accum 3 at batch 8 over 60 rows (8 batches: 3 steps an epoch, the last group of 2), killed in
    epoch 1 between two batches of a group, resumed from epoch 0's checkpoint: byte for byte the uninterrupted run."""
    import signal
    import subprocess
    import sys

    from conftest import cli_env, make_sentiment_frame

    make_sentiment_frame(60).to_csv(tmp_path / "train.csv", index=False)
    args = ["--dataset", str(tmp_path / "train.csv"), "--model", str(tiny_model_dir), "--epochs", "2", "--batch-size", "8",
            "--grad-accum", "3", "--lr", "5e-4", "--max-length", "32", "--seed", "3", "--eval-split", "none", "--quiet"]

    def datamap(*argv, **env):
        return subprocess.run([sys.executable, "-m", "datamap", *argv], capture_output=True, text=True, timeout=600,
                              env=cli_env(OMP_NUM_THREADS=1, **env))

    assert datamap("train", *args, "--out", str(tmp_path / "ref")).returncode == 0
    r = datamap("train", *args, "--out", str(tmp_path / "run"), DATAMAP_TEST_KILL_AT="1:4")
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
    r = datamap("train", "--resume", "--out", str(tmp_path / "run"))
    assert r.returncode == 0, r.stderr[-3000:]
    ref, run = tmp_path / "ref", tmp_path / "run"
    assert _steps(run) == _steps(ref) == [3, 6]
    assert (run / "dynamics.parquet").read_bytes() == (ref / "dynamics.parquet").read_bytes()
    assert (run / "model" / "model.safetensors").read_bytes() == (ref / "model" / "model.safetensors").read_bytes()
