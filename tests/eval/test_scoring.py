"""Classification scores: against hand-computed values and scikit-learn."""

from __future__ import annotations

import json

import numpy as np
import pytest

from datamap.errors import DatamapError
from datamap.core.probs import softmax
from datamap.eval.scoring import classification_scores, expected_calibration_error

NAMES = ["a", "b", "c"]


def probs_for(preds, conf=0.8):
    """One row per prediction: ``conf`` on the predicted class, the rest split evenly."""
    p = np.full((len(preds), 3), (1 - conf) / 2)
    p[np.arange(len(preds)), preds] = conf
    return p


def test_scores_by_hand():
    gold = np.array([0, 0, 0, 1, 1, 2])
    pred = np.array([0, 0, 1, 1, 0, 1])
    s = classification_scores(probs_for(pred), gold, NAMES)
    # confusion (rows gold): a -> [2, 1, 0], b -> [1, 1, 0], c -> [0, 1, 0]
    assert s["confusion"] == [[2, 1, 0], [1, 1, 0], [0, 1, 0]]
    assert s["accuracy"] == pytest.approx(3 / 6)
    # precision: a 2/3, b 1/3, c never predicted -> 0; recall: a 2/3, b 1/2, c 0
    assert s["per_class"]["a"] == {"precision": pytest.approx(2 / 3), "recall": pytest.approx(2 / 3), "f1": pytest.approx(2 / 3), "support": 3}
    assert s["per_class"]["b"]["precision"] == pytest.approx(1 / 3)
    assert s["per_class"]["b"]["recall"] == pytest.approx(1 / 2)
    assert s["per_class"]["b"]["f1"] == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))  # 0.4
    assert s["per_class"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert s["precision_macro"] == pytest.approx((2 / 3 + 1 / 3 + 0) / 3)
    assert s["recall_macro"] == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    assert s["f1_macro"] == pytest.approx((2 / 3 + 0.4 + 0) / 3)
    assert s["n"] == 6 and s["label_names"] == NAMES
    # every confidence is 0.8 (one bin), accuracy 0.5 -> ECE = |0.5 - 0.8|
    assert s["ece"] == pytest.approx(0.3)
    assert s["loss"] == pytest.approx(-(3 * np.log(0.8) + 3 * np.log(0.1)) / 6)
    assert json.loads(json.dumps(s)) == s


def test_scores_match_sklearn():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(300, 4)) * 2
    gold = rng.integers(0, 4, 300)
    gold[gold == 3] = 2  # class 3 has no gold examples
    names = ["w", "x", "y", "z"]
    s = classification_scores(logits, gold, names)
    pred = logits.argmax(1)
    labels = [0, 1, 2, 3]
    assert s["accuracy"] == pytest.approx(sk.accuracy_score(gold, pred))
    p, r, f, sup = sk.precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    for c, name in enumerate(names):
        assert s["per_class"][name]["precision"] == pytest.approx(p[c])
        assert s["per_class"][name]["recall"] == pytest.approx(r[c])
        assert s["per_class"][name]["f1"] == pytest.approx(f[c])
        assert s["per_class"][name]["support"] == sup[c]
    assert s["f1_macro"] == pytest.approx(sk.f1_score(gold, pred, labels=labels, average="macro", zero_division=0))
    assert s["precision_macro"] == pytest.approx(sk.precision_score(gold, pred, labels=labels, average="macro", zero_division=0))
    assert s["recall_macro"] == pytest.approx(sk.recall_score(gold, pred, labels=labels, average="macro", zero_division=0))
    assert s["confusion"] == sk.confusion_matrix(gold, pred, labels=labels).tolist()
    assert s["loss"] == pytest.approx(sk.log_loss(gold, softmax(logits), labels=labels))


def test_logits_and_probs_give_same_scores():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(50, 3))
    gold = rng.integers(0, 3, 50)
    a = classification_scores(logits, gold, NAMES)
    b = classification_scores(softmax(logits), gold, NAMES)
    for k in ("accuracy", "f1_macro", "ece", "loss"):
        assert a[k] == pytest.approx(b[k])


def test_ece_hand_made():
    # n_bins = 5: bins (0, .2], (.2, .4], (.4, .6], (.6, .8], (.8, 1]
    probs = np.array(
        [
            [0.55, 0.45],  # bin 2, correct (gold 0)
            [0.55, 0.45],  # bin 2, wrong
            [0.10, 0.90],  # bin 4, correct (gold 1)
            [0.10, 0.90],  # bin 4, correct
            [0.80, 0.20],  # bin 3 (0.8 is the right edge of (.6, .8]), correct
        ]
    )
    gold = np.array([0, 1, 1, 1, 0])
    # bin 2: acc 0.5, conf 0.55 -> 2/5 * 0.05; bin 4: acc 1, conf 0.9 -> 2/5 * 0.1; bin 3: 1/5 * 0.2
    expected = 2 / 5 * 0.05 + 2 / 5 * 0.1 + 1 / 5 * 0.2
    assert expected_calibration_error(probs, gold, n_bins=5) == pytest.approx(expected)
    # a perfectly calibrated model: confidence 1, always right
    assert expected_calibration_error(np.eye(2)[[0, 1, 1]], np.array([0, 1, 1])) == 0.0
    for bad in (0, 2.5, True):
        with pytest.raises(DatamapError, match=r"^n_bins must be an integer >= 1, got "):
            expected_calibration_error(probs, gold, n_bins=bad)


def test_bad_inputs():
    good = np.zeros((3, 3))
    with pytest.raises(DatamapError, match="3 classes but there are 2 label names"):
        classification_scores(good, [0, 1, 2], ["a", "b"])
    with pytest.raises(DatamapError, match="gold label 5 at row 1"):
        classification_scores(good, np.array([0, 5, 1]), NAMES)
    with pytest.raises(DatamapError, match="gold label -1"):
        classification_scores(good, np.array([-1, 0, 1]), NAMES)
    with pytest.raises(DatamapError, match="gold has shape"):
        classification_scores(good, np.array([0, 1]), NAMES)
    with pytest.raises(DatamapError, match="2-d"):
        classification_scores(np.zeros(3), np.array([0, 1, 2]), NAMES)
    bad = good.copy()
    bad[2, 1] = np.nan
    with pytest.raises(DatamapError, match="non-finite logits at row 2"):
        classification_scores(bad, np.array([0, 1, 2]), NAMES)


def test_ece_edge_goes_to_the_lower_bin_with_opposite_gaps_around_it():
    # n_bins = 5; 0.8 is the right edge of (.6, .8]. Bin 3 is over-confident, bin 4 under-confident,
    # so moving the edge example between them changes the sum (the hand-made test above cannot tell).
    probs = np.array([[0.7, 0.3], [0.8, 0.2], [0.9, 0.1]])
    gold = np.array([1, 1, 0])  # 0.7 wrong, 0.8 wrong, 0.9 right
    # bin 3 = {0.7, 0.8}: |0 - 1.5| ; bin 4 = {0.9}: |1 - 0.9|
    assert expected_calibration_error(probs, gold, n_bins=5) == pytest.approx((1.5 + 0.1) / 3)
    # the other closure ([.6, .8) and [.8, 1]) would give (0.7 + 0.7) / 3


def test_rounded_probabilities_are_not_softmaxed_again():
    """Rows exported with 4 decimals sum to 1 +- 1e-4: still probabilities (core.probs' one rule)."""
    p = np.array([[0.3334, 0.3333, 0.3334], [0.7001, 0.2, 0.1], [0.05, 0.05, 0.9]])
    gold = np.array([0, 0, 2])
    s = classification_scores(p, gold, NAMES)
    assert s["loss"] == pytest.approx(-np.mean(np.log([0.3334, 0.7001, 0.9])))
    assert s["ece"] == pytest.approx(classification_scores(p, gold, NAMES, probs=True)["ece"])
