"""datamap crossval: K ordinary runs, out-of-sample probabilities for every example, then cleanlab on them."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import make_sentiment_frame
from datamap.stages.crossval import crossval, fold_assignment


def test_folds_are_stratified_and_seeded():
    labels = np.repeat([0, 1, 2], [10, 7, 5])
    f = fold_assignment(labels, 3, seed=1)
    for c in range(3):
        counts = np.bincount(f[labels == c], minlength=3)
        assert counts.max() - counts.min() <= 1
    assert (fold_assignment(labels, 3, seed=1) == f).all() and not (fold_assignment(labels, 3, seed=2) == f).all()


@pytest.mark.slow
def test_crossval_writes_out_of_sample_probs_for_every_example(tmp_path, tiny_model_dir):
    data = tmp_path / "train.csv"
    make_sentiment_frame(30).rename(columns={"text": "review"}).to_csv(data, index=False)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({"dataset": str(data), "model": str(tiny_model_dir), "text_column": "review",
                                   "epochs": 1, "batch_size": 8, "lr": 5e-4, "max_length": 24, "save_model": False,
                                   "limit": 24, "limit_mode": "random", "eval_split": None}))
    res = crossval(cfg, tmp_path / "cv", folds=3, seed=0, progress=False)
    oof = pd.read_parquet(res.oof_path)
    assert len(oof) == 24 and oof["id"].is_unique and sorted(oof["fold"].unique()) == [0, 1, 2]
    probs = np.stack(oof["probs"].to_numpy())
    assert probs.shape == (24, 2) and np.allclose(probs.sum(axis=1), 1)
    for k in range(3):  # fold k's run never trained on fold k, and predicted exactly fold k
        run = tmp_path / "cv" / f"fold_{k}"
        trained = set(pd.read_parquet(run / "data.parquet")["id"])
        held = set(oof["id"][oof["fold"] == k])
        assert trained.isdisjoint(held) and len(trained) + len(held) == 24
        pred = pd.read_parquet(next((run / "eval").glob("*.parquet")))
        assert set(pred["id"].astype(str)) == held
    assert json.loads((tmp_path / "cv" / "crossval.json").read_text())["folds"] == 3


def test_config_from_a_run_directory_or_its_file(tmp_path):
    from datamap.errors import DatamapError
    from datamap.stages.crossval import load_config

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("dataset: some.parquet\nepochs: 4\nlr: 0.0001\n")
    assert load_config(run) == {"dataset": "some.parquet", "epochs": 4, "lr": 0.0001}
    assert load_config(run / "config.yaml") == load_config(run)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatamapError, match="empty: a folder without config.yaml"):
        load_config(empty)
