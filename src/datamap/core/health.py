"""Health checks: the conditions under which a data map or a selection means little.

Pure functions over class counts and accuracies; the report (:mod:`datamap.views.report`), ``datamap
select`` and ``datamap train`` call them and show what they find before anything else. The limits
are stated here once:

- a model is **at or near chance** when its accuracy is below the majority-class share of the same
  examples plus :data:`CHANCE_MARGIN` (what always predicting the largest class scores, plus 5 points);
- variability needs epochs: fewer than :data:`MIN_EPOCHS` (3) recorded epochs give one or two
  probabilities per example, so the spread (variability) and the region ranking are noise;
- classes are **heavily imbalanced** when the largest is more than :data:`IMBALANCE_RATIO` (3) times
  the smallest (or a class is absent);
- an sft (causal-LM) model **has learnt (next to) nothing** when its mean token loss is above
  :data:`UNIGRAM_SHARE` (0.95) of the unigram baseline's: the loss of predicting every target token by its
  frequency among the training targets (the language-model analogue of always predicting the largest class);
- a selection is **unbalanced** when its largest/smallest ratio is more than :data:`SELECTION_FACTOR`
  (1.5) times that of the training set it was drawn from (on a balanced set: beyond 60/40), or when
  it lacks a class the training set has.

Each check returns a :class:`Finding` (``ok`` False = a warning) whose ``message`` is one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from datamap.core.checks import InputError

#: accuracy below majority share + this margin counts as "at or near chance"
CHANCE_MARGIN = 0.05
#: fewer recorded epochs than this: variability (and the ambiguous region) is not meaningful
MIN_EPOCHS = 3
#: an sft model's token loss above this share of the unigram baseline's counts as "learnt (next to) nothing"
UNIGRAM_SHARE = 0.95
#: largest / smallest class above this ratio (or an empty class): heavy imbalance
IMBALANCE_RATIO = 3.0
#: a selection's largest / smallest ratio above this many times the training set's: unbalanced selection
SELECTION_FACTOR = 1.5


@dataclass(frozen=True)
class Finding:
    """The result of one health check.

    Attributes
    ----------
    check : str
        Short name: ``chance``, ``epochs``, ``imbalance`` or ``selection``.
    ok : bool
        False when the check warns.
    message : str
        One line saying what was measured and against which limit.
    """

    check: str
    ok: bool
    message: str

    def to_dict(self) -> dict:
        return {"check": self.check, "ok": self.ok, "message": self.message}


def imbalance_ratio(counts: Sequence[int]) -> float:
    """Largest over smallest count (``inf`` when a class has none); 1.0 for a single class.

    Parameters
    ----------
    counts : sequence of int
        Examples per class (every class of the label map, including empty ones), non-negative.
    """
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 1 or len(c) == 0:
        raise InputError("class counts must be a non-empty 1-D sequence")
    if np.any(c < 0):
        raise InputError(f"class counts must be >= 0, got {c.tolist()}")
    if len(c) == 1:
        return 1.0
    return float("inf") if c.min() == 0 else float(c.max() / c.min())


def _shares(counts: Sequence[int], names: Sequence[str] | None) -> str:
    c = np.asarray(counts, dtype=np.int64)
    total = max(int(c.sum()), 1)
    labels = [str(n) for n in names] if names is not None else [str(i) for i in range(len(c))]
    return ", ".join(f"{n} {int(v):,} ({100 * v / total:.0f}%)" for n, v in zip(labels, c))


def check_chance(accuracy: float, counts: Sequence[int], *, what: str, margin: float = CHANCE_MARGIN) -> Finding:
    """Is ``accuracy`` at or near chance on examples with these gold class ``counts``?

    Parameters
    ----------
    accuracy : float
        Accuracy in [0, 1] on those examples.
    counts : sequence of int
        Gold examples per class of the same examples.
    what : str
        What was scored, for the message (e.g. ``"validation"``, ``"training set (last epoch)"``).
    margin : float, default :data:`CHANCE_MARGIN`
        Accuracy below ``majority share + margin`` warns.
    """
    c = np.asarray(counts, dtype=np.float64)
    if c.sum() <= 0:
        raise InputError(f"{what}: no examples to judge the accuracy by")
    majority = float(c.max() / c.sum())
    limit = round(majority + margin, 9)  # 0.8 + 0.05 is 0.8500000000000001 in floats
    near = bool(accuracy < limit)
    verdict = "at or near chance" if near else "above chance"
    return Finding("chance", not near,
                   f"{what}: accuracy {accuracy:.3f} is {verdict} (majority class share {majority:.3f}; "
                   f"warns below {limit:.3f})")


def check_unigram(loss: float, baseline: float, *, what: str, share: float = UNIGRAM_SHARE) -> Finding:
    """Is an sft model's mean token ``loss`` at or near the unigram ``baseline`` (``loss > share * baseline``)?

    Parameters
    ----------
    loss : float
        Mean token negative log-likelihood (natural log) on those examples.
    baseline : float
        The same mean for the unigram model of the training targets (:func:`datamap.training.sft.unigram_loss`).
    what : str
        What was scored, for the message.
    share : float, default :data:`UNIGRAM_SHARE`
        A loss above ``share * baseline`` warns.
    """
    if not (np.isfinite(loss) and np.isfinite(baseline)) or baseline <= 0:
        raise InputError(f"{what}: token loss {loss} and unigram baseline {baseline} must be finite, the baseline > 0")
    limit = share * baseline
    near = bool(loss > limit)
    verdict = "at or near the unigram baseline: the model has learnt (next to) nothing" if near else "below the unigram baseline"
    return Finding("chance", not near,
                   f"{what}: token loss {loss:.3f} is {verdict} ({baseline:.3f}: every target token predicted by its "
                   f"frequency in the training targets; warns above {limit:.3f} = {share:g} x baseline)")


def check_epochs(epochs: int, *, minimum: int = MIN_EPOCHS, unit: str = "epoch") -> Finding:
    """Are ``epochs`` recorded epochs (``unit``: or record points) enough for variability to mean anything
    (``epochs >= minimum``)?"""
    if int(epochs) < minimum:
        return Finding("epochs", False,
                       f"{epochs} {unit}{'s' if epochs != 1 else ''} recorded: variability needs at least {minimum} "
                       "(with fewer it is the spread of one or two values per example), so the ambiguous region is noise")
    return Finding("epochs", True, f"{epochs} {unit}s recorded (at least {minimum} needed for variability)")


def check_imbalance(counts: Sequence[int], names: Sequence[str] | None = None, *, what: str = "training set",
                    ratio: float = IMBALANCE_RATIO, check: str = "imbalance") -> Finding:
    """Warn when the largest class of ``counts`` is more than ``ratio`` times the smallest (or one is empty).

    Parameters
    ----------
    counts : sequence of int
        Examples per class, every class of the label map in id order.
    names : sequence of str or None, default None
        Class names (for the message).
    what : str, default "training set"
        What was counted, for the message.
    ratio : float, default :data:`IMBALANCE_RATIO`
        The limit on largest / smallest.
    check : str, default "imbalance"
        The finding's name (``"selection"`` for selections).
    """
    r = imbalance_ratio(counts)
    shown = "inf" if np.isinf(r) else f"{r:.1f}"
    bad = bool(r > ratio)
    tail = f"; warns above {ratio:g}" if bad else f" (at most {ratio:g})"
    return Finding(check, not bad, f"{what}: {_shares(counts, names)}; largest/smallest {shown}{tail}")


def check_selection(counts: Sequence[int], train_counts: Sequence[int], names: Sequence[str] | None = None, *,
                    what: str = "selection", factor: float = SELECTION_FACTOR) -> Finding:
    """Warn when a selection is more unbalanced than the training set it came from.

    Parameters
    ----------
    counts, train_counts : sequence of int
        Examples per class (same classes, same order) of the selection and of the training set.
    names : sequence of str or None
        Class names (for the message).
    what : str
        The selection, for the message.
    factor : float, default :data:`SELECTION_FACTOR`
        The selection warns when its largest/smallest ratio exceeds ``factor`` times the training
        set's (a class the training set has but the selection lacks always warns).
    """
    if len(counts) != len(train_counts):
        raise InputError(f"{what}: {len(counts)} class counts but the training set has {len(train_counts)}")
    present = np.asarray(train_counts) > 0
    sel = np.asarray(counts)[present]
    r, base = imbalance_ratio(sel), imbalance_ratio(np.asarray(train_counts)[present])
    limit = factor * base
    shown = "inf" if np.isinf(r) else f"{r:.2f}"
    bad = bool(r > limit + 1e-9)
    return Finding("selection", not bad,
                   f"{what}: {_shares(counts, names)}; largest/smallest {shown}, training set {base:.2f} "
                   f"({'warns above' if bad else 'at most'} {limit:.2f} = {factor:g} x the training set's)")


def health_checks(
    *,
    gold: np.ndarray,
    pred: np.ndarray,
    n_classes: int,
    epochs: int,
    names: Sequence[str] | None = None,
    evals: Mapping[str, tuple[float, Sequence[int]]] | None = None,
    selections: Mapping[str, Sequence[int]] | None = None,
) -> list[Finding]:
    """Every health check of a run, in the order the report shows them.

    Parameters
    ----------
    gold, pred : array of int, shape (n,)
        Gold classes and the predictions of the metrics' last epoch (``metrics.parquet``).
    n_classes : int
        Number of classes of the label map.
    epochs : int
        Epochs the metrics used.
    names : sequence of str or None
        Class names in id order.
    evals : mapping of str -> (accuracy, gold counts per class), optional
        Held-out evaluation sets of the run.
    selections : mapping of str -> counts per class, optional
        The run's selections, each with its examples per class (all ``n_classes``, in id order).
    """
    gold = np.asarray(gold, dtype=np.int64)
    pred = np.asarray(pred, dtype=np.int64)
    if gold.shape != pred.shape or gold.ndim != 1:
        raise InputError(f"gold and pred must be 1-D of the same length, got {gold.shape} and {pred.shape}")
    counts = np.bincount(gold, minlength=n_classes)
    found = []
    for name, (acc, ecounts) in (evals or {}).items():
        found.append(check_chance(acc, ecounts, what=f"evaluation set {name}"))
    if len(gold):
        found.append(check_chance(float(np.mean(pred == gold)), counts, what="training set (predictions of the last epoch used)"))
    found.append(check_epochs(epochs))
    found.append(check_imbalance(counts, names, what="training set"))
    for name, scounts in (selections or {}).items():
        found.append(check_selection(scounts, counts, names, what=f"selection {name}"))
    return found
