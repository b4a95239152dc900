"""Ensembles: weight parsing and validation, weighted mean of logits."""

from __future__ import annotations

import numpy as np
import pytest

from datamap.errors import DatamapError
from datamap.eval.ensemble import check_weights, ensemble_logits, parse_weights

A = np.array([[1.5, -2.0, 0.25], [0.1, 0.2, 0.3]], dtype=np.float32)
B = np.array([[-1.0, 4.0, 2.0], [3.0, -3.0, 0.7]], dtype=np.float32)


def test_parse_weights():
    assert parse_weights("0.5,0.5", 2).tolist() == [0.5, 0.5]
    assert parse_weights(" 0.2, 0.3 ,0.5", 3).tolist() == [0.2, 0.3, 0.5]
    assert parse_weights(None, 4).tolist() == [0.25] * 4
    assert parse_weights("", 2).tolist() == [0.5, 0.5]
    # a sum within 1e-6 of 1 is accepted
    assert parse_weights("0.3333333,0.3333333,0.3333334", 3).sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "text,n,match",
    [
        ("0.5,0.5", 3, "2 weights given for 3 models"),
        ("0.7,0.7", 2, "must sum to 1"),
        ("0.5,0.49", 2, "must sum to 1"),
        ("1.5,-0.5", 2, r"weights\[1\] must be a finite number >= 0, got -0.5"),
        ("a,b", 2, "comma-separated numbers"),
        ("nan,1", 2, r"weights\[0\] must be a finite number >= 0, got nan"),
    ],
)
def test_bad_weights(text, n, match):
    with pytest.raises(DatamapError, match=match):
        parse_weights(text, n)


def test_weight_one_zero_is_model_a_exactly():
    out = ensemble_logits([A, B], [1.0, 0.0])
    assert out.dtype == np.float32
    assert np.array_equal(out, A)
    assert np.array_equal(ensemble_logits([A, B], parse_weights("0,1", 2)), B)
    # a zero-weight model with inf logits does not poison the result
    assert np.array_equal(ensemble_logits([A, np.full_like(B, np.inf)], [1, 0]), A)


def test_weighted_mean():
    out = ensemble_logits([A, B], [0.25, 0.75])
    expected = 0.25 * A.astype(np.float64) + 0.75 * B.astype(np.float64)
    np.testing.assert_allclose(out, expected.astype(np.float32), rtol=1e-6)
    assert out[0, 1] == pytest.approx(0.25 * -2.0 + 0.75 * 4.0)  # 2.5
    np.testing.assert_allclose(ensemble_logits([A, B]), (A + B) / 2, rtol=1e-6)
    np.testing.assert_array_equal(ensemble_logits([A]), A)


def test_ensemble_errors():
    with pytest.raises(DatamapError, match="at least one model"):
        ensemble_logits([])
    with pytest.raises(DatamapError, match="model 1 logits have shape"):
        ensemble_logits([A, B[:1]], [0.5, 0.5])
    with pytest.raises(DatamapError, match="3 weights given for 2 models"):
        ensemble_logits([A, B], [0.2, 0.3, 0.5])
    with pytest.raises(DatamapError, match=r"weights\[1\] must be a finite number >= 0"):
        check_weights([1.2, -0.2], 2)
