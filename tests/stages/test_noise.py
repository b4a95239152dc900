"""datamap noise: the noisy copy keeps columns, rows, ids and label form; the flipped file is the truth."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import cli_env, make_sentiment_frame
from datamap.errors import DatamapError
from datamap.io.data import load_dataset
from datamap.stages.noise import make_noisy


def run_cli(*args, **env):
    return subprocess.run([sys.executable, "-m", "datamap", *map(str, args)], capture_output=True, text=True, env=cli_env(**env))


def test_parquet_copy_keeps_everything_but_the_flipped_labels(tmp_path):
    src = tmp_path / "train.parquet"
    make_sentiment_frame(200).to_parquet(src)
    res = make_noisy(str(src), tmp_path / "noisy.parquet", kind="uniform", rate=0.1, seed=3)
    before, names, _ = load_dataset(str(src))
    after, names2, _ = load_dataset(str(tmp_path / "noisy.parquet"))
    assert names2 == names and (after["id"] == before["id"]).all() and (after["text"] == before["text"]).all()
    flipped = pd.read_parquet(res.flipped_path)
    assert len(flipped) == res.n_flipped == 20
    changed = after["label"] != before["label"]
    assert set(after["id"][changed]) == set(flipped["id"])
    truth = before.set_index("id").loc[flipped["id"]]
    assert (truth["label"].to_numpy() == flipped["true_label_id"].to_numpy()).all()
    assert (after.set_index("id").loc[flipped["id"], "label_name"].to_numpy() == flipped["noisy_label"].to_numpy()).all()
    assert res.per_class["flipped"].sum() == 20
    assert np.allclose(res.per_class["rate"], res.per_class["flipped"] / res.per_class["n"])


def test_csv_with_name_labels_stays_names_and_content_ids_are_kept(tmp_path):
    src = tmp_path / "train.csv"
    frame = make_sentiment_frame(40)[["text", "label_name"]].rename(columns={"label_name": "stars"})
    frame.to_csv(src, index=False)
    out = tmp_path / "noisy.csv"
    r = run_cli("noise", src, "--label-column", "stars", "--rate", "0.25", "--kind", "pairs", "--seed", "1", "--out", out)
    assert r.returncode == 0, r.stderr
    assert "10 of 40 labels flipped" in r.stdout and "neg:" in r.stdout
    noisy = pd.read_csv(out)
    assert list(noisy.columns) == ["id", "text", "stars"] and set(noisy["stars"]) <= {"neg", "pos"}
    assert (noisy["stars"] != frame["stars"]).sum() == 10
    before, _, _ = load_dataset(str(src), label_column="stars")  # content-hash ids
    assert (noisy["id"].astype(str) == before["id"]).all()
    # existing outputs are refused without --overwrite
    r = run_cli("noise", src, "--label-column", "stars", "--rate", "0.25", "--out", out)
    assert r.returncode == 2 and "exists" in r.stderr


def test_bad_options_exit_2(tmp_path):
    src = tmp_path / "train.parquet"
    make_sentiment_frame(20).to_parquet(src)
    r = run_cli("noise", src, "--out", tmp_path / "n.parquet")
    assert r.returncode == 2 and "--rate" in r.stderr
    r = run_cli("noise", src, "--kind", "matrix", "--out", tmp_path / "n.parquet")
    assert r.returncode == 2 and "--matrix" in r.stderr
    m = tmp_path / "m.csv"
    m.write_text("0.5,0.4\n0,1\n")
    r = run_cli("noise", src, "--kind", "matrix", "--matrix", m, "--out", tmp_path / "n.parquet")
    assert r.returncode == 2 and "row 0 sums to 0.9" in r.stderr
    with pytest.raises(DatamapError, match="--out"):
        make_noisy(str(src), tmp_path / "n.txt", rate=0.1)


@pytest.mark.slow
def test_training_on_the_noisy_copy_keeps_the_ids(tmp_path, tiny_model_dir):
    src = tmp_path / "train.parquet"
    make_sentiment_frame(40).to_parquet(src)
    out = tmp_path / "noisy.parquet"
    assert run_cli("noise", src, "--rate", "0.2", "--out", out).returncode == 0
    run = tmp_path / "run"
    r = run_cli("train", "--dataset", out, "--model", tiny_model_dir, "--out", run, "--epochs", "1",
                "--batch-size", "8", "--eval-split", "none", "--no-save-model")
    assert r.returncode == 0, r.stderr
    data = pd.read_parquet(run / "data.parquet")
    before, _, _ = load_dataset(str(src))
    assert (data["id"] == before["id"]).all()
    flipped = pd.read_parquet(tmp_path / "noisy.flipped.parquet")
    got = data.set_index("id").loc[flipped["id"], "label"].to_numpy()
    assert (got == flipped["noisy_label_id"].to_numpy()).all()
