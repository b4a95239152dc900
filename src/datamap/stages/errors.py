"""datamap errors: rank a run's training examples by how likely their label is wrong -> RUN/label_issues.parquet.

Scores come from the recorded dynamics (:mod:`datamap.core.label_errors`): low confidence, AUM, EL2N,
forgetfulness, their rank mean, and optionally cleanlab's confident learning
(``cleanlab.filter.find_label_issues``) on the run's in-sample epoch-averaged probabilities or on
out-of-sample probabilities from ``datamap crossval`` (``--probs DIR/oof_probs.parquet``).

The flag is a cut, not a top-k: with threshold samples (``train --threshold-samples``) an AUM below
the 99th percentile of theirs; otherwise a negative AUM; with ``--method cleanlab``, cleanlab's own
mask. Threshold samples are listed in the file (``threshold_sample`` true, given label = their
original label) with no rank and no flag: their label was replaced by the fake class in training.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from datamap.core.label_errors import (CLASS_NORMALISED, COMBINED, METHODS, flag_by_aum, method_scores, rank,
                                      threshold_cut)
from datamap.core.metrics import compute_metrics
from datamap.core.probs import softmax
from datamap.errors import DatamapError, user_errors
from datamap.io import atomic
from datamap.io.readers import check_same_ids, read_parquet
from datamap.io.rundir import RunDir
from datamap.io.store import read_dynamics

CLEANLAB = "cleanlab"
#: ranking methods of ``--method``; the default is chosen in docs/results.md (label errors)
ALL_METHODS = (*METHODS, COMBINED, CLASS_NORMALISED, CLEANLAB)
DEFAULT_METHOD = "aum"


@dataclass
class LabelIssues:
    """What :func:`find_errors` wrote: the table (sorted by rank, threshold samples last) and how it was cut."""

    path: Path
    table: pd.DataFrame
    method: str
    cut: str  # "threshold_samples", "negative_aum" or "cleanlab"
    cut_value: float | None  # the AUM cut
    n_threshold: int


def mean_probs(logits: np.ndarray, n_classes: int) -> np.ndarray:
    """Epoch-averaged softmax over the first ``n_classes`` logits ((N, E, C) -> (N, n_classes)).

    A threshold-sample run's fake class (the last logit) is left out before the softmax, so these
    are probabilities over the real classes.
    """
    z = np.asarray(logits, dtype=np.float64)[..., :n_classes]
    return softmax(z, axis=-1).mean(axis=1)


def read_threshold_samples(rd: RunDir) -> pd.DataFrame | None:
    """``RUN/threshold_samples.parquet`` (id, label, label_name), or None for a run without them."""
    if not rd.threshold_samples.exists():
        return None
    frame = read_parquet(rd.threshold_samples, columns=["id", "label", "label_name"])
    frame["id"] = frame["id"].astype(str)
    return frame


def read_oof_probs(path: "str | os.PathLike", ids: np.ndarray, n_classes: int) -> np.ndarray:
    """Out-of-sample probabilities (``datamap crossval``'s ``oof_probs.parquet``: id, probs) in the order of ``ids``."""
    frame = read_parquet(path, columns=["id", "probs"])
    pos = pd.Index(frame["id"].astype(str))
    if pos.has_duplicates:
        raise DatamapError(f"{path}: duplicate id '{pos[pos.duplicated()][0]}'")
    where = pos.get_indexer(pd.Index(ids))
    if (where < 0).any():
        missing = ids[np.flatnonzero(where < 0)[0]]
        raise DatamapError(f"{path}: no probabilities for id '{missing}' of the run ({int((where < 0).sum())} missing)")
    rows = frame["probs"].to_numpy()[where]
    for i, row in enumerate(rows):  # ragged or scalar rows: name the first
        if row is None or np.ndim(row) != 1 or len(row) != n_classes:
            got = "a scalar" if row is not None and np.ndim(row) == 0 else f"{0 if row is None else len(row)} values"
            raise DatamapError(f"{path}: row of id '{ids[i]}' holds {got}; every row needs {n_classes} probabilities "
                               "(one per class of the run)")
    probs = np.stack(rows).astype(np.float64) if len(rows) else np.zeros((0, n_classes))
    bad = ~np.isfinite(probs).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DatamapError(f"{path}: non-finite probability (NaN or infinite) for id '{ids[i]}' "
                           f"({int(bad.sum())} such rows)")
    return probs


def cleanlab_scores(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cleanlab's issue mask (``find_label_issues``, default ``prune_by_noise_rate``) and a score that
    ranks its issues first, each group by low self-confidence (the probability of the given label)."""
    try:
        from cleanlab.filter import find_label_issues
    except ImportError:
        raise DatamapError("--method cleanlab: cleanlab is not installed (pip install 'datamap[cleanlab]')") from None
    with user_errors("cleanlab"):
        issues = np.asarray(find_label_issues(labels, probs, n_jobs=1), dtype=bool)
    self_conf = probs[np.arange(len(labels)), labels]
    return issues, issues.astype(np.float64) + (1.0 - self_conf)


def find_errors(
    run: "str | os.PathLike",
    *,
    method: str = DEFAULT_METHOD,
    probs: "str | os.PathLike | None" = None,
    percentile: float = 99.0,
    overwrite: bool = False,
) -> LabelIssues:
    """Score, rank and flag every training example of ``run``; write ``RUN/label_issues.parquet``.

    Parameters
    ----------
    run : path
        A complete run directory (``dynamics.parquet``, ``data.parquet``, ``labels.json``).
    method : str, default "aum"
        The ranking: one of ``confidence``, ``aum``, ``el2n``, ``forgetfulness``, ``rank_mean``,
        ``cleanlab``. Every method's score is written whatever the ranking (cleanlab's only when asked).
    probs : path or None
        Out-of-sample probabilities for ``cleanlab`` (``datamap crossval``'s ``oof_probs.parquet``);
        None: the run's in-sample epoch-averaged probabilities.
    percentile : float, default 99
        Percentile of the threshold samples' AUM used as the cut (runs with threshold samples).
    overwrite : bool, default False
        Replace an existing ``label_issues.parquet``.
    """
    if method not in ALL_METHODS:
        raise DatamapError(f"--method: must be one of {', '.join(ALL_METHODS)}, got {method!r}")
    if probs is not None and method != CLEANLAB:
        raise DatamapError("--probs: only with --method cleanlab")
    rd = RunDir(run)
    rd.require(rd.dynamics, rd.data, hint="run `datamap train` first")
    atomic.refuse_existing(rd.label_issues, overwrite)
    dyn = read_dynamics(rd.dynamics)
    check_same_ids(dyn.ids, rd.data, str(rd.dynamics))
    names = rd.label_names() if rd.labels.exists() else [str(i) for i in range(dyn.n_classes)]
    if len(names) != dyn.n_classes:
        raise DatamapError(f"{rd.labels}: {len(names)} label names but the dynamics have {dyn.n_classes} classes")
    with user_errors(str(rd.dynamics)):
        m = compute_metrics(dyn.logits, dyn.gold)
    ids = np.asarray(dyn.ids, dtype=object).astype(str)

    thr_frame = read_threshold_samples(rd)
    is_thr = np.zeros(len(ids), dtype=bool)
    n_real = dyn.n_classes
    given = dyn.gold.copy()
    if thr_frame is not None:
        n_real = dyn.n_classes - 1
        is_thr = pd.Index(ids).isin(thr_frame["id"])
        if is_thr.sum() != len(thr_frame) or (dyn.gold[is_thr] != n_real).any():
            raise DatamapError(f"{rd.threshold_samples}: its ids are not the examples of class {n_real} "
                               f"('{names[-1]}') in {rd.dynamics.name}")
        given[is_thr] = thr_frame.set_index("id").loc[ids[is_thr], "label"].to_numpy()
    keep = ~is_thr
    avg = mean_probs(dyn.logits, n_real)
    predicted = avg.argmax(axis=1)

    with user_errors():
        scores = method_scores({k: m[k][keep] for k in METHODS}, given=dyn.gold[keep])
    if thr_frame is not None:
        with user_errors(str(rd.threshold_samples)):
            cut_value = threshold_cut(m["aum"][is_thr], percentile=percentile)
        cut = "threshold_samples"
    else:
        cut_value, cut = 0.0, "negative_aum"
    flags = flag_by_aum(m["aum"][keep], cut_value)
    if method == CLEANLAB:
        p = read_oof_probs(probs, ids[keep], n_real) if probs is not None else avg[keep]
        flags, scores[CLEANLAB] = cleanlab_scores(given[keep], p)
        cut, cut_value = CLEANLAB, None
    ranks = rank(scores[method])

    n = len(ids)
    rank_col = pd.array(np.zeros(n, dtype=np.int64), dtype="Int64")
    rank_col[keep] = ranks
    rank_col[is_thr] = pd.NA
    flag_col = np.zeros(n, dtype=bool)
    flag_col[keep] = flags
    name_arr = np.asarray(names, dtype=object)
    table = pd.DataFrame({
        "id": ids, "rank": rank_col, "flag": flag_col, "threshold_sample": is_thr,
        "given_label": name_arr[given], "given_label_id": given,
        "predicted_label": name_arr[predicted], "predicted_label_id": predicted,
    })
    for name, s in scores.items():
        col = np.full(n, np.nan)
        col[keep] = s
        table[f"score_{name}"] = col
    table["_order"] = np.where(keep, table["rank"].fillna(0).to_numpy(dtype=np.int64), n + np.arange(n))
    table = table.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)

    import pyarrow as pa

    arrow = pa.Table.from_pandas(table, preserve_index=False)
    meta = {"method": method, "cut": cut, "cut_value": cut_value, "percentile": percentile if cut == "threshold_samples" else None,
            "probs": str(probs) if probs is not None else ("in-sample" if method == CLEANLAB else None),
            "n_flagged": int(flag_col.sum()), "n_threshold_samples": int(is_thr.sum())}
    arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}), b"datamap": json.dumps(meta).encode()})
    atomic.write_table(rd.label_issues, arrow)
    return LabelIssues(path=rd.label_issues, table=table, method=method, cut=cut, cut_value=cut_value,
                       n_threshold=int(is_thr.sum()))


def read_label_issues(run: "str | os.PathLike") -> pd.DataFrame:
    """``RUN/label_issues.parquet`` as written by :func:`find_errors` (sorted by rank)."""
    rd = RunDir(run)
    rd.require(rd.label_issues, hint="run `datamap errors` first")
    return read_parquet(rd.label_issues)


def with_texts(run: "str | os.PathLike", table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the run's ``text`` (and ``text_pair``) joined by id."""
    data = read_parquet(RunDir(run).data)
    cols = [c for c in ("text", "text_pair") if c in data.columns]
    return table.merge(data[["id", *cols]].astype({"id": str}), on="id", how="left")
