"""SmallToLarge selection on hand-made clusters."""

import numpy as np
import pytest

from datamap.core.checks import InputError
from datamap.core.clusters import cluster_select, s2l_quotas
from datamap.core.selection import Recipe, s2l_sample, select

# cluster 0: 50 rows, cluster 1: 2 rows, cluster 2: 5 rows (interleaved so positions say nothing)
LABELS = np.array([0] * 50 + [1] * 2 + [2] * 5)[np.random.default_rng(3).permutation(57)]


def counts(picked):
    return np.bincount(LABELS[picked], minlength=3).tolist()


def test_small_clusters_whole_the_rest_to_the_large_one():
    picked = s2l_sample(LABELS, 20, seed=0)
    assert len(picked) == 20 and len(set(picked.tolist())) == 20
    assert np.array_equal(picked, np.sort(picked))
    # visit 2 (size 2): share 20 // 3 = 6 -> whole (2); 5: 18 // 2 = 9 -> whole (5); 50: 13
    assert counts(picked) == [13, 2, 5]


def test_even_split_when_clusters_are_large_enough():
    labels = np.repeat([0, 1, 2], [10, 12, 30])
    picked = s2l_sample(labels, 16, seed=1)
    # 10: 16 // 3 = 5; 12: 11 // 2 = 5; 30: 6
    assert np.bincount(labels[picked]).tolist() == [5, 5, 6]
    assert s2l_quotas(np.array([10, 12, 30]), budget=16).tolist() == [5, 5, 6]


def test_seeded_and_uniform_within_clusters():
    a, b, c = s2l_sample(LABELS, 20, seed=0), s2l_sample(LABELS, 20, seed=0), s2l_sample(LABELS, 20, seed=1)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    big = np.flatnonzero(LABELS == 0)
    seen = np.zeros(57)
    for seed in range(200):
        seen[s2l_sample(LABELS, 20, seed=seed)] += 1
    # every member of the 50-row cluster is drawn about 13/50 of the time
    assert seen[big].min() > 0.1 * 200 and seen[big].max() < 0.45 * 200


def test_fraction_budget_and_too_large():
    assert len(s2l_sample(LABELS, 0.5, seed=0)) == 28  # floor(0.5 * 57)
    with pytest.raises(InputError, match="asked for 58"):
        s2l_sample(LABELS, 58)


def test_s2l_as_a_recipe_cluster_part():
    table = {"id": np.array([f"e{i}" for i in range(57)], dtype=object), "cluster": LABELS}
    result = select(table, Recipe(cluster={"mode": "s2l", "budget": 20}), seed=0)
    assert len(result) == 20
    picked = np.sort(cluster_select(LABELS, mode="s2l", budget=20, rng=np.random.default_rng(0)))
    assert counts(picked) == [13, 2, 5]
