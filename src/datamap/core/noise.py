"""Label noise injection with exact counts: the ground truth of label-error benchmarks.

Pure NumPy. Every function takes the true labels (class ids in ``[0, C)``) and returns
``(noisy labels, flipped mask)``; the same ``seed`` gives the same result.

========  ============================================================================================
uniform   ``floor(rate * N)`` examples, drawn uniformly without replacement, each get a class drawn
          uniformly among the ``C - 1`` other classes (symmetric noise)
pairs     ``floor(rate * N)`` examples, drawn uniformly among those whose class has a partner, each
          get the partner class: ``c -> (c + 1) mod C`` unless a mapping is given (asymmetric noise)
matrix    a row-stochastic ``C x C`` transition matrix ``T`` (``T[c, d]`` = probability that an
          example of class ``c`` is labelled ``d``): for every class ``c`` with ``n_c`` examples,
          exactly ``n_c * T[c, d]`` examples go to ``d``, rounded by largest remainder so that the
          counts of a row add up to ``n_c`` (ties broken by the lowest class id); which examples go
          where is drawn uniformly
========  ============================================================================================
"""

from __future__ import annotations

import numpy as np

from datamap.core.checks import InputError, check_fraction, check_int, fraction_count

__all__ = ["flip_labels", "flip_uniform", "flip_pairs", "flip_matrix", "flip_rates", "transition_counts"]

KINDS = ("uniform", "pairs", "matrix")


def _check_labels(labels, n_classes: int) -> np.ndarray:
    n_classes = check_int(n_classes, "n_classes", low=2)
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise InputError(f"labels must be one-dimensional, got shape {labels.shape}")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise InputError(f"labels must hold integer class ids, got dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    bad = np.flatnonzero((labels < 0) | (labels >= n_classes))
    if len(bad):
        raise InputError(f"label {int(labels[bad[0]])} at row {int(bad[0])} is outside [0, {n_classes})")
    return labels


def _count(rate: float, n: int) -> int:
    """``floor(rate * n)``: the project's one fraction -> count rule (:func:`fraction_count`)."""
    return fraction_count(check_fraction(rate, "rate"), n)


def flip_uniform(labels, n_classes: int, *, rate: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Flip exactly ``floor(rate * N)`` labels, each to a uniformly drawn other class.

    Parameters
    ----------
    labels : array of int, shape (N,)
        True class ids in ``[0, n_classes)``.
    n_classes : int
        Number of classes ``C >= 2``.
    rate : float
        Fraction of the examples to flip, in [0, 1].
    seed : int, default 0
        Seed of the draws.

    Returns
    -------
    (noisy, flipped) : int64 array (N,), bool array (N,)
    """
    labels = _check_labels(labels, n_classes)
    rng = np.random.default_rng(check_int(seed, "seed", low=0))
    k = _count(rate, len(labels))
    rows = rng.choice(len(labels), size=k, replace=False)
    shift = rng.integers(1, n_classes, size=k)  # 1..C-1: never the same class
    noisy = labels.copy()
    noisy[rows] = (labels[rows] + shift) % n_classes
    flipped = np.zeros(len(labels), dtype=bool)
    flipped[rows] = True
    return noisy, flipped


def partner_map(n_classes: int, mapping=None) -> np.ndarray:
    """The partner of each class: ``mapping`` (a dict or sequence, class -> class) or ``(c + 1) mod C``."""
    n_classes = check_int(n_classes, "n_classes", low=2)
    if mapping is None:
        return (np.arange(n_classes) + 1) % n_classes
    partner = np.arange(n_classes)
    items = mapping.items() if isinstance(mapping, dict) else enumerate(mapping)
    for src, dst in items:
        src = check_int(src, "mapping source class", low=0, high=n_classes - 1)
        partner[src] = check_int(dst, f"partner of class {src}", low=0, high=n_classes - 1)
    if (partner == np.arange(n_classes)).all():
        raise InputError("mapping sends every class to itself: nothing can be flipped")
    return partner


def flip_pairs(labels, n_classes: int, *, rate: float, mapping=None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Flip exactly ``floor(rate * N)`` labels to their class's partner (see :func:`partner_map`).

    Examples are drawn uniformly among those whose class has a partner other than itself; a
    ``rate`` asking for more flips than there are such examples is refused.
    """
    labels = _check_labels(labels, n_classes)
    partner = partner_map(n_classes, mapping)
    rng = np.random.default_rng(check_int(seed, "seed", low=0))
    k = _count(rate, len(labels))
    eligible = np.flatnonzero(partner[labels] != labels)
    if k > len(eligible):
        raise InputError(f"rate {rate:g} asks for {k} flips but only {len(eligible)} examples have a partner class")
    rows = rng.choice(eligible, size=k, replace=False)
    noisy = labels.copy()
    noisy[rows] = partner[labels[rows]]
    flipped = np.zeros(len(labels), dtype=bool)
    flipped[rows] = True
    return noisy, flipped


def check_matrix(matrix, n_classes: int) -> np.ndarray:
    """``matrix`` as a float64 ``C x C`` row-stochastic array (rows sum to 1 within 1e-6), else ValueError."""
    t = np.asarray(matrix, dtype=np.float64)
    if t.shape != (n_classes, n_classes):
        raise InputError(f"transition matrix must be {n_classes} x {n_classes}, got shape {t.shape}")
    if not np.isfinite(t).all() or (t < 0).any():
        r, c = np.argwhere(~np.isfinite(t) | (t < 0))[0]
        raise InputError(f"transition matrix entry [{r}, {c}] = {t[r, c]!r} is not a probability")
    sums = t.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1) > 1e-6)
    if len(bad):
        raise InputError(f"transition matrix row {int(bad[0])} sums to {sums[bad[0]]:g}, not 1")
    return t


def apportion(n: int, weights: np.ndarray) -> np.ndarray:
    """Integer counts adding up to ``n`` nearest ``n * weights`` (largest remainder, ties to the lowest index)."""
    exact = n * np.asarray(weights, dtype=np.float64)
    counts = np.floor(exact).astype(np.int64)
    left = n - int(counts.sum())
    if left > 0:
        order = np.lexsort((np.arange(len(exact)), -(exact - counts)))  # largest remainder first
        counts[order[:left]] += 1
    return counts


def flip_matrix(labels, n_classes: int, *, matrix, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Relabel class ``c``'s examples so that exactly ``apportion(n_c, T[c])[d]`` of them get class ``d``.

    The diagonal ``T[c, c]`` is the share that keeps its label.
    """
    labels = _check_labels(labels, n_classes)
    t = check_matrix(matrix, n_classes)
    rng = np.random.default_rng(check_int(seed, "seed", low=0))
    noisy = labels.copy()
    for c in range(n_classes):
        rows = np.flatnonzero(labels == c)
        targets = np.repeat(np.arange(n_classes), apportion(len(rows), t[c]))
        noisy[rows] = rng.permutation(targets)
    return noisy, noisy != labels


def flip_labels(labels, n_classes: int, *, kind: str, rate: float | None = None, matrix=None,
                mapping=None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Dispatch to :func:`flip_uniform`, :func:`flip_pairs` or :func:`flip_matrix` by ``kind``."""
    if kind not in KINDS:
        raise InputError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "matrix":
        if matrix is None:
            raise InputError("kind 'matrix' needs a transition matrix")
        if rate is not None:
            raise InputError("kind 'matrix' takes its rates from the matrix, not from rate")
        return flip_matrix(labels, n_classes, matrix=matrix, seed=seed)
    if matrix is not None:
        raise InputError(f"a transition matrix only applies to kind 'matrix', not {kind!r}")
    if rate is None:
        raise InputError(f"kind {kind!r} needs a rate")
    if kind == "pairs":
        return flip_pairs(labels, n_classes, rate=rate, mapping=mapping, seed=seed)
    if mapping is not None:
        raise InputError("a partner mapping only applies to kind 'pairs'")
    return flip_uniform(labels, n_classes, rate=rate, seed=seed)


def transition_counts(true, noisy, n_classes: int) -> np.ndarray:
    """``C x C`` counts: row = true class, column = noisy class."""
    true = _check_labels(true, n_classes)
    noisy = _check_labels(noisy, n_classes)
    if true.shape != noisy.shape:
        raise InputError(f"true and noisy labels differ in length: {len(true)} vs {len(noisy)}")
    return np.bincount(true * n_classes + noisy, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def flip_rates(true, noisy, n_classes: int) -> np.ndarray:
    """Fraction of each true class whose label was changed (NaN for a class with no examples)."""
    counts = transition_counts(true, noisy, n_classes)
    totals = counts.sum(axis=1)
    changed = totals - np.diag(counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, changed / np.maximum(totals, 1), np.nan)
