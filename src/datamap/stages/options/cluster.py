"""``datamap cluster``: its options; ``on``, ``standardize``, ``method``, ``k`` and ``normalize`` are also
keys of the YAML runner's ``cartography.clusters`` section (with
:class:`~datamap.stages.options.embed.EmbedOptions`'s ``model`` and ``pooling``)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from datamap.stages.cluster import METHODS, ON
from datamap.stages.options.base import Options, option
from datamap.stages.options.checks import choice

# the options that are no keys of cartography.clusters: the runner takes the experiment's seed, the
# default DBSCAN and mini-batch settings, and writes RUN/clusters.parquet
_RUN = {"yaml": False}


class ClusterOptions(Options):
    """Clusters of a run's embeddings or of an sft run's trajectories
    (:func:`datamap.stages.cluster.fit_clusters`, :func:`datamap.stages.cluster.cluster_trajectories`)."""

    command = "cluster"
    section_path = "cartography.clusters"

    on: str = option(ON[0], "What to cluster: embeddings, or trajectories (an sft run's per-example token-loss "
                            "trajectories, one value per record point).")
    standardize: bool = option(
        False, "--on trajectories: centre and scale each record point to unit standard deviation first.")
    method: str = option(METHODS[0], "minibatch-kmeans (large sets), kmeans or dbscan.")
    k: Optional[int] = option(None, "Number of clusters (k-means methods).", ge=1)
    batch_size: int = option(4096, "Mini-batch size of minibatch-kmeans.", ge=1, **_RUN)
    eps: float = option(0.5, "DBSCAN neighbourhood radius.", gt=0, allow_inf_nan=False, **_RUN)
    min_samples: int = option(5, "DBSCAN points that make a core point.", ge=1, **_RUN)
    seed: int = option(0, ge=0, **_RUN)
    normalize: bool = option(False, "Scale vectors to unit length first (cosine-like clusters).")
    out: Optional[Path] = option(
        None, "Clusters file (default clusters.parquet next to the embeddings; centroids in NAME.centroids.parquet).",
        **_RUN)

    _on = choice(ON, "on")
    _method = choice(METHODS, "method")

    def fit_kwargs(self) -> dict:
        """The keyword arguments of :func:`datamap.stages.cluster.fit_clusters`."""
        return self.kwargs("method", "k", "batch_size", "eps", "min_samples", "seed", "normalize")
