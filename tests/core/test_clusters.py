"""Cluster-based selection (datamap.core.clusters) on blobs whose clusters are known by construction."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from datamap.core.clusters import ClusterSpec, cluster_select, proportional_quotas, take_cluster_part
from datamap.core.selection import Recipe, select

SIZES = {0: 50, 1: 30, 2: 20, 3: 10, -1: 5}  # -1: DBSCAN noise


def blobs(seed: int = 0):
    """Shuffled labels with SIZES, and a distance per example that is its rank in its cluster."""
    labels = np.concatenate([np.full(n, c) for c, n in SIZES.items()])
    rng = np.random.default_rng(seed)
    labels = labels[rng.permutation(len(labels))]
    distance = np.empty(len(labels))
    for c in SIZES:
        members = np.flatnonzero(labels == c)
        distance[members] = rng.permutation(len(members)).astype(float)  # 0 = nearest the centroid
    return labels, distance


def counts(labels, idx) -> dict:
    return dict(Counter(labels[idx].tolist()))


LABELS, DIST = blobs()


def test_whole_takes_clusters_largest_first_then_fills_from_the_next():
    idx = cluster_select(LABELS, mode="whole", budget=85, rng=0)
    assert len(idx) == 85 and len(set(idx)) == 85
    assert counts(LABELS, idx) == {0: 50, 1: 30, 2: 5}
    # whole clusters come first, in order: 50 of cluster 0, then 30 of cluster 1
    assert set(LABELS[idx[:50]]) == {0} and set(LABELS[idx[50:80]]) == {1}
    # the next cluster (30) does not fit in 60 - 50: it only tops up
    assert counts(LABELS, cluster_select(LABELS, mode="whole", budget=60, rng=0)) == {0: 50, 1: 10}


def test_whole_in_random_order_is_seeded():
    runs = {seed: cluster_select(LABELS, mode="whole", budget=40, order="random", rng=seed) for seed in range(6)}
    assert all(len(v) == 40 and -1 not in LABELS[v] for v in runs.values())
    np.testing.assert_array_equal(runs[0], cluster_select(LABELS, mode="whole", budget=40, order="random", rng=0))
    firsts = {int(LABELS[v[0]]) for v in runs.values()}
    assert len(firsts) > 1  # the first cluster taken changes with the seed


def test_first_k_takes_every_member_of_k_clusters():
    idx = cluster_select(LABELS, mode="first-k", k=2)
    assert counts(LABELS, idx) == {0: 50, 1: 30}
    r = cluster_select(LABELS, mode="first-k", k=3, order="random", rng=4)
    c = counts(LABELS, r)
    assert len(c) == 3 and -1 not in c and all(c[k] == SIZES[k] for k in c)
    with pytest.raises(ValueError, match="fall in 4 clusters"):  # noise is not a cluster
        cluster_select(LABELS, mode="first-k", k=5)


def test_nearest_centroid_k_per_cluster():
    idx = cluster_select(LABELS, mode="nearest-centroid", k=3, within=DIST)
    assert counts(LABELS, idx) == {0: 3, 1: 3, 2: 3, 3: 3}
    assert sorted(DIST[idx].tolist()) == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]  # the 3 nearest of each
    with pytest.raises(ValueError, match="cluster 3 has 10 candidates, fewer than k=11"):
        cluster_select(LABELS, mode="nearest-centroid", k=11, within=DIST)
    with pytest.raises(ValueError, match="distances"):
        cluster_select(LABELS, mode="nearest-centroid", k=3)


def test_nearest_centroid_with_a_budget_goes_in_rounds():
    idx = cluster_select(LABELS, mode="nearest-centroid", budget=10, within=DIST)
    assert len(idx) == 10 and -1 not in LABELS[idx]
    assert DIST[idx].tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
    assert counts(LABELS, idx) == {0: 3, 1: 3, 2: 2, 3: 2}


def test_round_robin_one_from_each_cluster_in_turn_noise_its_own_group():
    idx = cluster_select(LABELS, mode="round-robin", budget=20, rng=1)
    assert counts(LABELS, idx) == {0: 4, 1: 4, 2: 4, 3: 4, -1: 4}
    assert LABELS[idx[:5]].tolist() == [0, 1, 2, 3, -1]  # largest first, noise (5) last
    # once noise (5) and cluster 3 (10) run out, the rounds go on over the others
    big = cluster_select(LABELS, mode="round-robin", budget=60, rng=1)
    assert counts(LABELS, big) == {0: 15, 1: 15, 2: 15, 3: 10, -1: 5}


def test_proportional_is_stratified_and_exact():
    idx = cluster_select(LABELS, mode="proportional", budget=23, rng=2)
    assert counts(LABELS, idx) == {0: 10, 1: 6, 2: 4, 3: 2, -1: 1}
    odd = cluster_select(LABELS, mode="proportional", budget=37, rng=2)
    assert len(odd) == 37 and len(set(odd)) == 37
    assert proportional_quotas(np.array([50, 30, 20, 10, 5]), budget=37).tolist() == [16, 10, 6, 3, 2]
    assert proportional_quotas(np.array([1, 1, 1]), budget=2).tolist() == [1, 1, 0]


@pytest.mark.parametrize("mode", ["whole", "round-robin", "proportional"])
def test_seeded_random_order_within_clusters(mode):
    a = cluster_select(LABELS, mode=mode, budget=33, rng=7)
    np.testing.assert_array_equal(a, cluster_select(LABELS, mode=mode, budget=33, rng=7))
    np.testing.assert_array_equal(a, cluster_select(LABELS, mode=mode, budget=33, rng=np.random.default_rng(7)))
    assert not np.array_equal(a, cluster_select(LABELS, mode=mode, budget=33, rng=8))


def test_candidates_restrict_the_draw_and_sizes():
    # half of each cluster but 0: 15 of cluster 1, 10 of 2, 5 of 3, 2 of the noise
    cand = np.concatenate([np.flatnonzero(LABELS == c)[: SIZES[c] // 2] for c in (1, 2, 3, -1)])
    idx = cluster_select(LABELS, mode="whole", budget=20, candidates=cand, rng=0)
    assert set(idx) <= set(cand) and len(idx) == 20
    assert counts(LABELS, idx) == {1: 15, 2: 5}  # cluster 1 has 15 candidates: whole, then 5 of 2
    with pytest.raises(ValueError, match="asked for 40 examples but only 30"):
        cluster_select(LABELS, mode="whole", budget=40, candidates=cand)


def test_noise_is_never_merged_into_a_cluster():
    with pytest.raises(ValueError, match=r"only 110 candidates in clusters \(noise left out\)"):
        cluster_select(LABELS, mode="whole", budget=111)
    everything = cluster_select(LABELS, mode="whole", budget=110)
    assert -1 not in LABELS[everything]
    assert counts(LABELS, cluster_select(LABELS, mode="proportional", budget=115)) == SIZES


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(mode="whole"), "takes a budget"),
        (dict(mode="whole", budget=3, k=2), "takes a budget"),
        (dict(mode="first-k", budget=3), "first-k takes k"),
        (dict(mode="nearest-centroid", budget=3, k=1), "either k"),
        (dict(mode="nearest", budget=3), "cluster mode 'nearest'"),
        (dict(mode="whole", budget=3, order="smallest"), "cluster order 'smallest'"),
        (dict(mode="whole", budget=-1), "whole number >= 0"),
        (dict(mode="whole", budget=2.5), "whole number >= 0"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        cluster_select(LABELS, **kwargs)


# ---------------------------------------------------------------- as a part of a selection recipe


def table(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    n = len(LABELS)
    return {
        "id": np.array([f"e{i}" for i in range(n)]),
        "gold": np.arange(n) % 2,
        "variability": rng.random(n) * 0.5,
        "confidence": rng.random(n),
        "region": np.where(np.arange(n) % 10 == 0, "hard", "none"),
        "cluster": LABELS,
        "cluster_distance": DIST,
    }


def test_ambiguous_within_each_cluster():
    cols = table()
    spec = ClusterSpec(mode="proportional", budget=23, rank="ambiguous")
    idx = take_cluster_part(cols, np.arange(len(LABELS)), len(LABELS), spec, np.random.default_rng(0))
    assert counts(LABELS, idx) == {0: 10, 1: 6, 2: 4, 3: 2, -1: 1}
    for c, n in counts(LABELS, idx).items():
        members = np.flatnonzero(LABELS == c)
        top = members[np.argsort(-cols["variability"][members], kind="stable")[:n]]
        assert set(idx[LABELS[idx] == c]) == set(top)  # the most variable members of each cluster
    bottom = take_cluster_part(cols, np.arange(len(LABELS)), len(LABELS),
                               ClusterSpec(mode="proportional", budget=23, rank="bottom:variability"), None)
    assert not set(bottom) & set(idx)


def test_recipe_cluster_part_with_drop_hard_other_parts_and_data_pct():
    cols = table()
    n = len(LABELS)
    recipe = Recipe(ambiguous=0.1, drop_hard=True, data_pct=0.5,
                    cluster=ClusterSpec(mode="round-robin", budget=0.2, order="random"))
    r = select(cols, recipe, seed=3)
    assert set(r.sizes) == {"ambiguous", "cluster:round-robin"}
    assert len(r) == int(0.5 * (int(0.1 * n) + int(0.2 * n)))
    assert not set(r.parts["ambiguous"]) & set(r.parts["cluster:round-robin"])
    assert (cols["region"][r.indices] != "hard").all()
    np.testing.assert_array_equal(r.indices, select(cols, recipe, seed=3).indices)
    # without data_pct: the cluster part has exactly the budget, drawn round-robin from what the ambiguous part left
    plain = Recipe(ambiguous=0.1, drop_hard=True, cluster=ClusterSpec(mode="round-robin", budget=0.2))
    full = select(cols, plain, seed=3)
    part = full.parts["cluster:round-robin"]
    assert len(part) == int(0.2 * n) and len(set(LABELS[part[:5]])) == 5
    assert not set(part) & set(full.parts["ambiguous"]) and (cols["region"][part] != "hard").all()
    # the recipe (saved in the selection JSON) reads back
    assert full.recipe["cluster"] == {"mode": "round-robin", "budget": 0.2, "k": None, "order": "largest", "rank": None}
    assert Recipe.from_dict({k: v for k, v in full.recipe.items() if k != "seed"}) == plain


def test_recipe_cluster_part_stratified_per_class():
    cols = table()
    r = select(cols, Recipe(stratify=True, cluster=ClusterSpec(mode="proportional", budget=0.2)), seed=0)
    gold = cols["gold"]
    assert [int((gold[r.indices] == g).sum()) for g in (0, 1)] == [int(0.2 * (gold == g).sum()) for g in (0, 1)]
    with pytest.raises(ValueError, match="fraction, not a count"):
        select(cols, Recipe(stratify=True, cluster=ClusterSpec(mode="proportional", budget=10)))


def test_recipe_cluster_part_errors_are_one_line():
    cols = table()
    with pytest.raises(ValueError, match="needs a 'cluster' column"):
        select({k: v for k, v in cols.items() if k != "cluster"}, Recipe(cluster=ClusterSpec(mode="whole", budget=3)))
    with pytest.raises(ValueError, match="takes no rank"):
        Recipe(cluster=ClusterSpec(mode="nearest-centroid", k=2, rank="ambiguous")).validate()
    with pytest.raises(ValueError, match="needs column 'aum'"):
        select(cols, Recipe(cluster=ClusterSpec(mode="whole", budget=3, rank="top:aum")))
