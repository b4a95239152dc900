"""Cuts: which of the ranked training examples to flag as mislabeled, and the safeguards on every cut.

Pure NumPy. A ranking orders the examples by a score (higher = more likely mislabeled,
:mod:`datamap.core.label_errors`); a cut turns it into a flag per example.

==============  ========================================================================================
``aum0``        ``aum < 0``: the given label's logit was on average below another class's
``threshold``   AUM below a percentile of the threshold samples' AUM (Pleiss et al. 2020; needs a run
                trained with threshold samples)
``count``       the top ``n`` of the ranking, ``n`` = the number of label issues confident learning
                estimates from the same epoch-averaged probabilities (:func:`estimated_issue_count`:
                the off-diagonal sum of the confident joint, Northcutt et al. 2021)
``top:K``       the top ``K`` of the ranking
``fraction:F``  the top ``floor(F * N)`` of the ranking (:func:`datamap.core.checks.fraction_count`)
``auto``        ``threshold`` when the run has threshold samples, else ``count`` (:func:`resolve_cut`):
                on rotten_tomatoes with 20 % uniform noise ``count`` flagged about as many examples as
                were flipped, at a higher precision than ``aum0`` (docs/results.md, "Acting on the ranking")
==============  ========================================================================================

Safeguards (:func:`cap_per_class`, :func:`refusal`):

- never flag more than ``max_class_share`` (default :data:`MAX_CLASS_SHARE`) of the examples given one
  class; the highest-ranked ones stay flagged, and the caller says where the cap bound;
- refuse to flag at all when the model is at or near chance (:func:`datamap.core.health.check_chance`)
  or when the cut would flag more than :data:`MOST_FLAGGED` of the examples (before the cap).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from datamap.core.checks import InputError, check_fraction, check_int, fraction_count
from datamap.core.health import Finding

CUTS = ("auto", "aum0", "threshold", "count", "top:K", "fraction:F")
#: ``datamap errors --cut``'s default (CLI, YAML ``errors.cut``, API)
DEFAULT_CUT = "auto"
#: never flag more than this share of the examples given one class (``--max-class-share``)
MAX_CLASS_SHARE = 0.5
#: the loss weight ``datamap weights`` gives a flagged example by default (every other example weighs 1)
FLAGGED_WEIGHT = 0.5
#: a cut that flags more than this share of all examples is refused (the ranking cannot be trusted)
MOST_FLAGGED = 0.5


@dataclass(frozen=True)
class Cut:
    """A parsed cut: ``kind`` in aum0, threshold, count, top, fraction, auto; ``value`` K or F."""

    kind: str
    value: float | int | None = None

    def __str__(self) -> str:
        return self.kind if self.value is None else f"{self.kind}:{self.value:g}"


def parse_cut(spec: str) -> Cut:
    """``auto``, ``aum0``, ``threshold``, ``count``, ``top:K`` (K >= 1) or ``fraction:F`` (F in (0, 1])."""
    text = str(spec).strip().lower()
    kind, _, arg = text.partition(":")
    if kind in ("auto", "aum0", "threshold", "count") and not arg:
        return Cut(kind)
    if kind == "top" and arg:
        try:
            k = int(arg)
        except ValueError:
            raise InputError(f"top:K needs an integer K, got {arg!r}") from None
        return Cut("top", check_int(k, "top:K", low=1))
    if kind == "fraction" and arg:
        try:
            f = float(arg)
        except ValueError:
            raise InputError(f"fraction:F needs a number F, got {arg!r}") from None
        return Cut("fraction", check_fraction(f, "fraction:F", low_inclusive=False))
    raise InputError(f"must be one of {', '.join(CUTS)}, got {spec!r}")


def resolve_cut(cut: Cut, *, has_threshold_samples: bool) -> Cut:
    """``auto`` -> ``threshold`` with threshold samples, else ``count``; any other cut unchanged."""
    if cut.kind != "auto":
        return cut
    return Cut("threshold" if has_threshold_samples else "count")


def estimated_issue_count(probs: np.ndarray, given: np.ndarray) -> int:
    """Confident learning's estimate of the number of label issues: the off-diagonal sum of the confident joint.

    ``t[j]`` is the mean probability of class ``j`` over the examples given ``j``. An example counts in
    the confident joint at (given ``i``, ``j``) where ``j`` is the most probable class among those whose
    probability reaches their threshold ``p[j] >= t[j]``; an example with no such class is not counted.
    The estimate is the number counted off the diagonal (cleanlab's ``num_label_issues`` with
    ``estimation_method="off_diagonal"``, without its calibration).

    Parameters
    ----------
    probs : array, shape (N, C)
        Predicted probabilities (rows sum to 1), e.g. epoch-averaged softmax.
    given : array of int, shape (N,)
        The labels trained on, in ``[0, C)``.
    """
    p = np.asarray(probs, dtype=np.float64)
    given = np.asarray(given)
    if p.ndim != 2 or given.shape != (len(p),):
        raise InputError(f"probs must be (N, C) and given (N,), got {p.shape} and {given.shape}")
    if len(p) == 0:
        return 0
    if not np.issubdtype(given.dtype, np.integer) or given.min() < 0 or given.max() >= p.shape[1]:
        raise InputError(f"given labels must be integers in [0, {p.shape[1]})")
    sums = np.zeros(p.shape[1])
    np.add.at(sums, given, p[np.arange(len(p)), given])
    counts = np.bincount(given, minlength=p.shape[1])
    t = np.divide(sums, counts, out=np.full(p.shape[1], np.inf), where=counts > 0)  # a class never given: no threshold met
    above = p >= t[None, :] - 1e-12
    masked = np.where(above, p, -np.inf)
    best = masked.argmax(axis=1)
    counted = above.any(axis=1)
    return int(np.sum(counted & (best != given)))


def top_of_ranking(score: np.ndarray, k: int) -> np.ndarray:
    """Flag the ``k`` highest scores (ties keep the examples' order, as :func:`datamap.core.label_errors.rank`)."""
    score = np.asarray(score, dtype=np.float64)
    k = min(check_int(k, "k", low=0), len(score))
    flags = np.zeros(len(score), dtype=bool)
    flags[np.argsort(-score, kind="stable")[:k]] = True
    return flags


def rank_cut(cut: Cut, score: np.ndarray, *, estimated: int | None = None) -> np.ndarray:
    """The flags of a cut taken from the top of the ranking: ``count`` (needs ``estimated``), ``top``, ``fraction``."""
    n = len(score)
    if cut.kind == "count":
        if estimated is None:
            raise InputError("the count cut needs the estimated number of issues")
        k = estimated
    elif cut.kind == "top":
        k = int(cut.value)
    elif cut.kind == "fraction":
        k = fraction_count(float(cut.value), n)
    else:
        raise InputError(f"cut {cut} is not taken from the ranking")
    return top_of_ranking(score, min(k, n))


@dataclass(frozen=True)
class Capped:
    """Where :func:`cap_per_class` bound: class id, examples given it, flagged before and after the cap."""

    label: int
    n: int
    before: int
    after: int


def cap_per_class(flags: np.ndarray, score: np.ndarray, given: np.ndarray, *,
                  max_share: float = MAX_CLASS_SHARE) -> tuple[np.ndarray, list[Capped]]:
    """Keep at most ``floor(max_share * n_c)`` flags among the ``n_c`` examples given class ``c``.

    The highest-scored flagged examples of a class stay flagged (stable ties). Returns the new flags
    and one :class:`Capped` per class where the cap removed flags.
    """
    flags = np.asarray(flags, dtype=bool).copy()
    score = np.asarray(score, dtype=np.float64)
    given = np.asarray(given)
    if not (flags.shape == score.shape == given.shape) or flags.ndim != 1:
        raise InputError(f"flags, score and given must be 1-D of one length, got {flags.shape}, {score.shape}, {given.shape}")
    max_share = check_fraction(max_share, "max_class_share")
    capped = []
    for c in np.unique(given):
        members = np.flatnonzero(given == c)
        limit = fraction_count(max_share, len(members))
        flagged = members[flags[members]]
        if len(flagged) <= limit:
            continue
        order = flagged[np.argsort(-score[flagged], kind="stable")]
        flags[order[limit:]] = False
        capped.append(Capped(int(c), len(members), len(flagged), limit))
    return flags, capped


def refusal(chance: Sequence[Finding], n_flagged: int, n: int, *, most: float = MOST_FLAGGED) -> str | None:
    """Why flagging should be refused, in one phrase, or None.

    Parameters
    ----------
    chance : sequence of Finding
        :func:`datamap.core.health.check_chance` findings of the run (held-out sets, training set);
        any that warns refuses.
    n_flagged, n : int
        Examples the cut flags (before the per-class cap) and examples ranked.
    most : float, default :data:`MOST_FLAGGED`
        Refuse when more than this share of the examples would be flagged.
    """
    for f in chance:
        if not f.ok:
            return f"the model is at or near chance ({f.message})"
    if n and n_flagged > most * n:
        return (f"the cut would flag {n_flagged} of {n} examples (more than {most:.0%}): "
                "a ranking that flags most of the data is not finding label errors")
    return None
