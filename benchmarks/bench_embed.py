"""Embedding throughput of MiniLM (`minilm`: all-MiniLM-L6-v2, 6 layers, 384 hidden) on this machine.

Times ``datamap.training.embed.embed_frame`` (the work of ``datamap embed``): tokenisation and one
eval-mode ``no_grad`` pass with length-sorted batches (bf16 autocast on a GPU that supports it),
model loading left out. Prints examples/s per pooling.

    DATAMAP_DATA_DIR=../shared/data python benchmarks/bench_embed.py [--dataset snli --split validation
        --limit 2000 --batch-size 128 --max-length 128 --pooling mean --repeat 1]
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import torch

from datamap.io.data import load_dataset
from datamap.training.embed import embed_frame


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="snli")
    ap.add_argument("--split", default="validation")
    ap.add_argument("--limit", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--pooling", default="mean", help="one or more of cls,mean,pooler (comma-separated)")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()

    frame = load_dataset(args.dataset, args.split)[0].iloc[: args.limit].reset_index(drop=True)
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads)"
    print(f"MiniLM embeddings of {len(frame):,} {args.dataset}[{args.split}] examples"
          f"{' (pairs)' if 'text_pair' in frame.columns else ''}, batch {args.batch_size}, max length {args.max_length}; {device}")
    t = time.perf_counter()
    embed_frame(frame.iloc[:8], "minilm", pooling="mean", progress=False)  # load once (files cached), warm up
    print(f"  first call (model load + 8 examples): {time.perf_counter() - t:.2f} s")
    for pooling in args.pooling.split(","):
        times = []
        for _ in range(args.repeat):
            vectors, info = embed_frame(frame, "minilm", pooling=pooling, batch_size=args.batch_size,
                                        max_length=args.max_length, progress=False)
            times.append(info["seconds"])
        best = min(times)
        print(f"  {pooling:>6}: {best:7.2f} s, {len(frame) / best:8.1f} examples/s ({info['precision']}),"
              f" vectors {vectors.shape}")
    print(f"  peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
