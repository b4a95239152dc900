"""train --report-to tensorboard: the event file holds the loss, learning rate, throughput and the
evaluation scores of every epoch, equal to history.json; unknown or missing trackers are one-line errors."""

from __future__ import annotations

import json

import pytest

from conftest import make_mirror
from datamap.errors import DatamapError
from datamap.training.config import TrainConfig
from datamap.training.tracking import LOG_EVERY, check_trackers, flat_config


def test_flat_config():
    assert flat_config({"a": 1, "b": None, "c": ["x"], "m": {"site": "pooled"}}) == {
        "a": 1, "b": "none", "c": '["x"]', "m.site": "pooled"}


def test_unknown_or_missing_tracker(monkeypatch):
    with pytest.raises(DatamapError, match="--report-to neptune: unknown tracker"):
        check_trackers(["neptune"])
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DatamapError, match=r"--report-to wandb: the wandb package is not installed"):
        check_trackers(["wandb"])
    with pytest.raises(Exception, match="unknown tracker 'x'"):
        TrainConfig(dataset="d", report_to=["x"])


@pytest.mark.slow
def test_tensorboard_event_file_has_the_scalars(tmp_path, tiny_model_dir, monkeypatch):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from datamap.training.loop import train

    monkeypatch.setenv("DATAMAP_DATA_DIR", str(make_mirror(tmp_path, train=80, validation=16)))
    run = train(TrainConfig(dataset="toy", model=str(tiny_model_dir), out=str(tmp_path / "run"), epochs=2, batch_size=8,
                            max_length=32, lr=5e-4, seed=3, save_model=False, report_to=["tensorboard"]), progress=False)
    events = sorted((run.root / "tracking" / "train").glob("events.out.tfevents.*"))
    assert events
    acc = EventAccumulator(str(events[0]))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"step/loss", "step/lr", "step/examples_per_s", "epoch/train_loss", "epoch/examples_per_s", "epoch/seconds",
            "eval/validation/accuracy", "eval/validation/loss"} <= tags
    hist = json.loads(run.history.read_text())["epochs"]
    for tag, key in (("epoch/train_loss", "train_loss"), ("epoch/examples_per_s", "examples_per_s")):
        got = acc.Scalars(tag)
        assert [s.step for s in got] == [1, 2]  # epochs 1-based, as on the console
        assert [s.value for s in got] == pytest.approx([h[key] for h in hist], rel=1e-6)
    assert [s.value for s in acc.Scalars("eval/validation/accuracy")] == pytest.approx(
        [h["eval"]["validation"]["accuracy"] for h in hist], rel=1e-6)
    steps = [s.step for s in acc.Scalars("step/lr")]
    assert steps == list(range(LOG_EVERY, 2 * 10 + 1, LOG_EVERY))  # 80 examples / batch 8 = 10 steps per epoch
    lrs = [s.value for s in acc.Scalars("step/lr")]
    assert lrs[-1] < lrs[0]  # the linear schedule decays
