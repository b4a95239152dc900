"""Pairing rules and λ samplers (datamap.core.pairing)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datamap.core.pairing import (
    keep_mask,
    pair_easy_ambiguous,
    pair_random,
    pair_reverse,
    pair_same_label,
    pair_td_entropy,
    parse_lambda,
    synthetic_count,
)

N_DRAWS = 200_000


def is_permutation(partner: np.ndarray) -> bool:
    return np.array_equal(np.sort(partner), np.arange(len(partner)))


# ------------------------------------------------------------------ λ samplers


def test_beta_range_and_mean():
    lam = parse_lambda("beta:0.4").sample(np.random.default_rng(0), N_DRAWS)
    assert lam.min() >= 0.0 and lam.max() <= 1.0
    assert abs(lam.mean() - 0.5) < 0.005
    # Beta(a, a) variance = 1 / (4 (2a + 1)) = 1/7.2 for a = 0.4
    assert abs(lam.var() - 1 / 7.2) < 0.003


def test_beta_folded_range_and_mean():
    lam = parse_lambda("beta-folded:1").sample(np.random.default_rng(1), N_DRAWS)
    assert lam.min() >= 0.5 and lam.max() <= 1.0
    assert abs(lam.mean() - 0.75) < 0.003  # max(U, 1 - U) is uniform on [0.5, 1]
    lam = parse_lambda("beta-folded:0.4").sample(np.random.default_rng(2), N_DRAWS)
    assert lam.min() >= 0.5 and lam.max() <= 1.0


def test_normal_range_and_mean():
    lam = parse_lambda("normal:0.1,0.015").sample(np.random.default_rng(3), N_DRAWS)
    assert lam.min() >= 0.0 and lam.max() <= 1.0
    assert abs(lam.mean() - 0.1) < 0.001 and abs(lam.std() - 0.015) < 0.001


def test_normal_is_clipped_to_unit_interval():
    lam = parse_lambda("normal:0.5,10").sample(np.random.default_rng(4), 10_000)
    assert lam.min() == 0.0 and lam.max() == 1.0
    assert 0.4 < np.mean(lam == 1.0) < 0.6


def test_fixed():
    lam = parse_lambda("fixed:0.7").sample(np.random.default_rng(5), 1000)
    assert np.all(lam == 0.7)


def test_per_batch_repeats_one_draw():
    sampler = parse_lambda("beta:1")
    lam = sampler.draw(np.random.default_rng(6), 16, per="batch")
    assert lam.shape == (16,) and np.all(lam == lam[0])
    lam = sampler.draw(np.random.default_rng(6), 16, per="example")
    assert len(np.unique(lam)) == 16


def test_seeded_draws_repeat():
    sampler = parse_lambda("beta:0.2")
    assert np.array_equal(sampler.sample(np.random.default_rng(9), 50), sampler.sample(np.random.default_rng(9), 50))


@pytest.mark.parametrize(
    "spec", ["gamma:1", "beta", "beta:0", "beta:-1", "beta:x", "normal:0.1", "normal:0.1,-1", "fixed:1.5", "fixed:nan"]
)
def test_bad_lambda_specs(spec):
    with pytest.raises(ValueError, match=f"^spec '{spec}': ") as e:
        parse_lambda(spec)
    assert "--" not in str(e.value)  # the core speaks of its parameters, not of options


# ------------------------------------------------------------------ in-batch rules


@pytest.mark.parametrize("n", [0, 1, 2, 5, 8])
def test_reverse(n):
    partner = pair_reverse(n)
    assert is_permutation(partner)
    assert all(partner[i] == n - 1 - i for i in range(n))
    fixed = np.flatnonzero(partner == np.arange(n))
    assert list(fixed) == ([n // 2] if n % 2 else [])  # only the middle of an odd batch


def test_random_is_a_permutation():
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 64):
        assert is_permutation(pair_random(n, rng))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=40), st.integers(0, 2**31))
def test_same_label(labels, seed):
    labels = np.array(labels)
    partner = pair_same_label(labels, np.random.default_rng(seed))
    assert is_permutation(partner)  # every example is first member once and partner once
    assert np.all(labels[partner] == labels)
    counts = {v: int(np.sum(labels == v)) for v in labels}
    for i in range(len(labels)):
        assert (partner[i] == i) == (counts[labels[i]] == 1)  # self only when alone in its label


# ------------------------------------------------------------------ training-dynamics rules

region_st = st.sampled_from(["easy", "ambiguous", "hard", "none"])


@st.composite
def dynamics(draw):
    n = draw(st.integers(1, 40))
    labels = np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    regions = np.array(draw(st.lists(region_st, min_size=n, max_size=n)), dtype=object)
    entropy = np.array(draw(st.lists(st.floats(0, 1.1), min_size=n, max_size=n)))
    return labels, regions, entropy


def test_td_entropy_by_hand():
    labels = np.array([0, 0, 0, 0, 1, 1, 0])
    regions = np.array(["easy", "easy", "easy", "easy", "easy", "easy", "ambiguous"], dtype=object)
    entropy = np.array([0.4, 0.1, 0.3, 0.2, 0.5, 0.6, 0.9])
    partner = pair_td_entropy(labels, regions, entropy)
    # group (easy, 0) by entropy: 1 (0.1), 3 (0.2), 2 (0.3), 0 (0.4) -> 1<->0, 3<->2
    # group (easy, 1): 4 <-> 5; group (ambiguous, 0) has one member: itself
    assert partner.tolist() == [1, 0, 3, 2, 5, 4, 6]


def test_td_entropy_odd_group_middle_takes_highest():
    labels = np.zeros(5, dtype=int)
    regions = np.array(["none"] * 5, dtype=object)
    entropy = np.array([0.5, 0.1, 0.3, 0.9, 0.2])  # order: 1, 4, 2, 0, 3
    partner = pair_td_entropy(labels, regions, entropy)
    assert partner.tolist() == [4, 3, 3, 1, 0]  # middle (row 2) -> highest (row 3)


@settings(max_examples=100, deadline=None)
@given(dynamics())
def test_td_entropy_invariants(data):
    labels, regions, entropy = data
    partner = pair_td_entropy(labels, regions, entropy)
    assert partner.shape == labels.shape  # every example is the first member of one pair
    assert np.all(labels[partner] == labels) and np.all(regions[partner] == regions)
    for key in set(zip(regions, labels)):
        members = np.flatnonzero((regions == key[0]) & (labels == key[1]))
        order = members[np.argsort(entropy[members], kind="stable")]
        half = len(order) // 2
        # the k-th lowest meets the k-th highest: lower half partners are in decreasing entropy
        assert np.all(partner[order[:half]] == order[::-1][:half])
        assert np.all(entropy[partner[order[:half]]] >= entropy[order[:half]])
        if len(order) > 1:  # every member is also somebody's partner except possibly the middle
            assert set(order) - set(partner[order]) <= {order[half]}


@settings(max_examples=100, deadline=None)
@given(dynamics())
def test_easy_ambiguous_invariants(data):
    labels, regions, entropy = data
    partner = pair_easy_ambiguous(labels, regions, entropy)
    assert partner.shape == labels.shape
    assert np.all(labels[partner] == labels)
    for value in np.unique(labels):
        easy = np.flatnonzero((labels == value) & (regions == "easy"))
        amb = np.flatnonzero((labels == value) & (regions == "ambiguous"))
        if len(easy) and len(amb):
            assert np.all(regions[partner[easy]] == "ambiguous")
            assert np.all(regions[partner[amb]] == "easy")
            # entropy order: lower-entropy easy examples get higher-entropy ambiguous partners
            e_sorted = easy[np.argsort(entropy[easy], kind="stable")]
            k = min(len(easy), len(amb))
            assert np.all(np.diff(entropy[partner[e_sorted[:k]]]) <= 0)
            # every ambiguous example is used as a partner when the easy list is at least as long
            if len(easy) >= len(amb):
                assert set(amb) <= set(partner[easy])
    other = ~np.isin(regions, ["easy", "ambiguous"])
    assert np.all(regions[partner[other]] == regions[other])


def test_easy_ambiguous_by_hand():
    labels = np.array([1, 1, 1, 1, 1])
    regions = np.array(["easy", "easy", "easy", "ambiguous", "ambiguous"], dtype=object)
    entropy = np.array([0.3, 0.1, 0.2, 0.6, 0.8])
    partner = pair_easy_ambiguous(labels, regions, entropy)
    # easy by entropy: 1, 2, 0 get ambiguous by decreasing entropy 4, 3, (cycled) 4;
    # ambiguous 4, 3 get the easy ones in entropy order: 4 -> 1, 3 -> 2
    assert partner.tolist() == [4, 4, 3, 2, 1]


def test_nan_entropy_is_an_error():
    with pytest.raises(ValueError, match="^entropy is missing \\(NaN\\) at row 1$"):
        pair_td_entropy(np.array([0, 0]), np.array(["easy", "easy"], dtype=object), np.array([0.1, np.nan]))


def test_drop_hard_then_pair():
    labels = np.array([0, 0, 1, 1, 0, 1])
    regions = np.array(["hard", "easy", "hard", "ambiguous", "easy", "none"], dtype=object)
    entropy = np.array([0.9, 0.1, 0.8, 0.7, 0.2, 0.3])
    kept = np.flatnonzero(keep_mask(regions))
    assert kept.tolist() == [1, 3, 4, 5]
    partner = kept[pair_td_entropy(labels[kept], regions[kept], entropy[kept])]
    assert not np.any(regions[partner] == "hard")
    # (easy, 0): 1 <-> 4; (ambiguous, 1) and (none, 1) are singletons
    assert partner.tolist() == [4, 3, 1, 5]


@pytest.mark.parametrize("ratio", [1.0, 0.3, 0.5, 2.0, 2.5, 1 / 3])
def test_synthetic_count_totals(ratio):
    batches = [32] * 10 + [7]
    seen, total = 0, 0
    for size in batches:
        count = synthetic_count(seen, size, ratio)
        # spread evenly: each batch gets floor or ceil of its share, never more or less
        assert int(np.floor(ratio * size - 1e-9)) <= count <= int(np.ceil(ratio * size + 1e-9))
        total += count
        seen += size
    assert total == int(np.floor(ratio * seen + 1e-9))
    if ratio == 1.0:
        assert all(synthetic_count(s, 32, 1.0) == 32 for s in (0, 32, 64))
