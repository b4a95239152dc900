"""Recording overhead: the same training run with --record none, inflight and epoch_end.

Runs are interleaved (none, inflight, epoch_end, none, inflight, ...) in one process so that
machine load affects them alike. The figure is the time of an epoch: its training steps plus the
recording work after them (gathering and writing the epoch's logits; for epoch_end the extra pass
over the training set). Evaluation and model loading are excluded.

    python benchmarks/bench_recording.py [--model minilm --dataset rotten_tomatoes --limit 512 --repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from datamap.training.config import TrainConfig
from datamap.training.loop import train


def timed_run(mode: str, args, out: str) -> float:
    cfg = TrainConfig(
        dataset=args.dataset, model=args.model, out=out, epochs=args.epochs, batch_size=args.batch_size,
        max_length=args.max_length, limit=args.limit, limit_mode="random", eval_split=None, record=mode,
        save_model=False, seed=0,
    )
    import json

    t0 = time.perf_counter()
    run = train(cfg, progress=False)
    total = time.perf_counter() - t0
    hist = json.loads(run.history.read_text())["epochs"]
    epoch_s = statistics.median(h["seconds"] + h["record_seconds"] for h in hist)
    return epoch_s, total


def training_parser(doc: str, repeat: int = 3) -> argparse.ArgumentParser:
    """The options of a benchmark that trains: model, dataset, limit, epochs, batch size, max length, repeats."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--dataset", default="rotten_tomatoes")
    ap.add_argument("--limit", type=int, default=512)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=repeat)
    return ap


def main() -> None:
    args = training_parser(__doc__).parse_args()
    modes = ("none", "inflight", "epoch_end")
    epoch_times = {m: [] for m in modes}
    totals = {m: [] for m in modes}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeat):
            for m in modes:
                e, t = timed_run(m, args, f"{tmp}/{m}{r}")
                epoch_times[m].append(e)
                totals[m].append(t)
                print(f"  repeat {r + 1} {m:9s}: epoch {e:6.2f} s  (whole call {t:6.2f} s)", flush=True)
    base = statistics.median(epoch_times["none"])
    print(f"\n{args.model} on {args.dataset}, {args.limit} examples, batch {args.batch_size}, {args.repeat} repeats (median):")
    for m in modes:
        med = statistics.median(epoch_times[m])
        per = ", ".join(f"{100 * (t / b - 1):+.1f}" for t, b in zip(epoch_times[m], epoch_times["none"]))
        print(f"  {m:9s}  {med:7.2f} s/epoch   {args.limit / med:7.1f} ex/s   overhead vs none: "
              f"{100 * (med / base - 1):+6.1f}%   (per repeat vs the same repeat's none: {per} %)")


if __name__ == "__main__":
    main()
