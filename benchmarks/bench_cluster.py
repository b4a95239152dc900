"""Clustering at scale: 400,000 x 384 float32 vectors into 512 clusters with mini-batch k-means
(target <= 60 s on 2 CPU cores).

The vectors are synthetic blobs (512 random centres in 384 dimensions, Gaussian noise around them),
built before the clock starts. Timed: ``datamap.stages.cluster.fit_clusters`` (the work of
``datamap cluster``: the fit, labels for every vector, the distance of each to its centroid, the
silhouette on a seeded sample of 10,000) and, with --write, the Parquet files. Prints wall time,
the process's peak RSS (``resource.getrusage``) and how well the known blobs were recovered
(adjusted Rand index).

    python benchmarks/bench_cluster.py [--n 400000 --dim 384 --k 512 --batch-size 4096 --seed 0] [--write DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np

from datamap.stages.cluster import fit_clusters


def blobs(n: int, dim: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k, dim), dtype=np.float32)
    truth = rng.integers(0, k, n)
    x = rng.standard_normal((n, dim), dtype=np.float32)
    x *= 0.35
    x += centres[truth]
    return x, truth


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=400_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--k", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=4096)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write", default=None, help="also write clusters.parquet + centroids into this folder (timed)")
    args = ap.parse_args()

    x, truth = blobs(args.n, args.dim, args.k, args.seed)
    before = rss_mib()
    t0 = time.perf_counter()
    result = fit_clusters(x, method="minibatch-kmeans", k=args.k, batch_size=args.batch_size, seed=args.seed)
    fit_s = time.perf_counter() - t0
    write_s = None
    if args.write:
        from datamap.io.embeddings import write_clusters

        os.makedirs(args.write, exist_ok=True)
        t1 = time.perf_counter()
        ids = [f"e{i}" for i in range(args.n)]
        write_clusters(os.path.join(args.write, "clusters.parquet"), ids, result.labels, result.distances,
                       np.arange(args.k), result.sizes, result.centroids, result.summary())
        write_s = time.perf_counter() - t1
    from sklearn.metrics import adjusted_rand_score

    ari = adjusted_rand_score(truth, result.labels)
    print(f"mini-batch k-means: {args.n:,} x {args.dim} float32 ({x.nbytes / 2**20:.0f} MiB) into {args.k} clusters,"
          f" batch {args.batch_size}, seed {args.seed}; {os.cpu_count()} CPUs")
    print(f"  fit_clusters, all of it:                             {fit_s:8.2f} s   (target <= 60 s)")
    print(f"    fit + labels of every vector + distances:          {result.seconds:8.2f} s")
    print(f"    silhouette on a sample of {result.silhouette_n:,}:               {fit_s - result.seconds:8.2f} s"
          f"   (value {result.silhouette:.4f})")
    if write_s is not None:
        print(f"  write clusters + centroids Parquet:                  {write_s:8.2f} s")
    print(f"  inertia {result.inertia:.4g}; cluster sizes min {result.sizes.min()}, median {int(np.median(result.sizes))},"
          f" max {result.sizes.max()}; adjusted Rand index vs the true blobs {ari:.4f}")
    print(f"  peak RSS: {rss_mib():.0f} MiB (after building the data: {before:.0f} MiB)")


if __name__ == "__main__":
    main()
