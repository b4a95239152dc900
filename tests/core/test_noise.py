"""Label noise injection: exact counts, per-class rates, determinism, the three kinds."""

import numpy as np
import pytest

from datamap.core.noise import apportion, flip_labels, flip_matrix, flip_pairs, flip_rates, flip_uniform, transition_counts


def labels(n=1000, c=4, seed=0):
    return np.random.default_rng(seed).integers(0, c, size=n)


@pytest.mark.parametrize("rate,n,expect", [(0.1, 1000, 100), (0.3, 999, 299), (0.05, 10, 0), (0.29, 100, 29), (0.0, 50, 0), (1.0, 7, 7)])
def test_uniform_exact_count_and_never_the_same_class(rate, n, expect):
    y = labels(n, 3)
    noisy, flipped = flip_uniform(y, 3, rate=rate, seed=1)
    assert flipped.sum() == expect  # fraction_count: floor(rate * n) with a 1e-9 slack (0.29 * 100 -> 29)
    assert ((noisy != y) == flipped).all()  # every flip changes the class, nothing else changes
    assert noisy.min() >= 0 and noisy.max() < 3


def test_uniform_targets_are_spread_over_the_other_classes():
    y = np.zeros(30000, dtype=np.int64)
    noisy, flipped = flip_uniform(y, 4, rate=0.5, seed=2)
    counts = np.bincount(noisy[flipped], minlength=4)
    assert counts[0] == 0 and np.allclose(counts[1:] / counts.sum(), 1 / 3, atol=0.02)


def test_pairs_go_to_the_partner():
    y = labels(1000, 4)
    noisy, flipped = flip_pairs(y, 4, rate=0.2, seed=3)
    assert flipped.sum() == 200
    assert (noisy[flipped] == (y[flipped] + 1) % 4).all() and (noisy[~flipped] == y[~flipped]).all()
    noisy, flipped = flip_pairs(y, 4, rate=0.2, mapping={0: 2, 2: 0}, seed=3)  # classes 1 and 3 keep theirs
    assert flipped.sum() == 200 and set(np.unique(y[flipped])) == {0, 2}
    assert (noisy[flipped] == 2 - y[flipped]).all()
    with pytest.raises(ValueError, match="only .* examples have a partner"):
        flip_pairs(y, 4, rate=0.9, mapping={0: 2, 2: 0}, seed=3)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_on_two_classes_pair_noise_is_uniform_noise(seed):
    """With two classes the only other class is the partner, and both kinds draw the rows alike: the same seed
    flips the same rows to the same labels (so a pair-noise arm of a binary experiment repeats its uniform one)."""
    y = labels(8530, 2, seed)
    assert all((a == b).all() for a, b in zip(flip_pairs(y, 2, rate=0.2, seed=seed), flip_uniform(y, 2, rate=0.2, seed=seed)))
    # not so with more classes: the targets differ
    y4 = labels(1000, 4, seed)
    assert (flip_pairs(y4, 4, rate=0.2, seed=seed)[0] != flip_uniform(y4, 4, rate=0.2, seed=seed)[0]).any()


def test_matrix_counts_are_the_apportioned_rows():
    y = np.repeat([0, 1, 2], [100, 50, 7])
    t = np.array([[0.8, 0.15, 0.05], [0.1, 0.9, 0.0], [0.0, 0.5, 0.5]])
    noisy, flipped = flip_matrix(y, 3, matrix=t, seed=4)
    counts = transition_counts(y, noisy, 3)
    assert counts.tolist() == [[80, 15, 5], [5, 45, 0], [0, 4, 3]]  # 7 x (0.5, 0.5): the tie goes to class 1
    assert (flipped == (noisy != y)).all()
    assert apportion(10, np.array([1 / 3, 1 / 3, 1 / 3])).tolist() == [4, 3, 3]
    with pytest.raises(ValueError, match="row 1 sums to 0.9"):
        flip_matrix(y, 3, matrix=[[1, 0, 0], [0, 0.9, 0], [0, 0, 1]])


def test_per_class_rates():
    y = np.repeat([0, 1], [10, 40])
    noisy = y.copy()
    noisy[:3] = 1  # 3 of 10 in class 0
    noisy[10:14] = 0  # 4 of 40 in class 1
    assert flip_rates(y, noisy, 2).tolist() == [0.3, 0.1]
    assert np.isnan(flip_rates(y, noisy, 3)[2])  # a class without examples has no rate


def test_same_seed_same_flips_other_seed_other_flips():
    y = labels(500, 5)
    for kind, kw in (("uniform", {"rate": 0.3}), ("pairs", {"rate": 0.3}), ("matrix", {"matrix": np.full((5, 5), 0.2)})):
        a = flip_labels(y, 5, kind=kind, seed=7, **kw)
        b = flip_labels(y, 5, kind=kind, seed=7, **kw)
        c = flip_labels(y, 5, kind=kind, seed=8, **kw)
        assert (a[0] == b[0]).all() and (a[1] == b[1]).all()
        assert not (a[0] == c[0]).all()


def test_bad_arguments():
    y = labels(10, 2)
    with pytest.raises(ValueError, match="rate must be a fraction"):
        flip_labels(y, 2, kind="uniform", rate=1.5)
    with pytest.raises(ValueError, match="kind must be one of"):
        flip_labels(y, 2, kind="random", rate=0.1)
    with pytest.raises(ValueError, match="not from rate"):
        flip_labels(y, 2, kind="matrix", rate=0.1, matrix=np.eye(2))
    with pytest.raises(ValueError, match=r"outside \[0, 2\)"):
        flip_labels(np.array([0, 2]), 2, kind="uniform", rate=0.5)
