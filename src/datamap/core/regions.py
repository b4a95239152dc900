"""Data-map regions: easy-to-learn, ambiguous, hard-to-learn.

Default rule (allenai/cartography's ranking): with ``k = fraction_count(fraction, N)``
(``floor(fraction * N)``, see :func:`datamap.core.checks.fraction_count`),

* ambiguous = the ``k`` examples of highest variability,
* hard      = the ``k`` examples of lowest confidence,
* easy      = the ``k`` examples of highest confidence,

and each example gets one label with precedence ambiguous > easy > hard; the rest are ``none``.
Ties are broken by position (stable sort), so the result is deterministic.
"""

from __future__ import annotations

import numpy as np

from datamap.core.checks import InputError, check_fraction, fraction_count

REGIONS = ("easy", "ambiguous", "hard")
#: Default size of each region ranking, as a fraction of the examples (allenai/cartography's 0.33).
REGION_FRACTION = 0.33
NONE = "none"


def top_k(values: np.ndarray, k: int, *, largest: bool = True) -> np.ndarray:
    """Indices of the ``k`` largest (or smallest) values, ties broken by position.

    Parameters
    ----------
    values : array of float, shape (N,)
        The values to rank; NaN ranks last either way.
    k : int
        How many indices to return; ``k <= 0`` gives none, ``k >= N`` all ``N``.
    largest : bool, default True
        Rank the largest values first (``False``: the smallest first).

    Returns
    -------
    np.ndarray of int64, shape (min(max(k, 0), N),)
        Positions in ``values``, best first.
    """
    values = np.asarray(values, dtype=np.float64)
    k = int(k)
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    key = -values if largest else values
    # NaN sorts last either way
    key = np.where(np.isnan(key), np.inf, key)
    return np.argsort(key, kind="stable")[:k].astype(np.int64)


def region_indices(
    confidence: np.ndarray, variability: np.ndarray, *, fraction: float = REGION_FRACTION
) -> dict[str, np.ndarray]:
    """The three allenai rankings, which may overlap.

    Parameters
    ----------
    confidence, variability : array of float, shape (N,)
        Per-example confidence and variability (see :mod:`datamap.core.metrics`).
    fraction : float, default 0.33
        Size of each ranking as a fraction of ``N``, in ``[0, 1]``: ``k = fraction_count(fraction, N)``.

    Returns
    -------
    dict with keys ``"easy"``, ``"ambiguous"``, ``"hard"`` -> np.ndarray of int64, shape (k,)
        easy: highest confidence first; ambiguous: highest variability first; hard: lowest
        confidence first. Ties by position.

    Raises
    ------
    ValueError
        If the arrays are not 1-d of one length, or ``fraction`` is not in ``[0, 1]``.
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    variability = np.asarray(variability, dtype=np.float64)
    if confidence.shape != variability.shape or confidence.ndim != 1:
        raise InputError("confidence and variability must be 1-d arrays of the same length")
    k = fraction_count(check_fraction(fraction, "fraction"), len(confidence))
    return {
        "easy": top_k(confidence, k, largest=True),
        "ambiguous": top_k(variability, k, largest=True),
        "hard": top_k(confidence, k, largest=False),
    }


def assign_regions(confidence: np.ndarray, variability: np.ndarray, *, fraction: float = REGION_FRACTION) -> np.ndarray:
    """One region per example, precedence ambiguous > easy > hard, else ``"none"``.

    Parameters
    ----------
    confidence, variability : array of float, shape (N,)
        Per-example confidence and variability.
    fraction : float, default 0.33
        Size of each ranking, as in :func:`region_indices`.

    Returns
    -------
    np.ndarray of object (str), shape (N,)
        ``"easy"``, ``"ambiguous"``, ``"hard"`` or ``"none"``.
    """
    idx = region_indices(confidence, variability, fraction=fraction)
    labels = np.full(len(np.asarray(confidence)), NONE, dtype=object)
    for name in ("hard", "easy", "ambiguous"):  # later assignments win
        labels[idx[name]] = name
    return labels
