"""Health checks (model near chance, too few epochs, class imbalance, unbalanced selections) and the
class-stratified sample of ``train --limit``, on values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from datamap.core.health import (
    CHANCE_MARGIN, IMBALANCE_RATIO, MIN_EPOCHS, SELECTION_FACTOR, check_chance, check_epochs, check_imbalance,
    check_selection, health_checks, imbalance_ratio,
)
from datamap.core.sampling import stratified_sample


def test_stated_limits():
    assert (CHANCE_MARGIN, MIN_EPOCHS, IMBALANCE_RATIO, SELECTION_FACTOR) == (0.05, 3, 3.0, 1.5)


def test_imbalance_ratio():
    assert imbalance_ratio([80, 19]) == pytest.approx(80 / 19)
    assert imbalance_ratio([5, 0, 3]) == float("inf")
    assert imbalance_ratio([7]) == 1.0
    with pytest.raises(ValueError, match=">= 0"):
        imbalance_ratio([3, -1])


def test_chance_is_majority_share_plus_margin():
    # 80 negatives and 20 positives: always "neg" scores 0.80; the limit is 0.85
    near = check_chance(0.84, [80, 20], what="validation")
    assert not near.ok and "at or near chance" in near.message and "0.800" in near.message and "0.850" in near.message
    assert check_chance(0.85, [80, 20], what="validation").ok
    assert not check_chance(0.52, [50, 50], what="v").ok and check_chance(0.56, [50, 50], what="v").ok


def test_epochs():
    assert not check_epochs(2).ok and "at least 3" in check_epochs(2).message
    assert check_epochs(3).ok


def test_imbalance_message_names_classes_and_shares():
    f = check_imbalance([80, 19], ["neg", "pos"], what="selection amb", check="selection")
    assert not f.ok and f.check == "selection"
    assert f.message == "selection amb: neg 80 (81%), pos 19 (19%); largest/smallest 4.2; warns above 3"
    assert check_imbalance([30, 10], ["a", "b"]).ok  # exactly 3 is allowed


def test_selection_balance_is_relative_to_the_training_set():
    # rotten_tomatoes-like: a balanced training set, an ambiguous third that is 63% positive
    f = check_selection([37, 62], [150, 150], ["neg", "pos"], what="selection amb33")
    assert not f.ok and f.message == ("selection amb33: neg 37 (37%), pos 62 (63%); largest/smallest 1.68, training set "
                                      "1.00 (warns above 1.50 = 1.5 x the training set's)")
    assert check_selection([60, 40], [150, 150]).ok  # 60/40 is exactly 1.5: fine
    assert check_selection([75, 25], [300, 100]).ok  # a stratified pick of a 3:1 set keeps 3:1
    assert not check_selection([90, 10], [300, 100]).ok  # 9:1 of a 3:1 set
    assert not check_selection([10, 0, 5], [10, 10, 10]).ok  # a class the training set has is missing
    assert check_selection([5, 0, 5], [10, 0, 10]).ok  # ... but not one the training set lacks too


def test_health_checks_in_order():
    gold = np.array([0] * 8 + [1] * 2)
    pred = np.zeros(10, dtype=int)  # predicts the majority class: accuracy 0.8 = majority share
    found = health_checks(gold=gold, pred=pred, n_classes=2, epochs=2, names=["neg", "pos"],
                          evals={"validation": (0.9, [5, 5])}, selections={"amb": [9, 1]})
    assert [(f.check, f.ok) for f in found] == [("chance", True), ("chance", False), ("epochs", False),
                                                ("imbalance", False), ("selection", False)]
    assert found[0].message.startswith("evaluation set validation: accuracy 0.900 is above chance")


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_stratified_sample_keeps_class_proportions(seed):
    labels = np.array([0] * 700 + [1] * 200 + [2] * 100)  # sorted by class, like rotten_tomatoes
    rows = stratified_sample(labels, 300, seed=seed)
    assert len(rows) == 300 == len(np.unique(rows)) and np.all(np.diff(rows) > 0)
    assert np.bincount(labels[rows], minlength=3).tolist() == [210, 60, 30]
    assert np.array_equal(rows, stratified_sample(labels, 300, seed=seed))  # deterministic under a seed
    assert not np.array_equal(rows, stratified_sample(labels, 300, seed=seed + 100))


def test_stratified_sample_remainders_and_small_classes():
    labels = np.array([0] * 5 + [1] * 3 + [2] * 2)
    # 7 of 10: exact 3.5, 2.1, 1.4 -> floors 3, 2, 1, the one left goes to the largest remainder (class 0)
    assert np.bincount(labels[stratified_sample(labels, 7, seed=0)]).tolist() == [4, 2, 1]
    rare = np.array([0] * 98 + [1] * 2)
    assert np.bincount(rare[stratified_sample(rare, 10, seed=3)], minlength=2).tolist() == [9, 1]
    with pytest.raises(ValueError, match=r"\[1, 10\]"):
        stratified_sample(np.arange(10), 11, seed=0)
