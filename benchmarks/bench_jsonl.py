"""allenai jsonl interop at scale: ``export-dynamics`` and ``import-dynamics`` of N x E x C dynamics.

    python benchmarks/bench_jsonl.py [--n 1000000] [--epochs 20] [--classes 3] [--baseline]

Writes random float32 dynamics (16-hex-character ids) to ``dynamics.parquet``, then times the
export to ``dynamics_epoch_{e}.jsonl`` files (read the Parquet store + write every file) and the
import back (read every file + validate), checks the round trip is exact, and prints the peak
resident memory. ``--baseline`` also times the per-line ``json.dumps`` / ``json.loads``
implementation this replaced, on the same data in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def baseline_export(dyn, out_dir: Path) -> None:
    """The earlier writer: one ``json.dumps`` per line."""
    out_dir.mkdir(parents=True, exist_ok=True)
    gold, ids = dyn.gold.tolist(), [str(i) for i in dyn.ids]
    for j, e in enumerate(dyn.epochs):
        key = f"logits_epoch_{int(e)}"
        with open(out_dir / f"dynamics_epoch_{int(e)}.jsonl", "w", encoding="utf-8") as fh:
            for guid, lg, g in zip(ids, dyn.logits[:, j].tolist(), gold):
                fh.write(json.dumps({"guid": guid, key: lg, "gold": g}, ensure_ascii=False) + "\n")


def baseline_import(folder: Path) -> int:
    """The earlier reader: one ``json.loads`` per line into Python lists (validation left out)."""
    rows = 0
    for path in sorted(folder.glob("dynamics_epoch_*.jsonl")):
        with open(path, encoding="utf-8") as fh:
            recs = [json.loads(line) for line in fh]
        rows += len(recs)
        del recs
    return rows


def main() -> None:
    import numpy as np

    from datamap.io.jsonl import export_jsonl, read_jsonl_dir
    from datamap.io.store import Dynamics, read_dynamics, write_dynamics

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--classes", type=int, default=3)
    ap.add_argument("--baseline", action="store_true", help="also time the per-line json implementation")
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    ids = np.array([f"{i:016x}" for i in rng.permutation(args.n)], dtype=object)
    logits = (rng.normal(size=(args.n, args.epochs, args.classes)) * 4).astype(np.float32)
    dyn = Dynamics(ids, logits, rng.integers(0, args.classes, args.n), np.arange(args.epochs))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_dynamics(tmp / "dynamics.parquet", dyn)
        del dyn, logits
        t = time.perf_counter()
        paths = export_jsonl(tmp / "dynamics.parquet", tmp / "td")
        t_export = time.perf_counter() - t
        size = sum(os.path.getsize(p) for p in paths)
        t = time.perf_counter()
        back = read_jsonl_dir(tmp / "td")
        t_import = time.perf_counter() - t
        ref = read_dynamics(tmp / "dynamics.parquet")
        exact = np.array_equal(back.logits, ref.logits) and back.ids.tolist() == ref.ids.tolist()
        peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(f"dynamics: {args.n:,} examples x {args.epochs} epochs x {args.classes} classes; "
              f"jsonl {size / 1e9:.2f} GB in {len(paths)} files")
        print(f"export (parquet -> jsonl): {t_export:6.1f} s")
        print(f"import (jsonl -> arrays):  {t_import:6.1f} s   round trip exact: {exact}")
        print(f"peak resident memory:      {peak_gib:6.2f} GiB")
        if args.baseline:
            del back
            t = time.perf_counter()
            baseline_export(ref, tmp / "td_old")
            t_old_export = time.perf_counter() - t
            t = time.perf_counter()
            baseline_import(tmp / "td_old")
            t_old_import = time.perf_counter() - t
            print(f"baseline export (json.dumps per line): {t_old_export:6.1f} s  -> {t_old_export / t_export:.1f}x faster now")
            print(f"baseline import (json.loads per line): {t_old_import:6.1f} s  -> {t_old_import / t_import:.1f}x faster now")


if __name__ == "__main__":
    main()
