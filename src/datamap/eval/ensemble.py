"""Ensembles: a weighted mean of several models' logits on the same examples, in the same order."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from datamap.core.checks import check_number
from datamap.errors import DatamapError, user_errors

_SUM_TOL = 1e-6


def check_weights(weights: Any, n_models: int) -> np.ndarray:
    """Validate ensemble weights and return them as a float64 array.

    Parameters
    ----------
    weights : sequence of float
        One weight per model.
    n_models : int
        Number of models.

    Raises :class:`DatamapError` unless there is one finite, non-negative weight per model and
    they sum to 1 within 1e-6.
    """
    try:
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise DatamapError(f"weights must be numbers, got {weights!r}") from None
    if len(w) != n_models:
        raise DatamapError(f"{len(w)} weights given for {n_models} models")
    with user_errors():
        for i, wi in enumerate(w.tolist()):
            check_number(wi, f"weights[{i}]", low=0.0)
    if abs(w.sum() - 1.0) > _SUM_TOL:
        raise DatamapError(f"weights must sum to 1, got {w.tolist()} (sum {w.sum():g})")
    return w


def parse_weights(text: str | None, n_models: int) -> np.ndarray:
    """Parse ``"0.5,0.5"`` into validated weights (see :func:`check_weights`).

    Parameters
    ----------
    text : str or None
        Comma-separated weights, one per model; ``None`` or ``""`` gives equal weights ``1/n``.
    n_models : int
        Number of models.
    """
    if n_models < 1:
        raise DatamapError("an ensemble needs at least one model")
    if text is None or not str(text).strip():
        return np.full(n_models, 1.0 / n_models)
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise DatamapError(f"--weights {text!r}: expected comma-separated numbers like '0.5,0.5'") from None
    return check_weights(values, n_models)


def ensemble_logits(logits: Sequence[Any], weights: Any = None) -> np.ndarray:
    """Weighted mean of several models' logits: ``sum_i w_i * logits_i``.

    Parameters
    ----------
    logits : sequence of arrays, each of shape (n, k)
        One array per model, rows aligned (same examples, same order, same class order).
    weights : sequence of float or None, default None
        One per model, non-negative, summing to 1 (:func:`check_weights`); ``None`` = equal weights.

    Returns
    -------
    np.ndarray, shape (n, k)
        Computed in float64 and returned in the inputs' common dtype. Models with weight exactly
        0 are left out of the sum, so weights ``(1, 0)`` return model A's logits exactly.
    """
    if len(logits) == 0:
        raise DatamapError("an ensemble needs at least one model")
    arrays = [np.asarray(a) for a in logits]
    shape = arrays[0].shape
    for i, a in enumerate(arrays):
        if a.shape != shape:
            raise DatamapError(f"model {i} logits have shape {a.shape}, model 0 has {shape}")
    w = np.full(len(arrays), 1.0 / len(arrays)) if weights is None else check_weights(weights, len(arrays))
    out = np.zeros(shape, dtype=np.float64)
    for wi, a in zip(w, arrays):
        if wi != 0.0:
            out += wi * a.astype(np.float64)
    dtype = np.result_type(*arrays)
    if not np.issubdtype(dtype, np.floating):
        dtype = np.float64
    return out.astype(dtype)
