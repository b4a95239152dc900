"""Label-issue scores, rankings, cuts and the measures of how well a ranking finds known errors.

Pure NumPy. Every score is oriented the same way: **higher = more likely mislabeled**.

=============  ==================================================================================
confidence     ``1 - confidence`` (mean probability of the given label over epochs is low)
aum            ``-aum`` (area under the margin, Pleiss et al. 2020: the given label's logit
               stays below the largest other one)
el2n           ``el2n`` (mean L2 distance between the softmax and the one-hot given label)
forgetfulness  the number of forgetting events; ``inf`` (never learned) ranks first, and
               examples that were never forgotten tie at 0
rank_mean      the mean over those four methods of each example's rank fraction (average
               ranks of ties divided by N): a combination that needs no common scale
class_confidence
               ``1 - confidence / t[y]``, where ``t[y]`` is the mean confidence of the examples
               given the same label ``y`` (confident learning's per-class threshold, Northcutt
               et al. 2021, applied to the epoch-averaged probability): a class the model
               learns less well as a whole does not crowd the top of the ranking. Needs the
               given labels.
=============  ==================================================================================

Ranks are 1 = most likely wrong; ties keep the examples' order.

Cuts (the ``flag``):

- **threshold samples** (Pleiss et al. 2020): a random ``floor(N / (C + 1))`` of the examples were
  given a fake class ``C`` during training. Their AUM shows how an example whose label is certainly
  wrong behaves; an example whose AUM is below the 99th percentile of theirs is flagged.
- **negative margin** (without threshold samples): ``aum < 0``, the given label's logit was on
  average below another class's: the model, over training, preferred another label.
"""

from __future__ import annotations

import numpy as np

from datamap.core.checks import InputError, check_int, check_number

METHODS = ("confidence", "aum", "el2n", "forgetfulness")
#: The ranking used wherever one "most likely mislabeled" list is shown (``datamap errors``' default,
#: the report without label_issues.parquet); chosen by measurement in docs/results.md (label errors).
DEFAULT_METHOD = "aum"
#: The threshold-samples cut: flag AUM below this percentile of the threshold samples' AUM (Pleiss et al.)
THRESHOLD_PERCENTILE = 99.0
COMBINED = "rank_mean"
CLASS_NORMALISED = "class_confidence"


def class_confidence(confidence: np.ndarray, given: np.ndarray) -> np.ndarray:
    """``1 - confidence / t[given]``, ``t[c]`` the mean confidence of the examples whose given label is ``c``.

    A class whose mean confidence is 0 gives its examples the score 1 (nothing is known about them).
    """
    conf = np.asarray(confidence, dtype=np.float64)
    given = np.asarray(given)
    if given.shape != conf.shape:
        raise InputError(f"given labels have shape {given.shape}, expected {conf.shape}")
    if len(given) and (not np.issubdtype(given.dtype, np.integer) or given.min() < 0):
        raise InputError("given labels must be integers >= 0")
    if len(given) == 0:
        return np.zeros(0)
    sums = np.bincount(given, weights=conf)
    counts = np.bincount(given)
    t = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)[given]
    return 1.0 - np.divide(conf, t, out=np.zeros_like(conf), where=t > 0)


def method_scores(metrics: dict[str, np.ndarray], *, given: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """One float64 score per example for each method of :data:`METHODS` and :data:`COMBINED`, and
    :data:`CLASS_NORMALISED` when the given labels are passed.

    Parameters
    ----------
    metrics : dict of str -> array, shape (N,)
        At least ``confidence``, ``aum``, ``el2n`` and ``forgetfulness``
        (:func:`datamap.core.metrics.compute_metrics` gives them).
    given : array of int, shape (N,), optional
        The label each example was trained with (``class_confidence`` needs it).
    """
    missing = [k for k in METHODS if k not in metrics]
    if missing:
        raise InputError(f"metrics lack {', '.join(missing)}")
    n = len(np.asarray(metrics["aum"]))
    scores = {
        "confidence": 1.0 - np.asarray(metrics["confidence"], dtype=np.float64),
        "aum": -np.asarray(metrics["aum"], dtype=np.float64),
        "el2n": np.asarray(metrics["el2n"], dtype=np.float64),
        "forgetfulness": np.asarray(metrics["forgetfulness"], dtype=np.float64),
    }
    for name, s in scores.items():
        if s.shape != (n,):
            raise InputError(f"{name} has shape {s.shape}, expected ({n},)")
        if np.isnan(s).any():
            raise InputError(f"{name} is NaN at row {int(np.flatnonzero(np.isnan(s))[0])}")
    scores[COMBINED] = combine_ranks([scores[m] for m in METHODS])
    if given is not None:
        scores[CLASS_NORMALISED] = class_confidence(metrics["confidence"], given)
    return scores


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..N of ``x`` in increasing order, ties given the mean of their ranks (``inf`` allowed)."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="stable")
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    ends = np.r_[starts[1:], len(xs)]  # exclusive
    mean_rank = (starts + 1 + ends) / 2.0  # ranks starts+1 .. ends
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def combine_ranks(scores: list[np.ndarray]) -> np.ndarray:
    """Mean over ``scores`` of each example's rank fraction (average rank / N), higher = more suspicious."""
    if not scores:
        raise InputError("no scores to combine")
    n = len(scores[0])
    if n == 0:
        return np.zeros(0)
    return np.mean([average_ranks(s) / n for s in scores], axis=0)


def rank(score: np.ndarray) -> np.ndarray:
    """1 = highest score (most likely wrong) ... N; ties keep their order."""
    score = np.asarray(score, dtype=np.float64)
    order = np.argsort(-score, kind="stable")
    out = np.empty(len(score), dtype=np.int64)
    out[order] = np.arange(1, len(score) + 1)
    return out


def threshold_cut(threshold_aum: np.ndarray, *, percentile: float = THRESHOLD_PERCENTILE) -> float:
    """The AUM below which an example is flagged: the ``percentile`` of the threshold samples' AUM.

    ``np.percentile``'s linear interpolation between the two nearest threshold samples.
    """
    t = np.asarray(threshold_aum, dtype=np.float64)
    if t.ndim != 1 or len(t) == 0:
        raise InputError("need the AUM of at least one threshold sample")
    if not np.isfinite(t).all():
        raise InputError("threshold samples' AUM must be finite")
    percentile = check_number(percentile, "percentile", low=0, high=100)
    return float(np.percentile(t, percentile))


def flag_by_aum(aum: np.ndarray, cut: float = 0.0) -> np.ndarray:
    """``aum < cut``: the threshold-sample cut, or the negative-margin cut with ``cut = 0``."""
    return np.asarray(aum, dtype=np.float64) < float(cut)


# ----------------------------------------------------------------------------- measures against known errors
def _check_truth(score, truth) -> tuple[np.ndarray, np.ndarray]:
    score = np.asarray(score, dtype=np.float64)
    truth = np.asarray(truth, dtype=bool)
    if score.shape != truth.shape or score.ndim != 1:
        raise InputError(f"score and truth must be 1-D of the same length, got {score.shape} and {truth.shape}")
    return score, truth


def auroc(score, truth) -> float:
    """Area under the ROC curve of ``score`` for the positives ``truth`` (ties count one half); NaN
    when there are no positives or no negatives."""
    score, truth = _check_truth(score, truth)
    pos, neg = int(truth.sum()), int((~truth).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    r = average_ranks(score)
    return float((r[truth].sum() - pos * (pos + 1) / 2) / (pos * neg))


def average_precision(score, truth) -> float:
    """Mean over the positives of the precision at their rank (ranking by ``score``, stable ties)."""
    score, truth = _check_truth(score, truth)
    if not truth.any():
        return float("nan")
    hits = truth[np.argsort(-score, kind="stable")]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].mean())


def precision_at_k(score, truth, *, k: int | None = None) -> float:
    """Fraction of positives among the ``k`` highest scores (default: ``k`` = number of positives)."""
    score, truth = _check_truth(score, truth)
    k = int(truth.sum()) if k is None else check_int(k, "k", low=1, high=len(score))
    if k == 0:
        return float("nan")
    return float(truth[np.argsort(-score, kind="stable")[:k]].mean())


def threshold_count(n: int, n_classes: int) -> int:
    """``floor(N / (C + 1))``: the number of threshold samples for N examples of C classes."""
    return check_int(n, "n", low=0) // (check_int(n_classes, "n_classes", low=2) + 1)


#: second entropy word of the threshold-sample stream: the draw never coincides with another draw of the
#: same seed (``datamap noise --seed S`` flipping as many labels as there are threshold samples would
#: otherwise pick exactly the same rows, hiding every flipped example among the threshold samples)
THRESHOLD_STREAM = 0x7468726573


def pick_threshold_samples(n: int, n_classes: int, *, seed: int = 0) -> np.ndarray:
    """Sorted row numbers of the ``floor(N / (C + 1))`` examples that get the fake class ``C`` (seeded,
    from a stream of its own: see :data:`THRESHOLD_STREAM`)."""
    k = threshold_count(n, n_classes)
    rng = np.random.default_rng([check_int(seed, "seed", low=0), THRESHOLD_STREAM])
    return np.sort(rng.choice(n, size=k, replace=False))
