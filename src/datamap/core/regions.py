"""Data-map regions: easy-to-learn, ambiguous, hard-to-learn.

Default rule (allenai/cartography's ranking): with ``k = int(fraction * N)``,

* ambiguous = the ``k`` examples of highest variability,
* hard      = the ``k`` examples of lowest confidence,
* easy      = the ``k`` examples of highest confidence,

and each example gets one label with precedence ambiguous > easy > hard; the rest are ``none``.
Ties are broken by position (stable sort), so the result is deterministic.
"""

from __future__ import annotations

import numpy as np

REGIONS = ("easy", "ambiguous", "hard")
NONE = "none"


def top_k(values: np.ndarray, k: int, largest: bool = True) -> np.ndarray:
    """Indices of the ``k`` largest (or smallest) values, ties broken by position."""
    values = np.asarray(values, dtype=np.float64)
    k = int(k)
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    key = -values if largest else values
    # NaN sorts last either way
    key = np.where(np.isnan(key), np.inf, key)
    return np.argsort(key, kind="stable")[:k].astype(np.int64)


def region_indices(confidence: np.ndarray, variability: np.ndarray, fraction: float = 0.33) -> dict[str, np.ndarray]:
    """The three allenai rankings (they may overlap): ``{"easy", "ambiguous", "hard"}`` -> indices."""
    confidence = np.asarray(confidence, dtype=np.float64)
    variability = np.asarray(variability, dtype=np.float64)
    if confidence.shape != variability.shape or confidence.ndim != 1:
        raise ValueError("confidence and variability must be 1-d arrays of the same length")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    k = int(fraction * len(confidence))
    return {
        "easy": top_k(confidence, k, largest=True),
        "ambiguous": top_k(variability, k, largest=True),
        "hard": top_k(confidence, k, largest=False),
    }


def assign_regions(confidence: np.ndarray, variability: np.ndarray, fraction: float = 0.33) -> np.ndarray:
    """One label per example (object array of str), precedence ambiguous > easy > hard, else ``none``."""
    idx = region_indices(confidence, variability, fraction)
    labels = np.full(len(np.asarray(confidence)), NONE, dtype=object)
    for name in ("hard", "easy", "ambiguous"):  # later assignments win
        labels[idx[name]] = name
    return labels
