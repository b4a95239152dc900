"""AUM threshold samples (Pleiss et al. 2020): a fake class for a random 1/(C+1) of the training set.

``datamap train --threshold-samples`` relabels a seeded random ``floor(N / (C + 1))`` of the training
examples with an extra class ``C`` (named :data:`THRESHOLD_NAME`) before training, so the model has
``C + 1`` outputs. Those examples are certainly mislabeled; the 99th percentile of their AUM is the
cut below which ``datamap errors`` flags an example. Their ids and original labels are kept in
``RUN/threshold_samples.parquet``; ``data.parquet`` holds what was trained on (the fake class).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from datamap.core.label_errors import pick_threshold_samples
from datamap.errors import DatamapError

THRESHOLD_NAME = "[threshold]"


def assign_threshold_samples(train_df: pd.DataFrame, names: list[str], seed: int) -> tuple[pd.DataFrame, list[str], pd.DataFrame]:
    """(training frame with the fake class, the C + 1 label names, ``id``/``label``/``label_name`` of
    the threshold samples with their original labels)."""
    if THRESHOLD_NAME in names:
        raise DatamapError(f"--threshold-samples: the data already has a class named {THRESHOLD_NAME!r}")
    rows = pick_threshold_samples(len(train_df), len(names), seed=seed)
    original = train_df.iloc[rows][["id", "label", "label_name"]].reset_index(drop=True)
    out = train_df.copy()
    label_col = out.columns.get_loc("label")
    name_col = out.columns.get_loc("label_name")
    out.iloc[rows, label_col] = np.int64(len(names))
    out.iloc[rows, name_col] = THRESHOLD_NAME
    return out, [*names, THRESHOLD_NAME], original
