"""The start-up line of ``datamap train``: what is about to be trained, where and how.

    training: 540 examples (neg 270 50%, pos 270 50%) · eval heldout 60 · model minilm · device cpu,
    fp32, 1 process · 3 epochs, batch 32, lr 2e-05, seed 42

Said once, by the main process, after the data is loaded and before the first epoch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from datamap.console import printable
from datamap.training.config import TrainConfig


def startup_line(cfg: TrainConfig, train_df: pd.DataFrame, names: list[str], evals: dict, accelerator) -> str:
    """The line (see the module); ``evals`` maps evaluation set names to sets with a ``frame``."""
    counts = np.bincount(train_df["label"].to_numpy(dtype=np.int64), minlength=len(names))
    total = max(int(counts.sum()), 1)
    balance = ", ".join(f"{printable(n)} {int(c):,} {100 * c / total:.0f}%" for n, c in zip(names, counts))
    ev = ", ".join(f"{printable(k)} {len(v.frame):,}" for k, v in evals.items()) or "none"
    precision = "bf16" if accelerator.mixed_precision == "bf16" else "fp32"
    if str(cfg.model_dtype) != "float32":  # --model-dtype: the weights' own dtype
        precision += f", {cfg.model_dtype} weights"
    procs = accelerator.num_processes
    return (f"training: {len(train_df):,} examples ({balance}) · eval {ev} · model {printable(cfg.model)} · "
            f"device {accelerator.device.type}, {precision}, {procs} process{'es' if procs != 1 else ''} · "
            f"{cfg.epochs} epochs, batch {cfg.batch_size}"
            + (f" x {cfg.grad_accum} accumulated" if cfg.grad_accum > 1 else "") + f", lr {cfg.lr:g}, seed {cfg.seed}")
