"""A check that can fail, on data made here: does the per-example loss of an sft run find wrong answers?

Rows ``"a b c ="`` -> ``"b"`` (the middle digit, a rule a small model learns from scratch); a seeded 20 % of the
answers are replaced by another digit. A small GPT-2 (random weights, built from a config, tokenizer trained
here) is fine-tuned with ``datamap train --task sft``; the examples are ranked by their mean token loss over the
epochs (``datamap metrics``' ``mean_loss``) and the AUROC against the known wrong answers is printed, overall and
per epoch (the ranking is only as good as what the model has learnt by then).

    python benchmarks/sft_synthetic.py [--n 1000] [--epochs 8] [--noise 0.2] [--seed 0]

``--write DIR`` instead writes the data and the model of ``examples/sft_s2l.yaml`` (the S2L-versus-random
retraining comparison) and stops: ``DIR/qa/train.parquet`` (``--n-train`` distinct prompts, the ``--noise``
share answered wrongly; a ``wrong`` column says which), ``DIR/qa/validation.parquet`` (``--n-val`` other
prompts, every answer correct: the held-out questions) and ``DIR/lm/`` (the GPT-2 2x64 with random weights
and its tokenizer)::

    python benchmarks/sft_synthetic.py --write data/sft_synthetic [--n-train 700] [--n-val 300]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_trajectories import make_lm  # noqa: E402


def make_rows(n: int, noise: float, seed: int) -> pd.DataFrame:
    """Distinct prompts ``"a b c ="`` with answer ``b``; a ``wrong`` share ``noise`` answered with another digit."""
    rng = np.random.default_rng(seed)
    a, b, c = (rng.integers(0, 10, n) for _ in range(3))
    wrong = rng.random(n) < noise
    given = np.where(wrong, (b + rng.integers(1, 10, n)) % 10, b)
    frame = pd.DataFrame({"prompt": [f"{x} {y} {z} =" for x, y, z in zip(a, b, c)],
                          "completion": [str(v) for v in given], "wrong": wrong})
    return frame.drop_duplicates("prompt").reset_index(drop=True)


def write_example(folder: Path, n_train: int, n_val: int, noise: float, seed: int) -> dict:
    """The dataset folder ``qa/`` (train with wrong answers, a clean validation split of other prompts) and ``lm/``."""
    from datamap.errors import DatamapError
    from datamap.io import atomic

    if n_train < 1 or n_val < 1 or n_train + n_val > 1000:
        raise DatamapError(f"--n-train {n_train} + --n-val {n_val}: each >= 1 and together <= 1000 "
                           "(the distinct prompts 'a b c =' of three digits)")
    rng = np.random.default_rng(seed)
    triples = rng.permutation(1000)[: n_train + n_val]
    a, b, c = triples // 100, triples // 10 % 10, triples % 10
    wrong = np.zeros(len(triples), dtype=bool)
    wrong[:n_train] = rng.random(n_train) < noise
    given = np.where(wrong, (b + rng.integers(1, 10, len(triples))) % 10, b)
    frame = pd.DataFrame({"prompt": [f"{x} {y} {z} =" for x, y, z in zip(a, b, c)],
                          "completion": [str(v) for v in given], "wrong": wrong})
    atomic.write_table(folder / "qa" / "train.parquet", frame.iloc[:n_train].reset_index(drop=True))
    atomic.write_table(folder / "qa" / "validation.parquet",
                       frame.iloc[n_train:].drop(columns="wrong").reset_index(drop=True))
    make_lm(folder / "lm", 64, 2)
    return {"train": n_train, "wrong": int(wrong.sum()), "validation": n_val}


def main() -> None:
    from sklearn.metrics import roc_auc_score

    from datamap.core.sft_metrics import sft_metrics
    from datamap.io.store import read_sft_dynamics
    from datamap.training.config import TrainConfig
    from datamap.training.loop import train

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--noise", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write", metavar="DIR", help="write the data and model of examples/sft_s2l.yaml and stop")
    ap.add_argument("--n-train", type=int, default=700)
    ap.add_argument("--n-val", type=int, default=300)
    args = ap.parse_args()
    if args.write:
        sizes = write_example(Path(args.write), args.n_train, args.n_val, args.noise, args.seed)
        print(f"{args.write}/qa: {sizes['train']} training rows ({sizes['wrong']} wrong answers), "
              f"{sizes['validation']} validation rows (all correct); {args.write}/lm: GPT-2 2x64, random weights")
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rows = make_rows(args.n, args.noise, args.seed)
        rows.drop(columns="wrong").to_parquet(root / "qa.parquet")
        make_lm(root / "lm", 64, 2)
        t0 = time.perf_counter()
        cfg = TrainConfig(task="sft", dataset=str(root / "qa.parquet"), model=str(root / "lm"), out=str(root / "run"),
                          epochs=args.epochs, batch_size=16, lr=3e-3, warmup_ratio=0.0, max_length=32,
                          eval_split="none", checkpoint=False, save_model=False, seed=args.seed)
        run = train(cfg, progress=False)
        seconds = time.perf_counter() - t0
        dyn = read_sft_dynamics(run.dynamics)
        data = pd.read_parquet(run.data)
        wrong = rows.set_index("prompt").loc[data["prompt"], "wrong"].to_numpy()
        metrics = sft_metrics(dyn.loss_sum, dyn.n_tokens, dyn.n_correct)
    print(f"{len(data)} distinct rows, {int(wrong.sum())} wrong answers ({wrong.mean():.1%}), {args.epochs} epochs, "
          f"GPT-2 2x64 from scratch, {seconds:.0f} s")
    print(f"AUROC of mean token loss against the wrong answers: {roc_auc_score(wrong, metrics['mean_loss']):.4f}")
    for p in range(dyn.loss_sum.shape[1]):
        loss = dyn.loss_sum[:, p] / dyn.n_tokens[:, p]
        exact = (dyn.n_correct[:, p] == dyn.n_tokens[:, p])
        print(f"  epoch {p + 1}: AUROC of that epoch's loss {roc_auc_score(wrong, loss):.4f}; "
              f"teacher-forced exact on correct rows {exact[~wrong].mean():.3f}, on wrong rows {exact[wrong].mean():.3f}")


if __name__ == "__main__":
    main()
