"""Metrics throughput: 1,000,000 examples x 20 epochs x 3 classes (target <= 2 s on 2 CPU cores).

Prints wall time and CPU time (best of --repeat; the CPU time of this single-threaded computation
is the steadier figure on a machine shared with other work), the peak of NumPy allocations during
the computation (tracemalloc), and the process's peak RSS.

    python benchmarks/bench_metrics.py [--examples 1000000 --epochs 20 --classes 3 --repeat 3] [--stage]

--stage also times the whole `datamap metrics` stage on a run directory holding those dynamics
(read dynamics.parquet, validate, compute, assign regions, write metrics.parquet and the JSON files).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # this checkout, not an installed copy

from datamap.core.metrics import compute_metrics  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=1_000_000)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--classes", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--stage", action="store_true", help="also time the whole metrics stage (Parquet in and out)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(args.examples, args.epochs, args.classes)).astype(np.float32)
    gold = rng.integers(0, args.classes, args.examples)
    input_mb = logits.nbytes / 2**20
    times, cpu = [], []
    for _ in range(args.repeat):
        t, c = time.perf_counter(), time.process_time()
        compute_metrics(logits, gold)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    tracemalloc.start()
    compute_metrics(logits, gold)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"metrics for {args.examples:,} examples x {args.epochs} epochs x {args.classes} classes")
    print(f"  input logits (float32):        {input_mb:8.1f} MiB")
    print(f"  time, best of {args.repeat}:             {min(times):8.2f} s   (all: {', '.join(f'{t:.2f}' for t in times)})")
    print(f"  CPU time, best of {args.repeat}:         {min(cpu):8.2f} s   (all: {', '.join(f'{t:.2f}' for t in cpu)})")
    print(f"  peak extra memory (tracemalloc): {peak / 2**20:6.1f} MiB")
    print(f"  process peak RSS:              {rss:8.1f} MiB")
    if args.stage:
        stage(logits, gold)


def stage(logits: np.ndarray, gold: np.ndarray) -> None:
    import tempfile
    from pathlib import Path

    from datamap.io.store import Dynamics, write_dynamics
    from datamap.stages.measure import measure_run

    n, e, _ = logits.shape
    with tempfile.TemporaryDirectory() as tmp:
        ids = np.array([f"{i:016x}" for i in range(n)], dtype=object)
        t = time.perf_counter()
        write_dynamics(Path(tmp) / "dynamics.parquet", Dynamics(ids, logits, gold, np.arange(e)))
        w = time.perf_counter() - t
        size = (Path(tmp) / "dynamics.parquet").stat().st_size
        t = time.perf_counter()
        measure_run(tmp)
        m = time.perf_counter() - t
    print(f"  metrics stage (read {size / 2**20:.0f} MiB dynamics.parquet, compute, write): {m:6.2f} s"
          f"   (writing that dynamics file took {w:.2f} s)")


if __name__ == "__main__":
    main()
