"""Drawing rows: a class-stratified random sample (the default way a training run is limited to n rows)."""

from __future__ import annotations

import numpy as np

from datamap.core.checks import InputError


def stratified_sample(labels: np.ndarray, n: int, *, seed: int) -> np.ndarray:
    """``n`` row positions drawn without replacement, each class in proportion to its size; sorted.

    Parameters
    ----------
    labels : array of int, shape (N,)
        Class of each row.
    n : int
        Rows to draw, 1 <= n <= N.
    seed : int
        Seed of the draw (NumPy ``default_rng``): the same (labels, n, seed) always gives the same rows.

    Each class ``c`` of ``N_c`` rows gets ``floor(n * N_c / N)`` rows, and the rows left over go to
    the classes with the largest remainders (ties: the lower class id), so the counts sum to ``n``
    and differ from the exact proportion by less than one. Every class present keeps at least one
    row when ``n`` is at least the number of classes.
    """
    labels = np.asarray(labels)
    total = len(labels)
    if not 1 <= int(n) <= total:
        raise InputError(f"sample size must be in [1, {total}], got {n}")
    classes, inverse = np.unique(labels, return_inverse=True)
    sizes = np.bincount(inverse, minlength=len(classes))
    exact = n * sizes / total
    quota = np.floor(exact).astype(np.int64)
    order = np.lexsort((np.arange(len(classes)), -(exact - quota)))
    quota[order[: n - int(quota.sum())]] += 1
    if n >= len(classes):  # no class present in the data vanishes from the sample
        for c in np.flatnonzero(quota == 0):
            donor = int(np.argmax(quota))
            quota[donor] -= 1
            quota[c] = 1
    rng = np.random.default_rng(seed)
    picked = [rng.choice(np.flatnonzero(inverse == c), size=int(q), replace=False) for c, q in enumerate(quota) if q]
    return np.sort(np.concatenate(picked)).astype(np.int64)


def sample_positions(n: int, max_points: int | None, *, seed: int) -> np.ndarray | None:
    """Rows a map draws when it may show at most ``max_points`` of ``n``: sorted positions, or None for all.

    The one sampling rule of both data maps (the PNG and the interactive HTML): the same
    ``(n, max_points, seed)`` always gives the same rows, so the two maps of one run show the same
    points. ``None`` when ``max_points`` is None or not below ``n`` (nothing to leave out).
    """
    if max_points is None or int(n) <= int(max_points):
        return None
    if int(max_points) < 1:
        raise InputError(f"max_points must be an integer >= 1, got {max_points!r}")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(int(n), size=int(max_points), replace=False)).astype(np.int64)
