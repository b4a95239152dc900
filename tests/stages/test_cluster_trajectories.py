"""`datamap cluster RUN --on trajectories` on an sft run and `select --cluster-mode s2l` on its clusters."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from datamap.cli import main
from datamap.io.embeddings import read_clusters
from datamap.stages.cluster import cluster_trajectories
from sft_run import make_sft_run, trajectories


def cli(*args) -> int:
    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        return exc.code or 0
    return 0


@pytest.mark.parametrize("standardize", [False, True])
def test_two_trajectory_families_fall_in_two_clusters(tmp_path, standardize):
    run = make_sft_run(tmp_path / "run", n_learned=30, n_stuck=20)
    result, path, cpath = cluster_trajectories(run, method="kmeans", k=2, seed=0, standardize=standardize)
    assert path == run / "clusters.parquet" and cpath.exists()
    frame, meta = read_clusters(path)
    family = trajectories(30, 20)[4]
    labels = frame["cluster"].to_numpy()
    # the clusters are exactly the families (either labelling)
    assert len(set(zip(labels, family))) == 2 and len(set(labels)) == 2
    assert meta["embeddings"] == "trajectories" and meta["standardize"] is standardize and meta["n_points"] == 6
    assert frame["id"].tolist() == [f"s{i:03d}" for i in range(50)]
    assert pq.read_schema(path).names == ["id", "cluster", "distance"]


def test_cli_cluster_and_s2l_select(tmp_path, capsys):
    run = make_sft_run(tmp_path / "run", n_learned=45, n_stuck=5)
    assert cli("cluster", run, "--on", "trajectories", "--method", "kmeans", "--k", "2", "--standardize") == 0
    assert cli("metrics", run) == 0
    capsys.readouterr()
    assert cli("select", run, "--out", "s2l", "--clusters", run / "clusters.parquet", "--cluster-mode", "s2l",
               "--cluster-budget", "20", "--seed", "3", "--json") == 0
    sel = json.loads((run / "selections" / "s2l.json").read_text())
    ids = sel["ids"]
    assert len(ids) == 20
    stuck = {f"s{i:03d}" for i in range(45, 50)}
    assert stuck <= set(ids)  # the small cluster (5) whole, 15 from the other one
    assert cli("select", run, "--out", "s2l_b", "--clusters", run / "clusters.parquet", "--cluster-mode", "s2l",
               "--cluster-budget", "20", "--seed", "3") == 0
    assert json.loads((run / "selections" / "s2l_b.json").read_text())["ids"] == ids  # seeded
    # without metrics.parquet the data's ids are the rows (sft data has no label)
    (run / "metrics.parquet").unlink()
    assert cli("select", run, "--out", "s2l_c", "--clusters", run / "clusters.parquet", "--cluster-mode", "s2l",
               "--cluster-budget", "0.4") == 0
    assert len(json.loads((run / "selections" / "s2l_c.json").read_text())["ids"]) == 20


def test_refusals(tmp_path, capsys):
    run = make_sft_run(tmp_path / "run")
    assert cli("cluster", run, "--on", "nothing", "--k", "2") == 2
    assert "--on: must be one of embeddings, trajectories, got 'nothing'" in capsys.readouterr().err  # ClusterOptions
    assert cli("cluster", run, "--standardize", "--k", "2") == 2
    assert "--standardize applies to --on trajectories" in capsys.readouterr().err
    from datamap.io.store import Dynamics, write_dynamics

    clf = tmp_path / "clf"
    clf.mkdir()
    write_dynamics(clf / "dynamics.parquet", Dynamics(np.array(["a", "b"], dtype=object), np.zeros((2, 2, 2), np.float32),
                                                      np.array([0, 1]), np.arange(2)))
    assert cli("cluster", clf, "--on", "trajectories", "--k", "2") == 2
    assert "needs an sft run" in capsys.readouterr().err


def test_yaml_sections_take_on_standardize_and_s2l():
    from pydantic import ValidationError

    from datamap.experiment.config import ClustersSpec, SelectionSpec, variants

    spec = ClustersSpec(on="trajectories", standardize=True, method="kmeans", k=4)
    assert (spec.on, spec.standardize) == ("trajectories", True)
    with pytest.raises(ValidationError, match="embeddings, trajectories"):
        ClustersSpec(on="logits")
    recipe = variants("s2l30", SelectionSpec(cluster={"mode": "s2l", "budget": 0.3}))[0][1]
    assert recipe.cluster.mode == "s2l" and recipe.cluster.budget == 0.3


@pytest.mark.parametrize("standardize", [False, True])
def test_centroids_live_in_the_clustered_space(tmp_path, standardize):
    from datamap.io.store import read_sft_dynamics

    run = make_sft_run(tmp_path / "run")
    _, _, cpath = cluster_trajectories(run, method="kmeans", k=2, seed=0, standardize=standardize)
    frame = pq.read_table(cpath).to_pandas()
    weighted = (np.stack(frame["centroid"].to_numpy()) * frame["size"].to_numpy()[:, None]).sum(axis=0) / frame["size"].sum()
    dyn = read_sft_dynamics(run / "dynamics.parquet")
    raw_mean = (dyn.loss_sum / dyn.n_tokens).mean(axis=0)
    # k-means centroids are cluster means: their size-weighted mean is the mean of the clustered vectors
    assert np.allclose(weighted, 0 if standardize else raw_mean, atol=1e-4)


def test_runner_clusters_stage_on_trajectories_needs_no_embeddings(tmp_path):
    from datamap.experiment.config import ClustersSpec
    from datamap.experiment.runner import _clusters_action

    run = make_sft_run(tmp_path / "run")
    cl = ClustersSpec(on="trajectories", standardize=True, method="kmeans", k=2).model_dump()
    _clusters_action(run, cl, 0, 32)()
    _, meta = read_clusters(run / "clusters.parquet")
    assert meta["embeddings"] == "trajectories" and meta["standardize"] is True and meta["k"] == 2
    assert not (run / "embeddings.parquet").exists()
