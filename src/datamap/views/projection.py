"""2-D projections of embeddings for the interactive map: PCA (NumPy), UMAP only if installed."""

from __future__ import annotations

import numpy as np

from datamap.core.checks import InputError
from datamap.errors import DatamapError

PROJECTIONS = ("pca", "umap")
#: the interactive map's axes (``datamap plot --xy``): the data map, or a 2-D projection of the embeddings
XY_CHOICES = ("map", "embedding")


def pca_2d(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first two principal components of the rows of ``x``, and their explained variance ratios.

    Uses the (dim x dim) covariance (memory O(dim^2), one pass over the data), float64 for the
    sums. Each axis is oriented so its largest loading is positive (deterministic signs).
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or len(x) == 0:
        raise InputError(f"need a non-empty 2-d array, got shape {x.shape}")
    mean = x.mean(axis=0, dtype=np.float64)
    xc = x - mean.astype(np.float32)
    cov = (xc.T.astype(np.float64) @ xc.astype(np.float64)) / max(len(x) - 1, 1)
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1][:2]
    axes = vectors[:, order]
    if axes.shape[1] < 2:  # one-dimensional vectors: a zero second axis
        axes = np.pad(axes, ((0, 0), (0, 2 - axes.shape[1])))
    signs = np.sign(axes[np.argmax(np.abs(axes), axis=0), np.arange(2)])
    axes = axes * np.where(signs == 0, 1.0, signs)
    total = float(values.sum())
    ratio = np.array([values[i] / total if total > 0 else 0.0 for i in order] + [0.0] * (2 - len(order)))
    return (xc @ axes.astype(np.float32)).astype(np.float32), ratio


def project_2d(x: np.ndarray, method: str = "pca", seed: int = 0) -> tuple[np.ndarray, tuple[str, str]]:
    """(n, 2) coordinates and the two axis labels.

    ``method``: ``"pca"`` (always available) or ``"umap"`` (needs the ``umap-learn`` package; an
    error names it when it is missing).
    """
    if method == "pca":
        xy, ratio = pca_2d(x)
        return xy, (f"PC1 ({ratio[0]:.1%} of variance)", f"PC2 ({ratio[1]:.1%} of variance)")
    if method == "umap":
        try:
            import umap  # noqa: F401  (optional dependency)
        except ImportError:
            raise DatamapError("--projection umap needs the umap-learn package (pip install umap-learn); use pca") from None
        xy = umap.UMAP(n_components=2, random_state=seed).fit_transform(np.asarray(x, dtype=np.float32))
        return np.asarray(xy, dtype=np.float32), ("UMAP 1", "UMAP 2")
    raise DatamapError(f"--projection {method!r}: choose one of {', '.join(PROJECTIONS)}")
