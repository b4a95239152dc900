"""Classification scores from logits (or probabilities) and gold labels. NumPy only.

The dict returned by :func:`classification_scores` is what ``eval/<set>.json`` holds.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from datamap.core.checks import check_int
from datamap.core.probs import log_softmax, looks_like_probabilities, softmax
from datamap.errors import DatamapError, user_errors


def expected_calibration_error(probs: np.ndarray, gold: np.ndarray, n_bins: int = 15) -> float:
    """Expected calibration error with equal-width bins on the largest class probability.

    Parameters
    ----------
    probs : np.ndarray, shape (n, k)
        Class probabilities (rows sum to 1).
    gold : np.ndarray of int, shape (n,)
        Gold class ids.
    n_bins : int, default 15
        Number of equal-width bins over [0, 1]. Bin ``b`` holds confidences in
        ``(b / n_bins, (b + 1) / n_bins]``; a confidence of exactly 0 goes to the first bin.

    Returns
    -------
    float
        ``sum_b (|B_b| / n) * |accuracy(B_b) - mean confidence(B_b)|`` (Guo et al. 2017), where the
        confidence of an example is its largest class probability and it is correct when that
        class (the first one on ties) is the gold class. Empty bins contribute nothing.
    """
    probs = np.asarray(probs, dtype=np.float64)
    gold = np.asarray(gold)
    with user_errors():
        n_bins = check_int(n_bins, "n_bins", low=1)
    n = len(gold)
    if n == 0:
        return 0.0
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == gold).astype(np.float64)
    b = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    sum_conf = np.bincount(b, weights=conf, minlength=n_bins)
    sum_acc = np.bincount(b, weights=correct, minlength=n_bins)
    # |B| * |acc - conf| = |sum_acc - sum_conf|
    return float(np.abs(sum_acc - sum_conf).sum() / n)


def classification_scores(
    logits_or_probs: Any,
    gold: Any,
    label_names: Sequence[str],
    n_bins: int = 15,
    probs: bool | None = None,
) -> dict[str, Any]:
    """Accuracy, macro precision/recall/F1, per-class scores, confusion matrix and ECE.

    Parameters
    ----------
    logits_or_probs : array, shape (n, k)
        Model outputs. Treated as probabilities when ``probs=True``, or when ``probs=None``
        (default) and :func:`datamap.core.probs.looks_like_probabilities` says so (every entry in
        [0, 1], every row summing to 1 within ``PROB_SUM_TOL``); otherwise as logits
        and passed through a softmax.
    gold : array of int, shape (n,)
        Gold class ids in ``0 .. k-1``.
    label_names : sequence of str, length k
        Class names in id order.
    n_bins : int, default 15
        Bins of the expected calibration error (see :func:`expected_calibration_error`).
    probs : bool or None, default None
        Force the interpretation of ``logits_or_probs`` (see above).

    Returns
    -------
    dict
        ``accuracy``; ``precision_macro``, ``recall_macro``, ``f1_macro`` (unweighted means over
        all ``k`` classes); ``per_class`` = ``{name: {precision, recall, f1, support}}``;
        ``confusion`` (list of lists, row = gold class, column = predicted class); ``ece``;
        ``loss`` (mean cross-entropy, natural log); ``n``; ``label_names``.
        The prediction is the argmax (the first class on ties). A class that is never predicted
        has precision 0, a class with no gold examples has recall 0, and F1 is 0 when precision
        and recall are both 0 (scikit-learn's ``zero_division=0``); those zeros count in the
        macro means.
    """
    x = np.asarray(logits_or_probs, dtype=np.float64)
    gold = np.asarray(gold)
    names = [str(n) for n in label_names]
    if x.ndim != 2:
        raise DatamapError(f"logits must be a 2-d array (examples x classes), got shape {x.shape}")
    n, k = x.shape
    if k != len(names):
        raise DatamapError(f"logits have {k} classes but there are {len(names)} label names")
    if gold.ndim != 1 or len(gold) != n:
        raise DatamapError(f"gold has shape {gold.shape}, expected ({n},)")
    if n == 0:
        raise DatamapError("no examples to score")
    if not np.issubdtype(gold.dtype, np.integer):
        raise DatamapError(f"gold labels must be integers, got dtype {gold.dtype}")
    bad = (gold < 0) | (gold >= k)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DatamapError(f"gold label {int(gold[i])} at row {i} is not a class id in 0..{k - 1}")
    if not np.all(np.isfinite(x)):
        i = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0])
        raise DatamapError(f"non-finite logits at row {i}")

    if probs is None:
        probs = looks_like_probabilities(x)
    if probs:
        p = x
        logp = np.log(np.clip(x[np.arange(n), gold], 1e-12, None))
    else:
        p = softmax(x, axis=1)
        logp = log_softmax(x, axis=1)[np.arange(n), gold]

    pred = p.argmax(axis=1)
    confusion = np.bincount(gold * k + pred, minlength=k * k).reshape(k, k)
    tp = np.diag(confusion).astype(np.float64)
    pred_count = confusion.sum(axis=0).astype(np.float64)
    support = confusion.sum(axis=1)
    precision = np.divide(tp, pred_count, out=np.zeros(k), where=pred_count > 0)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(k), where=denom > 0)

    return {
        "accuracy": float(tp.sum() / n),
        "precision_macro": float(precision.mean()),
        "recall_macro": float(recall.mean()),
        "f1_macro": float(f1.mean()),
        "per_class": {
            names[c]: {
                "precision": float(precision[c]),
                "recall": float(recall[c]),
                "f1": float(f1[c]),
                "support": int(support[c]),
            }
            for c in range(k)
        },
        "confusion": confusion.astype(int).tolist(),
        "ece": expected_calibration_error(p, gold, n_bins),
        "loss": float(-logp.mean()),
        "n": int(n),
        "label_names": names,
    }
