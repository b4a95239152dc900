"""Per-example loss weights (``datamap train --weights FILE``): a table of ``id`` and ``weight``.

The file is any table ``datamap train --dataset`` reads (Parquet, CSV, TSV, JSONL). Every training
id needs a weight; ids the training rows lack are ignored (a file written for a whole run serves a
subset of it). Weights are finite and >= 0, and at least one is > 0. ``datamap weights RUN``
writes such a file from the run's label issues.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import pandas as pd

from datamap.errors import DatamapError
from datamap.io.data import read_file


def read_weights(path: "str | os.PathLike", ids: Sequence[str]) -> np.ndarray:
    """The weight of each of ``ids`` (float64, in their order) from the table at ``path``."""
    frame = read_file(path)
    missing = [c for c in ("id", "weight") if c not in frame.columns]
    if missing:
        raise DatamapError(f"--weights {path}: needs the columns id and weight (missing: {', '.join(missing)})")
    index = pd.Index(frame["id"].astype(str))
    if index.has_duplicates:
        raise DatamapError(f"--weights {path}: duplicate id '{index[index.duplicated()][0]}'")
    where = index.get_indexer(pd.Index([str(i) for i in ids]))
    if (where < 0).any():
        first = ids[int(np.flatnonzero(where < 0)[0])]
        raise DatamapError(f"--weights {path}: no weight for training id '{first}' ({int((where < 0).sum())} missing)")
    try:
        w = pd.to_numeric(frame["weight"]).to_numpy(dtype=np.float64)[where]
    except (ValueError, TypeError):
        raise DatamapError(f"--weights {path}: the weight column must hold numbers") from None
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise DatamapError(f"--weights {path}: weights must be finite and >= 0, got {w[bad][0]!r} "
                           f"for id '{ids[int(np.flatnonzero(bad)[0])]}'")
    if not (w > 0).any():
        raise DatamapError(f"--weights {path}: every weight is 0; nothing would be trained")
    return w
