"""datamap errors: rank a run's training examples by how likely their label is wrong -> RUN/label_issues.parquet.

Scores come from the recorded dynamics (:mod:`datamap.core.label_errors`): low confidence, AUM, EL2N,
forgetfulness, their rank mean, and optionally cleanlab's confident learning
(``cleanlab.filter.find_label_issues``) on the run's in-sample epoch-averaged probabilities or on
out-of-sample probabilities from ``datamap crossval`` (``--probs DIR/oof_probs.parquet``).

The flag is a cut (``--cut``, :mod:`datamap.core.cuts`): ``auto`` (default) is the threshold-sample
cut on a run trained with ``--threshold-samples`` (AUM below the 99th percentile of theirs), else
``count`` (as many of the top of the ranking as confident learning estimates issues); ``aum0`` is a
negative AUM, ``top:K`` and ``fraction:F`` the top of the ranking; with ``--method cleanlab`` and
``auto``, cleanlab's own mask. Every cut is capped at ``max_class_share`` of each given class, and
flagging is refused (unless ``force_flag``) when the model is at or near chance or the cut would flag
most of the examples. Threshold samples are listed in the file (``threshold_sample`` true, given
label = their original label) with no rank and no flag: their label was replaced by the fake class in training.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from datamap.core.cuts import (DEFAULT_CUT, MAX_CLASS_SHARE, Capped, cap_per_class, estimated_issue_count, parse_cut, rank_cut,
                               refusal, resolve_cut)
from datamap.core.health import Finding, check_chance
from datamap.core.label_errors import (CLASS_NORMALISED, COMBINED, DEFAULT_METHOD, METHODS, THRESHOLD_PERCENTILE, flag_by_aum, method_scores, rank,
                                      threshold_cut)
from datamap.core.metrics import compute_metrics
from datamap.core.probs import softmax
from datamap.errors import DatamapError, user_errors
from datamap.eval.sets import SAME_AS_TRAIN
from datamap.io import atomic
from datamap.io.readers import check_same_ids, read_parquet, read_scores
from datamap.io.rundir import RunDir, refuse_sft
from datamap.io.store import read_dynamics

CLEANLAB = "cleanlab"
#: ranking methods of ``--method``; the default is chosen in docs/results.md (label errors)
ALL_METHODS = (*METHODS, COMBINED, CLASS_NORMALISED, CLEANLAB)


@dataclass
class LabelIssues:
    """What :func:`find_errors` wrote: the table (sorted by rank, threshold samples last) and how it was cut."""

    path: Path
    table: pd.DataFrame
    method: str
    cut: str  # "threshold_samples", "negative_aum", "cleanlab", "count", "top:K" or "fraction:F"
    cut_value: float | None  # the AUM cut
    n_threshold: int
    capped: list[Capped] = field(default_factory=list)  # classes where --max-class-share bound
    estimated: int | None = None  # confident learning's estimated number of issues (cut count)
    forced: str | None = None  # the refusal overridden by force_flag


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
    percentile: float = THRESHOLD_PERCENTILE,
    cut: str = DEFAULT_CUT,
    max_class_share: float = MAX_CLASS_SHARE,
    force_flag: bool = False,
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
    cut : str, default "auto"
        ``auto``, ``aum0``, ``threshold``, ``count``, ``top:K`` or ``fraction:F`` (:mod:`datamap.core.cuts`).
    max_class_share : float, default 0.5
        Never flag more than this share of the examples given one class (the highest-ranked stay).
    force_flag : bool, default False
        Flag even when the model is at or near chance or the cut would flag most examples.
    overwrite : bool, default False
        Replace an existing ``label_issues.parquet``.
    """
    try:
        cut_spec = parse_cut(cut)
    except ValueError as exc:
        raise DatamapError(f"--cut: {exc}") from None
    if not 0 <= max_class_share <= 1:
        raise DatamapError(f"--max-class-share: must be in [0, 1], got {max_class_share!r}")
    if method not in ALL_METHODS:
        raise DatamapError(f"--method: must be one of {', '.join(ALL_METHODS)}, got {method!r}")
    if probs is not None and method != CLEANLAB:
        raise DatamapError("--probs: only with --method cleanlab")
    rd = RunDir(run)
    refuse_sft(rd, "datamap errors (label errors)")
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
    auto = cut_spec.kind == "auto"
    cut_spec = resolve_cut(cut_spec, has_threshold_samples=thr_frame is not None)
    if method == CLEANLAB:
        p = read_oof_probs(probs, ids[keep], n_real) if probs is not None else avg[keep]
        cl_flags, scores[CLEANLAB] = cleanlab_scores(given[keep], p)
    cut_value, estimated = None, None
    if method == CLEANLAB and auto:
        flags, cut_name = cl_flags, CLEANLAB
    elif cut_spec.kind == "threshold":
        if thr_frame is None:
            raise DatamapError(f"--cut threshold: {rd.root} was trained without threshold samples "
                               "(datamap train --threshold-samples)")
        with user_errors(str(rd.threshold_samples)):
            cut_value = threshold_cut(m["aum"][is_thr], percentile=percentile)
        flags, cut_name = flag_by_aum(m["aum"][keep], cut_value), "threshold_samples"
    elif cut_spec.kind == "aum0":
        cut_value = 0.0
        flags, cut_name = flag_by_aum(m["aum"][keep], cut_value), "negative_aum"
    else:
        if cut_spec.kind == "count":
            estimated = estimated_issue_count(avg[keep], dyn.gold[keep])
        flags, cut_name = rank_cut(cut_spec, scores[method], estimated=estimated), str(cut_spec)
    why = refusal(chance_findings(rd, dyn, keep, n_real), int(flags.sum()), int(keep.sum()))
    if why and not force_flag:
        raise DatamapError(f"errors: refusing to flag: {why}; pass --force-flag to flag anyway")
    flags, capped = cap_per_class(flags, scores[method], dyn.gold[keep], max_share=max_class_share)
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

    cut = cut_name
    meta = {"method": method, "cut": cut, "cut_value": cut_value, "percentile": percentile if cut == "threshold_samples" else None,
            "estimated_issues": estimated, "max_class_share": max_class_share, "forced": why if force_flag else None,
            "capped": [{"label": names[c.label], "n": c.n, "before": c.before, "after": c.after} for c in capped],
            "probs": str(probs) if probs is not None else ("in-sample" if method == CLEANLAB else None),
            "n_flagged": int(flag_col.sum()), "n_threshold_samples": int(is_thr.sum())}
    rd.write_label_issues(table, meta)
    return LabelIssues(path=rd.label_issues, table=table, method=method, cut=cut, cut_value=cut_value,
                       n_threshold=int(is_thr.sum()), capped=capped, estimated=estimated,
                       forced=why if force_flag else None)


def chance_findings(rd: RunDir, dyn, keep: np.ndarray, n_real: int) -> list[Finding]:
    """:func:`datamap.core.health.check_chance` on each held-out ``eval/*.json`` of the run (accuracy and the
    gold counts of its confusion matrix) and on the training set (the last recorded epoch's predictions)."""
    found = []
    for f in sorted(rd.eval_dir.glob("*.json")) if rd.eval_dir.is_dir() else []:
        if f.stem.endswith(SAME_AS_TRAIN):
            continue
        sc = read_scores(f)
        acc, conf = sc.get("accuracy"), sc.get("confusion")
        if isinstance(acc, (int, float)) and isinstance(conf, list) and conf:
            counts = [sum(int(v) for v in row) for row in conf]
            if sum(counts):
                found.append(check_chance(float(acc), counts, what=f"evaluation set {f.stem}"))
    gold = dyn.gold[keep]
    if len(gold):
        pred = np.asarray(dyn.logits)[keep, -1, :n_real].argmax(axis=1)
        found.append(check_chance(float(np.mean(pred == gold)), np.bincount(gold, minlength=n_real),
                                  what="training set (last epoch's predictions)"))
    return found


def describe_cut(res: LabelIssues, percentile: float = THRESHOLD_PERCENTILE) -> str:
    """The cut of ``res`` in words, for the command's summary line."""
    if res.cut == "threshold_samples":
        return f"AUM < {res.cut_value:.4f}, p{percentile:g} of the {res.n_threshold} threshold samples' AUM"
    if res.cut == "count":
        return f"count: the top {res.estimated} = confident learning's estimated number of issues"
    return {"negative_aum": "AUM < 0", "cleanlab": "cleanlab find_label_issues"}.get(res.cut, res.cut)


def read_label_issues(run: "str | os.PathLike") -> pd.DataFrame:
    """``RUN/label_issues.parquet`` as written by :func:`find_errors` (sorted by rank)."""
    return RunDir(run).read_label_issues()[0]


def with_texts(run: "str | os.PathLike", table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the run's ``text`` (and ``text_pair``) joined by id."""
    data = read_parquet(RunDir(run).data)
    cols = [c for c in ("text", "text_pair") if c in data.columns]
    return table.merge(data[["id", *cols]].astype({"id": str}), on="id", how="left")
