"""The cluster stage on blobs with known clusters (k-means recovers them, DBSCAN keeps its noise apart),
its files, and selecting by cluster from a run (stage and command line)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "views"))
from views_helpers import make_run  # noqa: E402

from conftest import cli_env  # noqa: E402
from datamap.core.clusters import ClusterSpec, proportional_quotas  # noqa: E402
from datamap.core.selection import Recipe  # noqa: E402
from datamap.errors import DatamapError  # noqa: E402
from datamap.io.embeddings import read_centroids, read_clusters, write_embeddings  # noqa: E402
from datamap.stages.cluster import cluster_file, fit_clusters  # noqa: E402
from datamap.stages.select import select_run  # noqa: E402

SIZES = (40, 30, 20, 10)
N_OUT = 5


def blobs(seed: int = 0):
    """Four tight, far-apart blobs of SIZES in 8-d, then N_OUT lone points far from everything."""
    rng = np.random.default_rng(seed)
    centres = np.eye(8)[:4] * 10.0
    truth = np.concatenate([np.full(n, c) for c, n in enumerate(SIZES)] + [np.full(N_OUT, -1)])
    x = np.empty((len(truth), 8), dtype=np.float32)
    x[truth >= 0] = centres[truth[truth >= 0]] + rng.normal(0, 0.3, (int((truth >= 0).sum()), 8))
    x[truth < 0] = -30.0 + 15.0 * np.arange(N_OUT)[:, None] * np.ones((1, 8))
    perm = rng.permutation(len(truth))
    return x[perm], truth[perm]


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


@pytest.fixture
def emb_file(tmp_path):
    x, truth = blobs()
    ids = [f"id{i:03d}" for i in range(len(x))]
    path = write_embeddings(tmp_path / "embeddings.parquet", ids, x, {"pooling": "mean", "model": "blobs"})
    return path, x, truth, ids


@pytest.mark.parametrize("method", ["minibatch-kmeans", "kmeans"])
def test_kmeans_recovers_the_blobs(method):
    x, truth = blobs()
    keep = truth >= 0
    r = fit_clusters(x[keep], method=method, k=4, batch_size=32, seed=0)
    assert same_partition(r.labels, truth[keep])
    assert sorted(r.sizes.tolist()) == sorted(SIZES)
    np.testing.assert_allclose(r.distances, np.linalg.norm(x[keep] - r.centroids[r.labels], axis=1), rtol=1e-5)
    assert r.inertia == pytest.approx(float((r.distances**2).sum()))
    assert 0.9 < r.silhouette <= 1 and r.silhouette_n == keep.sum()
    again = fit_clusters(x[keep], method=method, k=4, batch_size=32, seed=0)
    np.testing.assert_array_equal(again.labels, r.labels)


def test_seed_changes_the_initialisation():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5)).astype(np.float32)  # no structure: the seed decides
    runs = [fit_clusters(x, method="minibatch-kmeans", k=6, batch_size=64, seed=s).labels for s in (0, 1, 2)]
    assert not all(np.array_equal(runs[0], r) for r in runs[1:])


def test_dbscan_noise_stays_noise():
    x, truth = blobs()
    r = fit_clusters(x, method="dbscan", eps=2.0, min_samples=4)
    assert (r.labels[truth == -1] == -1).all() and r.n_noise == N_OUT
    assert same_partition(r.labels[truth >= 0], truth[truth >= 0]) and len(r.centroids) == 4
    assert np.isnan(r.distances[truth == -1]).all() and np.isfinite(r.distances[truth >= 0]).all()
    for c in range(4):  # a DBSCAN "centroid" is the mean of its members (noise not included)
        np.testing.assert_allclose(r.centroids[c], x[r.labels == c].mean(0), rtol=1e-5, atol=1e-5)
    assert r.silhouette_n == len(x) - N_OUT


def test_normalize_clusters_unit_vectors():
    x, truth = blobs()
    keep = truth >= 0
    r = fit_clusters(x[keep] * np.linspace(1, 50, keep.sum())[:, None], method="kmeans", k=4, normalize=True)
    assert same_partition(r.labels, truth[keep])  # length no longer matters
    assert r.distances.max() < 1.0 and r.options["normalize"] is True


def test_files_written_and_read_back(emb_file):
    path, x, truth, ids = emb_file
    r, cpath, centroids = cluster_file(path, method="kmeans", k=5, seed=0)
    assert cpath == path.parent / "clusters.parquet" and centroids == path.parent / "clusters.centroids.parquet"
    assert pq.read_schema(cpath).names == ["id", "cluster", "distance"]
    frame, meta = read_clusters(cpath)
    assert frame["id"].tolist() == ids  # the embeddings' order
    np.testing.assert_array_equal(frame["cluster"], r.labels)
    assert meta["method"] == "kmeans" and meta["k"] == 5 and meta["centroids"] == "clusters.centroids.parquet"
    assert meta["embeddings"] == "embeddings.parquet" and meta["pooling"] == "mean" and meta["n_clusters"] == 5
    cents = read_centroids(cpath)
    assert cents.keys.tolist() == [0, 1, 2, 3, 4] and cents.extra["size"].tolist() == np.bincount(r.labels).tolist()
    np.testing.assert_allclose(frame["distance"], np.linalg.norm(x - cents.vectors[frame["cluster"]], axis=1), rtol=1e-5)


def test_nothing_replaced_without_overwrite(emb_file):
    path = emb_file[0]
    cluster_file(path, method="kmeans", k=3)
    before = (path.parent / "clusters.parquet").read_bytes()
    with pytest.raises(DatamapError, match="clusters.parquet: already exists; pass --overwrite"):
        cluster_file(path, method="kmeans", k=4)
    assert (path.parent / "clusters.parquet").read_bytes() == before
    (path.parent / "c2.centroids.parquet").write_bytes(b"x")
    with pytest.raises(DatamapError, match="c2.centroids.parquet: already exists"):
        cluster_file(path, method="kmeans", k=4, out=path.parent / "c2.parquet")
    assert not (path.parent / "c2.parquet").exists()
    cluster_file(path, method="kmeans", k=4, overwrite=True)
    assert read_clusters(path.parent / "clusters.parquet")[1]["k"] == 4


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(method="kmeans"), "--method kmeans needs --k"),
        (dict(method="kmeans", k=500), "--k 500: must be between 1 and the number of vectors"),
        (dict(method="dbscan", k=3), "--k does not apply to dbscan"),
        (dict(method="spectral", k=3), "--method 'spectral': choose one of"),
    ],
)
def test_bad_options_name_the_option(emb_file, options, message):
    with pytest.raises(DatamapError, match=message):
        cluster_file(emb_file[0], **options)


# ---------------------------------------------------------------- selecting by cluster from a run


@pytest.fixture
def run_with_clusters(tmp_path):
    """A synthetic run (views_helpers.make_run: 405 examples, metrics + data) and a clusters file:
    four blobs by id, k-means k=4."""
    run = make_run(tmp_path / "run")
    ids = pd.read_parquet(run / "data.parquet")["id"].tolist()
    rng = np.random.default_rng(0)
    truth = np.arange(len(ids)) % 4
    x = (np.eye(8)[truth] * 10 + rng.normal(0, 0.3, (len(ids), 8))).astype(np.float32)
    write_embeddings(run / "embeddings.parquet", ids, x, {"pooling": "mean"})
    cluster_file(run / "embeddings.parquet", method="kmeans", k=4)
    return run, dict(zip(ids, truth))


def test_select_stage_by_cluster_after_drop_hard(run_with_clusters):
    run, truth = run_with_clusters
    recipe = Recipe(drop_hard=True, cluster=ClusterSpec(mode="proportional", budget=0.2, rank="ambiguous"))
    saved = select_run(run, "amb_by_cluster", recipe, clusters=run / "clusters.parquet", seed=1)
    sel = json.loads((run / "selections" / "amb_by_cluster.json").read_text())
    assert len(sel["ids"]) == int(0.2 * 405) == saved[0].result.sizes["cluster:proportional"]
    assert sel["recipe"]["cluster"]["mode"] == "proportional" and sel["recipe"]["clusters_file"].endswith("clusters.parquet")
    metrics = pd.read_parquet(run / "metrics.parquet").set_index("id")
    assert (metrics.loc[sel["ids"], "region"] != "hard").all()
    # each cluster's share is in proportion to its pool (not hard), and is its most variable members
    frame = read_clusters(run / "clusters.parquet")[0].set_index("id")
    pool = metrics[metrics["region"] != "hard"].join(frame)
    sizes = pool["cluster"].value_counts().sort_index()
    quotas = dict(zip(sizes.index, proportional_quotas(sizes.to_numpy(), budget=len(sel["ids"]))))
    chosen = pool.loc[sel["ids"]]
    for c, members in pool.groupby("cluster"):
        top = members["variability"].sort_values(ascending=False, kind="stable").index[: quotas[c]]
        assert set(chosen.index[chosen["cluster"] == c]) == set(top)
    assert len(pd.read_parquet(run / "selections" / "amb_by_cluster.parquet")) == len(sel["ids"])


def test_select_stage_errors(run_with_clusters, tmp_path):
    run, _ = run_with_clusters
    with pytest.raises(DatamapError, match="needs a clusters file"):
        select_run(run, "x", Recipe(cluster=ClusterSpec(mode="whole", budget=5)))
    frame, _ = read_clusters(run / "clusters.parquet")
    frame.iloc[3:].to_parquet(tmp_path / "short.parquet")
    with pytest.raises(DatamapError, match=r"short.parquet: has no cluster for 3 of 405 ids"):
        select_run(run, "x", Recipe(cluster=ClusterSpec(mode="whole", budget=5)), clusters=tmp_path / "short.parquet")
    with pytest.raises(DatamapError, match="whole: asked for 406 examples but only 405"):
        select_run(run, "x", Recipe(cluster=ClusterSpec(mode="whole", budget=406)), clusters=run / "clusters.parquet")


def test_select_by_cluster_without_metrics(run_with_clusters):
    run, truth = run_with_clusters
    (run / "metrics.parquet").unlink()
    saved = select_run(run, "centres", Recipe(cluster=ClusterSpec(mode="nearest-centroid", k=3)),
                       clusters=run / "clusters.parquet")
    ids = saved[0].result.ids
    assert len(ids) == 12 and sorted(pd.Series([truth[i] for i in ids]).value_counts().tolist()) == [3, 3, 3, 3]
    frame = read_clusters(run / "clusters.parquet")[0].set_index("id")
    for c in range(4):  # the three nearest of each cluster
        members = frame[frame["cluster"] == c]["distance"].sort_values()
        assert set(members.index[:3]) == {i for i in ids if frame.loc[i, "cluster"] == c}


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "datamap", *map(str, args)], capture_output=True, text=True, env=cli_env())


def test_cli_cluster_then_select(run_with_clusters):
    run, _ = run_with_clusters
    r = run_cli("cluster", run, "--k", "4", "--method", "minibatch-kmeans", "--batch-size", "64",
                "--out", run / "mb.parquet", "--seed", "3")
    assert r.returncode == 0, r.stderr
    assert "405 vectors x 8 -> 4 clusters (minibatch-kmeans)" in r.stdout and "silhouette" in r.stdout
    assert "sizes: 102, 101, 101, 101" in r.stdout
    r = run_cli("select", run, "--out", "rr", "--clusters", run / "mb.parquet", "--cluster-mode", "round-robin",
                "--cluster-budget", "30", "--ambiguous", "0.1", "--data-pct", "0.5", "--seed", "2")
    assert r.returncode == 0, r.stderr
    sel = json.loads((run / "selections" / "rr.json").read_text())
    assert len(sel["ids"]) == (40 + 30) // 2 and set(sel["sizes"]["parts"]) == {"ambiguous", "cluster:round-robin"}
    for args, message in (
        (("select", run, "--out", "x", "--cluster-budget", "0.1"), "--cluster-budget needs --cluster-mode"),
        (("select", run, "--out", "x", "--cluster-mode", "whole", "--cluster-budget", "0.1"), "needs a clusters file"),
        (("select", run, "--out", "x", "--clusters", run / "mb.parquet", "--cluster-mode", "first-k", "--cluster-budget", "3"),
         "first-k takes k"),
        (("cluster", run, "--method", "kmeans"), "--method kmeans needs --k"),
        (("cluster", run / "nothing.parquet", "--k", "2"), "nothing.parquet: not found"),
    ):
        r = run_cli(*args)
        assert r.returncode == 2 and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
        assert message in r.stderr


def test_cluster_file_refuses_an_unknown_option(tmp_path):
    from datamap.stages.cluster import cluster_file

    with pytest.raises(TypeError, match="unexpected keyword argument 'n_clusters'"):
        cluster_file(tmp_path / "embeddings.parquet", n_clusters=3)
