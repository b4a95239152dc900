"""examples/noisy_cleanup.yaml through `datamap run` at CPU size: a tiny model, 200 toy rows with 20 % of
their labels flipped; every arm (oracle, drop flagged / at random with the noisy run's steps, relabel,
down-weight) trains and is evaluated."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import make_mirror
from datamap.experiment.runner import run_experiment
from datamap.stages.noise import make_noisy

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "noisy_cleanup.yaml"
ARMS = ["cartography", "oracle", "drop_flagged", "drop_random", "relabel", "down_weight"]


def _steps(run: Path) -> int:
    return json.loads((run / "history.json").read_text())["epochs"][-1]["steps"]


@pytest.mark.slow
def test_noisy_cleanup_example_runs_every_arm(tmp_path, tiny_model_dir, monkeypatch):
    mirror = make_mirror(tmp_path, train=200, validation=40)
    monkeypatch.setenv("DATAMAP_DATA_DIR", str(mirror))
    noisy = tmp_path / "noisy.parquet"
    make_noisy("toy", noisy, rate=0.2, seed=0)
    out = tmp_path / "exp"
    overrides = [f"data.dataset={noisy}", f"train.model={tiny_model_dir}", "train.lr=0.003", "train.batch_size=16",
                 "seeds=[0]", f"out={out}", "experiments[0].dataset=toy",
                 "evaluation=[{name: validation, dataset: toy, split: validation}]",
                 "errors.force_flag=true"]  # a tiny model may stay near chance: flag anyway
    run_experiment(EXAMPLE, overrides, echo=lambda line: None)
    results = pd.read_parquet(out / "results.parquet")
    assert list(dict.fromkeys(results["run"])) == ARMS and set(results["eval_set"]) == {"validation"}
    seed = out / "seed0"
    carto = seed / "cartography"
    issues = pd.read_parquet(carto / "label_issues.parquet")
    flagged = set(issues["id"][issues["flag"]])
    assert 0 < len(flagged) <= 100  # capped at half of each class
    noisy_data = pd.read_parquet(carto / "data.parquet")
    # drop: the flagged rows out, at random: as many; both with the noisy run's optimizer steps
    drop = pd.read_parquet(seed / "drop_flagged" / "data.parquet")
    rand = pd.read_parquet(seed / "drop_random" / "data.parquet")
    assert set(drop["id"]) == set(noisy_data["id"]) - flagged and len(rand) == len(drop) and set(rand["id"]) != set(drop["id"])
    assert _steps(seed / "drop_flagged") == _steps(seed / "drop_random") == _steps(carto) == 26  # 13 batches x 2 epochs (the example's)
    # relabel: only flagged rows changed, each to the noisy run's prediction
    rel = pd.read_parquet(seed / "relabel" / "data.parquet").set_index("id").loc[noisy_data["id"]]
    changed = rel["label"].to_numpy() != noisy_data["label"].to_numpy()
    by_id = issues.set_index("id").loc[noisy_data["id"]]
    assert set(noisy_data["id"][changed]) <= flagged
    assert (rel["label"].to_numpy()[changed] == by_id["predicted_label_id"].to_numpy()[changed]).all()
    # down-weight: the weights file of the errors stage, flagged rows 0.5
    cfg = yaml.safe_load((seed / "down_weight" / "config.yaml").read_text())
    w = pd.read_parquet(cfg["weights"]).set_index("id")
    assert (w.loc[list(flagged), "weight"] == 0.5).all() and (w["weight"] == 1.0).sum() == 200 - len(flagged)
    # oracle: the clean labels of the same rows
    oracle = pd.read_parquet(seed / "oracle" / "data.parquet")
    clean = pd.read_parquet(mirror / "toy" / "train.parquet")
    assert list(oracle["id"]) == list(noisy_data["id"]) and (oracle["label"].to_numpy() == clean["label"].to_numpy()).all()
    assert (noisy_data["label"].to_numpy() != clean["label"].to_numpy()).sum() == 40
    assert np.isfinite(results["value"]).all()
    # benchmarks/cleanup_summary.py scores the experiment's own cut against the known flips, and only reads the run
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    from cleanup_summary import load_experiment

    before = (carto / "label_issues.parquet").read_bytes()
    (summary,) = load_experiment(out, tmp_path / "noisy.flipped.parquet")
    flips = set(pd.read_parquet(tmp_path / "noisy.flipped.parquet")["id"].astype(str))
    own = summary["cuts"]["the experiment's"]
    assert own["n_flagged"] == len(flagged)
    assert own["precision"] == len(flagged & flips) / len(flagged) and own["recall"] == len(flagged & flips) / len(flips)
    acc = results[results["metric"] == "accuracy"].set_index("run")["value"]
    assert summary["arms"]["noisy"]["accuracy"]["validation"] == acc["cartography"]
    assert summary["arms"]["oracle"]["accuracy"]["validation"] == acc["oracle"]
    assert (carto / "label_issues.parquet").read_bytes() == before


def test_cleanup_sections_are_checked(tmp_path, monkeypatch):
    from datamap.errors import DatamapError
    from datamap.experiment.config import validate

    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rt_uniform20.parquet").write_bytes(b"")
    raw = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    raw["evaluation"] = [{"name": "v", "dataset": "data/rt_uniform20.parquet"}]
    raw["experiments"][0]["dataset"] = "data/rt_uniform20.parquet"
    validate(raw)
    no_errors = {k: v for k, v in raw.items() if k != "errors"}
    with pytest.raises(DatamapError) as exc:
        validate(no_errors)
    assert "selections.drop_flagged.drop_errors: needs the errors section" in str(exc.value)
    assert "experiments[3].act: needs the errors section" in str(exc.value)
    with pytest.raises(DatamapError, match="errors.cut: must be one of auto"):
        validate({**raw, "errors": {"cut": "best"}})
    with pytest.raises(DatamapError, match="experiments\\[3\\].selection: not with act: relabel"):
        validate({**raw, "experiments": [*raw["experiments"][:3], {"name": "r", "act": "relabel", "selection": "drop_flagged"}]})
