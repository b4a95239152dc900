"""Write evaluation results of a run: RUN/eval/<set>.json (scores) and <set>.parquet (predictions)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from datamap.io import atomic
from datamap.io.rundir import RunDir


def predictions_table(frame: pd.DataFrame, logits: np.ndarray, label_names: list[str]) -> pa.Table:
    """Per-example predictions: id, gold, pred, their names, max probability and the logits."""
    from datamap.eval.metrics import softmax

    logits = np.asarray(logits, dtype=np.float32)
    probs = softmax(logits)
    pred = logits.argmax(axis=1)
    names = np.asarray(label_names, dtype=object)
    n, c = logits.shape
    cols = {
        "id": pa.array(frame["id"].astype(str).tolist(), type=pa.string()),
        "gold": pa.array(frame["label"].to_numpy(dtype=np.int64)),
        "pred": pa.array(pred.astype(np.int64)),
        "gold_name": pa.array(names[frame["label"].to_numpy()].tolist(), type=pa.string()),
        "pred_name": pa.array(names[pred].tolist(), type=pa.string()),
        "prob": pa.array(probs.max(axis=1).astype(np.float32)),
        "logits": pa.ListArray.from_arrays(pa.array(np.arange(0, (n + 1) * c, c, dtype=np.int32)), pa.array(logits.reshape(-1))),
    }
    for extra in ("heuristic", "subcase"):
        if extra in frame.columns:
            cols[extra] = pa.array(frame[extra].astype(str).tolist(), type=pa.string())
    return pa.table(cols)


def write_eval(run: RunDir, name: str, frame: pd.DataFrame, logits: np.ndarray, label_names: list[str], extra: dict | None = None) -> dict:
    """Score ``logits`` against ``frame['label']`` and write eval/<name>.json and .parquet."""
    from datamap.eval.metrics import classification_scores

    scores = classification_scores(logits, frame["label"].to_numpy(), label_names, probs=False)
    scores = {"set": name, **scores, **(extra or {})}
    atomic.write_table(run.eval_predictions(name), predictions_table(frame, logits, label_names))
    atomic.write_json(run.eval_scores(name), scores)
    return scores
