"""sft_metrics against values computed by hand."""

import math

import numpy as np
import pytest

from datamap.core.checks import InputError
from datamap.core.sft_metrics import SFT_METRIC_COLUMNS, sft_metrics, trajectory_matrix

# two examples, three points
LOSS = np.array([[4.0, 2.0, 1.0], [3.0, 3.0, 6.0]])
TOK = np.array([[2, 2, 2], [3, 3, 3]])
COR = np.array([[1, 2, 1], [0, 1, 2]])


def test_hand_computed_values():
    m = sft_metrics(LOSS, TOK, COR)
    assert set(SFT_METRIC_COLUMNS) <= set(m) and m["n_tokens"].tolist() == [2, 3]
    # example 0: token losses 2, 1, 0.5
    assert m["mean_loss"][0] == pytest.approx(3.5 / 3)
    assert (m["first_loss"][0], m["last_loss"][0], m["loss_drop"][0]) == pytest.approx((2.0, 0.5, 1.5))
    probs = [math.exp(-2), math.exp(-1), math.exp(-0.5)]
    c = sum(probs) / 3
    assert m["confidence"][0] == pytest.approx(c)
    assert m["variability"][0] == pytest.approx(math.sqrt(sum((p - c) ** 2 for p in probs) / 3))
    assert m["correctness"][0] == pytest.approx((0.5 + 1 + 0.5) / 3)
    assert m["exact"][0] == pytest.approx(1 / 3)
    assert m["forgetfulness"][0] == 1  # exact at point 1, not at point 2
    assert m["threshold_closeness"][0] == pytest.approx(c * (1 - c))
    # example 1: token losses 1, 1, 2; never exact
    assert m["loss_drop"][1] == pytest.approx(-1.0)
    assert m["correctness"][1] == pytest.approx((0 + 1 / 3 + 2 / 3) / 3)
    assert m["exact"][1] == 0 and m["forgetfulness"][1] == math.inf


def test_forgetfulness_counts_every_exact_to_not_exact_transition():
    tok = np.full((1, 5), 2)
    cor = np.array([[2, 1, 2, 1, 2]])
    assert sft_metrics(np.ones((1, 5)), tok, cor)["forgetfulness"][0] == 2
    assert sft_metrics(np.ones((1, 5)), tok, np.full((1, 5), 2))["forgetfulness"][0] == 0


def test_burn_out_uses_the_first_points():
    m = sft_metrics(LOSS, TOK, COR, burn_out=2)
    assert m["last_loss"][0] == pytest.approx(1.0) and m["mean_loss"][0] == pytest.approx(1.5)
    assert m["forgetfulness"][0] == 0 and m["exact"][0] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="burn_out"):
        sft_metrics(LOSS, TOK, COR, burn_out=4)


@pytest.mark.parametrize("loss,tok,cor,match", [
    (np.array([[np.nan]]), np.array([[1]]), np.array([[0]]), "not finite"),
    (np.array([[1.0]]), np.array([[0]]), np.array([[0]]), "n_tokens"),
    (np.array([[1.0]]), np.array([[2]]), np.array([[3]]), "n_correct"),
])
def test_bad_inputs(loss, tok, cor, match):
    with pytest.raises(InputError, match=match):
        sft_metrics(loss, tok, cor)


def test_trajectory_matrix_standardizes_per_point():
    x = trajectory_matrix(LOSS, TOK)
    assert x[0].tolist() == [2.0, 1.0, 0.5]
    z = trajectory_matrix(LOSS, TOK, standardize=True)
    assert np.allclose(z.mean(axis=0), 0)
    assert np.allclose(z.std(axis=0), [1, 0, 1])  # point 1 is constant (losses 1 and 1): zeros


def test_region_summary_counts_and_means_in_region_order():
    from datamap.core.sft_metrics import region_summary

    out = region_summary(np.array(["hard", "easy", "hard", "none"]), [2.0, 0.5, 3.0, 1.0], [0.2, 0.9, 0.0, 0.5],
                         [0.0, 1.0, 0.0, 0.5])
    assert list(out) == ["easy", "hard", "none"]
    assert out["hard"] == {"count": 2, "mean_loss": 2.5, "token_accuracy": pytest.approx(0.1), "exact": 0.0}
