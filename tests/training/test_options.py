"""Mixup through the training loop: every site writes complete dynamics; td pairings use an earlier run."""

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from datamap.io.store import read_dynamics
from datamap.stages.measure import measure_run
from datamap.training.config import TrainConfig
from datamap.training.loop import train

pytestmark = pytest.mark.slow


def cfg(tmp_path, model_dir, csv, name, **kw):
    base = dict(dataset=str(csv), model=str(model_dir), out=str(tmp_path / name), epochs=2, batch_size=8, lr=5e-4,
                eval_split=None, seed=1, max_length=32, save_model=False)
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize("site", ["embeddings", "pooled", "hidden"])
def test_each_site_records_complete_dynamics(tmp_path, tiny_model_dir, sentiment_csv, site):
    run = train(cfg(tmp_path, tiny_model_dir, sentiment_csv, site, mixup={"site": site, "pairing": "reverse"}), progress=False)
    dyn = read_dynamics(run.dynamics)
    data = pd.read_parquet(run.data)
    assert dyn.n_epochs == 2 and sorted(dyn.ids) == sorted(data["id"]) and np.isfinite(dyn.logits).all()


def test_td_entropy_and_drop_hard_from_an_earlier_run(tmp_path, tiny_model_dir, sentiment_csv):
    base = train(cfg(tmp_path, tiny_model_dir, sentiment_csv, "base"), progress=False)
    measure_run(base.root)
    run = train(cfg(tmp_path, tiny_model_dir, sentiment_csv, "td", dynamics_from=str(base.root), drop_hard=True,
                    mixup={"site": "pooled", "pairing": "td-entropy", "lam": "beta-folded:1", "mode": "mixed-only"}),
                progress=False)
    dyn = read_dynamics(run.dynamics)
    assert len(dyn.ids) == 60  # hard examples are left out of the loss, not out of the data map
    with pytest.raises(ValidationError, match="td-entropy needs dynamics_from"):  # when the config is built
        cfg(tmp_path, tiny_model_dir, sentiment_csv, "bad", mixup={"site": "pooled", "pairing": "td-entropy"})


def test_focal_loss_run(tmp_path, tiny_model_dir, sentiment_csv):
    run = train(cfg(tmp_path, tiny_model_dir, sentiment_csv, "focal", loss="focal:2,0.25", epochs=1), progress=False)
    assert read_dynamics(run.dynamics).n_epochs == 1
