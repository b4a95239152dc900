"""Per-epoch cost of recording at scale: bytes in memory, bytes on disk, time to collect and write.

    python benchmarks/bench_epoch_bytes.py [--n 1000000] [--classes 3] [--epochs 2] [--batch 32]

Builds one epoch of N examples (16-hex-character ids, the form datamap gives when a dataset has no
id column; random float32 logits), feeds it to ``EpochRecorder`` batch by batch as training would,
collects it (one process), and appends it to ``dynamics.parquet`` with ``DynamicsWriter``. Prints
the logits and index bytes held per epoch, the Parquet bytes per epoch, the times, and the peak
resident memory of the process.
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--classes", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()

    import numpy as np
    import torch

    from datamap.io.store import DynamicsWriter
    from datamap.training.recorder import EpochRecorder

    n, c = args.n, args.classes
    ids = np.array([hashlib.sha1(str(i).encode()).hexdigest()[:16] for i in range(n)], dtype=object)
    gold = np.random.default_rng(0).integers(0, c, n)
    print(f"N={n:,} examples, {c} classes, batch {args.batch}")
    print(f"held per epoch on the device: logits {n * c * 4 / 1e6:.1f} MB (float32) + index {n * 8 / 1e6:.1f} MB (int64)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dynamics.parquet"
        sizes = []
        with DynamicsWriter(path) as writer:
            for epoch in range(args.epochs):
                rng = np.random.default_rng(epoch)
                perm = torch.from_numpy(rng.permutation(n))
                logits = torch.from_numpy(rng.normal(size=(n, c)).astype(np.float32))
                rec = EpochRecorder()
                t0 = time.perf_counter()
                for s in range(0, n, args.batch):
                    b = perm[s : s + args.batch]
                    rec.add(b, logits[b])
                t_add = time.perf_counter() - t0
                t0 = time.perf_counter()
                index, out = rec.collect(None, n_examples=n)
                t_collect = time.perf_counter() - t0
                t0 = time.perf_counter()
                writer.write_epoch(epoch, ids[index], out, gold[index])
                t_write = time.perf_counter() - t0
                size = writer._tmp.stat().st_size
                sizes.append(size - sum(sizes))
                print(f"epoch {epoch}: add {t_add:.2f} s ({n // args.batch:,} batches), collect {t_collect:.2f} s, "
                      f"write {t_write:.2f} s, +{sizes[-1] / 1e6:.1f} MB on disk")
        print(f"dynamics.parquet: {path.stat().st_size / 1e6:.1f} MB for {args.epochs} epochs "
              f"({path.stat().st_size / args.epochs / n:.1f} bytes per example-epoch)")
    print(f"peak resident memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3:.0f} MB")


if __name__ == "__main__":
    main()
