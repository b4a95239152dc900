"""Evaluation sets: load a labelled set for a model, score it, write RUN/eval/<name>.json and .parquet.

An evaluation set's labels are mapped to the model's classes by NAME. A set with a ``heuristic``
column (HANS) is scored the McCoy et al. way: the model's argmax class is collapsed to
entailment / non-entailment and accuracy is broken down by heuristic, gold label and subcase.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from datamap.core.probs import log_softmax, softmax
from datamap.io import atomic
from datamap.io.data import load_table, prepare
from datamap.io.rundir import RunDir

HANS_COLUMNS = ("heuristic", "subcase")
#: suffix of an evaluation set that is the training split itself (``datamap train --split validation``
#: with the default ``--eval-split auto``): its files are ``eval/validation-same-as-train.json``
SAME_AS_TRAIN = "-same-as-train"
#: name of the rows ``train --eval-split auto`` holds out of a single-file dataset (``RUN/heldout.parquet``)
HELDOUT = "heldout"


@dataclass
class EvalSet:
    name: str
    frame: pd.DataFrame  # canonical frame (+ heuristic/subcase for HANS)
    kind: str  # "standard" | "hans"
    source: str


def set_name(dataset: str, split: str) -> str:
    p = Path(dataset)
    if p.is_file():
        return p.stem
    return f"{p.name}_{split}"


def load_eval_set(dataset: str, split: str, model_label_names: list[str], name: str | None = None,
                  config: str | None = None, revision: str | None = None, **columns) -> EvalSet:
    """Load a labelled set for a model with classes ``model_label_names``.

    Standard sets must use the model's label names (error otherwise); HANS-style sets (a
    ``heuristic`` column) keep their own entailment / non-entailment labels. ``config`` and
    ``revision``: see :mod:`datamap.io.data`.
    """
    raw, source = load_table(dataset, split, config, revision)
    name = name or set_name(dataset, split)
    if "heuristic" in raw.columns:
        from datamap.eval.hans import check_model_labels

        check_model_labels(model_label_names)
        frame, _ = prepare(raw, source, keep_columns=HANS_COLUMNS, **columns)
        return EvalSet(name, frame, "hans", source)
    frame, _ = prepare(raw, source, label_names=model_label_names, **columns)
    return EvalSet(name, frame, "standard", source)


def quick_scores(es: EvalSet, logits: np.ndarray, model_label_names: list[str]) -> dict:
    """Accuracy (and loss for standard sets) for per-epoch history."""
    if es.kind == "hans":
        from datamap.eval.hans import collapse_label, hans_predictions

        pred = np.asarray(hans_predictions(logits, model_label_names), dtype=object)
        gold = np.asarray([collapse_label(g) for g in es.frame["label_name"]], dtype=object)
        return {"accuracy": float((pred == gold).mean())}
    z = np.asarray(logits, dtype=np.float64)
    gold = es.frame["label"].to_numpy()
    loss = float(-log_softmax(z, axis=1)[np.arange(len(z)), gold].mean())
    return {"accuracy": float((z.argmax(1) == gold).mean()), "loss": loss}


def write_eval_set(run: RunDir, es: EvalSet, logits: np.ndarray, model_label_names: list[str], extra: dict | None = None) -> dict:
    """Score and write RUN/eval/<name>.json and .parquet; returns the scores."""
    if es.kind == "standard":
        return write_eval(run, es.name, es.frame, logits, model_label_names, extra)
    from datamap.eval.hans import hans_predictions, hans_scores

    pred = hans_predictions(logits, model_label_names)
    subcase = es.frame["subcase"].astype(str).tolist() if "subcase" in es.frame.columns else None
    scores = hans_scores(pred, es.frame["label_name"].tolist(), es.frame["heuristic"].astype(str).tolist(), subcase,
                         model_label_names=model_label_names)
    scores = {"set": es.name, "kind": "hans", "label_names": list(model_label_names), **scores, **(extra or {})}
    table = predictions_table(es.frame.assign(label=0), logits, model_label_names).drop_columns(["gold", "gold_name"])
    table = table.append_column("gold_name", pa.array(es.frame["label_name"].astype(str).tolist(), type=pa.string()))
    table = table.append_column("pred_collapsed", pa.array(list(pred), type=pa.string()))
    atomic.write_table(run.eval_predictions(es.name), table)
    atomic.write_json(run.eval_scores(es.name), scores)
    return scores


def predictions_table(frame: pd.DataFrame, logits: np.ndarray, label_names: list[str]) -> pa.Table:
    """Per-example predictions: id, gold, pred, their names, max probability and the logits."""
    logits = np.asarray(logits, dtype=np.float32)
    probs = softmax(logits, axis=1)
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
    from datamap.eval.scoring import classification_scores

    scores = classification_scores(logits, frame["label"].to_numpy(), label_names, probs=False)
    scores = {"set": name, **scores, **(extra or {})}
    atomic.write_table(run.eval_predictions(name), predictions_table(frame, logits, label_names))
    atomic.write_json(run.eval_scores(name), scores)
    return scores
