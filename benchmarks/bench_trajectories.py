"""Per-example loss trajectories of causal-LM fine-tuning: datamap's recording against the S2L reference way.

Same model (a small GPT-2 built from a config, random weights), same arithmetic prompt -> answer rows, same
trajectory points (one per epoch), in one process:

* datamap in flight: ``datamap train --task sft`` (the records come from the training forward passes);
* datamap ``--record-every N``: a batched, length-sorted ``no_grad`` pass every N steps (here N = steps per epoch);
* the S2L way (Yang et al. 2024, reference code): training saves a checkpoint per point, then each checkpoint is
  loaded and every example is scored alone (batch 1).

It prints the seconds spent on recording by each (training time excluded: the same for all) and the ratio. datamap's
recording time is its own measurement (``record_seconds`` of ``history.json``: the passes, the gather and the epoch
files), with the difference to a ``--record none`` run beside it as a check.

    python benchmarks/bench_trajectories.py [--n 2000] [--epochs 3] [--hidden 128] [--layers 4]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch


def make_lm(folder: Path, hidden: int, layers: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AutoModelForCausalLM, GPT2Config, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator([f"{a}+{b}={a + b}" for a in range(100) for b in range(100)],
                            trainers.BpeTrainer(vocab_size=400, special_tokens=["<pad>", "</s>"],
                                                initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="</s>", pad_token="<pad>")
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(fast), n_embd=hidden, n_layer=layers, n_head=4, n_positions=64,
                        eos_token_id=1, bos_token_id=1, pad_token_id=0)
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    fast.save_pretrained(folder)


def data(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 1000, n), rng.integers(0, 1000, n)
    return pd.DataFrame({"prompt": [f"{x}+{y}=" for x, y in zip(a, b)], "completion": [str(x + y) for x, y in zip(a, b)]})


def s2l_way(folder: Path, frame: pd.DataFrame, args, work: Path) -> tuple[float, float, np.ndarray]:
    """(training seconds, recording seconds, (N, P) token losses): checkpoints, then batch-1 passes."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from datamap.training.batching import LengthGroupedSampler, make_loader
    from datamap.training.sft import SFTCollator, SFTStep, encode_sft, token_records

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    enc = encode_sft(frame, tok, 64)
    sampler = LengthGroupedSampler(np.array([len(e["input_ids"]) for e in enc]), args.batch_size, 0)
    loader = make_loader(enc, SFTCollator(tok), sampler)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr)
    step = SFTStep()
    t_train = t_rec = 0.0
    ckpts = []
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        model.train()
        t0 = time.perf_counter()
        for batch in loader:
            loss, _ = step(model, batch, epoch)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        t_train += time.perf_counter() - t0
        t0 = time.perf_counter()
        ckpt = work / f"ckpt-{epoch}"
        model.save_pretrained(ckpt)
        ckpts.append(ckpt)
        t_rec += time.perf_counter() - t0
    t0 = time.perf_counter()
    losses = np.zeros((len(enc), len(ckpts)))
    for p, ckpt in enumerate(ckpts):
        m = AutoModelForCausalLM.from_pretrained(ckpt).eval()
        with torch.no_grad():
            for i, it in enumerate(enc):  # one example at a time, as the reference code does
                rec, _ = token_records(m(input_ids=torch.tensor([it["input_ids"]])).logits, torch.tensor([it["labels"]]))
                losses[i, p] = rec[0, 0].item() / rec[0, 1].item()
    t_rec += time.perf_counter() - t0
    return t_train, t_rec, losses


def datamap_way(folder: Path, data_file: Path, args, work: Path, record_every: int | None, record: str):
    from datamap.training.config import TrainConfig
    from datamap.training.loop import train

    out = work / f"run-{record}-{record_every}"
    cfg = TrainConfig(task="sft", dataset=str(data_file), model=str(folder), out=str(out), epochs=args.epochs,
                      batch_size=args.batch_size, lr=args.lr, warmup_ratio=0.0, max_length=64, eval_split="none",
                      checkpoint=False, save_model=False, record=record, record_every=record_every)
    t0 = time.perf_counter()
    train(cfg, progress=False)
    total = time.perf_counter() - t0
    history = json.loads((out / "history.json").read_text())["epochs"]
    return total, sum(h.get("record_seconds", 0.0) for h in history)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-3)
    args = ap.parse_args()
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        folder = work / "lm"
        make_lm(folder, args.hidden, args.layers)
        frame = data(args.n)
        data_file = work / "qa.parquet"
        frame.to_parquet(data_file)
        none_s, _ = datamap_way(folder, data_file, args, work, None, "none")  # training alone
        inflight_s, inflight_own = datamap_way(folder, data_file, args, work, None, "inflight")
        steps_per_epoch = -(-args.n // args.batch_size)
        every_s, every_own = datamap_way(folder, data_file, args, work, steps_per_epoch, "inflight")
        s2l_train, s2l_rec, _ = s2l_way(folder, frame, args, work)
    rec_inflight = max(inflight_s - none_s, 0.0)
    rec_every = max(every_s - none_s, 0.0)
    print(f"{args.n} examples, {args.epochs} points (one per epoch), GPT-2 {args.layers}x{args.hidden}, batch {args.batch_size}, "
          f"{torch.get_num_threads()} threads")
    print(f"training alone (datamap, --record none): {none_s:.1f} s; S2L-way training loop: {s2l_train:.1f} s")
    print(f"recording, datamap in flight:       {inflight_own:.2f} s measured (gather + epoch files); "
          f"run difference {rec_inflight:.2f} s (train {inflight_s:.1f} s - {none_s:.1f} s)")
    print(f"recording, datamap --record-every:  {every_own:.2f} s measured (passes + epoch files); "
          f"run difference {rec_every:.2f} s (train {every_s:.1f} s - {none_s:.1f} s)")
    print(f"recording, S2L way (checkpoints + batch-1 passes): {s2l_rec:.2f} s")
    by_difference = (f"{s2l_rec / rec_every:.1f}x" if rec_every > 0.05 * none_s
                     else "not measurable (the difference is within the timing noise, 5 % of training)")
    print(f"ratio S2L / --record-every: {s2l_rec / max(every_own, 1e-9):.1f}x measured, {by_difference} by run "
          f"difference; S2L / in flight: {s2l_rec / max(inflight_own, 1e-9):.0f}x measured")

if __name__ == "__main__":
    main()
