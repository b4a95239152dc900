"""The training loop's steady state makes no host syncs: no ``.item()``/``.cpu()``/``.tolist()``/``.numpy()`` per step.

On CPU a sync costs nothing, so the test counts the calls instead: every tensor-to-host method is
patched to count (calls from inside ``torch.optim`` aside, see ``OPTIM``), and the loop's per-step hook (``kill_point("{epoch}:{step}")``, called before each
step) splits the counts by step. Logits stay on the device until the epoch's end.
"""

import os
import re
import sys

import numpy as np
import pytest
import torch

from datamap.io.store import read_dynamics
from datamap.training.config import TrainConfig

pytestmark = pytest.mark.slow

HOST = ("item", "cpu", "tolist", "numpy", "__float__", "__int__")
# torch.optim's own reads of its step counters: those live on the host even when the weights are on
# a GPU (non-capturable optimizers; the fused CUDA AdamW the loop uses there does not read them)
OPTIM = os.path.dirname(torch.optim.__file__)


def _count_host_calls(monkeypatch):
    calls: list[str] = []
    for name in HOST:
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            if not sys._getframe(1).f_code.co_filename.startswith(OPTIM):
                calls.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    return calls


def _run(tmp_path, tiny_model_dir, sentiment_csv, monkeypatch, **kw):
    import datamap.training.loop as loop
    import datamap.training.loop_parts as loop_parts

    marks: list[tuple[str, int]] = []
    calls = _count_host_calls(monkeypatch)
    monkeypatch.setattr(loop_parts, "kill_point", lambda point: marks.append((point, len(calls))))  # the steps' marks
    cfg = TrainConfig(dataset=str(sentiment_csv), model=str(tiny_model_dir), out=str(tmp_path / "run"), epochs=2,
                      batch_size=8, lr=5e-4, eval_split=None, seed=3, max_length=32, save_model=False, **kw)
    run = loop.train(cfg, progress=False)
    monkeypatch.undo()
    return run, marks, calls


@pytest.mark.parametrize("record", ["inflight", "none", "weights"])
def test_no_host_sync_per_step(tmp_path, tiny_model_dir, sentiment_csv, monkeypatch, record):
    kw = {"record": record}
    if record == "weights":  # --weights: the per-example weights are looked up on the device
        import pandas as pd

        from datamap.io.data import load_dataset

        ids = load_dataset(str(sentiment_csv))[0]["id"]
        pd.DataFrame({"id": ids, "weight": np.arange(len(ids)) % 3 * 0.5}).to_parquet(tmp_path / "w.parquet")
        kw = {"record": "inflight", "weights": str(tmp_path / "w.parquet")}
    run, marks, calls = _run(tmp_path, tiny_model_dir, sentiment_csv, monkeypatch, **kw)
    steps = [(p, n) for p, n in marks if re.fullmatch(r"\d+:\d+", p)]
    assert len(steps) == 2 * 8  # 60 examples, batches of 8, 2 epochs
    per_step = [b[1] - a[1] for a, b in zip(steps, steps[1:]) if a[0].split(":")[0] == b[0].split(":")[0]]
    assert len(per_step) == 2 * 7 and per_step == [0] * len(per_step), per_step
    assert len(calls) > 0  # the counter works: the epoch's end reads the loss and the logits once
    if record != "none":
        dyn = read_dynamics(run.dynamics)
        assert dyn.n_epochs == 2 and np.isfinite(dyn.logits).all()
