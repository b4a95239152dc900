"""Cost of the per-epoch checkpoint (``RUN/checkpoint/``, what ``datamap train --resume`` needs).

    DATAMAP_DATA_DIR=../shared/data python benchmarks/bench_resume.py [--model minilm]
        [--dataset rotten_tomatoes] [--limit 512] [--epochs 2] [--batch-size 32] [--max-length 64]

Trains once with checkpoints (the default) and once with ``--no-checkpoint``, same seed, and prints
per epoch the seconds spent writing the checkpoint (weights as safetensors, optimizer and scheduler
state, RNG states; written to a temporary folder, then renamed), the epoch's training seconds, and
the checkpoint's size on disk; then the whole run's wall time both ways.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--dataset", default="rotten_tomatoes")
    ap.add_argument("--limit", type=int, default=512)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=64)
    args = ap.parse_args()

    import json

    from datamap.training import loop
    from datamap.training.config import TrainConfig

    timings: list[tuple[float, int]] = []
    original = loop.save_checkpoint

    def timed(run, *a, **kw):
        t0 = time.perf_counter()
        original(run, *a, **kw)
        timings.append((time.perf_counter() - t0, folder_bytes(run.checkpoint)))

    loop.save_checkpoint = timed
    with tempfile.TemporaryDirectory() as tmp:
        walls = {}
        for checkpoint in (True, False):
            cfg = TrainConfig(dataset=args.dataset, model=args.model, out=f"{tmp}/run-{checkpoint}", limit=args.limit,
                              epochs=args.epochs, batch_size=args.batch_size, max_length=args.max_length,
                              eval_split=None, save_model=False, checkpoint=checkpoint, seed=1)
            t0 = time.perf_counter()
            run = loop.train(cfg, progress=False)
            walls[checkpoint] = time.perf_counter() - t0
            if checkpoint:
                history = json.loads(run.history.read_text())["epochs"]
    print(f"{args.model}, {args.dataset} --limit {args.limit}, {args.epochs} epochs, batch {args.batch_size}")
    for (secs, size), h in zip(timings, history):
        print(f"  epoch {h['epoch']}: checkpoint {secs:.2f} s, {size / 2**20:.1f} MiB on disk; training {h['seconds']:.1f} s")
    print(f"  run wall time: {walls[True]:.1f} s with checkpoints, {walls[False]:.1f} s with --no-checkpoint")


if __name__ == "__main__":
    main()
