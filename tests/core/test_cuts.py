"""Cuts on hand-made rankings: exact counts, the per-class cap, the refusals."""

import numpy as np
import pytest

from datamap.core.cuts import (Cut, cap_per_class, estimated_issue_count, parse_cut, rank_cut, refusal, resolve_cut,
                               top_of_ranking)
from datamap.core.health import check_chance

# ten examples, scores 10..1 in a shuffled order: the k highest are the first k of ORDER
SCORE = np.array([3.0, 9.0, 1.0, 10.0, 5.0, 7.0, 2.0, 8.0, 6.0, 4.0])
ORDER = np.argsort(-SCORE)  # rows 3, 1, 7, 5, 8, 4, 9, 0, 6, 2


def rows(flags):
    return set(np.flatnonzero(flags).tolist())


def test_parse_cut_forms_and_errors():
    assert parse_cut("auto") == Cut("auto") and parse_cut("AUM0") == Cut("aum0")
    assert parse_cut("top:3") == Cut("top", 3) and parse_cut("fraction:0.25") == Cut("fraction", 0.25)
    assert str(parse_cut("fraction:0.25")) == "fraction:0.25"
    for bad in ("top:0", "top:x", "fraction:0", "fraction:1.5", "count:3", "best", "top"):
        with pytest.raises(ValueError):
            parse_cut(bad)
    assert resolve_cut(Cut("auto"), has_threshold_samples=True) == Cut("threshold")
    assert resolve_cut(Cut("auto"), has_threshold_samples=False) == Cut("count")
    assert resolve_cut(Cut("top", 2), has_threshold_samples=True) == Cut("top", 2)


def test_top_and_fraction_take_exact_counts_from_the_top():
    assert rows(rank_cut(Cut("top", 3), SCORE)) == set(ORDER[:3].tolist()) == {3, 1, 7}
    assert rank_cut(Cut("top", 30), SCORE).all()  # more than N: all
    assert rows(rank_cut(Cut("fraction", 0.29), SCORE)) == {3, 1}  # floor(2.9) = 2
    assert rows(rank_cut(Cut("fraction", 0.3), SCORE)) == {3, 1, 7}  # floor(3.0) = 3, not 2.9999
    assert rows(rank_cut(Cut("count"), SCORE, estimated=4)) == {3, 1, 7, 5}
    with pytest.raises(ValueError):
        rank_cut(Cut("count"), SCORE)
    ties = np.array([1.0, 2.0, 2.0, 2.0])
    assert rows(top_of_ranking(ties, 2)) == {1, 2}  # ties keep the examples' order


def test_estimated_issue_count_by_hand():
    # given 0: p(0) = .9, .8, .2 -> t0 = .6333; given 1: p(1) = .9, .7, .1 -> t1 = .5667
    probs = np.array([[.9, .1], [.8, .2], [.2, .8], [.1, .9], [.3, .7], [.9, .1]])
    given = np.array([0, 0, 0, 1, 1, 1])
    # row 2: only p(1) = .8 >= t1 -> (0, 1), an issue; row 5: only p(0) = .9 >= t0 -> (1, 0), an issue
    assert estimated_issue_count(probs, given) == 2
    # a row whose probabilities reach no threshold is not counted
    probs2 = probs.copy()
    probs2[5] = [.5, .5]  # given 1: t1 = (.9 + .7 + .5) / 3 = .7 > .5 and t0 = .6333 > .5 -> not counted
    assert estimated_issue_count(probs2, given) == 1
    assert estimated_issue_count(np.zeros((0, 2)), np.zeros(0, dtype=int)) == 0
    with pytest.raises(ValueError):
        estimated_issue_count(probs, np.array([0, 0, 0, 1, 1, 2]))


def test_estimated_issue_count_equals_cleanlab_off_diagonal():
    cleanlab_count = pytest.importorskip("cleanlab.count")
    for seed in range(3):
        rng = np.random.default_rng(seed)
        p = np.exp(rng.normal(size=(300, 3)) * 2)
        p /= p.sum(1, keepdims=True)
        y = rng.integers(0, 3, 300)
        assert estimated_issue_count(p, y) == cleanlab_count.num_label_issues(y, p, estimation_method="off_diagonal")


def test_cap_binds_per_class_and_keeps_the_highest_ranked():
    given = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])  # class 0: rows 0-3, class 1: rows 4-9
    flags = rank_cut(Cut("top", 6), SCORE)  # rows 3, 1, 7, 5, 8, 4: class 0 {1, 3}, class 1 {4, 5, 7, 8}
    capped_flags, capped = cap_per_class(flags, SCORE, given, max_share=0.5)
    assert rows(capped_flags) == {3, 1, 7, 5, 8}  # class 1: floor(0.5 * 6) = 3 kept: 7, 5, 8 (score 8, 7, 6); 4 dropped
    assert len(capped) == 1 and (capped[0].label, capped[0].n, capped[0].before, capped[0].after) == (1, 6, 4, 3)
    same, none = cap_per_class(flags, SCORE, given, max_share=1.0)
    assert (same == flags).all() and none == []
    _, capped = cap_per_class(flags, SCORE, given, max_share=0.25)  # floor(1) of class 0, floor(1.5) = 1 of class 1
    assert [(c.label, c.after) for c in capped] == [(0, 1), (1, 1)]


def test_refusal_at_chance_and_when_most_are_flagged():
    at_chance = [check_chance(0.49, [100, 100], what="validation")]
    why = refusal(at_chance, 10, 200)
    assert why and "chance" in why and "validation" in why
    fine = [check_chance(0.80, [100, 100], what="validation")]
    assert refusal(fine, 100, 200) is None  # exactly half: allowed
    why = refusal(fine, 101, 200)
    assert why and "101 of 200" in why
