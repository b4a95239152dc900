"""Softmax and log-softmax over logits, numerically stable. Pure NumPy.

Both shift the logits by their maximum along ``axis`` first, so large logits never overflow. The
log-softmax also keeps the probabilities of confident predictions exact: with the shift the
largest entry contributes exactly ``exp(0) = 1`` to the normaliser, so the normaliser is
``1 + rest`` with ``rest`` the sum over the other entries, and ``log(1 + rest)`` is taken with
``log1p(rest)`` - no ``1 + 1e-17`` rounded to 1 and no probability reported as exactly 1 when
the others are not exactly 0.
"""

from __future__ import annotations

import numpy as np

from datamap.core.checks import InputError

__all__ = ["log_softmax", "logits_from_probabilities", "looks_like_probabilities", "softmax"]


def softmax(logits: np.ndarray, *, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis``, in float64.

    Parameters
    ----------
    logits : array_like of float
        Raw scores; any shape with at least one dimension.
    axis : int, default -1
        The class axis (the probabilities along it sum to 1).

    Returns
    -------
    np.ndarray of float64, the shape of ``logits``
        ``exp(z - max z) / sum(exp(z - max z))``; each entry relative error of a few float64 ulps.
    """
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(logits: np.ndarray, *, axis: int = -1) -> np.ndarray:
    """Log-softmax along ``axis``, in float64: ``z - max z - log(sum exp(z - max z))``.

    Parameters
    ----------
    logits : array_like of float
        Raw scores; any shape with at least one dimension.
    axis : int, default -1
        The class axis.

    Returns
    -------
    np.ndarray of float64, the shape of ``logits``
        Log-probabilities, exact to float64 rounding even for probabilities within 1e-17 of 1
        (the normaliser is ``log1p`` of the sum of the non-maximal terms, see the module notes).
    """
    z = np.asarray(logits, dtype=np.float64)
    top = np.expand_dims(z.argmax(axis=axis), axis)
    shifted = z - np.take_along_axis(z, top, axis=axis)
    e = np.exp(shifted)
    np.put_along_axis(e, top, 0.0, axis=axis)  # the maximum's exp(0) = 1, added back by log1p
    return shifted - np.log1p(e.sum(axis=axis, keepdims=True))


#: how far a row's sum may be from 1 for :func:`looks_like_probabilities` (float32 rounding, 4-decimal exports)
PROB_SUM_TOL = 1e-3


def looks_like_probabilities(values: np.ndarray, *, axis: int = -1, atol: float = PROB_SUM_TOL) -> bool:
    """Whether ``values`` are probabilities rather than logits: every entry in [0, 1] and every slice
    along ``axis`` summing to 1 (within ``atol``).

    Real logits practically never pass (they would have to be non-negative, at most 1 and sum to 1 in
    every row), so a True here means a softmax was already applied. Empty input or a single class is
    never called probabilities.
    """
    z = np.asarray(values, dtype=np.float64)
    if z.size == 0 or z.ndim == 0 or z.shape[axis] < 2:
        return False
    return bool(np.all((z >= 0) & (z <= 1)) and np.allclose(z.sum(axis=axis), 1.0, atol=atol, rtol=0))


def logits_from_probabilities(probs: np.ndarray, *, axis: int = -1, atol: float = PROB_SUM_TOL) -> np.ndarray:
    """Logits (natural log, in float64) whose softmax gives back ``probs``.

    ``log(p)`` is a logit vector of ``p`` (softmax is unchanged by adding a constant, and
    ``sum(p) = 1`` makes the constant 0), so every probability-based metric is the same as for
    the original logits; zeros become ``log(tiny)`` (about -708) instead of ``-inf``. Raises
    ``ValueError`` when ``probs`` are not probabilities along ``axis``.
    """
    if not looks_like_probabilities(probs, axis=axis, atol=atol):
        raise InputError(f"values are not probabilities (every entry in [0, 1], each row summing to 1 within {atol:g})")
    return np.log(np.maximum(np.asarray(probs, dtype=np.float64), np.finfo(np.float64).tiny))
