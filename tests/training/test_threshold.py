"""train --threshold-samples on a tiny real run, then datamap errors on it."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import make_sentiment_frame
from datamap.io.store import read_dynamics
from datamap.stages.errors import find_errors
from datamap.stages.noise import make_noisy
from datamap.training.config import TrainConfig
from datamap.training.loop import train
from datamap.training.threshold import assign_threshold_samples


def test_assignment_is_seeded_and_keeps_the_original_labels():
    frame = make_sentiment_frame(31).assign(id=[f"x{i}" for i in range(31)])
    out, names, thr = assign_threshold_samples(frame, ["neg", "pos"], seed=4)
    assert names == ["neg", "pos", "[threshold]"] and len(thr) == 10  # floor(31 / 3)
    moved = out["id"].isin(thr["id"])
    assert (out.loc[moved, "label"] == 2).all() and (out.loc[moved, "label_name"] == "[threshold]").all()
    assert out.loc[~moved].equals(frame.loc[~moved]) and (frame.loc[moved, "label"].to_numpy() == thr["label"].to_numpy()).all()
    again = assign_threshold_samples(frame, ["neg", "pos"], seed=4)[2]
    other = assign_threshold_samples(frame, ["neg", "pos"], seed=5)[2]
    assert again.equals(thr) and not other.equals(thr)


@pytest.mark.slow
def test_threshold_samples_training(tmp_path, tiny_model_dir):
    make_sentiment_frame(60, seed=2).to_parquet(tmp_path / "clean.parquet")
    path = tmp_path / "noisy.parquet"
    make_noisy(str(tmp_path / "clean.parquet"), path, rate=0.1, seed=0)
    cfg = TrainConfig(dataset=str(path), model=str(tiny_model_dir), out=str(tmp_path / "run"), epochs=2, batch_size=8,
                      lr=5e-4, eval_split=None, seed=3, max_length=24, save_model=False, threshold_samples=True)
    run = train(cfg, progress=False)
    thr = pd.read_parquet(run.threshold_samples)
    assert len(thr) == 60 // 3  # floor(N / (C + 1))
    assert json.loads(run.labels.read_text())["names"] == ["neg", "pos", "[threshold]"]
    data = pd.read_parquet(run.data).set_index("id")
    assert (data.loc[thr["id"], "label"] == 2).all() and (data["label"] == 2).sum() == 20
    source = pd.read_parquet(path).set_index("id")
    assert (source.loc[thr["id"], "label"].to_numpy() == thr["label"].to_numpy()).all()  # original labels kept
    dyn = read_dynamics(run.dynamics)
    assert dyn.n_classes == 3 and np.isfinite(dyn.logits).all()  # C + 1 outputs
    res = find_errors(run.root, force_flag=True)  # two epochs of a tiny model: near chance, refused otherwise
    t = res.table
    assert res.cut == "threshold_samples" and res.n_threshold == 20
    assert set(t["id"][t["threshold_sample"]]) == set(thr["id"]) and t["rank"].notna().sum() == 40
    assert sorted(t["given_label"][t["threshold_sample"]]) == sorted(thr["label_name"])


def test_threshold_samples_need_recorded_dynamics():
    from datamap.training.config import config_error

    with pytest.raises(Exception) as exc:
        TrainConfig(dataset="x", threshold_samples=True, record="none")
    assert "--threshold-samples: needs recorded dynamics, not --record none" in str(config_error(exc.value))
