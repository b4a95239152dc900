"""The building blocks of causal-LM fine-tuning (datamap.training.sft) on tiny GPT-2 and Llama models built here:
the prompt mask, the per-example records against a separate per-example computation, chat-template rendering,
greedy generation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from datamap.errors import DatamapError
from datamap.training.sft import (IGNORE, SFTCollator, SFTStep, encode_sft, exact_matches, generate, sft_frame,
                                  token_records)

CHAT = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% if not loop.last %}\n{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}\n<|assistant|>{% endif %}")


def arithmetic(n: int = 12, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 50, n), rng.integers(0, 50, n)
    return pd.DataFrame({"prompt": [f"{x}+{y}=" for x, y in zip(a, b)], "completion": [str(x + y) for x, y in zip(a, b)]})


def make_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    corpus = [f"{p}{c}" for p, c in arithmetic(200).itertuples(index=False)] + ["<|user|> <|assistant|> what is"] * 5
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=300, special_tokens=["<pad>", "</s>"],
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="</s>", pad_token="<pad>")
    fast.chat_template = CHAT
    return fast


def make_model(kind: str, vocab: int):
    from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig

    torch.manual_seed(0)
    if kind == "gpt2":
        config = GPT2Config(vocab_size=vocab, n_embd=32, n_layer=2, n_head=2, n_positions=64, resid_pdrop=0.0,
                            embd_pdrop=0.0, attn_pdrop=0.0, eos_token_id=1, bos_token_id=1, pad_token_id=0)
    else:
        config = LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                             num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
                             eos_token_id=1, bos_token_id=1, pad_token_id=0)
    return AutoModelForCausalLM.from_config(config).eval()


@pytest.fixture(scope="module")
def tokenizer():
    return make_tokenizer()


def test_prompt_mask_counts_completion_tokens_only(tokenizer):
    frame = sft_frame(arithmetic(3), "t")
    items = encode_sft(frame, tokenizer, max_length=32)
    for it, (p, c) in zip(items, frame[["prompt", "completion"]].itertuples(index=False)):
        n_prompt = len(tokenizer(p)["input_ids"])
        assert it["labels"][:n_prompt] == [IGNORE] * n_prompt
        assert it["labels"][n_prompt:] == tokenizer(c, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    # another prompt of the same length leaves the target count alone; another completion changes it
    changed = frame.copy()
    changed.loc[0, "prompt"] = "99+99="
    changed.loc[1, "completion"] = "123456"
    after = encode_sft(changed, tokenizer, max_length=32)
    targets = [sum(t != IGNORE for t in it["labels"]) for it in (items[0], after[0], items[1], after[1])]
    assert targets[0] == targets[1] and targets[2] != targets[3]
    everything = encode_sft(frame, tokenizer, max_length=32, train_on_prompt=True)
    assert everything[0]["labels"] == everything[0]["input_ids"]


def test_a_row_without_target_tokens_is_refused(tokenizer):
    frame = sft_frame(pd.DataFrame({"prompt": ["1+2+3+4+5+6+7+8+9="], "completion": ["45"]}), "t")
    with pytest.raises(DatamapError, match="row 0 .*no completion token within --max-length 4"):
        encode_sft(frame, tokenizer, max_length=4)


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_batched_records_equal_a_per_example_computation(kind, tokenizer):
    model = make_model(kind, len(tokenizer))
    frame = sft_frame(arithmetic(8, seed=3), "t")
    items = encode_sft(frame, tokenizer, max_length=32)
    batch = SFTCollator(tokenizer)(items)  # right-padded, several lengths
    with torch.no_grad():
        records, loss_sum = token_records(model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits,
                                          batch["labels"])
        for r, it in enumerate(items):  # one example at a time, unpadded: log-softmax by hand
            ids = torch.tensor([it["input_ids"]])
            logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), dim=-1)
            targets = torch.tensor(it["labels"][1:])
            keep = targets != IGNORE
            nll = -logp[keep].gather(1, targets[keep, None]).squeeze(1)
            correct = (logp[keep].argmax(-1) == targets[keep]).sum()
            assert records[r, 0].item() == pytest.approx(nll.sum().item(), rel=1e-5)
            assert records[r, 1].item() == int(keep.sum()) and records[r, 2].item() == int(correct)
    assert loss_sum.item() == pytest.approx(records[:, 0].sum().item(), rel=1e-6)
    # the training step's loss is the token mean of the same forward pass
    loss, step_records = SFTStep()(model, batch, 0)
    assert torch.equal(step_records, records)
    assert loss.item() == pytest.approx(records[:, 0].sum().item() / records[:, 1].sum().item(), rel=1e-6)


def test_messages_rendered_with_the_chat_template(tokenizer):
    raw = pd.DataFrame({"messages": [[{"role": "user", "content": "what is 2+3"}, {"role": "assistant", "content": "5"}]]})
    frame = sft_frame(raw, "chat.jsonl", tokenizer)
    assert frame.loc[0, "prompt"] == "<|user|>what is 2+3<|assistant|>"  # the template environment trims block newlines
    assert frame.loc[0, "completion"] == "5"
    bad = pd.DataFrame({"messages": [[{"role": "user", "content": "hi"}]]})
    with pytest.raises(DatamapError, match="row 0.*last message is 'user'"):
        sft_frame(bad, "chat.jsonl", tokenizer)
    with pytest.raises(DatamapError, match="needs 'prompt' and 'completion' columns"):
        sft_frame(pd.DataFrame({"question": ["x"]}), "q.csv")


def test_plain_text_rows_are_all_target(tokenizer):
    frame = sft_frame(pd.DataFrame({"text": ["1+1=2", "2+2=4"]}), "t")
    assert frame["prompt"].tolist() == ["", ""]
    items = encode_sft(frame, tokenizer, max_length=32)
    assert items[0]["labels"] == items[0]["input_ids"]


def test_greedy_generation_and_exact_match(tokenizer):
    from transformers import AutoModelForCausalLM, GPT2Config

    torch.manual_seed(0)  # large random weights: the next token follows the last ones, so misplaced padding shows
    model = AutoModelForCausalLM.from_config(GPT2Config(
        vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=2, n_positions=64, resid_pdrop=0.0, embd_pdrop=0.0,
        attn_pdrop=0.0, eos_token_id=1, bos_token_id=1, pad_token_id=0, initializer_range=0.5)).eval()
    prompts = ["1+2=", "10+20+30+41+17=", "3+4=", "what is 7+8", "12+5"]  # lengths differ: padding shows
    out = generate(model, tokenizer, prompts, max_new_tokens=4, batch_size=8)
    assert len(set(out)) == len(prompts)  # the outputs depend on the prompts
    for p, g in zip(prompts, out):  # left-padded batches give what one prompt alone gives
        assert generate(model, tokenizer, [p], max_new_tokens=4)[0] == g
    assert exact_matches([" 3 ", "30"], ["3", "31"]).tolist() == [True, False]


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory, tokenizer):
    folder = tmp_path_factory.mktemp("tiny-gpt2")
    make_model("gpt2", len(tokenizer)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _records_by_hand(model, tokenizer, frame) -> np.ndarray:
    items = encode_sft(frame, tokenizer, max_length=32)
    out = []
    with torch.no_grad():
        for it in items:
            logp = torch.log_softmax(model(input_ids=torch.tensor([it["input_ids"]])).logits[0, :-1].float(), -1)
            targets = torch.tensor(it["labels"][1:])
            keep = targets != IGNORE
            out.append([-logp[keep].gather(1, targets[keep, None]).sum().item(), int(keep.sum()),
                        int((logp[keep].argmax(-1) == targets[keep]).sum())])
    return np.array(out)


def test_train_task_sft_records_every_example_each_epoch(lm_dir, tokenizer, tmp_path):
    """datamap train --task sft on a single file: held-out rows, one record per example and epoch; with lr 0
    the in-flight records equal a separate per-example computation on the same weights; metrics work on the run."""
    from transformers import AutoModelForCausalLM

    from datamap.io.store import read_sft_dynamics
    from datamap.stages.measure import measure_run
    from datamap.training.config import TrainConfig
    from datamap.training.loop import train

    data = tmp_path / "qa.csv"
    arithmetic(40, seed=1).to_csv(data, index=False)
    cfg = TrainConfig(task="sft", dataset=str(data), model=str(lm_dir), out=str(tmp_path / "run"), epochs=2,
                      batch_size=8, lr=1e-12, warmup_ratio=0.0, max_length=32, max_new_tokens=4, checkpoint=False)
    run = train(cfg, progress=False)
    dyn = read_sft_dynamics(run.dynamics)
    frame = pd.read_parquet(run.data)
    assert len(frame) == 36 and len(pd.read_parquet(run.heldout)) == 4  # 10 % held out, never trained on
    assert dyn.loss_sum.shape == (36, 2) and list(dyn.ids) == frame["id"].tolist()
    expected = _records_by_hand(AutoModelForCausalLM.from_pretrained(lm_dir).eval(), tokenizer, frame)
    for p in range(2):
        np.testing.assert_allclose(dyn.loss_sum[:, p], expected[:, 0], rtol=1e-4)
        assert (dyn.n_tokens[:, p] == expected[:, 1]).all() and (dyn.n_correct[:, p] == expected[:, 2]).all()
    history = pd.read_json(run.history, typ="series")["epochs"]  # the token mean over the epoch's batches
    assert history[0]["train_loss"] == pytest.approx(expected[:, 0].sum() / expected[:, 1].sum(), rel=1e-4)
    scores = pd.read_json(run.root / "eval" / "heldout.json", typ="series")
    assert set(scores.index) >= {"loss", "token_accuracy", "exact_match", "n"} and scores["n"] == 4
    measure_run(run.root)
    metrics = pd.read_parquet(run.root / "metrics.parquet")
    np.testing.assert_allclose(metrics["mean_loss"], expected[:, 0] / expected[:, 1], rtol=1e-4)


def test_task_sft_refuses_classifier_only_options(lm_dir, tmp_path):
    from datamap.training.config import TrainConfig

    with pytest.raises(Exception, match="not with (--)?task sft"):
        TrainConfig(task="sft", dataset="x.csv", threshold_samples=True)
    with pytest.raises(Exception, match="applies to (--)?task sft only"):
        TrainConfig(dataset="x.csv", train_on_prompt=True)


def test_record_every_gives_points_at_those_steps(lm_dir, tokenizer, tmp_path):
    """--record-every 2 over 2 epochs of 5 steps: points after steps 2, 4 (epoch 0), 6, 8, 10 (epoch 1), each a pass
    over every example; with lr ~0 each equals the per-example computation."""
    from transformers import AutoModelForCausalLM

    from datamap.io.store import read_sft_dynamics
    from datamap.training.config import TrainConfig
    from datamap.training.loop import train

    data = tmp_path / "qa.csv"
    arithmetic(40, seed=1).to_csv(data, index=False)
    cfg = TrainConfig(task="sft", dataset=str(data), model=str(lm_dir), out=str(tmp_path / "run"), epochs=2,
                      batch_size=8, lr=1e-12, warmup_ratio=0.0, max_length=32, checkpoint=False, record_every=2,
                      eval_split="none")
    run = train(cfg, progress=False)
    dyn = read_sft_dynamics(run.dynamics)
    assert dyn.steps.tolist() == [2, 4, 6, 8, 10] and dyn.epochs.tolist() == [0, 0, 1, 1, 1]
    frame = pd.read_parquet(run.data)
    expected = _records_by_hand(AutoModelForCausalLM.from_pretrained(lm_dir).eval(), tokenizer, frame)
    np.testing.assert_allclose(dyn.loss_sum, np.repeat(expected[:, :1], 5, axis=1), rtol=1e-4)
    with pytest.raises(Exception, match="nothing would be recorded"):
        train(cfg.model_copy(update={"record_every": 50, "out": str(tmp_path / "r2")}), progress=False)


@pytest.mark.slow
def test_two_processes_record_every_example_once(lm_dir, tokenizer, tmp_path):
    """accelerate launch, 2 processes (gloo), 27 rows at batch 4 (even batching repeats rows on one process):
    every example recorded once per epoch, equal (lr ~0) to one process's records."""
    import subprocess
    import sys

    from conftest import cli_env
    from datamap.io.store import read_sft_dynamics
    import socket

    data = tmp_path / "qa.csv"
    arithmetic(27, seed=2).to_csv(data, index=False)
    args = ["train", "--task", "sft", "--dataset", str(data), "--model", str(lm_dir), "--epochs", "2",
            "--batch-size", "4", "--lr", "1e-12", "--warmup-ratio", "0", "--max-length", "32", "--eval-split", "none",
            "--no-checkpoint", "--quiet"]
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines",
           "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port(socket)),
           "-m", "datamap", *args, "--out", str(tmp_path / "two")]
    r = subprocess.run(cmd, capture_output=True, text=True, env=cli_env(OMP_NUM_THREADS=1), timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    r = subprocess.run([sys.executable, "-m", "datamap", *args, "--out", str(tmp_path / "one")], capture_output=True,
                       text=True, env=cli_env(), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    two, one = read_sft_dynamics(tmp_path / "two" / "dynamics.parquet"), read_sft_dynamics(tmp_path / "one" / "dynamics.parquet")
    assert sorted(two.ids) == sorted(one.ids) and len(set(two.ids)) == 27
    order = {i: k for k, i in enumerate(one.ids)}
    rows = [order[i] for i in two.ids]
    np.testing.assert_allclose(two.loss_sum, one.loss_sum[rows], rtol=1e-4)
    assert (two.n_tokens == one.n_tokens[rows]).all() and (two.n_correct == one.n_correct[rows]).all()


def _free_port(socket) -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sft_cfg(data, lm_dir, out, **kw):
    from datamap.training.config import TrainConfig

    base = dict(task="sft", dataset=str(data), model=str(lm_dir), out=str(out), epochs=2, batch_size=8, lr=1e-12,
                warmup_ratio=0.0, max_length=32, max_new_tokens=4, checkpoint=False)
    return TrainConfig(**{**base, **kw})


def test_subset_trains_on_those_rows_and_keeps_the_held_out_rows(lm_dir, tmp_path):
    """--subset on a single file: the held-out rows are those of the full file (the same for every subset), the
    training rows are the subset's; a held-out id in the subset is refused."""
    import json

    from datamap.training.loop import train

    data = tmp_path / "qa.csv"
    arithmetic(40, seed=1).to_csv(data, index=False)
    full = train(_sft_cfg(data, lm_dir, tmp_path / "full", epochs=1), progress=False)
    ids = pd.read_parquet(full.data)["id"].tolist()
    held = pd.read_parquet(full.heldout)["id"].tolist()
    (tmp_path / "sub.json").write_text(json.dumps({"ids": ids[::3]}))
    sub = train(_sft_cfg(data, lm_dir, tmp_path / "sub", epochs=1, subset=str(tmp_path / "sub.json")), progress=False)
    assert pd.read_parquet(sub.data)["id"].tolist() == ids[::3]
    assert pd.read_parquet(sub.heldout)["id"].tolist() == held
    (tmp_path / "bad.json").write_text(json.dumps({"ids": [ids[0], held[0]]}))
    with pytest.raises(DatamapError, match="held out for evaluation"):
        train(_sft_cfg(data, lm_dir, tmp_path / "bad", subset=str(tmp_path / "bad.json")), progress=False)


def test_record_sample_passes_cover_a_seeded_sample(lm_dir, tokenizer, tmp_path):
    """--record-every 5 --record-sample 12: every point holds the same seeded 12 examples, values as by hand."""
    from transformers import AutoModelForCausalLM

    from datamap.io.store import read_sft_dynamics
    from datamap.training.loop import train

    data = tmp_path / "qa.csv"
    arithmetic(40, seed=1).to_csv(data, index=False)
    run = train(_sft_cfg(data, lm_dir, tmp_path / "run", record_every=5, record_sample=12, eval_split="none"),
                progress=False)
    dyn = read_sft_dynamics(run.dynamics)
    frame = pd.read_parquet(run.data).set_index("id")
    assert dyn.loss_sum.shape == (12, 2) and dyn.meta.get("sample") == 12 and dyn.steps.tolist() == [5, 10]
    assert len(set(dyn.ids)) == 12 and set(dyn.ids) < set(frame.index)
    expected = _records_by_hand(AutoModelForCausalLM.from_pretrained(lm_dir).eval(), tokenizer,
                                frame.loc[list(dyn.ids)].reset_index())
    np.testing.assert_allclose(dyn.loss_sum, np.repeat(expected[:, :1], 2, axis=1), rtol=1e-4)
    again = train(_sft_cfg(data, lm_dir, tmp_path / "again", record_every=5, record_sample=12, eval_split="none"),
                  progress=False)
    assert list(read_sft_dynamics(again.dynamics).ids) == list(dyn.ids)  # seeded
    from datamap.stages.cluster import cluster_trajectories
    from datamap.stages.measure import measure_run

    metrics = measure_run(run.root)  # the sampled examples are the map's; the others have no trajectory
    assert sorted(metrics["id"]) == sorted(dyn.ids)
    _, clusters, _ = cluster_trajectories(run.root, method="kmeans", k=2, seed=0)
    assert sorted(pd.read_parquet(clusters)["id"]) == sorted(dyn.ids)


def test_lora_trains_adapters_only_and_saves_the_merged_model(lm_dir, tokenizer, tmp_path):
    """--task sft --lora: the first records equal the base model's (LoRA's B starts at zero); the adapters learn
    (the merged model differs from the base); weights outside the adapted layers are untouched; the saved
    adapter on the base model gives the merged model's logits."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from datamap.io.store import read_sft_dynamics
    from datamap.training.config import LoraSpec
    from datamap.training.loop import train

    data = tmp_path / "qa.csv"
    arithmetic(40, seed=1).to_csv(data, index=False)
    run = train(_sft_cfg(data, lm_dir, tmp_path / "run", lr=1e-2, batch_size=64, epochs=2, eval_split="none",
                         lora=LoraSpec(r=4, alpha=8, dropout=0.0)), progress=False)
    base = AutoModelForCausalLM.from_pretrained(lm_dir).eval()
    merged = AutoModelForCausalLM.from_pretrained(run.model).eval()
    frame = pd.read_parquet(run.data)
    dyn = read_sft_dynamics(run.dynamics)  # one batch per epoch: epoch 0's records are the untrained weights'
    np.testing.assert_allclose(dyn.loss_sum[:, 0], _records_by_hand(base, tokenizer, frame)[:, 0], rtol=1e-4)
    assert not np.allclose(dyn.loss_sum[:, 1], dyn.loss_sum[:, 0], rtol=1e-3)
    b, m = base.state_dict(), merged.state_dict()
    changed = sorted(k for k in b if not torch.equal(b[k], m[k]))
    assert changed and all("attn.c_attn" in k for k in changed), changed  # peft's GPT-2 default target
    adapted = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(lm_dir), run.root / "adapter").eval()
    ids = torch.tensor([encode_sft(frame.iloc[:1], tokenizer, max_length=32)[0]["input_ids"]])
    with torch.no_grad():
        torch.testing.assert_close(adapted(input_ids=ids).logits, merged(input_ids=ids).logits, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("every", [None, 3])
def test_killed_and_resumed_sft_run_keeps_the_trajectories(lm_dir, tmp_path, every):
    """SIGKILL in the middle of epoch 1 of 3, then --resume: dynamics (in flight, or --record-every points) and
    model bytes equal an uninterrupted run's."""
    import subprocess
    import sys

    from conftest import cli_env

    data = tmp_path / "qa.csv"
    arithmetic(40, seed=1).to_csv(data, index=False)
    args = ["train", "--task", "sft", "--dataset", str(data), "--model", str(lm_dir), "--epochs", "3", "--batch-size",
            "8", "--lr", "1e-3", "--max-length", "32", "--max-new-tokens", "2", "--seed", "3", "--quiet",
            *(["--record-every", str(every)] if every else [])]

    def datamap(*argv, **env):
        return subprocess.run([sys.executable, "-m", "datamap", *argv], capture_output=True, text=True, timeout=600,
                              env=cli_env(OMP_NUM_THREADS=1, **env))

    ref, run = tmp_path / "ref", tmp_path / "run"
    assert (r := datamap(*args, "--out", str(ref))).returncode == 0, r.stderr[-3000:]
    r = datamap(*args, "--out", str(run), DATAMAP_TEST_KILL_AT="1:2")
    assert r.returncode != 0 and (run / "checkpoint").exists()
    assert (r := datamap("train", "--resume", "--out", str(run), "--quiet")).returncode == 0, r.stderr[-3000:]
    assert (run / "dynamics.parquet").read_bytes() == (ref / "dynamics.parquet").read_bytes()
    assert (run / "model" / "model.safetensors").read_bytes() == (ref / "model" / "model.safetensors").read_bytes()
    assert (run / "eval" / "heldout.json").read_text() == (ref / "eval" / "heldout.json").read_text()
    assert not (run / "checkpoint").exists()


def test_unigram_baseline_by_hand():
    from datamap.core.health import check_unigram
    from datamap.training.sft import target_counts, unigram_loss

    items = [{"labels": [IGNORE, IGNORE, 5, 5]}, {"labels": [IGNORE, 6]}]  # targets after the shift: 5, 5, 6
    counts = target_counts(items, 8)
    assert counts.tolist() == [0, 0, 0, 0, 0, 2, 1, 0]
    assert unigram_loss(items, counts) == pytest.approx(-(2 * np.log(3 / 11) + np.log(2 / 11)) / 3)
    assert unigram_loss([{"labels": [IGNORE, 7]}], counts) == pytest.approx(-np.log(1 / 11))
    assert not check_unigram(2.0, 2.0, what="x").ok and not check_unigram(1.91, 2.0, what="x").ok
    assert check_unigram(1.9, 2.0, what="x").ok and check_unigram(0.5, 2.0, what="x").ok


def test_health_says_when_an_sft_model_learnt_nothing(lm_dir, tmp_path):
    """lr ~0: the training and held-out token losses are at the unigram baseline's level (random weights are worse),
    and `datamap metrics --json`, the report and the map say so; after real training the training set's check
    passes."""
    import json
    import subprocess
    import sys

    from conftest import cli_env
    from datamap.training.loop import train

    data = tmp_path / "qa.csv"
    arithmetic(60, seed=1).to_csv(data, index=False)

    def health(run):
        r = subprocess.run([sys.executable, "-m", "datamap", "metrics", str(run), "--json"], capture_output=True,
                           text=True, env=cli_env(), timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        return {f["message"].split(":")[0]: f for f in json.loads(r.stdout)["health"]}

    dead = train(_sft_cfg(data, lm_dir, tmp_path / "dead", epochs=3), progress=False)
    found = health(dead.root)
    assert not found["evaluation set heldout"]["ok"] and "learnt (next to) nothing" in found["evaluation set heldout"]["message"]
    assert not found["training set (token loss at the last record point used)"]["ok"]
    assert found["3 record points recorded (at least 3 needed for variability)"]["ok"]
    from datamap.views.report import write_report

    write_report(dead.root)
    assert "learnt (next to) nothing" in (dead.root / "report.html").read_text()
    from datamap.views.interactive import write_html_map

    write_html_map(dead.root)
    assert "learnt (next to) nothing" in (dead.root / "map.html").read_text()
    live = train(_sft_cfg(data, lm_dir, tmp_path / "live", epochs=12, lr=1e-2, batch_size=8), progress=False)
    assert health(live.root)["training set (token loss at the last record point used)"]["ok"]
