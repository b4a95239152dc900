"""Every metric on hand-made dynamics, with values worked out by hand."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from datamap.core.metrics import METRIC_COLUMNS, compute_metrics
from datamap.core.regions import assign_regions, region_indices

L3 = math.log(3)  # softmax([0, ln 3]) = (0.25, 0.75)

# two classes, three epochs
LOGITS_2 = np.array(
    [
        [[0, 0], [0, L3], [0, L3]],  # A gold 1: tie (argmax 0, wrong), right, right
        [[0, L3], [0, L3], [0, L3]],  # B gold 0: never learned
        [[0, L3], [L3, 0], [0, L3]],  # C gold 1: right, wrong, right -> forgotten once
        [[L3, 0], [L3, 0], [L3, 0]],  # D gold 0: always right
    ],
    dtype=np.float32,
)
GOLD_2 = np.array([1, 0, 1, 0])


def test_two_class_values():
    m = compute_metrics(LOGITS_2, GOLD_2)
    np.testing.assert_allclose(m["confidence"], [2 / 3, 0.25, 7 / 12, 0.75], atol=1e-6)
    np.testing.assert_allclose(m["variability"], [math.sqrt(1 / 72), 0, math.sqrt(1 / 18), 0], atol=1e-6)
    np.testing.assert_allclose(m["correctness"], [2 / 3, 0, 2 / 3, 1], atol=1e-12)
    assert m["forgetfulness"].tolist() == [0, math.inf, 1, 0]
    np.testing.assert_allclose(m["threshold_closeness"], [2 / 9, 0.1875, 7 / 12 * 5 / 12, 0.1875], atol=1e-6)
    np.testing.assert_allclose(m["aum"], [2 * L3 / 3, -L3, L3 / 3, L3], atol=1e-6)
    s5, s125, s1125 = math.sqrt(0.5), math.sqrt(0.125), math.sqrt(1.125)
    np.testing.assert_allclose(m["el2n"], [(s5 + 2 * s125) / 3, s1125, (2 * s125 + s1125) / 3, s125], atol=1e-6)
    h = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    np.testing.assert_allclose(m["entropy"], [h, h, h, h], atol=1e-6)
    np.testing.assert_allclose(m["confidence_pred"], [2 / 3, 0.75, 0.75, 0.75], atol=1e-6)
    assert m["pred"].tolist() == [1, 1, 1, 0]


def test_burn_out_uses_first_epochs_only():
    m = compute_metrics(LOGITS_2, GOLD_2, burn_out=2)
    np.testing.assert_allclose(m["confidence"], [0.625, 0.25, 0.5, 0.75], atol=1e-6)
    np.testing.assert_allclose(m["variability"], [0.125, 0, 0.25, 0], atol=1e-6)
    np.testing.assert_allclose(m["correctness"], [0.5, 0, 0.5, 1])
    assert m["forgetfulness"].tolist() == [0, math.inf, 1, 0]
    # entropy and pred come from the last used epoch (index 1)
    assert m["pred"].tolist() == [1, 1, 0, 0]
    with pytest.raises(ValueError, match="burn_out"):
        compute_metrics(LOGITS_2, GOLD_2, burn_out=4)


def test_three_classes():
    l2 = math.log(2)
    logits = np.array([[[l2, 0, 0], [0, l2, 0]]], dtype=np.float32)  # probs (.5,.25,.25), (.25,.5,.25)
    m = compute_metrics(logits, np.array([1]))
    assert m["confidence"][0] == pytest.approx(0.375)
    assert m["variability"][0] == pytest.approx(0.125)
    assert m["correctness"][0] == pytest.approx(0.5)
    assert m["forgetfulness"][0] == 0  # wrong -> right is not forgetting
    assert m["aum"][0] == pytest.approx((-l2 + l2) / 2, abs=1e-6)
    assert m["el2n"][0] == pytest.approx((math.sqrt(0.875) + math.sqrt(0.375)) / 2, rel=1e-6)
    assert m["entropy"][0] == pytest.approx(1.5 * l2, rel=1e-6)
    assert m["confidence_pred"][0] == pytest.approx(0.5)
    # entropy at a chosen epoch: epoch 0 has the same entropy; pred follows the epoch
    m0 = compute_metrics(logits, np.array([1]), entropy_epoch=0)
    assert m0["pred"][0] == 0


def test_extreme_logits_are_finite():
    logits = np.array([[[1000.0, -1000.0], [-1000.0, 1000.0]]], dtype=np.float32)
    m = compute_metrics(logits, np.array([0]))
    for name in METRIC_COLUMNS:
        if name != "forgetfulness":
            assert np.isfinite(m[name]).all(), name
    assert m["entropy"][0] == pytest.approx(0.0, abs=1e-6)
    assert m["forgetfulness"][0] == 1


def test_bad_shapes():
    with pytest.raises(ValueError, match="shape"):
        compute_metrics(np.zeros((3, 2)), np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="outside"):
        compute_metrics(np.zeros((2, 1, 2)), np.array([0, 2]))


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float32, st.tuples(st.integers(1, 12), st.integers(1, 6), st.integers(2, 5)),
           elements=st.floats(-30, 30, width=32)),
    st.data(),
)
def test_properties(logits, data):
    n, e, c = logits.shape
    gold = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    before = logits.copy()
    m = compute_metrics(logits, gold)
    np.testing.assert_array_equal(logits, before)  # the input is never written to
    assert ((m["confidence"] >= -1e-9) & (m["confidence"] <= 1 + 1e-9)).all()
    assert (m["variability"] <= 0.5 + 1e-9).all()
    assert ((m["correctness"] >= 0) & (m["correctness"] <= 1)).all()
    assert (m["entropy"] <= math.log(c) + 1e-5).all()
    assert (m["el2n"] <= math.sqrt(2) + 1e-6).all()


def test_regions_allenai_ranking():
    conf = np.array([0.9, 0.8, 0.1, 0.2, 0.5, 0.6])
    var = np.array([0.01, 0.30, 0.02, 0.25, 0.40, 0.05])
    idx = region_indices(conf, var, fraction=0.34)  # k = int(0.34 * 6) = 2
    assert idx["easy"].tolist() == [0, 1]
    assert idx["hard"].tolist() == [2, 3]
    assert idx["ambiguous"].tolist() == [4, 1]
    labels = assign_regions(conf, var, fraction=0.34)
    # ambiguous wins over easy (1) ; hard 3 is not ambiguous (4 and 1 are)
    assert labels.tolist() == ["easy", "ambiguous", "hard", "hard", "ambiguous", "none"]


def test_regions_ties_are_stable():
    conf = np.array([0.5, 0.5, 0.5, 0.5])
    var = np.zeros(4)
    idx = region_indices(conf, var, fraction=0.5)
    assert idx["easy"].tolist() == [0, 1] and idx["hard"].tolist() == [0, 1] and idx["ambiguous"].tolist() == [0, 1]


def test_summary_counts_per_region_and_class():
    import pandas as pd

    from datamap.stages.measure import summary_counts

    table = pd.DataFrame({"region": ["easy", "hard", "easy", "none", "hard"], "gold": [0, 1, 1, 1, 1]})
    counts = summary_counts(table, ["neg", "pos"])
    assert counts.index.tolist() == ["easy", "hard", "none"]  # ambiguous absent: no row
    assert counts.loc["easy"].tolist() == [1, 1, 2]
    assert counts.loc["hard"].tolist() == [0, 2, 2]
    assert counts.loc["none"].tolist() == [0, 1, 1]


# ------------------------------------------------------------------ precision near p = 1


def reference_metrics(logits: np.ndarray, gold: np.ndarray, digits: int = 40) -> dict[str, np.ndarray]:
    """Every metric from the definitions, naively, in 40-digit arithmetic (mpmath), then rounded."""
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = digits
    cols: dict[str, list] = {k: [] for k in ("confidence", "variability", "threshold_closeness", "aum", "el2n",
                                             "entropy", "confidence_pred")}
    for rows, g in zip(logits, gold):
        probs = []
        for row in rows:
            ex = [mp.exp(mp.mpf(float(v))) for v in row]
            total = mp.fsum(ex)
            probs.append([x / total for x in ex])
        e = len(probs)
        pg = [p[g] for p in probs]
        conf = mp.fsum(pg) / e
        cols["confidence"].append(conf)
        cols["variability"].append(mp.sqrt(mp.fsum((x - conf) ** 2 for x in pg) / e))
        cols["threshold_closeness"].append(conf * (1 - conf))
        cols["aum"].append(mp.fsum(mp.mpf(float(r[g])) - max(mp.mpf(float(v)) for j, v in enumerate(r) if j != g)
                                   for r in rows) / e)
        cols["el2n"].append(mp.fsum(mp.sqrt(mp.fsum((pj - (1 if j == g else 0)) ** 2 for j, pj in enumerate(p)))
                                    for p in probs) / e)
        cols["entropy"].append(-mp.fsum(pj * mp.log(pj) for pj in probs[-1] if pj > 0))
        cols["confidence_pred"].append(mp.fsum(max(p) for p in probs) / e)
    return {k: np.array([float(x) for x in v]) for k, v in cols.items()}


def relative_errors(got: dict, ref: dict) -> dict[str, float]:
    out = {}
    for name, r in ref.items():
        nz = np.abs(r) > 1e-30  # 40-digit rounding leaves ~1e-41 where the value is 0
        assert np.all(np.abs(got[name][~nz]) < 1e-15), name  # a zero stays (practically) zero
        out[name] = float(np.max(np.abs(got[name][nz] - r[nz]) / np.abs(r[nz]), initial=0.0))
    return out


# Hand-made, 3 classes x 3 epochs: gold probabilities from 1 - 1e-7 down to 1e-7
CONFIDENT = np.array(
    [
        [[0, 16.1, -2], [0, 15.0, 0.5], [0.3, 13.7, -1]],  # gold 1: p = 1 - 1.2e-7, 1 - 5e-7, ...
        [[-16.1, 0, 0], [-15.2, 0, -3], [-14, 1, 0]],  # gold 2: p ~ 0.5 and tiny others
        [[16.1, 0, 0], [16.1, 0, -30], [12, 0, -1]],  # gold 0: p = 1 - 2e-7, 1 - 1e-7, 1 - 6e-6
        [[0, 0, 16.1], [0, 16.1, 0], [16.1, 0, 0]],  # gold 0: p ~ 1e-7, 1e-7, 1 - 2e-7
        [[1, 2, 9], [0, 0, 12], [3, -1, 14]],  # gold 2: confident, ordinary
        [[0, 1, 2], [0, 1, 2], [0, 1, 2]],  # gold 1: constant, variability 0
    ],
    dtype=np.float32,
)
CONFIDENT_GOLD = np.array([1, 2, 0, 0, 2, 1])


def random_confident(n: int = 300, e: int = 5, c: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gold logit above the others by a gap in [0, 16]: gold probabilities up to 1 - 1e-7."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 3, size=(n, e, c))
    gold = rng.integers(0, c, n)
    others = np.where(np.arange(c) == gold[:, None, None], -np.inf, z).max(axis=2)
    gap = rng.uniform(0, 16, size=(n, e))
    z[np.arange(n), :, gold] = others + gap
    return z.astype(np.float32), gold


@pytest.mark.parametrize("case", ["hand-made", "random", "binary"])
def test_precision_near_one_against_high_precision_reference(case):
    if case == "hand-made":
        logits, gold = CONFIDENT, CONFIDENT_GOLD
    elif case == "random":
        logits, gold = random_confident()
    else:
        logits, gold = random_confident(c=2, seed=1)
        logits[0] = [[0, 16.1]] * 5  # p = 1 - 1.0e-7 at every epoch
        gold[0] = 1
    got = compute_metrics(logits, gold)
    errors = relative_errors(got, reference_metrics(logits, gold))
    assert max(errors.values()) <= 1e-6, errors


def test_aum_margins_are_exact_before_averaging():
    # margins +999.8 and -999.9 (to float32 rounding) nearly cancel: each difference is taken exactly
    logits = np.array([[[0.3, 1000.1, 0], [999.7, -0.2, 0], [0, 0.5, 0]]], dtype=np.float32)
    z = logits[0].astype(np.float64)
    want = math.fsum(r[1] - max(r[0], r[2]) for r in z) / 3
    assert compute_metrics(logits, np.array([1]))["aum"][0] == pytest.approx(want, rel=1e-12)
