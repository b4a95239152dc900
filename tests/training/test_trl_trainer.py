"""DynamicsSFTTrainer (datamap.training.trl_trainer): TRL's SFTTrainer recording an sft run directory, on a
tiny GPT-2 built from a config (the fixtures of test_sft.py), on the CPU."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

pytest.importorskip("trl")
datasets = pytest.importorskip("datasets")

from training.test_sft import arithmetic, make_model, make_tokenizer  # noqa: E402

from datamap.errors import DatamapError  # noqa: E402
from datamap.training.sft import IGNORE, token_records  # noqa: E402

N = 24
LONG_PROMPT = " ".join(["what is"] * 30) + " 1+1="  # no completion token within max_length: TRL drops the row


@pytest.fixture(scope="module")
def tokenizer():
    return make_tokenizer()


def _args(out, **kw):
    from trl import SFTConfig

    base = dict(output_dir=str(out), num_train_epochs=2, per_device_train_batch_size=5, learning_rate=0.0,
                weight_decay=0.0, max_length=32, report_to="none", use_cpu=True, save_strategy="no",
                logging_strategy="no", seed=0, disable_tqdm=True, bf16=False)  # SFTConfig defaults to bf16
    return SFTConfig(**{**base, **kw})


def _frame() -> pd.DataFrame:
    df = arithmetic(N, seed=3)
    long = pd.DataFrame({"prompt": [LONG_PROMPT], "completion": ["2"]})
    return pd.concat([df.iloc[:10], long, df.iloc[10:]], ignore_index=True)  # the dropped row in the middle


@pytest.fixture(scope="module")
def trl_run(tmp_path_factory, tokenizer):
    """2 epochs, lr 0, batches of 5 (the last one short), TRL's shuffled sampler; one row TRL drops."""
    from datamap.hf import DynamicsSFTTrainer  # the public name

    out = tmp_path_factory.mktemp("trl-run")
    trainer = DynamicsSFTTrainer(model=make_model("gpt2", len(tokenizer)).train(), args=_args(out),
                                 train_dataset=datasets.Dataset.from_pandas(_frame()), processing_class=tokenizer)
    trainer.train()
    return trainer, out / "datamap"


def _by_hand(trainer) -> dict[int, np.ndarray]:
    """Per source row: token_records of one unpadded, no_grad forward pass over TRL's own input_ids and labels."""
    model = trainer.model.eval()
    out = {}
    with torch.no_grad():
        for item in trainer.train_dataset:
            logits = model(input_ids=torch.tensor([item["input_ids"]])).logits
            out[item["datamap_index"]] = token_records(logits, torch.tensor([item["labels"]]))[0][0].numpy()
    model.train()
    return out


def test_every_example_recorded_once_per_epoch(trl_run):
    from datamap.io.store import dynamics_kind, read_sft_dynamics
    from datamap.io.rundir import run_task

    trainer, run = trl_run
    data = pd.read_parquet(run / "data.parquet")
    assert list(data.columns) == ["id", "prompt", "completion"] and len(data) == N
    assert LONG_PROMPT not in set(data["prompt"])  # the row TRL dropped is not in the run
    dyn = read_sft_dynamics(run / "dynamics.parquet")
    assert dynamics_kind(run / "dynamics.parquet") == "sft" and run_task(run) == "sft"
    assert list(dyn.ids) == data["id"].tolist() and len(set(dyn.ids)) == N
    assert dyn.n_points == 2 and dyn.epochs.tolist() == [0, 1] and dyn.steps.tolist() == [5, 10]
    assert dyn.meta["record"] == "inflight"
    manifest = pd.read_json(run / "manifest.json", typ="series")
    assert manifest["status"] == "complete" and manifest["epochs_written"] == 2


def test_records_equal_a_per_example_no_grad_pass(trl_run, tokenizer):
    """lr 0: the in-flight records (TRL's fused LM head, padded shuffled batches) equal token_records of a
    separate batch-1 forward on the same weights, row by row, and data.parquet's rows are those rows."""
    from datamap.io.store import read_sft_dynamics

    trainer, run = trl_run
    dyn = read_sft_dynamics(run / "dynamics.parquet")
    data = pd.read_parquet(run / "data.parquet")
    expected = _by_hand(trainer)
    source = _frame()
    rows = [i for i in range(len(source)) if i != 10]
    assert sorted(expected) == rows
    want = np.stack([expected[i] for i in rows])
    assert data["prompt"].tolist() == source["prompt"].iloc[rows].tolist()
    for p in range(2):
        np.testing.assert_allclose(dyn.loss_sum[:, p], want[:, 0], rtol=1e-4)
        assert (dyn.n_tokens[:, p] == want[:, 1]).all() and (dyn.n_correct[:, p] == want[:, 2]).all()


def test_only_the_tokens_trl_trains_on_are_counted(trl_run, tokenizer):
    """n_tokens = TRL's labels != -100 (after the shift) = the completion's tokens + EOS, never the prompt's."""
    from datamap.io.store import read_sft_dynamics

    trainer, run = trl_run
    dyn = read_sft_dynamics(run / "dynamics.parquet")
    data = pd.read_parquet(run / "data.parquet")
    prepared = {item["datamap_index"]: item for item in trainer.train_dataset}
    rows = [i for i in range(N + 1) if i != 10]
    for k, (prompt, completion) in enumerate(zip(data["prompt"], data["completion"])):
        item = prepared[rows[k]]
        trained = sum(t != IGNORE for t in item["labels"][1:])
        whole = tokenizer(prompt + completion + tokenizer.eos_token)["input_ids"]
        n_prompt = len(tokenizer(prompt)["input_ids"])
        assert whole[:n_prompt] == tokenizer(prompt)["input_ids"]
        assert dyn.n_tokens[k, 0] == trained == len(whole) - n_prompt
        assert dyn.n_tokens[k, 0] < len(item["input_ids"]) - 1  # the prompt is not counted


def test_datamap_metrics_and_trajectory_clusters_read_the_run(trl_run):
    from datamap.stages.cluster import cluster_trajectories
    from datamap.stages.measure import measure_run

    trainer, run = trl_run
    expected = _by_hand(trainer)
    want = np.stack([expected[i] for i in range(N + 1) if i != 10])
    measure_run(run)
    metrics = pd.read_parquet(run / "metrics.parquet")
    assert len(metrics) == N and pd.read_json(run / "metrics.json", typ="series")["kind"] == "sft"
    np.testing.assert_allclose(metrics["mean_loss"], want[:, 0] / want[:, 1], rtol=1e-4)
    result, out, _ = cluster_trajectories(run, k=3, seed=0)
    assert len(pd.read_parquet(out)) == N



def test_history_and_the_unigram_health_check(trl_run):
    """history.json: per epoch the token-mean loss of the records; the unigram baseline of TRL's training targets
    (by hand: add-one smoothed target frequencies); at lr 0 the health check says the model learnt nothing."""
    import json

    from datamap.io.rundir import RunDir
    from datamap.stages.measure import measure_run
    from datamap.views.findings import sft_findings

    trainer, run = trl_run
    want = np.stack([v for _, v in sorted(_by_hand(trainer).items())])
    history = json.loads((run / "history.json").read_text())
    assert [h["epoch"] for h in history["epochs"]] == [0, 1] and [h["steps"] for h in history["epochs"]] == [5, 10]
    for h in history["epochs"]:
        assert h["train_loss"] == pytest.approx(want[:, 0].sum() / want[:, 1].sum(), rel=1e-4)
    targets = np.concatenate([np.asarray(it["labels"][1:]) for it in trainer.train_dataset])
    targets = targets[targets != IGNORE]
    vocab = max(len(trainer.processing_class), trainer.model.config.vocab_size)
    counts = np.bincount(targets, minlength=vocab)
    logp = np.log((counts + 1.0) / (counts.sum() + vocab))
    assert history["unigram_loss"]["train"] == pytest.approx(-logp[targets].mean(), rel=1e-9)
    measure_run(run)
    found = [f for f in sft_findings(RunDir(run)) if "training set" in f.message]
    assert len(found) == 1 and not found[0].ok and "learnt (next to) nothing" in found[0].message


def test_completion_only_loss_off_counts_the_prompt(tmp_path, tokenizer):
    """With completion_only_loss=False TRL trains on every token, and so do the records."""
    from datamap.io.store import read_sft_dynamics
    from datamap.training.trl_trainer import DynamicsSFTTrainer

    ds = datasets.Dataset.from_pandas(arithmetic(6, seed=4).assign(id=[f"q{i}" for i in range(6)]))
    trainer = DynamicsSFTTrainer(model=make_model("gpt2", len(tokenizer)).train(),
                                 args=_args(tmp_path, num_train_epochs=1, completion_only_loss=False),
                                 train_dataset=ds, processing_class=tokenizer, dynamics_dir=tmp_path / "run")
    trainer.train()
    dyn = read_sft_dynamics(tmp_path / "run" / "dynamics.parquet")
    assert list(dyn.ids) == [f"q{i}" for i in range(6)]  # the dataset's id column keys the records
    lengths = {item["datamap_index"]: len(item["input_ids"]) for item in trainer.train_dataset}
    assert dyn.n_tokens[:, 0].tolist() == [lengths[i] - 1 for i in range(6)]
    expected = _by_hand(trainer)  # lr 0: the prompt tokens' losses are in loss_sum too
    np.testing.assert_allclose(dyn.loss_sum[:, 0], [expected[i][0] for i in range(6)], rtol=1e-4)


def test_full_logits_path_uses_token_records(tmp_path, tokenizer):
    """Label smoothing makes TRL build full logits (no fused head): the records come from token_records on them."""
    from datamap.io.store import read_sft_dynamics
    from datamap.training.trl_trainer import DynamicsSFTTrainer

    ds = datasets.Dataset.from_pandas(arithmetic(6, seed=5))
    trainer = DynamicsSFTTrainer(model=make_model("gpt2", len(tokenizer)).train(),
                                 args=_args(tmp_path, num_train_epochs=1, label_smoothing_factor=0.1),
                                 train_dataset=ds, processing_class=tokenizer)
    trainer.train()
    dyn = read_sft_dynamics(tmp_path / "datamap" / "dynamics.parquet")
    expected = np.stack([v for _, v in sorted(_by_hand(trainer).items())])
    np.testing.assert_allclose(dyn.loss_sum[:, 0], expected[:, 0], rtol=1e-4)
    assert (dyn.n_tokens[:, 0] == expected[:, 1]).all() and (dyn.n_correct[:, 0] == expected[:, 2]).all()


def test_lora_and_an_evaluation_set(tmp_path, tokenizer):
    """peft_config (TRL wraps the model in LoRA, the fused head under it) and eval_strategy="epoch": the records are
    the training passes' only (lr 0: equal to the per-example pass), TRL's evaluation runs as before."""
    peft = pytest.importorskip("peft")
    from datamap.io.store import read_sft_dynamics
    from datamap.training.trl_trainer import DynamicsSFTTrainer

    ds = datasets.Dataset.from_pandas(arithmetic(8, seed=7))
    trainer = DynamicsSFTTrainer(model=make_model("gpt2", len(tokenizer)).train(),
                                 args=_args(tmp_path, num_train_epochs=2, eval_strategy="epoch"),
                                 train_dataset=ds, eval_dataset=datasets.Dataset.from_pandas(arithmetic(4, seed=8)),
                                 processing_class=tokenizer,
                                 peft_config=peft.LoraConfig(r=4, target_modules=["c_attn"], task_type="CAUSAL_LM"))
    trainer.train()
    assert isinstance(trainer.model, peft.PeftModel)
    assert [h["epoch"] for h in trainer.state.log_history if "eval_loss" in h] == [1.0, 2.0]
    dyn = read_sft_dynamics(tmp_path / "datamap" / "dynamics.parquet")
    expected = np.stack([v for _, v in sorted(_by_hand(trainer).items())])
    assert dyn.n_points == 2
    for p in range(2):
        np.testing.assert_allclose(dyn.loss_sum[:, p], expected[:, 0], rtol=1e-4)
        assert (dyn.n_tokens[:, p] == expected[:, 1]).all()


def test_resume_keeps_the_epochs_before_the_checkpoint(tmp_path, tokenizer):
    """train(resume_from_checkpoint=<epoch 1's>) after a complete run: epoch 0's point is kept as it was,
    epoch 1's recorded again (lr > 0, so the points differ)."""
    import json

    from datamap.io.store import read_sft_dynamics
    from datamap.training.trl_trainer import DynamicsSFTTrainer

    ds = datasets.Dataset.from_pandas(arithmetic(10, seed=6))

    def trainer():
        return DynamicsSFTTrainer(model=make_model("gpt2", len(tokenizer)).train(),
                                  args=_args(tmp_path, learning_rate=1e-2, save_strategy="epoch"),
                                  train_dataset=ds, processing_class=tokenizer)

    trainer().train()
    first = read_sft_dynamics(tmp_path / "datamap" / "dynamics.parquet")
    history = json.loads((tmp_path / "datamap" / "history.json").read_text())["epochs"]
    assert not np.allclose(first.loss_sum[:, 0], first.loss_sum[:, 1])
    trainer().train(resume_from_checkpoint=str(tmp_path / "checkpoint-2"))
    again = read_sft_dynamics(tmp_path / "datamap" / "dynamics.parquet")
    assert again.steps.tolist() == [2, 4] and list(again.ids) == list(first.ids)
    np.testing.assert_array_equal(again.loss_sum[:, 0], first.loss_sum[:, 0])
    np.testing.assert_allclose(again.loss_sum[:, 1], first.loss_sum[:, 1], rtol=1e-4)
    resumed = json.loads((tmp_path / "datamap" / "history.json").read_text())["epochs"]
    assert [h["epoch"] for h in resumed] == [0, 1] and resumed[0] == history[0]


def test_refusals(tmp_path, tokenizer):
    from datamap.training.trl_trainer import DynamicsSFTTrainer

    ds = datasets.Dataset.from_pandas(arithmetic(4))
    model = make_model("gpt2", len(tokenizer))
    with pytest.raises(DatamapError, match="packing=True"):
        DynamicsSFTTrainer(model=model, args=_args(tmp_path, packing=True), train_dataset=ds, processing_class=tokenizer)
    with pytest.raises(DatamapError, match="datasets.Dataset"):
        DynamicsSFTTrainer(model=model, args=_args(tmp_path), train_dataset=list(ds), processing_class=tokenizer)


def test_trl_frame_ids_and_conversations(tokenizer):
    """Without an id column the ids are those `datamap train --task sft` gives (content hash); conversational
    prompt/completion rows are rendered with the chat template."""
    from datamap.training.sft import render_messages, sft_frame
    from datamap.training.trl_trainer import trl_frame

    df = arithmetic(5)
    assert trl_frame(datasets.Dataset.from_pandas(df), tokenizer)["id"].tolist() == \
        sft_frame(df, "x")["id"].tolist()
    conv = datasets.Dataset.from_dict({
        "prompt": [[{"role": "user", "content": p}] for p in df["prompt"]],
        "completion": [[{"role": "assistant", "content": c}] for c in df["completion"]]})
    frame = trl_frame(conv, tokenizer)
    first = [{"role": "user", "content": df["prompt"].iat[0]}, {"role": "assistant", "content": df["completion"].iat[0]}]
    assert (frame["prompt"].iat[0], frame["completion"].iat[0]) == render_messages(first, tokenizer)
    assert frame["prompt"].iat[0].startswith("<|user|>") and df["completion"].iat[0] in frame["completion"].iat[0]
    messages = datasets.Dataset.from_dict({"messages": [[{"role": "user", "content": p}, {"role": "assistant", "content": c}]
                                                        for p, c in zip(df["prompt"], df["completion"])]})
    assert trl_frame(messages, tokenizer).equals(frame)  # TRL's messages rows: the same rendering
    text = trl_frame(datasets.Dataset.from_dict({"body": ["a b", "c"]}), tokenizer, text_field="body")
    assert text["prompt"].tolist() == ["", ""] and text["completion"].tolist() == ["a b", "c"]


def test_missing_trl_is_one_line(monkeypatch):
    import importlib
    import sys

    monkeypatch.setitem(sys.modules, "trl", None)
    monkeypatch.delitem(sys.modules, "datamap.training.trl_trainer", raising=False)
    with pytest.raises(DatamapError, match=r"needs trl: pip install 'datamap\[trl\]'"):
        importlib.import_module("datamap.training.trl_trainer")
    monkeypatch.delitem(sys.modules, "datamap.training.trl_trainer", raising=False)


@pytest.mark.slow
def test_two_processes_record_every_example_once(tmp_path, tokenizer):
    """accelerate launch, 2 processes (gloo), 27 rows at batch 4 (even batching repeats a row on one process):
    every example recorded once, equal (lr 0) to a per-example no_grad pass."""
    import socket
    import subprocess
    import sys
    from pathlib import Path

    import yaml
    from conftest import cli_env
    from datamap.io.store import read_sft_dynamics
    from datamap.training.trl_trainer import DynamicsSFTTrainer

    model_dir = tmp_path / "lm"
    make_model("gpt2", len(tokenizer)).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    frame = arithmetic(27, seed=2)
    frame.to_csv(tmp_path / "qa.csv", index=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines",
           "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(port),
           str(Path(__file__).resolve().parent / "trl_worker.py"), str(model_dir), str(tmp_path / "qa.csv"),
           str(tmp_path / "two")]
    r = subprocess.run(cmd, capture_output=True, text=True, env=cli_env(OMP_NUM_THREADS=1), timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    run = tmp_path / "two" / "datamap"
    dyn = read_sft_dynamics(run / "dynamics.parquet")
    assert len(set(dyn.ids)) == 27 and dyn.n_points == 1
    assert yaml.safe_load((run / "config.yaml").read_text())["num_processes"] == 2
    one = DynamicsSFTTrainer(model=make_model("gpt2", len(tokenizer)), args=_args(tmp_path / "one"),
                             train_dataset=datasets.Dataset.from_pandas(frame), processing_class=tokenizer)
    expected = _by_hand(one)
    want = np.stack([expected[i] for i in range(27)])
    np.testing.assert_allclose(dyn.loss_sum[:, 0], want[:, 0], rtol=1e-4)
    assert (dyn.n_tokens[:, 0] == want[:, 1]).all() and (dyn.n_correct[:, 0] == want[:, 2]).all()
