"""Softmax and log-softmax (datamap.core.probs) against a reference written independently here."""

import math

import numpy as np
import pytest

from datamap.core.probs import log_softmax, softmax


def ref_log_probs(row):
    """log p_k = -log(sum_j exp(z_j - z_k)), per class k, summed with fsum relative to class k.

    When k is a largest class, -log1p(fsum_{j != k} exp(z_j - z_k)); else -(M + log fsum exp(d_j - M))
    with d_j = z_j - z_k and M = max d_j > 0.
    """
    z = [float(v) for v in row]
    out = []
    for k, zk in enumerate(z):
        d = [zj - zk for zj in z]
        big = max(d)
        if big == 0:
            out.append(-math.log1p(math.fsum(math.exp(x) for j, x in enumerate(d) if j != k)))
        else:
            out.append(-(big + math.log(math.fsum(math.exp(x - big) for x in d))))
    return out


ROWS = np.array(
    [
        [0.0, 0.0, 0.0],
        [1.0, 2.0, 3.0],
        [1000.0, -1000.0, 0.0],  # would overflow without the shift
        [0.0, 16.1, -3.0],  # p ~ 1 - 1e-7
        [0.0, 40.0, 1.0],  # p ~ 1 - 4e-18: log p ~ -4e-18, not 0
        [-5.5, 7.25, 7.25],  # a tie for the maximum
    ]
)


def test_log_softmax_matches_reference():
    got = log_softmax(ROWS)
    for row, lp in zip(ROWS, got):
        ref = ref_log_probs(row)
        for g, r in zip(lp, ref):
            assert g == pytest.approx(r, rel=1e-14, abs=0.0) or g == r, (row, lp, ref)
    # the confident row keeps its tiny log-probability (naive log(1 + 4e-18) would give 0)
    assert got[4, 1] < 0 and got[4, 1] == pytest.approx(-(math.exp(-40) + math.exp(-39)), rel=1e-12)


def test_softmax_matches_reference_and_sums_to_one():
    p = softmax(ROWS)
    np.testing.assert_allclose(p, np.exp([ref_log_probs(r) for r in ROWS]), rtol=1e-14, atol=0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-15)
    assert p.dtype == np.float64 and softmax(ROWS.astype(np.float32)).dtype == np.float64


def test_axis_and_shapes():
    x = np.random.default_rng(0).normal(size=(4, 3, 5)) * 10
    for axis in (0, 1, 2, -1):
        lp = log_softmax(x, axis=axis)
        np.testing.assert_allclose(np.exp(lp).sum(axis=axis), 1.0, rtol=1e-13)
        np.testing.assert_allclose(np.exp(lp), softmax(x, axis=axis), rtol=1e-13)
    np.testing.assert_allclose(log_softmax(x[0, 0]), np.log(softmax(x[0, 0])), rtol=1e-12)
    with pytest.raises(TypeError):
        softmax(x, 1)  # axis is keyword-only
