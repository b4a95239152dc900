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

__all__ = ["log_softmax", "softmax"]


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
