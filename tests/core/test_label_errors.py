"""Label-issue scores and ranking measures on hand-made values."""

import numpy as np
import pytest

from datamap.core.label_errors import (
    auroc, average_precision, average_ranks, class_confidence, combine_ranks, flag_by_aum, method_scores,
    pick_threshold_samples, precision_at_k, rank, threshold_count, threshold_cut,
)


def test_scores_point_the_same_way():
    m = {"confidence": np.array([0.9, 0.2]), "aum": np.array([2.0, -1.0]), "el2n": np.array([0.1, 1.1]),
         "forgetfulness": np.array([0.0, np.inf])}
    s = method_scores(m)
    for name in ("confidence", "aum", "el2n", "forgetfulness", "rank_mean"):
        assert s[name][1] > s[name][0], name  # the second example is the suspicious one under every method
    assert s["confidence"].tolist() == pytest.approx([0.1, 0.8]) and s["aum"].tolist() == [-2.0, 1.0]
    assert s["rank_mean"].tolist() == [0.5, 1.0]  # ranks 1 and 2 of 2 under all four methods


def test_class_confidence_divides_by_the_mean_confidence_of_the_given_class():
    conf = np.array([0.9, 0.5, 0.3, 0.6])
    given = np.array([0, 0, 1, 1])  # class means 0.7 and 0.45
    assert class_confidence(conf, given).tolist() == pytest.approx([1 - 0.9 / 0.7, 1 - 0.5 / 0.7, 1 - 0.3 / 0.45, 1 - 0.6 / 0.45])
    # a class the model learns less well as a whole: plain confidence puts its clean examples (c*) above
    # the flipped example of the easy class (f); dividing by the class mean puts f and the weak class's own
    # outlier (g) first
    conf = np.array([0.95, 0.97, 0.96, 0.60, 0.55, 0.50, 0.52, 0.15])
    given = np.array([0, 0, 0, 0, 1, 1, 1, 1])  #      c0    c0    c0    f     c1    c1    c1    g
    truth = np.array([False, False, False, True, False, False, False, True])
    s = method_scores({"confidence": conf, "aum": conf, "el2n": 1 - conf, "forgetfulness": np.zeros(8)}, given=given)
    assert auroc(s["confidence"], truth) == 0.75 and auroc(s["class_confidence"], truth) == 1.0
    assert "class_confidence" not in method_scores({"confidence": conf, "aum": conf, "el2n": conf, "forgetfulness": conf})
    assert class_confidence(np.array([0.0, 0.5]), np.array([0, 1])).tolist() == [1.0, 0.0]  # mean 0: score 1
    with pytest.raises(ValueError, match="integers"):
        class_confidence(conf, given.astype(float))


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
    # not the rows `datamap noise` flips with the same seed when the counts are equal (the two used to coincide)
    from datamap.core.noise import flip_labels

    labels = np.arange(100) % 3
    flipped = np.flatnonzero(flip_labels(labels, 3, kind="uniform", rate=0.25, seed=1)[1])
    assert len(flipped) == 25 and len(np.intersect1d(flipped, a)) < 15
