"""The pieces of the interactive map (and report) that differ for an sft run (causal-LM fine-tuning).

An sft run's ``metrics.parquet`` has no classes (no ``gold``/``pred``), token-level metrics
(:mod:`datamap.core.sft_metrics`) and its records are (prompt, completion) pairs. The map draws the
same axes (variability x confidence, both of the geometric-mean token probability), colours by
correctness (token accuracy, a continuous scale), shows prompt and completion in the tooltip
(truncated there, in full when pinned; put into the page with ``textContent``, so HTML in them shows
as text) and a chart of each example's geometric-mean token probability per record point.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from datamap.core.sft_metrics import SFT_METRIC_COLUMNS
from datamap.errors import DatamapError
from datamap.io.readers import read_parquet
from datamap.io.rundir import RunDir

#: metrics.parquet columns of an sft run the map needs; the other metric columns are shown when present.
REQUIRED = ("id", "confidence", "variability", "correctness", "region")
OPTIONAL = tuple(c for c in SFT_METRIC_COLUMNS if c not in REQUIRED)
#: label_names of the page: an sft run has no classes (its gold/pred codes are all 0).
NO_CLASSES = "(sft: no classes)"
#: what the page says instead of the classifier's words (read by assets/map.js as ``D.sft``).
PAGE_TEXT = {
    "axis": ["variability (std of the geometric-mean token probability over record points)",
             "confidence (mean geometric-mean token probability)"],
    "text_labels": ["prompt", "completion"],
    "correctness": "correctness (token accuracy)",
    "chart": "geometric-mean token probability per record point",
    "unit": "record point",
    "p": "p(token)",
}


def sft_run_table(rd: RunDir) -> tuple[pd.DataFrame, list[str]]:
    """An sft run's metrics joined by id to its records, in the shape the map's payload takes:
    ``text`` = prompt, ``text_pair`` = completion, ``gold`` = ``pred`` = 0; and the label names."""
    if not rd.data.exists():
        raise DatamapError(f"{rd.data}: not found; run `datamap train --task sft` into {rd.root} first")
    rd.require_complete(metrics=True)
    metrics = read_parquet(rd.metrics)
    missing = [c for c in REQUIRED if c not in metrics.columns]
    if missing:
        raise DatamapError(f"{rd.metrics}: missing column '{missing[0]}'; rerun `datamap metrics {rd.root}`")
    data = read_parquet(rd.data)
    for col in ("id", "prompt", "completion"):
        if col not in data.columns:
            raise DatamapError(f"{rd.data}: missing column '{col}' (an sft run's data has id, prompt, completion)")
    metrics["id"] = metrics["id"].astype(str)
    data = data[["id", "prompt", "completion"]].assign(id=data["id"].astype(str))
    for frame, path in ((metrics, rd.metrics), (data, rd.data)):
        dup = frame["id"].duplicated()
        if dup.any():
            raise DatamapError(f"{path}: id '{frame['id'][dup].iloc[0]}' occurs more than once")
    table = metrics.merge(data, on="id", how="left", sort=False, indicator=True)
    lost = table["_merge"] != "both"
    if lost.any():
        raise DatamapError(f"{rd.data}: has no record for id '{table['id'][lost].iloc[0]}' of metrics.parquet "
                           f"({int(lost.sum())} ids missing)")
    table = table.drop(columns="_merge").rename(columns={"prompt": "text", "completion": "text_pair"})
    table["text"] = table["text"].fillna("").astype(str)
    table["text_pair"] = table["text_pair"].fillna("").astype(str)
    table["gold"] = 0
    table["pred"] = 0
    return table, [NO_CLASSES]


def token_probabilities(rd: RunDir, ids) -> tuple[np.ndarray | None, str]:
    """Geometric-mean token probability ``exp(-loss_sum / n_tokens)`` per record point of each id (rows in
    ``ids`` order), and a note for the page; ``(None, why)`` without dynamics."""
    from datamap.io.embeddings import positions_by_id
    from datamap.io.store import read_sft_dynamics

    source = rd.dynamics_source()
    if not source.exists():
        return None, f"no {source.name} in the run: no per-point chart"
    dyn = read_sft_dynamics(source)
    pos = positions_by_id(dyn.ids, ids, source, "dynamics")
    prob = np.exp(-dyn.loss_sum[pos] / dyn.n_tokens[pos]).astype(np.float32)
    return prob, f"per-point chart from {source.name} ({dyn.n_points} record points)"


def points_used(rd: RunDir) -> int | None:
    """``points_used`` of an sft run's metrics.json (after ``--burn-out``); None if unknown."""
    import json

    try:
        value = json.loads(rd.metrics_json.read_text(encoding="utf-8")).get("points_used")
    except (OSError, ValueError, AttributeError):
        return None
    return int(value) if isinstance(value, int) and value >= 1 else None
