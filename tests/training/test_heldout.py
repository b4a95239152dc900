"""No self-evaluation: a single training file with ``--eval-split auto`` gets a seeded, class-stratified
held-out split (never the training rows under another name); ``eval_split: none`` means no evaluation
in every front end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import make_sentiment_frame
from datamap.training.config import TrainConfig
from datamap.core.checks import fraction_count
from datamap.training.loop import HOLDOUT_FRACTION, load_data, train


@pytest.fixture
def unbalanced_csv(tmp_path):
    """150 rows: 100 negatives, 50 positives."""
    frame = make_sentiment_frame(200)
    frame = pd.concat([frame[frame["label"] == 0].head(100), frame[frame["label"] == 1].head(50)])
    path = tmp_path / "one.csv"
    frame.sample(frac=1, random_state=0).to_csv(path, index=False)
    return path


def _split(path, tmp_path, **kw):
    train_df, names, evals = load_data(TrainConfig(dataset=str(path), out=str(tmp_path / "run"), **kw))
    return train_df, evals


def test_single_file_holds_out_a_stratified_seeded_tenth(unbalanced_csv, tmp_path, capsys):
    train_df, evals = _split(unbalanced_csv, tmp_path, seed=5)
    assert list(evals) == ["heldout"]  # not 'validation' = the training file again
    held = evals["heldout"].frame
    assert "holding out 15 of 150 rows" in capsys.readouterr().err  # announced
    assert len(held) == fraction_count(HOLDOUT_FRACTION, 150) == 15 and len(train_df) == 135
    assert set(held["id"]).isdisjoint(train_df["id"])
    assert held["label"].value_counts().sort_index().tolist() == [10, 5]  # the 2:1 class shares
    again, evals2 = _split(unbalanced_csv, tmp_path, seed=5)
    other, evals3 = _split(unbalanced_csv, tmp_path, seed=6)
    assert evals2["heldout"].frame["id"].tolist() == held["id"].tolist()  # same seed, same rows
    assert evals3["heldout"].frame["id"].tolist() != held["id"].tolist()


def test_all_rows_accounted_for(unbalanced_csv, tmp_path):
    train_df, evals = _split(unbalanced_csv, tmp_path)
    _, _, none = load_data(TrainConfig(dataset=str(unbalanced_csv), eval_split=None))
    full, _, _ = load_data(TrainConfig(dataset=str(unbalanced_csv), eval_split="none"))
    assert not none
    assert sorted([*train_df["id"], *evals["heldout"].frame["id"]]) == sorted(full["id"])


@pytest.mark.parametrize("value", ["none", "None", "NONE", None])
def test_none_means_no_evaluation_in_the_api_and_yaml(value):
    assert TrainConfig(dataset="d", eval_split=value).eval_split is None
    loaded = TrainConfig.model_validate(yaml.safe_load(f"dataset: d\neval_split: {value if value else 'null'}\n"))
    assert loaded.eval_split is None


def test_training_run_saves_the_heldout_ids(unbalanced_csv, tmp_path, tiny_model_dir):
    run = train(TrainConfig(dataset=str(unbalanced_csv), model=str(tiny_model_dir), out=str(tmp_path / "run"),
                            epochs=1, batch_size=16, max_length=24, checkpoint=False),
                progress=False)
    held = pd.read_parquet(run.heldout)
    data = pd.read_parquet(run.data)
    assert len(held) == 15 and len(data) == 135 and set(held["id"]).isdisjoint(data["id"])
    scores = json.loads(run.eval_scores("heldout").read_text())
    assert scores["n"] == 15
    assert set(pd.read_parquet(run.eval_predictions("heldout"))["id"]) == set(held["id"])
    assert list(json.loads(run.history.read_text())["epochs"][0]["eval"]) == ["heldout"]
    assert np.isfinite(scores["accuracy"])


def test_evaluate_on_training_rows_says_same_as_train(unbalanced_csv, tmp_path, tiny_model_dir, caplog):
    """`evaluate` tells training rows by their ids, whatever the file or split is called."""
    import logging

    from datamap.stages.evaluate import evaluate

    run = train(TrainConfig(dataset=str(unbalanced_csv), model=str(tiny_model_dir), out=str(tmp_path / "run"),
                            epochs=1, batch_size=16, max_length=24, checkpoint=False, record="none"), progress=False)
    rows = tmp_path / "rows.csv"
    pd.read_parquet(run.data).head(40).to_csv(rows, index=False)
    with caplog.at_level(logging.WARNING):
        scores, _ = evaluate(str(run.root), str(rows), split="validation")
    assert scores["n"] == 40 and run.eval_scores("rows-same-as-train").is_file() and not run.eval_scores("rows").exists()
    assert "EVALUATING ON THE TRAINING DATA: all 40 rows" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        evaluate(str(run.root), str(unbalanced_csv), split="validation")  # the whole file: 135 of 150 trained on
    assert "135 of 150 rows" in caplog.text and run.eval_scores("one").is_file()
    fresh = tmp_path / "fresh.csv"
    make_sentiment_frame(30, seed=9).assign(text=lambda f: f["text"] + " zz").to_csv(fresh, index=False)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        evaluate(str(run.root), str(fresh), split="validation")
    assert "trained on" not in caplog.text and run.eval_scores("fresh").is_file()
