"""Label-issue scores and ranking measures on hand-made values."""

import numpy as np
import pytest

from datamap.core.label_errors import (
    auroc, average_precision, average_ranks, combine_ranks, flag_by_aum, method_scores, pick_threshold_samples,
    precision_at_k, rank, threshold_count, threshold_cut,
)


def test_scores_point_the_same_way():
    m = {"confidence": np.array([0.9, 0.2]), "aum": np.array([2.0, -1.0]), "el2n": np.array([0.1, 1.1]),
         "forgetfulness": np.array([0.0, np.inf])}
    s = method_scores(m)
    for name in ("confidence", "aum", "el2n", "forgetfulness", "rank_mean"):
        assert s[name][1] > s[name][0], name  # the second example is the suspicious one under every method
    assert s["confidence"].tolist() == pytest.approx([0.1, 0.8]) and s["aum"].tolist() == [-2.0, 1.0]
    assert s["rank_mean"].tolist() == [0.5, 1.0]  # ranks 1 and 2 of 2 under all four methods


def test_ranks_and_ties():
    assert average_ranks(np.array([3.0, 1.0, 3.0, np.inf])).tolist() == [2.5, 1.0, 2.5, 4.0]
    assert rank(np.array([0.1, 0.9, 0.5, 0.9])).tolist() == [4, 1, 3, 2]  # ties keep their order
    assert combine_ranks([np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0])]).tolist() == pytest.approx([2 / 3] * 3)


def test_ranking_measures_on_known_orders():
    truth = np.array([True, False, True, False, False])
    score = np.array([0.9, 0.8, 0.7, 0.1, 0.0])  # positives at ranks 1 and 3
    assert auroc(score, truth) == pytest.approx(5 / 6)  # 5 of the 6 (positive, negative) pairs in order
    assert average_precision(score, truth) == pytest.approx((1 + 2 / 3) / 2)
    assert precision_at_k(score, truth) == 0.5 and precision_at_k(score, truth, k=1) == 1.0
    assert auroc(-score, truth) == pytest.approx(1 / 6)
    assert auroc(np.zeros(5), truth) == 0.5  # ties count one half
    assert np.isnan(auroc(score, np.zeros(5, dtype=bool)))


def test_threshold_cut_is_the_99th_percentile():
    t = np.arange(-10.0, 0.0)  # -10 .. -1
    cut = threshold_cut(t)
    assert cut == pytest.approx(-1.09)  # position 0.99 x 9 = 8.91 between -2 and -1
    assert threshold_cut(t, percentile=50) == pytest.approx(-5.5)
    assert flag_by_aum(np.array([-1.2, -1.1, -1.08, -1.0, 3.0]), cut).tolist() == [True, True, False, False, False]
    with pytest.raises(ValueError, match="at least one"):
        threshold_cut(np.array([]))


def test_threshold_samples_are_a_seeded_fraction():
    assert threshold_count(100, 3) == 25 and threshold_count(99, 2) == 33
    a = pick_threshold_samples(100, 3, seed=1)
    assert len(a) == 25 and len(set(a)) == 25 and (np.diff(a) > 0).all()
    assert (pick_threshold_samples(100, 3, seed=1) == a).all() and not (pick_threshold_samples(100, 3, seed=2) == a).all()
