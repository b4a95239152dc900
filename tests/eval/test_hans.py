"""HANS scoring: hand-made predictions with known accuracies, label collapsing by name, real data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from datamap.errors import DatamapError
from datamap.eval.hans import check_model_labels, collapse_label, hans_predictions, hans_scores

E, N = "entailment", "non-entailment"

# heuristic, subcase, gold, prediction (3-way MNLI names on purpose)
ROWS = [
    # lexical_overlap: entailment 2/2 right; non-entailment 1/4 right
    ("lexical_overlap", "le_passive", E, "entailment"),
    ("lexical_overlap", "le_passive", E, "entailment"),
    ("lexical_overlap", "ln_subject/object_swap", N, "entailment"),
    ("lexical_overlap", "ln_subject/object_swap", N, "entailment"),
    ("lexical_overlap", "ln_subject/object_swap", N, "entailment"),
    ("lexical_overlap", "ln_passive", N, "contradiction"),
    # subsequence: entailment 1/2; non-entailment 2/2 (neutral and contradiction both count)
    ("subsequence", "se_adjective", E, "entailment"),
    ("subsequence", "se_adjective", E, "neutral"),
    ("subsequence", "sn_NP/S", N, "neutral"),
    ("subsequence", "sn_NP/S", N, "contradiction"),
    # constituent: entailment 0/1; non-entailment 1/1 (a 2-way model's own name)
    ("constituent", "ce_adverb", E, "non-entailment"),
    ("constituent", "cn_adverb", N, "non-entailment"),
]


def score(rows=ROWS):
    h, s, g, p = zip(*rows)
    return hans_scores(list(p), list(g), list(h), list(s))


def test_hand_made_accuracies():
    out = score()
    assert out["n"] == 12
    assert out["accuracy"] == pytest.approx(7 / 12)
    assert out["by_gold"][E] == {"accuracy": pytest.approx(3 / 5), "n": 5}
    assert out["by_gold"][N] == {"accuracy": pytest.approx(4 / 7), "n": 7}
    lo = out["heuristics"]["lexical_overlap"]
    assert lo[E] == {"accuracy": 1.0, "n": 2}
    assert lo[N] == {"accuracy": 0.25, "n": 4}
    assert lo["all"] == {"accuracy": pytest.approx(3 / 6), "n": 6}
    ss = out["heuristics"]["subsequence"]
    assert (ss[E]["accuracy"], ss[N]["accuracy"], ss["all"]["accuracy"]) == (0.5, 1.0, 0.75)
    co = out["heuristics"]["constituent"]
    assert (co[E]["accuracy"], co[N]["accuracy"], co["all"]["accuracy"]) == (0.0, 1.0, 0.5)
    assert out["subcases"]["ln_subject/object_swap"] == {
        "heuristic": "lexical_overlap",
        "gold": N,
        "accuracy": 0.0,
        "n": 3,
    }
    assert out["subcases"]["ln_passive"]["accuracy"] == 1.0
    assert out["subcases"]["se_adjective"]["accuracy"] == 0.5
    assert len(out["subcases"]) == 7
    assert list(out["heuristics"]) == ["lexical_overlap", "subsequence", "constituent"]


def test_empty_groups_and_no_subcase():
    out = hans_scores(["entailment"], ["entailment"], ["constituent"])
    assert out["heuristics"]["lexical_overlap"][E] == {"accuracy": None, "n": 0}
    assert out["heuristics"]["constituent"][N] == {"accuracy": None, "n": 0}
    assert "subcases" not in out


def test_collapse_by_name_not_position():
    assert collapse_label(" Contradiction ") == N
    assert collapse_label("not_entailment") == N
    logits = np.array([[3.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.0, 1.0, 3.0]])
    assert hans_predictions(logits, ["entailment", "neutral", "contradiction"]) == [E, N, N]
    # a model that orders its classes differently: same logits, other meaning
    assert hans_predictions(logits, ["contradiction", "entailment", "neutral"]) == [N, E, N]
    assert hans_predictions(logits[:, :2], ["non-entailment", "entailment"]) == [N, E, E]


def test_bad_inputs():
    with pytest.raises(DatamapError, match="do not contain 'entailment'"):
        check_model_labels(["negative", "positive"])
    with pytest.raises(DatamapError, match="do not contain 'entailment'"):
        hans_scores(["entailment"], ["entailment"], ["constituent"], model_label_names=["neg", "pos"])
    with pytest.raises(DatamapError, match="do not contain 'entailment'"):
        hans_predictions(np.zeros((2, 2)), ["neg", "pos"])
    with pytest.raises(DatamapError, match="model label 'maybe'"):
        check_model_labels(["entailment", "maybe"])
    with pytest.raises(DatamapError, match="predicted label 'positive'"):
        hans_scores(["positive"], ["entailment"], ["constituent"])
    with pytest.raises(DatamapError, match="differ in length"):
        hans_scores(["entailment"], ["entailment", "entailment"], ["constituent"])
    with pytest.raises(DatamapError, match="does not match"):
        hans_predictions(np.zeros((2, 2)), ["entailment", "neutral", "contradiction"])


def _hans_file() -> Path | None:
    root = os.environ.get("DATAMAP_DATA_DIR")
    candidates = [Path(root)] if root else []
    candidates.append(Path(__file__).resolve().parents[2] / ".." / "shared" / "data")
    for c in candidates:
        p = c / "hans" / "validation.parquet"
        if p.is_file():
            return p
    return None


@pytest.mark.skipif(_hans_file() is None, reason="HANS data not found (set DATAMAP_DATA_DIR)")
def test_real_hans_always_entailment():
    df = pd.read_parquet(_hans_file(), columns=["label_name", "heuristic", "subcase"])
    assert len(df) == 30000
    out = hans_scores(["entailment"] * len(df), df["label_name"], df["heuristic"], df["subcase"])
    # the classic failure mode: always "entailment" -> 100% on entailment, 0% on non-entailment
    assert out["accuracy"] == 0.5
    for h in ("lexical_overlap", "subsequence", "constituent"):
        assert out["heuristics"][h][E] == {"accuracy": 1.0, "n": 5000}
        assert out["heuristics"][h][N] == {"accuracy": 0.0, "n": 5000}
    assert len(out["subcases"]) == 30
    assert all(v["n"] == 1000 and v["accuracy"] in (0.0, 1.0) for v in out["subcases"].values())
    assert out["subcases"]["ln_subject/object_swap"]["gold"] == N
    perfect = hans_scores(df["label_name"].tolist(), df["label_name"], df["heuristic"], df["subcase"])
    assert perfect["accuracy"] == 1.0
