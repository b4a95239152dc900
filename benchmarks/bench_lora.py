"""LoRA vs full fine-tuning of the same model: trainable parameters, peak memory, examples/s.

Each run is a separate process (so that its peak resident memory, or peak GPU memory on a GPU, is its
own); runs alternate (full, lora, full, lora, ...) so that machine load affects them alike. The figure of
speed is the median epoch's examples/s from the run's history (model loading and saving left out).

    python benchmarks/bench_lora.py [--model minilm --dataset rotten_tomatoes --limit 512 --repeat 2 --lora r=16,alpha=32]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile


def one(mode: str, args, out: str) -> dict:
    """Train once in this process and return the figures."""
    import torch

    from datamap.training.config import TrainConfig
    from datamap.training.loop import train
    from datamap.training.models import load_model

    cfg = TrainConfig(dataset=args.dataset, model=args.model, out=out, epochs=args.epochs, batch_size=args.batch_size,
                      max_length=args.max_length, limit=args.limit, limit_mode="random", eval_split=None,
                      save_model=False, checkpoint=False, seed=0, lora=args.lora if mode == "lora" else None)
    run = train(cfg, progress=False)
    hist = json.loads(run.history.read_text())["epochs"]
    model = load_model(args.model, ["a", "b"])
    total = sum(p.numel() for p in model.parameters())
    if mode == "lora":
        from datamap.training.lora import apply_lora

        model = apply_lora(model, cfg.lora)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    gpu = torch.cuda.is_available()
    peak = torch.cuda.max_memory_allocated() / 2**20 if gpu else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"mode": mode, "trainable": trainable, "total": total, "peak_mib": peak, "peak_kind": "GPU" if gpu else "RSS",
            "ex_s": statistics.median(h["examples_per_s"] for h in hist), "train_loss": hist[-1]["train_loss"]}


def main() -> None:
    from bench_recording import training_parser  # the same options as the other training benchmarks

    ap = training_parser(__doc__, repeat=2)
    ap.add_argument("--lora", default="r=16,alpha=32,dropout=0.05")
    ap.add_argument("--one", choices=("full", "lora"), help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args, args.out)))
        return
    passed = [a for a in sys.argv[1:]]
    results = {"full": [], "lora": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeat):
            for mode in ("full", "lora"):
                cmd = [sys.executable, __file__, *passed, "--one", mode, "--out", f"{tmp}/{mode}{r}"]
                done = subprocess.run(cmd, capture_output=True, text=True, check=True)
                res = json.loads(done.stdout.strip().splitlines()[-1])
                results[mode].append(res)
                print(f"  repeat {r + 1} {mode:4s}: {res['ex_s']:7.1f} ex/s, peak {res['peak_kind']} {res['peak_mib']:7.0f} MiB,"
                      f" loss {res['train_loss']:.4f}", flush=True)
    print(f"\n{args.model} on {args.dataset}, {args.limit} examples, {args.epochs} epoch(s), batch {args.batch_size}, "
          f"max length {args.max_length}, {args.repeat} repeats (median); LoRA {args.lora}:")
    print("| mode | trainable parameters | peak memory (MiB) | examples/s |")
    print("| --- | --- | --- | --- |")
    for mode, rows in results.items():
        first = rows[0]
        share = 100 * first["trainable"] / first["total"]
        print(f"| {mode} | {first['trainable']:,} of {first['total']:,} ({share:.2f}%) | "
              f"{first['peak_kind']} {statistics.median(x['peak_mib'] for x in rows):.0f} | "
              f"{statistics.median(x['ex_s'] for x in rows):.1f} |")


if __name__ == "__main__":
    main()
