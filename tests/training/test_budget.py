"""--max-steps and --steps-like: the optimizer steps a run takes, visible in its history."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import make_sentiment_frame
from datamap.errors import DatamapError
from datamap.io.store import read_dynamics
from datamap.training.budget import plan
from datamap.training.config import TrainConfig
from datamap.training.loop import train


def _steps(run):
    return [e["steps"] for e in json.loads(run.history.read_text())["epochs"]]


def test_plan():
    assert plan(3, 10) == (30, 3)
    assert plan(3, 10, 25) == (25, 3) and plan(3, 10, 31) == (31, 4) and plan(3, 10, 5) == (5, 1)


@pytest.mark.slow
def test_max_steps_and_steps_like_in_the_history(tmp_path, tiny_model_dir):
    frame = make_sentiment_frame(24, seed=6).assign(id=[f"s{i}" for i in range(24)])
    frame.to_parquet(tmp_path / "all.parquet")
    common = dict(model=str(tiny_model_dir), batch_size=8, eval_split=None, save_model=False, checkpoint=False)
    plain = train(TrainConfig(dataset=str(tmp_path / "all.parquet"), out=str(tmp_path / "plain"), epochs=2, **common),
                  progress=False)
    assert _steps(plain) == [3, 6]  # 24 examples, batches of 8
    full = train(TrainConfig(dataset=str(tmp_path / "all.parquet"), out=str(tmp_path / "full"), max_steps=7, **common),
                 progress=False)
    assert _steps(full) == [3, 6, 7]  # the third epoch cut short after one batch
    dyn = read_dynamics(full.dynamics)
    assert dyn.logits.shape[:2] == (24, 3) and np.isfinite(dyn.logits).all()  # the short epoch recorded by a pass
    (tmp_path / "sub.json").write_text(json.dumps({"ids": [f"s{i}" for i in range(16)]}))
    sub = train(TrainConfig(dataset=str(tmp_path / "all.parquet"), out=str(tmp_path / "sub"), subset=str(tmp_path / "sub.json"),
                            steps_like=str(full.root), **common), progress=False)
    assert _steps(sub) == [2, 4, 6, 7]  # 16 examples: 2 batches per epoch, 7 steps like the full run
    assert len(pd.read_parquet(sub.data)) == 16
    with pytest.raises(DatamapError, match="--steps-like"):
        train(TrainConfig(dataset=str(tmp_path / "all.parquet"), out=str(tmp_path / "bad"), steps_like=str(tmp_path / "nope"),
                          **common), progress=False)
    assert not (tmp_path / "bad").exists()  # refused before anything was written
