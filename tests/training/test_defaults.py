"""Defaults that protect the user: a stratified --limit, a single-class training set refused, an
evaluation split that is the training split warned about and named so in the files."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import make_sentiment_frame
from datamap.cli import app
from datamap.core.sampling import stratified_sample
from datamap.errors import DatamapError
from datamap.training.config import TrainConfig
from datamap.training.loop import load_data, train


@pytest.fixture
def sorted_csv(tmp_path):
    """40 negatives then 20 positives: a file sorted by label, like rotten_tomatoes' train split."""
    frame = make_sentiment_frame(80)
    frame = pd.concat([frame[frame["label"] == 0], frame[frame["label"] == 1].head(20)]).reset_index(drop=True)
    path = tmp_path / "sorted.csv"
    frame.to_csv(path, index=False)
    return path


def cfg(path, tmp_path, **kw):
    return TrainConfig(dataset=str(path), out=str(tmp_path / "run"), eval_split=None, **kw)


def test_default_limit_mode_is_stratified():
    assert TrainConfig(dataset="d").limit_mode == "stratified"


def test_stratified_limit_keeps_the_class_shares(sorted_csv, tmp_path):
    df, names, _ = load_data(cfg(sorted_csv, tmp_path, limit=15))
    assert names == ["neg", "pos"] and df["label"].value_counts().sort_index().tolist() == [10, 5]
    full = pd.read_csv(sorted_csv)
    rows = stratified_sample(full["label"].to_numpy(), 15, seed=0)
    assert df["text"].tolist() == full["text"].iloc[rows].tolist()  # the seeded draw, in file order
    again, _, _ = load_data(cfg(sorted_csv, tmp_path, limit=15))
    other, _, _ = load_data(cfg(sorted_csv, tmp_path, limit=15, limit_seed=1))
    assert again["id"].tolist() == df["id"].tolist() and other["id"].tolist() != df["id"].tolist()


def test_first_rows_of_a_sorted_file_are_one_class_and_refused(sorted_csv, tmp_path):
    with pytest.raises(DatamapError, match=r"sorted\.csv: the training rows \(after --subset/--limit\) hold a "
                                           r"single class \('neg'\).*--allow-single-class"):
        load_data(cfg(sorted_csv, tmp_path, limit=15, limit_mode="first"))
    df, _, _ = load_data(cfg(sorted_csv, tmp_path, limit=15, limit_mode="first", allow_single_class=True))
    assert df["label"].tolist() == [0] * 15 and df["text"].tolist() == pd.read_csv(sorted_csv)["text"].head(15).tolist()


def test_single_class_refused_on_the_command_line(sorted_csv, tmp_path):
    r = CliRunner().invoke(app, ["train", "--dataset", str(sorted_csv), "--out", str(tmp_path / "r"), "--limit", "5",
                                 "--limit-mode", "first", "--eval-split", "none"])
    assert r.exit_code != 0 and isinstance(r.exception, DatamapError) and "single class" in str(r.exception)


def test_eval_split_equal_to_train_split_is_warned_and_named(tmp_path, caplog, monkeypatch):
    from conftest import make_mirror

    monkeypatch.setenv("DATAMAP_DATA_DIR", str(make_mirror(tmp_path)))
    c = TrainConfig(dataset="toy", split="validation", out=str(tmp_path / "run"))  # --eval-split auto
    with caplog.at_level(logging.WARNING):
        _, _, evals = load_data(c)
    assert list(evals) == ["validation-same-as-train"] and evals["validation-same-as-train"].name == "validation-same-as-train"
    assert "EVALUATING ON THE TRAINING DATA" in caplog.text and "split 'validation' of toy" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        _, _, evals = load_data(TrainConfig(dataset="toy", out=str(tmp_path / "run")))  # train split: no warning
    assert list(evals) == ["validation"] and "TRAINING DATA" not in caplog.text
    _, _, evals = load_data(TrainConfig(dataset="toy", out=str(tmp_path / "run"), eval_split=None,
                                        eval_datasets=["toy:train"]))
    assert list(evals) == ["toy_train-same-as-train"]


@pytest.mark.slow
def test_same_as_train_files(tmp_path, tiny_model_dir, monkeypatch):
    from conftest import make_mirror

    monkeypatch.setenv("DATAMAP_DATA_DIR", str(make_mirror(tmp_path, train=20, validation=16)))
    run = train(TrainConfig(dataset="toy", split="validation", model=str(tiny_model_dir), out=str(tmp_path / "run"),
                            epochs=1, batch_size=8, max_length=32, save_model=False), progress=False)
    assert sorted(p.name for p in run.eval_dir.iterdir()) == ["validation-same-as-train.json",
                                                              "validation-same-as-train.parquet"]
    hist = json.loads(run.history.read_text())["epochs"]
    assert list(hist[0]["eval"]) == ["validation-same-as-train"]
    assert json.loads(run.eval_scores("validation-same-as-train").read_text())["n"] == 16
    assert np.isfinite(hist[0]["train_loss"])


def test_hub_dataset_config_and_revision(tmp_path, monkeypatch):
    """--dataset glue --dataset-config sst2 --revision R reach datasets.load_dataset (the hub is mocked)."""
    import datasets

    calls = []

    def fake_load(name, config=None, split=None, revision=None):
        calls.append((name, config, split, revision))
        return datasets.Dataset.from_pandas(make_sentiment_frame(12 if split == "train" else 6).drop(columns="label_name"))

    monkeypatch.delenv("DATAMAP_DATA_DIR", raising=False)
    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    r = CliRunner().invoke(app, ["train", "--dataset", "glue", "--dataset-config", "sst2", "--revision", "abc123",
                                 "--eval-split", "validation", "--out", str(tmp_path / "r"), "--epochs", "0"])
    assert "--epochs: must be >= 1" in str(r.exception)  # the flags are options of train
    df, names, evals = load_data(TrainConfig(dataset="glue", dataset_config="sst2", revision="abc123",
                                             eval_split="validation", out=str(tmp_path / "r")))
    assert calls == [("glue", "sst2", "train", "abc123"), ("glue", "sst2", "validation", "abc123")]
    assert len(df) == 12 and list(evals) == ["validation"] and evals["validation"].source == "glue/sst2@abc123[validation]"


def test_dataset_config_in_the_mirror_and_revision_refused_locally(tmp_path, monkeypatch):
    (tmp_path / "m" / "glue" / "sst2").mkdir(parents=True)
    make_sentiment_frame(10).to_parquet(tmp_path / "m" / "glue" / "sst2" / "train.parquet")
    monkeypatch.setenv("DATAMAP_DATA_DIR", str(tmp_path / "m"))
    df, _, _ = load_data(TrainConfig(dataset="glue", dataset_config="sst2", eval_split=None))
    assert len(df) == 10
    with pytest.raises(DatamapError, match=r"glue: no config folder 'cola' \(found: sst2\)"):
        load_data(TrainConfig(dataset="glue", dataset_config="cola", eval_split=None))
    with pytest.raises(DatamapError, match=r"--revision v1: .*train.parquet is local data; a revision applies to hub"):
        load_data(TrainConfig(dataset="glue", dataset_config="sst2", revision="v1", eval_split=None))


@pytest.mark.slow
def test_progress_is_plain_lines_in_a_log_and_quiet_is_silent(tmp_path, tiny_model_dir, sentiment_csv):
    import subprocess
    import sys

    from conftest import cli_env

    args = [sys.executable, "-m", "datamap", "train", "--dataset", str(sentiment_csv), "--model", str(tiny_model_dir),
            "--epochs", "1", "--batch-size", "16", "--max-length", "32", "--eval-split", "none", "--no-save-model"]
    r = subprocess.run(args + ["--out", str(tmp_path / "a")], capture_output=True, text=True,
                       env=cli_env(DATAMAP_PROGRESS_INTERVAL=0))
    assert r.returncode == 0, r.stderr
    assert "\r" not in r.stderr and "\x1b" not in r.stderr  # no bar frames in a piped log
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("epoch 1/1: ")]
    assert lines[0].startswith("epoch 1/1: 1/4 batches (25%)") and lines[-1].startswith("epoch 1/1: 4/4 batches (100%)")
    assert "loss" in lines[-1] and "epoch 1: train loss" in r.stdout
    q = subprocess.run(args + ["--out", str(tmp_path / "b"), "--quiet"], capture_output=True, text=True,
                       env=cli_env(DATAMAP_PROGRESS_INTERVAL=0))
    assert q.returncode == 0 and q.stdout == "" and "batches" not in q.stderr, q.stderr


def test_a_run_saved_with_the_old_default_still_resumes(tmp_path):
    """config.yaml of runs trained before the default changed holds limit: null, limit_mode: first."""
    import yaml

    from datamap.training.loop import resume_config

    old = TrainConfig(dataset="d", out=str(tmp_path)).model_dump(mode="json")
    old.update(limit=None, limit_mode="first", limit_seed=0)
    del old["allow_single_class"]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(old))
    cfg = resume_config(tmp_path)
    assert cfg.limit is None and cfg.limit_mode == "stratified"
    old.update(limit=100)  # with a limit the saved mode is kept
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(old))
    assert resume_config(tmp_path).limit_mode == "first"
