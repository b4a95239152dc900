"""Candidate single-run label-error scores, compared offline on the runs of the benchmark matrix.

No training: for every cell that ``bench_label_errors.py`` left on disk (``OUT/seedS/single`` holds the
ordinary run's ``dynamics.parquet``; ``OUT/seedS/noisy.flipped.parquet`` the flipped ids), the
scores below are computed from the recorded logits and scored against the known flips. Prints each
candidate's AUROC per cell and its mean over cells, which is what chose ``datamap errors``' default.

Candidates (higher = more likely mislabeled):

- ``aum``, ``confidence``, ``el2n``, ``forgetfulness``, ``rank_mean``: the methods of ``datamap errors``
  (all epochs).
- ``rank_mean_3``: the mean rank fraction of ``confidence``, ``aum`` and ``el2n`` (no forgetfulness).
- ``aum_skip1``, ``confidence_skip1``: the same over epochs 2..E (the first epoch's in-flight logits come
  from a model that has barely started).
- ``aum_last``, ``confidence_first``: AUM of the last epoch alone; confidence of the first epoch alone
  (in-flight logits of epoch 1 are computed before the model was updated on the example).
- ``class_confidence``: 1 - confidence divided by the mean confidence of the examples given the
  same label (confident learning's per-class threshold, applied to the epoch-averaged probability);
  ``class_confidence_skip1`` the same over epochs 2..E.
- ``aum_classcentered``: AUM minus the mean AUM of the examples given the same label, negated.

Example::

    python benchmarks/label_error_scores.py runs/bench-errors-matrix/seed*/*/
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from datamap.core.label_errors import METHODS, auroc, average_ranks, class_confidence, method_scores
from datamap.core.metrics import compute_metrics
from datamap.core.probs import softmax
from datamap.io.store import read_dynamics


def candidates(logits: np.ndarray, gold: np.ndarray) -> dict[str, np.ndarray]:
    m = compute_metrics(logits, gold)
    out = method_scores({k: np.asarray(m[k]) for k in METHODS}, given=gold)  # + class_confidence
    n = len(gold)
    out["rank_mean_3"] = np.mean([average_ranks(out[k]) / n for k in ("confidence", "aum", "el2n")], axis=0)
    p = softmax(logits)  # (N, E, C)
    pg = p[np.arange(n), :, gold]  # (N, E)
    if logits.shape[1] > 1:
        later = compute_metrics(logits[:, 1:], gold)  # epochs 2..E
        out["aum_skip1"] = -np.asarray(later["aum"])
        out["confidence_skip1"] = 1 - np.asarray(later["confidence"])
    out["aum_last"] = -np.asarray(compute_metrics(logits[:, -1:], gold)["aum"])
    out["confidence_first"] = 1 - pg[:, 0]
    aum = -out["aum"]
    aum_class = np.array([aum[gold == c].mean() if (gold == c).any() else 0.0 for c in range(logits.shape[2])])
    out["aum_classcentered"] = -(aum - aum_class[gold])
    if logits.shape[1] > 1:
        out["class_confidence_skip1"] = class_confidence(pg[:, 1:].mean(axis=1), gold)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="+", type=Path, help="cell directories of the matrix (each with seedS/ inside)")
    ap.add_argument("--seeds", default="", help="comma-separated seeds to use (default: every seed found)")
    args = ap.parse_args()
    keep = {f"seed{s}" for s in args.seeds.split(",") if s}
    rows = []
    for d in args.dirs:
        for seed_dir in sorted(d.glob("seed*")):
            if keep and seed_dir.name not in keep:
                continue
            dyn_path, flipped_path = seed_dir / "single" / "dynamics.parquet", seed_dir / "noisy.flipped.parquet"
            if not (dyn_path.exists() and flipped_path.exists()):
                continue
            dyn = read_dynamics(dyn_path)
            truth = np.isin(np.asarray(dyn.ids).astype(str), pd.read_parquet(flipped_path)["id"].astype(str).to_numpy())
            for name, score in candidates(np.asarray(dyn.logits, dtype=np.float64), np.asarray(dyn.gold)).items():
                rows.append({"cell": d.name, "seed": seed_dir.name, "score": name, "auroc": auroc(score, truth)})
    if not rows:
        raise SystemExit("no OUT/seedS/single/dynamics.parquet found under the given directories")
    table = pd.DataFrame(rows)
    per_cell = table.groupby(["cell", "score"])["auroc"].mean().unstack("score")
    order = per_cell.mean().sort_values(ascending=False).index
    pd.set_option("display.width", 250)
    print(per_cell[order].round(3).to_string())
    print(f"\nmean AUROC over {len(per_cell)} cells ({len(table[['cell', 'seed']].drop_duplicates())} runs):")
    for name in order:
        wins = int((per_cell[name] >= per_cell.max(axis=1) - 1e-12).sum())
        print(f"  {name:<22} {per_cell[name].mean():.4f}   best in {wins} cells")


if __name__ == "__main__":
    main()
