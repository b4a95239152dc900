"""The cluster stage: cluster an embeddings file with scikit-learn and write the labels, distances
and centroids as Parquet (``clusters.parquet`` + ``clusters.centroids.parquet``, see
:mod:`datamap.io.embeddings` and docs/run-directory.md).

Methods: ``minibatch-kmeans`` (the one for large sets: 400,000 x 384 into 512 clusters in well
under a minute on two cores, docs/benchmarks.md), ``kmeans`` (Lloyd, exact but slower) and
``dbscan`` (density; noise keeps the label ``-1`` and is never merged into a cluster; its
"centroids" are the mean of each cluster's members). faiss is not used (not installed, not needed
at this scale).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from datamap.core.clusters import NOISE, centroid_distances
from datamap.errors import DatamapError

METHODS = ("minibatch-kmeans", "kmeans", "dbscan")
SILHOUETTE_SAMPLE = 10_000


@dataclass
class Clustering:
    """Labels (``-1`` = noise), centroids (row ``c`` = cluster ``c``) and the summary figures."""

    labels: np.ndarray
    centroids: np.ndarray
    sizes: np.ndarray
    distances: np.ndarray
    inertia: float
    silhouette: float | None
    silhouette_n: int
    seconds: float
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def n_noise(self) -> int:
        return int(np.sum(self.labels == NOISE))

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures (also stored in the clusters file's metadata)."""
        return {
            **self.options,
            "n": int(len(self.labels)),
            "n_clusters": int(len(self.centroids)),
            "n_noise": self.n_noise,
            "inertia": float(self.inertia),
            "silhouette": None if self.silhouette is None else float(self.silhouette),
            "silhouette_sample": int(self.silhouette_n),
            "seconds": round(float(self.seconds), 3),
        }


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norm > 0, norm, 1.0)


def fit_clusters(
    x: np.ndarray,
    *,
    method: str = "minibatch-kmeans",
    k: int | None = None,
    batch_size: int = 4096,
    eps: float = 0.5,
    min_samples: int = 5,
    seed: int = 0,
    normalize: bool = False,
    max_iter: int = 100,
) -> Clustering:
    """Cluster the rows of ``x`` (n, dim).

    Parameters
    ----------
    x : array (n, dim)
        The vectors (float32 is used).
    method : str, default "minibatch-kmeans"
        ``minibatch-kmeans`` (scikit-learn ``MiniBatchKMeans``), ``kmeans`` (``KMeans``) or
        ``dbscan`` (``DBSCAN``, Euclidean).
    k : int or None
        Number of clusters (k-means methods; required there, not taken by DBSCAN).
    batch_size : int, default 4096
        Mini-batch size of ``minibatch-kmeans``.
    eps, min_samples : float, int
        DBSCAN's neighbourhood radius and core-point count.
    seed : int, default 0
        Seeds the k-means initialisation and mini-batches, and the silhouette sample.
    normalize : bool, default False
        Scale every vector to unit length first (then Euclidean distance ranks like cosine);
        centroids and distances are in that space.
    max_iter : int, default 100
        Passes over the data (k-means methods); mini-batch k-means usually stops early.
    """
    from sklearn.cluster import DBSCAN, KMeans, MiniBatchKMeans

    x = np.asarray(x, dtype=np.float32)
    n = len(x)
    check_options(method=method, k=k, batch_size=batch_size, eps=eps, min_samples=min_samples, n=n)
    if normalize:
        x = l2_normalize(x)
    options = {"method": method, "seed": int(seed), "normalize": bool(normalize)}
    t0 = time.perf_counter()
    if method == "dbscan":
        options.update(eps=float(eps), min_samples=int(min_samples))
        labels = DBSCAN(eps=eps, min_samples=min_samples).fit(x).labels_.astype(np.int64)
        n_clusters = int(labels.max()) + 1 if len(labels) else 0
        sizes = np.bincount(labels[labels != NOISE], minlength=n_clusters)
        sums = np.zeros((n_clusters, x.shape[1]), dtype=np.float64)
        np.add.at(sums, labels[labels != NOISE], x[labels != NOISE])
        centroids = (sums / np.maximum(sizes, 1)[:, None]).astype(np.float32)
    else:
        options.update(k=int(k))
        if method == "kmeans":
            model = KMeans(n_clusters=k, random_state=seed, n_init=1, max_iter=max_iter)
        else:
            options.update(batch_size=int(batch_size))
            # k-means++ seeding costs O(init_size x k x log k): on 3k points (at least 2,048) it takes
            # seconds for k = 512, on scikit-learn's default 3 x batch_size it took a minute
            model = MiniBatchKMeans(n_clusters=k, batch_size=batch_size, random_state=seed, n_init=1,
                                    max_iter=max_iter, init_size=min(n, max(3 * k, 2048)))
        labels = model.fit_predict(x).astype(np.int64)
        centroids = model.cluster_centers_.astype(np.float32)
        sizes = np.bincount(labels, minlength=k)
    distances = centroid_distances(x, labels, centroids)
    inertia = float(np.nansum(distances**2))
    seconds = time.perf_counter() - t0
    sil, sil_n = silhouette(x, labels, seed=seed)
    return Clustering(labels, centroids, sizes.astype(np.int64), distances, inertia, sil, sil_n, seconds, options)


def check_options(*, method: str, k: int | None = None, batch_size: int = 4096, eps: float = 0.5,
                  min_samples: int = 5, n: int | None = None, **_) -> None:
    """Raise :class:`DatamapError` naming the option when the options of :func:`fit_clusters` do not
    fit together (``n``: the number of vectors, when known)."""
    if method not in METHODS:
        raise DatamapError(f"--method {method!r}: choose one of {', '.join(METHODS)}")
    if method == "dbscan":
        if k is not None:
            raise DatamapError("--k does not apply to dbscan (it finds the number of clusters; set --eps and --min-samples)")
        if not eps > 0 or min_samples < 1:
            raise DatamapError(f"--eps must be > 0 and --min-samples >= 1 (got {eps}, {min_samples})")
        return
    if k is None:
        raise DatamapError(f"--method {method} needs --k (the number of clusters)")
    if k < 1 or (n is not None and k > n):
        raise DatamapError(f"--k {k}: must be between 1 and the number of vectors ({n if n is not None else 'N'})")
    if batch_size < 1:
        raise DatamapError(f"--batch-size must be >= 1, got {batch_size}")


def silhouette(x: np.ndarray, labels: np.ndarray, *, seed: int = 0, sample: int = SILHOUETTE_SAMPLE) -> tuple[float | None, int]:
    """Mean silhouette (Euclidean) on a seeded sample of at most ``sample`` non-noise points.

    Returns ``(value, points used)``; ``(None, 0)`` when fewer than 2 clusters (or too few points)
    are in the sample.
    """
    from sklearn.metrics import silhouette_score

    members = np.flatnonzero(labels != NOISE)
    if len(members) > sample:
        members = np.sort(np.random.default_rng(seed).choice(members, size=sample, replace=False))
    n_labels = len(np.unique(labels[members]))
    if n_labels < 2 or n_labels >= len(members):
        return None, 0
    return float(silhouette_score(x[members], labels[members])), int(len(members))


def cluster_file(
    embeddings: str | os.PathLike,
    *,
    out: str | os.PathLike | None = None,
    overwrite: bool = False,
    **options,
) -> tuple[Clustering, Path, Path]:
    """Cluster an embeddings file and write ``clusters.parquet`` + its centroids file.

    Parameters
    ----------
    embeddings : path
        An ``embeddings.parquet`` (``id``, ``embedding``), e.g. from ``datamap embed``.
    out : path or None
        The clusters file; default ``clusters.parquet`` next to ``embeddings``. The centroids go
        to ``<stem>.centroids.parquet`` beside it.
    overwrite : bool, default False
        Replace existing output files.
    **options
        :func:`fit_clusters` keyword arguments (``method``, ``k``, ``seed``...), with its defaults;
        any other keyword is refused (``TypeError``), as a typed signature would.

    Returns ``(clustering, clusters path, centroids path)``.
    """
    from datamap.io.embeddings import centroids_path, read_embeddings, write_clusters
    from datamap.io.atomic import refuse_existing

    import inspect

    unknown = sorted(set(options) - (set(inspect.signature(fit_clusters).parameters) - {"x"}))
    if unknown:
        raise TypeError(f"cluster_file() got an unexpected keyword argument {unknown[0]!r}")
    check_options(**{"method": inspect.signature(fit_clusters).parameters["method"].default, **options})
    emb_path = Path(embeddings)
    if not emb_path.is_file():
        raise DatamapError(f"{emb_path}: not found (write it with `datamap embed`)")
    out = Path(out) if out is not None else emb_path.with_name("clusters.parquet")
    if out.suffix != ".parquet":
        raise DatamapError(f"--out {out}: the clusters file must end in .parquet")
    if out.resolve() == emb_path.resolve():
        raise DatamapError(f"--out {out}: is the embeddings file itself")
    for path in (out, centroids_path(out)):
        refuse_existing(path, overwrite)
    emb = read_embeddings(emb_path)
    if len(emb.keys) == 0:
        raise DatamapError(f"{emb_path}: no rows")
    result = fit_clusters(emb.vectors, **options)
    meta = {**result.summary(), "embeddings": emb_path.name,
            "embedding_model": emb.metadata.get("model"), "pooling": emb.metadata.get("pooling")}
    cpath = write_clusters(out, emb.keys, result.labels, result.distances, np.arange(len(result.centroids)),
                           result.sizes, result.centroids, meta)[1]
    return result, out, cpath


#: What ``datamap cluster --on`` clusters: embedding vectors, or (sft runs) the token-loss trajectories.
ON = ("embeddings", "trajectories")


def cluster_trajectories(
    run: str | os.PathLike,
    *,
    out: str | os.PathLike | None = None,
    overwrite: bool = False,
    standardize: bool = False,
    **options,
) -> tuple[Clustering, Path, Path]:
    """Cluster the token-loss trajectories of an sft run (``datamap cluster RUN --on trajectories``).

    The vectors are ``loss_sum / n_tokens`` per example and record point, shape (N, P)
    (:func:`datamap.core.sft_metrics.trajectory_matrix`), read from ``RUN/dynamics.parquet``; with
    ``standardize`` each point is centred and scaled to unit standard deviation first (so the early,
    large losses do not dominate the distances). Writes ``clusters.parquet`` (default ``RUN/``) and its
    centroids file in the usual schema; the metadata says ``embeddings: "trajectories"``,
    ``standardize`` and the number of points.

    Parameters
    ----------
    run : path
        A complete sft run directory.
    out, overwrite
        As for :func:`cluster_file` (default ``RUN/clusters.parquet``).
    standardize : bool, default False
        Standardise each record point (column) before clustering.
    **options
        :func:`fit_clusters` keyword arguments (``method``, ``k``, ``seed``...).
    """
    import inspect

    from datamap.core.sft_metrics import trajectory_matrix
    from datamap.io.atomic import refuse_existing
    from datamap.io.embeddings import centroids_path, write_clusters
    from datamap.io.readers import check_same_ids
    from datamap.io.rundir import RunDir, run_task
    from datamap.io.store import read_sft_dynamics

    unknown = sorted(set(options) - (set(inspect.signature(fit_clusters).parameters) - {"x"}))
    if unknown:
        raise TypeError(f"cluster_trajectories() got an unexpected keyword argument {unknown[0]!r}")
    check_options(**{"method": inspect.signature(fit_clusters).parameters["method"].default, **options})
    rd = RunDir(run)
    if not rd.root.is_dir():
        raise DatamapError(f"{rd.root}: --on trajectories takes an sft run directory")
    rd.require(rd.dynamics, hint="run `datamap train --task sft` first")
    if run_task(rd) != "sft":
        raise DatamapError(f"{rd.root}: --on trajectories needs an sft run (token-loss trajectories); "
                           "this is a classifier run: cluster its embeddings (datamap embed, then cluster)")
    out = Path(out) if out is not None else rd.clusters
    if out.suffix != ".parquet":
        raise DatamapError(f"--out {out}: the clusters file must end in .parquet")
    for path in (out, centroids_path(out)):
        refuse_existing(path, overwrite)
    dyn = read_sft_dynamics(rd.dynamics)
    check_same_ids(dyn.ids, rd.data, str(rd.dynamics), subset=dyn.meta.get("sample") is not None)
    x = trajectory_matrix(dyn.loss_sum, dyn.n_tokens, standardize=standardize).astype(np.float32)
    result = fit_clusters(x, **options)
    result.options["standardize"] = bool(standardize)
    meta = {**result.summary(), "embeddings": "trajectories", "embedding_model": None, "pooling": None,
            "n_points": int(dyn.n_points)}
    cpath = write_clusters(out, dyn.ids, result.labels, result.distances, np.arange(len(result.centroids)),
                           result.sizes, result.centroids, meta)[1]
    return result, out, cpath
